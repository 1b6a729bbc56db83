"""`wyoming-streamtts-say "text"`: speak through a wyoming-streamtts server.

Plays the answer through pyaudio as it arrives (the [playback] extra), or
writes it to a WAV file with --output.
"""

import argparse
import asyncio
import logging
import queue
import sys
import threading
import time
import wave
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.tts import Synthesize, SynthesizeVoice

from .echo import clip
from .wire import Deadline, EventLimits, ProtocolError, read_event

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0  # well above XTTS's first audio on a CPU
T = TypeVar("T", AudioStart, AudioChunk, Error)


class SayError(Exception):
    """What went wrong, in words for the person at the terminal."""


class Player:
    """Plays PCM through pyaudio on its own thread, so reading never waits for the speaker."""

    def __init__(self, start: AudioStart) -> None:
        try:
            import pyaudio  # noqa: PLC0415 - only needed to play
        except ImportError as err:
            raise SayError("Playing needs pyaudio: pip install 'wyoming-streamtts[playback]', or use --output") from err
        self._audio = pyaudio.PyAudio()
        try:
            self._stream = self._audio.open(
                format=self._audio.get_format_from_width(start.width),
                channels=start.channels,
                rate=start.rate,
                output=True,
            )
        except OSError as err:
            self._audio.terminate()
            raise SayError(f"Cannot open the audio output: {err}") from err
        self.device = self._audio.get_default_output_device_info()["name"]
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def write(self, audio: bytes) -> None:
        self._queue.put(audio)

    def close(self) -> None:
        """Wait until everything queued has been played."""
        self._queue.put(None)
        self._thread.join()
        self._stream.stop_stream()
        self._stream.close()
        self._audio.terminate()

    def _play(self) -> None:
        while (audio := self._queue.get()) is not None:
            self._stream.write(audio)


async def say(uri: str, text: str, voice: str | None, output: Path | None, verbose: bool, timeout_s: float) -> float:
    """Speak `text`; return the seconds of audio received."""
    began = time.monotonic()
    reader, writer = await _connect(uri, timeout_s)
    # The server's own bounds: no event over 1 MiB is read, and a server silent for timeout_s is given up on.
    limits = EventLimits(read_timeout_s=timeout_s)
    last_heard = time.monotonic()

    def deadline() -> Deadline:
        return Deadline(last_heard + timeout_s, f"The server sent nothing for {timeout_s:g} s (--timeout)", "timeout")

    seconds = 0.0
    with ExitStack() as cleanup:
        write, start = None, None
        try:
            request = Synthesize(text=text, voice=SynthesizeVoice(name=voice) if voice else None)
            try:
                await async_write_event(request.event(), writer)
            except OSError as err:
                raise SayError(f"The connection to the server broke: {err}") from None
            while True:
                event = await _next_event(reader, limits, deadline)
                last_heard = time.monotonic()
                if Error.is_type(event.type):
                    error = _parsed(Error.from_event, event)
                    raise SayError(
                        f"The server answered with an error ({clip(str(error.code))}): {clip(str(error.text))}"
                    )
                if AudioStart.is_type(event.type):
                    start = _checked_format(_parsed(AudioStart.from_event, event))
                    write, where = _open_sink(start, output, cleanup)
                    if verbose:
                        print(f"Audio to {where}", file=sys.stderr)
                elif AudioChunk.is_type(event.type) and write is not None and start is not None:
                    chunk = _chunk_of(event, start)
                    if seconds == 0 and verbose:
                        print(f"First audio after {(time.monotonic() - began) * 1000:.0f} ms", file=sys.stderr)
                    seconds += chunk.seconds
                    write(chunk.audio)
                elif AudioStop.is_type(event.type):
                    break
        finally:
            writer.close()
    return seconds


async def _connect(uri: str, timeout_s: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parsed = urlparse(uri)
    try:
        async with asyncio.timeout(timeout_s):
            if parsed.scheme == "tcp" and parsed.hostname and parsed.port:
                return await asyncio.open_connection(parsed.hostname, parsed.port)
            if parsed.scheme == "unix" and (parsed.netloc or parsed.path):
                return await asyncio.open_unix_connection(parsed.netloc + parsed.path)
    except (OSError, ValueError, TimeoutError) as err:
        raise SayError(f"Cannot reach the server at {uri}: {err or 'no answer'}") from err
    raise SayError(f"Cannot reach the server at {uri}: --uri must be tcp://HOST:PORT or unix://PATH")


async def _next_event(reader: asyncio.StreamReader, limits: EventLimits, deadline: Callable[[], Deadline]) -> Event:
    try:
        event = await read_event(reader, limits, deadline)
    except ProtocolError as err:
        raise SayError(f"Bad answer from the server ({err.code}): {err}") from None
    except ConnectionError as err:
        raise SayError(f"The connection to the server broke: {err}") from None
    if event is None:
        raise SayError("The server closed the connection before the audio ended")
    return event


def _parsed(from_event: Callable[[Event], T], event: Event) -> T:
    """wyoming's parsing of an event, with a clear message for wrong or missing fields."""
    try:
        return from_event(event)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SayError(f"Bad {clip(event.type)} event from the server: {clip(str(err))}") from None


def _checked_format(start: AudioStart) -> AudioStart:
    if not all(
        isinstance(value, int) and not isinstance(value, bool) for value in (start.rate, start.width, start.channels)
    ):
        raise SayError("Bad audio-start event from the server: rate, width and channels must be whole numbers")
    if not (1000 <= start.rate <= 384000 and start.width in (1, 2, 3, 4) and 1 <= start.channels <= 8):
        raise SayError(f"The server's audio format cannot be played: {start.rate} Hz, {start.width} bytes per sample, "
                       f"{start.channels} channels")  # fmt: skip
    return start


def _chunk_of(event: Event, start: AudioStart) -> AudioChunk:
    chunk = _parsed(AudioChunk.from_event, event)
    if (chunk.rate, chunk.width, chunk.channels) != (start.rate, start.width, start.channels):
        raise SayError(
            f"The server changed its audio format mid-stream: {chunk.rate} Hz, {chunk.width} bytes per sample, "
            f"{chunk.channels} channels after {start.rate} Hz, {start.width}, {start.channels}"
        )
    if not isinstance(chunk.audio, bytes) or len(chunk.audio) % (start.width * start.channels):
        raise SayError("Bad audio-chunk event from the server: its audio is not whole samples")
    return chunk


def _open_sink(start: AudioStart, output: Path | None, cleanup: ExitStack) -> tuple[Callable[[bytes], None], str]:
    """Where the audio goes: a writer function, and its name."""
    if output is None:
        player = Player(start)
        cleanup.callback(player.close)
        return player.write, player.device
    try:
        wav = wave.open(str(output), "wb")  # noqa: SIM115 - closed by the ExitStack
    except OSError as err:
        raise SayError(f"Cannot write {output}: {err}") from err
    cleanup.callback(wav.close)
    wav.setframerate(start.rate)
    wav.setsampwidth(start.width)
    wav.setnchannels(start.channels)
    return wav.writeframes, str(output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wyoming-streamtts-say", description=__doc__)
    parser.add_argument("text", help="what to say; - reads it from standard input")
    parser.add_argument("--uri", default="tcp://127.0.0.1:10200", help="the server (default: %(default)s)")
    parser.add_argument("--voice", help="voice as LANG/SPEAKER, e.g. fr/default (default: the server's)")
    parser.add_argument("--output", "-o", type=Path, help="write a WAV file instead of playing")
    parser.add_argument("--verbose", "-v", action="store_true", help="print time to first audio and more")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help="give up on a server that sends nothing for this long (default: %(default)s)")  # fmt: skip
    args = parser.parse_args(argv)
    if not args.timeout > 0:
        parser.error("--timeout must be more than 0")
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        print("Nothing to say: the text is empty", file=sys.stderr)
        return 2
    try:
        seconds = asyncio.run(say(args.uri, text, args.voice, args.output, args.verbose, args.timeout))
    except SayError as err:
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.verbose:
        where = f"written to {args.output}" if args.output else "played"
        print(f"{seconds:.2f} s of audio {where}", file=sys.stderr)
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
