"""espeak-ng: offline speech in every language, the voice of last resort."""

import asyncio
import contextlib
import logging
import shutil
import struct
import subprocess
from collections.abc import AsyncGenerator

from wyoming.audio import AudioChunk
from wyoming.info import Attribution

from .engine import Engine, EngineError
from .languages import engine_codes
from .phonemes import as_espeak

_LOGGER = logging.getLogger(__name__)

_WAV_HEADER_BYTES = 44
_READ_BYTES = 4096


class EspeakEngine(Engine):
    """Runs one `espeak-ng --stdout` process per sentence and streams its WAV output."""

    name = "espeak"
    description = "eSpeak NG (offline)"
    attribution = Attribution(name="eSpeak NG", url="https://github.com/espeak-ng/espeak-ng")

    def __init__(self, binary: str = "espeak-ng", words_per_minute: int = 175) -> None:
        path = shutil.which(binary)
        if path is None:
            raise EngineError(f"{binary} was not found; install it (Debian/Ubuntu: apt-get install espeak-ng)")
        self.binary = path
        self.words_per_minute = words_per_minute
        self._voices = _voices(path)
        self.languages = frozenset(self._voices)
        self._starting = asyncio.Lock()
        self._ending: set[asyncio.Future[None]] = set()  # processes being ended, whatever cancels their request

    async def _start(self, language: str) -> asyncio.subprocess.Process:
        # Starting a process holds the loop for ~3 ms (fork and exec, and on Python 3.11 a thread
        # to wait for it). When 50 streams finish a sentence at once, 50 starts in one turn of the
        # loop kept `describe` waiting 130-150 ms: one start per turn lets other work through.
        async with self._starting:
            # Shielded: a request stopped while its process starts would leave the process, or a
            # pipe of it, behind (asyncio leaves a pipe it had not connected yet open).
            starting = asyncio.ensure_future(self._spawn(language))
            try:
                process = await asyncio.shield(starting)
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await self._end(await starting)
                raise
        return process

    async def _spawn(self, language: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            self.binary,
            "-v",
            self._voices[language],
            "-s",
            str(self.words_per_minute),
            "-b",
            "1",  # input is UTF-8
            "--stdout",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def synthesize(
        self, text: str, language: str, speaker: str, ahead_s: float = 0.0
    ) -> AsyncGenerator[AudioChunk, None]:
        process = await self._start(language)
        assert process.stdin and process.stdout and process.stderr
        try:
            # Text goes through stdin so nothing in it can be read as an option.
            process.stdin.write(as_espeak(text).encode("utf-8"))
            process.stdin.close()
            header = await process.stdout.read(_WAV_HEADER_BYTES)
            if len(header) == _WAV_HEADER_BYTES:
                channels, rate = struct.unpack_from("<HI", header, 22)
                bits = struct.unpack_from("<H", header, 34)[0]
                while audio := await process.stdout.read(_READ_BYTES):
                    yield AudioChunk(rate=rate, width=bits // 8, channels=channels, audio=audio)
            stderr = await process.stderr.read()
            if await process.wait() != 0 or len(header) < _WAV_HEADER_BYTES:
                message = stderr.decode("utf-8", "replace").strip() or "no audio"
                raise EngineError(f"espeak-ng failed: {message}")
        finally:
            await self._end(process)

    async def _end(self, process: asyncio.subprocess.Process) -> None:
        """End the process and close its pipes, to the end even when the request is cancelled again
        meanwhile (a read pipe was left open then)."""
        ending = asyncio.ensure_future(_kill_and_drain(process))
        self._ending.add(ending)
        ending.add_done_callback(self._ending.discard)
        await asyncio.shield(ending)


def _voices(binary: str) -> dict[str, str]:
    """The espeak-ng voice of each language its data holds, from `espeak-ng --voices`
    (raises EngineError). A bare language (`en`, `cmn`) lets espeak-ng pick its main voice."""
    try:
        listing = subprocess.run([binary, "--voices"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as err:
        raise EngineError(f"{binary} --voices failed: {err}") from err
    tags = [line.split()[1] for line in listing.stdout.splitlines()[1:] if len(line.split()) > 1]
    return {code: tag.split("-", 1)[0] for code, tag in engine_codes(tags).items()}


async def _kill_and_drain(process: asyncio.subprocess.Process) -> None:
    """Kill the process if it still runs, and close its pipes."""
    if process.stdin is not None:
        process.stdin.close()
    if process.returncode is None:
        process.kill()
    # Read both pipes to their end: a pipe left holding audio nobody read (a client that
    # went away) has its reading paused, and stays open, with the audio, after espeak is gone.
    await process.communicate()
