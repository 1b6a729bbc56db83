"""The speaker client against a running server: to a WAV file, and played through pyaudio."""

import json
import socket
import subprocess
import sys
import threading
import time
import wave

import pytest

from tests.conftest import REPO, free_port

ALSA_NULL = "pcm.!default {\n    type null\n}\nctl.!default {\n    type hw\n    card 0\n}\n"


def say(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_streamtts.say", *args],
        input=stdin, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


@pytest.fixture
def server(start_server):
    return start_server("--engine", "espeak")


def test_writes_a_wav_file(server, tmp_path):
    output = tmp_path / "hello.wav"
    result = say("Hello from the terminal. Two sentences.", "--uri", f"tcp://127.0.0.1:{server.port}",
                 "--voice", "en/default", "--output", str(output), "--verbose")  # fmt: skip
    assert result.returncode == 0, result.stderr
    with wave.open(str(output)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (24000, 2, 1)
        seconds = wav.getnframes() / 24000
    assert 1.0 < seconds < 6.0
    assert "First audio after" in result.stderr
    assert f"{seconds:.2f} s of audio written to {output}" in result.stderr


def test_the_readme_command_works_as_written(server, tmp_path):
    # The README's `wyoming-streamtts-say ...` was "command not found": it lives in .venv/bin.
    output = tmp_path / "readme.wav"
    readme = (REPO / "README.md").read_text()
    assert 'script/say "The washing machine is done." --voice en/default' in readme
    result = subprocess.run([str(REPO / "script" / "say"), "The washing machine is done.", "--voice", "en/default",
                             "--uri", f"tcp://127.0.0.1:{server.port}", "-o", str(output)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert output.stat().st_size > 24000


def test_reads_text_from_stdin(server, tmp_path):
    output = tmp_path / "stdin.wav"
    result = say("-", "--uri", f"tcp://127.0.0.1:{server.port}", "-o", str(output), stdin="Bonjour.\n")
    assert result.returncode == 0, result.stderr
    assert output.stat().st_size > 10_000


def test_plays_through_pyaudio_on_the_alsa_null_device(server, tmp_path):
    (tmp_path / ".asoundrc").write_text(ALSA_NULL)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = say("Playing through the speaker now.", "--uri", f"tcp://127.0.0.1:{server.port}", "--verbose", env=env)
    assert result.returncode == 0, result.stderr
    assert "Audio to default" in result.stderr  # PortAudio's ALSA default: the null device
    assert "s of audio played" in result.stderr
    played = float(result.stderr.split(" s of audio played")[0].split()[-1])
    assert played > 1.0


def test_unreachable_server_is_a_clear_message():
    result = say("Hello.", "--uri", f"tcp://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "Cannot reach the server at tcp://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_server_error_is_shown(server, tmp_path):
    result = say(
        "Hello.", "--uri", f"tcp://127.0.0.1:{server.port}", "--voice", "xx/nobody", "-o", str(tmp_path / "x.wav")
    )
    assert result.returncode == 1
    assert "The server answered with an error (voice-not-found)" in result.stderr


def test_empty_text_is_refused():
    assert say("   ").returncode == 2


def header(event_type: str, data: dict | None = None, payload_length: int = 0) -> bytes:
    """An event's header line with its data inline, as a (bad) server may write it."""
    fields = {"type": event_type, **({"data": data} if data is not None else {})}
    if payload_length:
        fields["payload_length"] = payload_length
    return json.dumps(fields).encode() + b"\n"


START = header("audio-start", {"rate": 24000, "width": 2, "channels": 1})
BAD_ANSWERS = {
    "rate 0": header("audio-start", {"rate": 0, "width": 2, "channels": 1}),
    "width 7": header("audio-start", {"rate": 24000, "width": 7, "channels": 1}),
    "no channels": header("audio-start", {"rate": 24000, "width": 2, "channels": 0}),
    "a chunk of width 0": START + header("audio-chunk", {"rate": 24000, "width": 0, "channels": 1}, 4) + b"\0" * 4,
    "fields missing": header("audio-start", {}),
    "a chunk without its fields": START + header("audio-chunk", {}, 4) + b"\0" * 4,
    "a header that is a list": b"[1, 2, 3]\n",
    "a close inside a payload": START
    + header("audio-chunk", {"rate": 24000, "width": 2, "channels": 1}, 1000)
    + b"\0" * 10,
    "a 200 MB payload": START + header("audio-chunk", {"rate": 24000, "width": 2, "channels": 1}, 200_000_000),
    "an error without fields": header("error", {"text": None}),
    "silence": b"",
}


class BadServer:
    """Accepts one request and answers `answer`, then closes (or, for silence, says nothing more)."""

    def __init__(self, answer: bytes) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(self.answer)
            if not self.answer:
                time.sleep(30)

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_a_bad_answer_ends_with_one_clear_line(case, tmp_path):
    server = BadServer(BAD_ANSWERS[case])
    try:
        began = time.monotonic()
        result = say("Hello.", "--uri", f"tcp://127.0.0.1:{server.port}", "-o", str(tmp_path / "x.wav"),
                     "--timeout", "2")  # fmt: skip
    finally:
        server.close()
    # Before: a traceback in every case, 624 MB of memory for the 200 MB payload, and for ever for silence.
    assert result.returncode == 1, (case, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert time.monotonic() - began < 30
    if case == "silence":
        assert "The server sent nothing for 2 s (--timeout)" in result.stderr
    if case == "a 200 MB payload":
        assert "event-too-large" in result.stderr
