"""The command line as a person at a terminal uses it."""

import re
import socket
import subprocess
import sys

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize

from tests.conftest import REPO, ServerProcess, assert_well_formed, free_port, read_reply, rms
from wyoming_streamtts import __version__


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_streamtts", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_explains_every_flag():
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in [
        "--uri",
        "--voices-dir",
        "--engine",
        "--language",
        "--default-voice",
        "--samples-per-chunk",
        "--max-sentence-chars",
        "--max-text-chars",
        "--write-timeout",
        "--max-event-bytes",
        "--read-timeout",
        "--idle-timeout",
        "--max-connections",
        "--max-connections-per-peer",
        "--shutdown-grace",
        "--fallback",
        "--zeroconf",
        "--zeroconf-host",
        "--translator",
        "--source-language",
        "--nllb-model",
        "--xtts-model",
        "--download",
        "--agree-coqui-license",
        "--device",
        "--stream-chunk-size",
        "--first-chunk-size",
        "--first-clause-chars",
        "--no-streaming",
        "--gtts-tld",
        "--gtts-timeout",
        "--debug",
        "--log-format",
        "--version",
        "--name",
        "--stream-idle-timeout",
        "--piper-voices",
        "--download-piper-voice",
    ]:
        assert flag in result.stdout
    assert "tcp://0.0.0.0:10200" in result.stdout


def test_readme_options_table_names_every_flag():
    flags = set(re.findall(r"(--[a-z][a-z-]+)", run_cli("--help").stdout)) - {"--help"}
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Options") : readme.index("## Engine fallback")]
    assert sorted(flag for flag in flags if f"`{flag}" not in table) == []


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == __version__


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--language", "klingon"], "Language 'klingon' is not supported"),
        (["--default-voice", "en/nobody"], "Voice 'en/nobody' not found"),
        (["--samples-per-chunk", "0"], "--samples-per-chunk must be at least 1"),
        (["--uri", "http://localhost:1"], "Only 'stdio://', 'unix://', or 'tcp://'"),
        (
            ["--uri", "0.0.0.0:10200"],
            "--uri 0.0.0.0:10200: Only 'stdio://', 'unix://', or 'tcp://' are supported (e.g. tcp://0.0.0.0:10200",
        ),
        (["--uri", "tcp://0.0.0.0"], "--uri tcp://0.0.0.0: A port must be specified"),
        (["--engine", "nonsense"], "invalid choice"),
        (["--max-event-bytes", "100"], "--max-event-bytes must be at least 1024"),
        (["--max-connections", "0"], "--max-connections"),
        (["--idle-timeout", "-1"], "--idle-timeout must not be negative"),
        (["--first-clause-chars", "-5"], "--first-clause-chars must not be negative"),
        (["--first-chunk-size", "-1"], "--first-chunk-size must be at least 0"),
        (["--temperature", "0"], "argument --temperature: 0 is not from 0.01 to 2"),
        (["--top-p", "1.5"], "argument --top-p: 1.5 is not from 0.01 to 1"),
        (["--top-k", "many"], "argument --top-k: 'many' is not a number"),
        (["--repetition-penalty", "0.5"], "argument --repetition-penalty: 0.5 is not from 1 to 20"),
        (["--speed", "9"], "argument --speed: 9 is not from 0.25 to 4"),
        (["--figures-file", "/nonexistent/figures.jsonl"], "--figures-file /nonexistent/figures.jsonl: No such file"),
    ],
)
def test_bad_settings_fail_at_start_with_a_clear_message(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_uri_is_reported_before_anything_loads(tmp_path):
    # It came only after the engines had loaded (here: after a voice download that cannot succeed offline).
    result = run_cli("--uri", "0.0.0.0:10200", "--piper-voices", str(tmp_path), "--download-piper-voice",
                     "de_DE-thorsten-medium")  # fmt: skip
    assert result.returncode == 2
    assert "Cannot start: --uri 0.0.0.0:10200" in result.stderr and "Downloading" not in result.stderr


def test_port_in_use_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("--uri", f"tcp://127.0.0.1:{port}")
    assert result.returncode == 2
    assert f"Cannot listen on tcp://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


async def test_readme_run_command_starts_a_speaking_server(tmp_path):
    """`script/run` from the README installs (already done here) and serves, with no package index: it
    reinstalled at every start (16 s) and so failed on a box offline ("Could not find a version that
    satisfies the requirement setuptools>=77")."""
    stamp = REPO / ".venv" / ".installed"
    installed = stamp.stat().st_mtime
    closed = f"http://127.0.0.1:{free_port()}"
    offline = {"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": closed, "PIP_RETRIES": "0", "PIP_TIMEOUT": "1"}
    server = ServerProcess(["--language", "en"], offline, tmp_path, program=(str(REPO / "script" / "run"),))
    try:
        server.wait_ready(timeout=240)
        async with AsyncTcpClient("127.0.0.1", server.port) as client:
            await client.write_event(Synthesize(text="Hello from the readme.").event())
            reply = await read_reply(client, streaming=False)
        assert_well_formed(reply, streaming=False)
        assert rms(reply.samples) > 300
    finally:
        assert server.stop() == 0  # SIGTERM is a clean shutdown
    assert stamp.stat().st_mtime == installed  # nothing was installed again
