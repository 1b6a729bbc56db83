"""The web page's API as a client uses it: a server process with --http-port, and requests to it."""

import re
import subprocess
import time
import wave
from pathlib import Path

import av
import numpy as np
import requests

from tests.conftest import JOE, ServerProcess, free_port

READING = (
    "The quick brown fox jumps over the lazy dog. Home Assistant turned the kitchen lights on, and the front "
    "door is locked now. Thank you very much for listening to me today."
)


class WebPage:
    """The page of one server: its CSRF token read from the page, as the page's script reads it."""

    def __init__(self, server: ServerProcess, port: int, token: str | None = None) -> None:
        self.server = server
        self.base = f"http://127.0.0.1:{port}/"
        self.session = requests.Session()
        page = self.session.get(self.base, timeout=10)
        page.raise_for_status()
        self.html = page.text
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)[1]
        self.token = token

    def headers(self, csrf: bool = True) -> dict[str, str]:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.base + path, timeout=60, **kwargs)

    def change(self, method: str, path: str, csrf: bool = True, **kwargs) -> requests.Response:
        return self.session.request(method, self.base + path, headers=self.headers(csrf), timeout=120, **kwargs)

    def add_cloned(
        self, recording: Path | bytes, name: str, languages: str = "", filename: str = ""
    ) -> requests.Response:
        data = recording.read_bytes() if isinstance(recording, Path) else recording
        files = {"audio": (filename or (recording.name if isinstance(recording, Path) else "upload.bin"), data)}
        return self.change("POST", "api/cloned", files=files, data={"name": name, "languages": languages})

    def wait_job(self, job_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"api/jobs/{job_id}").json()
            if job["state"] != "preparing":
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} still preparing after {timeout} s")

    def speak(self, voice: str, text: str) -> tuple[np.ndarray, dict]:
        """The WAV the page plays, as samples, and that request's figures."""
        answer = self.get("api/speak", params={"voice": voice, "text": text})
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"] == "audio/wav"
        assert answer.content[:4] == b"RIFF" and answer.content[8:16] == b"WAVEfmt "
        samples = np.frombuffer(answer.content[44:], dtype="<i2")
        figures = self.get(f"api/requests/{answer.headers['X-Request-Id']}").json()
        return samples, figures


def start_web(start_server, tmp_path: Path, *flags: str, piper: Path | None = None) -> tuple[ServerProcess, int]:
    """A server with the web page on a free port: Piper (Joe) and eSpeak NG unless flags say otherwise."""
    port = free_port()
    folder = piper or add_joe(tmp_path / "piper")
    server = start_server("--engine", "piper", "--fallback", "piper,espeak", "--piper-voices", str(folder),
                          "--voices-dir", str(tmp_path / "voices"), "--http-port", str(port), *flags)  # fmt: skip
    wait_http(port, server)
    return server, port


def add_joe(folder: Path) -> Path:
    from tests.conftest import add_voice  # noqa: PLC0415

    folder.parent.mkdir(parents=True, exist_ok=True)
    return add_voice(folder, JOE)


def wait_http(port: int, server: ServerProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/status", timeout=2)
            return
        except requests.ConnectionError:
            assert server.process.poll() is None, server.log()
            time.sleep(0.1)
    raise AssertionError(f"no web page on {port}:\n{server.log()}")


def spoken_recording(path: Path, text: str = READING) -> Path:
    """Real speech (eSpeak NG, about 10 s) as a reference recording, in the format the suffix names."""
    raw = path.with_name(path.stem + ".espeak.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    if path.suffix == ".wav":
        raw.rename(path)
        return path
    samples, rate = wav_samples(raw)
    encode(samples, rate, path)
    return path


# Each format as a phone or a browser makes it (PyAV: FFmpeg's encoders, in the test's own process).
_CODECS = {".m4a": ("aac", 44100), ".ogg": ("libopus", 48000), ".webm": ("libopus", 48000),
           ".mp3": ("libmp3lame", 44100), ".flac": ("flac", 22050)}  # fmt: skip


def encode(samples: np.ndarray, rate: int, path: Path) -> Path:
    codec, out_rate = _CODECS[path.suffix]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono", rate=out_rate)
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def wav_samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"), wav.getframerate()
