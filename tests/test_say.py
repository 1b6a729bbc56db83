"""The speaker client against a running server: to a WAV file, and played through pyaudio."""

import subprocess
import sys
import wave

import pytest

from tests.conftest import free_port

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
