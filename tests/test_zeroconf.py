"""Zeroconf discovery with a real python-zeroconf browser, in a network namespace of our own."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, free_port, wait_for_log

PROBE = Path(__file__).resolve().parent / "zeroconf_probe.py"


def make_netns(route_source: bool, multicast: bool = True):
    """A private network with only loopback, multicast on: mDNS stays inside it."""
    name = f"streamtts-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    route = ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"] + (["src", "127.0.0.1"] if route_source else [])
    commands = [["ip", "link", "set", "lo", "up"]]
    if multicast:
        commands += [["ip", "link", "set", "lo", "multicast", "on"], route]
    try:
        for command in commands:
            subprocess.run(["ip", "netns", "exec", name, *command], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


@pytest.fixture
def netns():
    """The multicast route has a source address, as a LAN interface has."""
    yield from make_netns(route_source=True)


@pytest.fixture
def netns_without_address():
    yield from make_netns(route_source=False)


@pytest.fixture
def netns_without_multicast():
    """Loopback up, but no multicast route: every send to 224.0.0.251 is unreachable."""
    yield from make_netns(route_source=False, multicast=False)


@pytest.mark.parametrize(
    ("bind", "extra", "announced"),
    [("0.0.0.0", [], "127.0.0.1"), ("127.0.0.1", [], "127.0.0.1"),
     ("0.0.0.0", ["--zeroconf-host", "127.0.0.2"], "127.0.0.2")],
)  # fmt: skip
def test_home_assistant_finds_the_server_and_sees_it_leave(netns, tmp_path, bind, extra, announced):
    port = free_port()
    server = ServerProcess(
        [
            "--uri",
            f"tcp://{bind}:{port}",
            "--engine",
            "espeak",
            "--zeroconf",
            "kitchen-tts",
            "--shutdown-grace",
            "30",
            *extra,
        ],
        None,
        tmp_path,
        program=("ip", "netns", "exec", netns, sys.executable, "-m", "wyoming_streamtts"),
    )
    probe = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, str(PROBE), "kitchen-tts", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        found = probe.stdout.readline()
        assert found.startswith("FOUND "), (
            found,
            probe.stderr.read() if probe.poll() is not None else "",
            server.log(),
        )
        seen = json.loads(found.removeprefix("FOUND "))
        # Bound to 0.0.0.0, the announced address is a real one, never 0.0.0.0.
        # The program is titled by the zeroconf name, so two servers do not look alike in Home Assistant.
        assert seen == {"address": announced, "port": port, "program": "kitchen-tts"}
        assert probe.stdout.readline().strip() == "STREAMING"
        # SIGTERM: the goodbye comes at once, the running stream is finished, then a clean exit.
        server.process.send_signal(signal.SIGTERM)
        assert probe.stdout.readline().strip() == "REMOVED"
        finished = json.loads(probe.stdout.readline().removeprefix("FINISHED "))
        assert finished == {"error": False, "end": ["audio-stop", "synthesize-stopped"]}
        assert server.process.wait(timeout=30) == 0
        assert "Zeroconf service kitchen-tts withdrawn" in server.log()
    finally:
        probe.kill()
        server.stop()


def test_zeroconf_needs_tcp(start_server, tmp_path):
    server = start_server("--uri", f"unix://{tmp_path}/tts.sock", "--zeroconf", ready=False)
    assert server.process.wait(timeout=60) == 2
    assert "--zeroconf needs a tcp:// --uri" in server.log()


def test_no_address_to_announce_is_a_start_error_not_0000(netns_without_address, tmp_path):
    server = ServerProcess(
        ["--uri", f"tcp://0.0.0.0:{free_port()}", "--engine", "espeak", "--zeroconf"],
        None,
        tmp_path,
        program=("ip", "netns", "exec", netns_without_address, sys.executable, "-m", "wyoming_streamtts"),
    )
    assert server.process.wait(timeout=60) == 2
    assert "no address to announce by zeroconf; pass --zeroconf-host" in server.log()


def test_an_announcement_that_cannot_be_sent_is_reported_not_claimed(netns_without_multicast, tmp_path):
    server = ServerProcess(
        ["--engine", "espeak", "--zeroconf", "kitchen-tts", "--zeroconf-host", "127.0.0.1"],
        None,
        tmp_path,
        program=("ip", "netns", "exec", netns_without_multicast, sys.executable, "-m", "wyoming_streamtts"),
    )
    try:
        asyncio.run(wait_for_log(server, "Listening on", 30))  # it serves: Home Assistant can add it by hand
        line = asyncio.run(wait_for_log(server, "WARNING:.*Zeroconf announcement of kitchen-tts cannot be sent.*", 30))
        assert "no route to the mDNS group 224.0.0.251 (Network is unreachable)" in line[0]
        assert "--zeroconf-host" in line[0] and "by hand" in line[0]
        assert "Announced by zeroconf" not in server.log()
    finally:
        server.stop()


def test_a_second_server_with_the_same_name_takes_a_unique_one(netns, tmp_path):
    servers, names, ports = [], [], [free_port(), free_port()]
    try:
        for port in ports:  # two boxes on one network, both with a bare --zeroconf (the same default name)
            servers.append(ServerProcess(
                ["--uri", f"tcp://0.0.0.0:{port}", "--engine", "espeak", "--zeroconf"], None, tmp_path,
                program=("ip", "netns", "exec", netns, sys.executable, "-m", "wyoming_streamtts"),
            ))  # fmt: skip
            announced = asyncio.run(wait_for_log(servers[-1], r"Announced by zeroconf as (.+) at 127\.0\.0\.1:", 60))
            names.append(announced.group(1))
        # Before, the second died with NonUniqueNameException, or announced the first one's name.
        assert names[1] == f"{names[0]}-2", names
        assert f"Another service on this network is announced as {names[0]}" in servers[1].log()
        for name, port in zip(names, ports, strict=True):  # Home Assistant finds both
            probe = subprocess.Popen(
                ["ip", "netns", "exec", netns, sys.executable, str(PROBE), name, "60"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                found = probe.stdout.readline()
                assert found.startswith("FOUND "), (found, [server.log() for server in servers])
                assert json.loads(found.removeprefix("FOUND "))["port"] == port
            finally:
                probe.kill()
                probe.wait()
    finally:
        for server in servers:
            server.stop()
