"""What a Home Assistant owner installs: the systemd unit, the Dockerfile and its health check."""

import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

VENV_BIN = Path(sys.executable).parent


def test_systemd_unit_verifies_cleanly(tmp_path):
    # The unit runs /opt/wyoming-streamtts/bin/wyoming-streamtts; here that is the test venv's.
    unit = (REPO / "systemd" / "wyoming-streamtts.service").read_text()
    assert "/opt/wyoming-streamtts/bin/wyoming-streamtts" in unit
    local = tmp_path / "wyoming-streamtts.service"
    local.write_text(unit.replace("/opt/wyoming-streamtts/bin/", f"{VENV_BIN}/"))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout + result.stderr == ""  # no warnings either (an unknown key only warns)
    for setting in ("User=wyoming-streamtts", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
                    "PrivateTmp=yes", "ReadWritePaths=", "EnvironmentFile=", "SupplementaryGroups=video render",
                    "ExecReload=/bin/kill -HUP $MAINPID"):  # fmt: skip
        assert setting in unit


def test_dockerfile_passes_hadolint():
    result = subprocess.run([str(VENV_BIN / "hadolint"), str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "EXPOSE 10200" in dockerfile and "HEALTHCHECK" in dockerfile and "wyoming_streamtts.health" in dockerfile


def health(uri: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wyoming_streamtts.health", "--uri", uri, "--timeout", "5"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_health_check_does_a_describe_round_trip(start_server):
    server = start_server("--engine", "espeak")
    result = health(f"tcp://127.0.0.1:{server.port}")
    assert result.returncode == 0 and result.stdout.strip() == "healthy"
    server.stop()
    gone = health(f"tcp://127.0.0.1:{server.port}")
    assert gone.returncode == 1 and "unhealthy: cannot connect" in gone.stderr


def test_health_check_fails_on_a_silent_server():
    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        result = subprocess.run(
            [sys.executable, "-m", "wyoming_streamtts.health", "--uri", f"tcp://127.0.0.1:{silent.getsockname()[1]}",
             "--timeout", "1"], capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1 and "no answer to describe within 1.0 s" in result.stderr
