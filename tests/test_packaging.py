"""What a Home Assistant owner installs: the systemd unit, the Dockerfile and its health check."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, ServerProcess, add_voice, free_port

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
                    "PrivateTmp=yes", "ReadWritePaths=", "EnvironmentFile=",
                    "ExecReload=/bin/kill -HUP $MAINPID"):  # fmt: skip
        assert setting in unit
    # A group a system lacks (render, on some Debian installs) stopped the unit from starting; the README's
    # install adds the user to the GPU groups that exist instead.
    assert "SupplementaryGroups=" not in unit
    readme = (REPO / "README.md").read_text()
    assert "getent group $group >/dev/null && sudo usermod -aG $group wyoming-streamtts" in readme
    # --zeroconf was fixed in ExecStart: STREAMTTS_ARGS could not turn it off.
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "--zeroconf" not in exec_start and "Environment=STREAMTTS_ARGS=--zeroconf" in unit
    env = (REPO / "systemd" / "wyoming-streamtts.env").read_text()
    assert 'STREAMTTS_ARGS="--zeroconf --engine auto"' in env
    # The recipe starts from nothing: a clone, python3-venv, and the voices folder the unit names.
    for step in ("git clone", "python3-venv", "install -d -o wyoming-streamtts -g wyoming-streamtts "
                 "/var/lib/wyoming-streamtts/voices"):  # fmt: skip
        assert step in readme


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


def test_health_check_asks_the_server_where_its_own_uri_says(start_server):
    # The image's HEALTHCHECK asked 127.0.0.1:10200 whatever --uri the container was run with: "unhealthy".
    port = free_port()
    server = start_server("--engine", "espeak", "--uri", f"tcp://0.0.0.0:{port}", ready=False)  # the last --uri wins
    server.port = port
    server.wait_ready()
    result = subprocess.run([sys.executable, "-m", "wyoming_streamtts.health", "--uri-of", str(server.process.pid)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == "healthy", result.stderr
    assert '"--uri-of", "1"' in (REPO / "Dockerfile").read_text()  # the server is PID 1 in the image


def test_health_check_fails_on_a_silent_server():
    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        result = subprocess.run(
            [sys.executable, "-m", "wyoming_streamtts.health", "--uri", f"tcp://127.0.0.1:{silent.getsockname()[1]}",
             "--timeout", "1"], capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1 and "no answer to describe within 1.0 s" in result.stderr


# Root without the capabilities that let it read any file: as a service user meets a folder of another owner.
AS_ANOTHER_USER = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                   "wyoming_streamtts")  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "says", "starts"),
    [
        (
            ["--engine", "auto", "--fallback", "piper,espeak", "--piper-voices"],
            "Engine piper unavailable: cannot read the Piper voices: permission denied on",
            True,
        ),
        (
            ["--engine", "xtts", "--device", "cpu", "--xtts-model"],
            "Cannot start: cannot read the XTTS model: permission denied on",
            False,
        ),
        (
            ["--engine", "espeak", "--translator", "ctranslate2", "--nllb-model"],
            "Cannot start: cannot read the NLLB model: permission denied on",
            False,
        ),
    ],
    ids=["piper", "xtts", "nllb"],
)
def test_a_model_folder_this_user_cannot_read_is_said_with_the_fix(tmp_path, flags, says, starts):
    # A volume mounted for another owner read as missing: "no Piper voices in ...", or a traceback.
    folder = add_voice(tmp_path / "mounted")
    os.chown(folder, 10200, 10200)
    folder.chmod(0o700)
    server = ServerProcess([*flags, str(folder)], None, tmp_path, program=AS_ANOTHER_USER)
    try:
        if starts:
            server.wait_ready()
        else:
            assert server.process.wait(timeout=120) == 2
        log = server.log()
        assert f"{says} {folder}: this server runs as uid 0" in log and f"chmod -R a+rX {folder}" in log, log
        assert "Traceback" not in log
    finally:
        server.stop()
        folder.chmod(0o755)
