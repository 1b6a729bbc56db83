"""More than one box: the documented HAProxy configuration in front of real servers, one killed mid-test."""

import asyncio
import contextlib
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wyoming.event import async_read_event, async_write_event
from wyoming.info import Describe
from wyoming.tts import Synthesize

from tests.conftest import ServerProcess, assert_well_formed, describe, free_port, one_shot

CONFIG = Path(__file__).parent.parent / "haproxy" / "wyoming-streamtts.cfg"


@pytest.fixture
def silent_box() -> Iterator[int]:
    """A port that accepts connections and never answers: up for a port check, not for `describe`."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for connection in accepted:
        connection.close()


def balancer_config(port: int, boxes: dict[str, int]) -> str:
    """The committed configuration, listening on `port`, with this test's boxes as its servers."""
    lines = []
    for line in CONFIG.read_text().splitlines():
        if line.strip().startswith("server "):
            continue
        lines.append(re.sub(r"bind :10200", f"bind 127.0.0.1:{port}", line))
        if line.strip().startswith("default-server"):
            lines += [f"    server {name} 127.0.0.1:{box}" for name, box in boxes.items()]
    return "\n".join(lines) + "\n"


async def ended_requests(servers: list[ServerProcess], total: int) -> list[int]:
    """Each server's count of ended requests (its figures), once they add up to `total` (each is written after
    its reply)."""
    for _ in range(100):
        counts = [len(server.figures()) for server in servers]
        if sum(counts) >= total:
            break
        await asyncio.sleep(0.1)
    return counts


@pytest.fixture
def balancer(tmp_path) -> Iterator:
    processes: list[subprocess.Popen] = []

    def start(boxes: dict[str, int]) -> tuple[int, Path]:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        port = free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(balancer_config(port, boxes))
        log = tmp_path / "haproxy.log"
        processes.append(
            subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=log.open("w"), stderr=subprocess.STDOUT)
        )
        for _ in range(100):  # listening
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        return port, log

    yield start
    for process in processes:
        process.kill()
        process.wait(10)


async def test_two_servers_behind_haproxy_keep_answering_when_one_is_killed(start_server, balancer, silent_box):
    boxes = {name: start_server("--engine", "espeak", "--max-connections-per-peer", "0") for name in ("box1", "box2")}
    port, log = balancer({"box1": boxes["box1"].port, "box2": boxes["box2"].port, "silent": silent_box})
    # The check speaks Wyoming: a box that takes connections but does not answer `describe` is down.
    for _ in range(200):
        if "streamtts/silent is DOWN" in log.read_text():
            break
        await asyncio.sleep(0.1)
    assert "Layer7" in log.read_text() and "streamtts/silent is DOWN" in log.read_text(), log.read_text()

    # Home Assistant needs one host and port: describe and speech through the balancer.
    info = await describe(port)
    assert [voice.name for voice in info.tts[0].voices][:1] == ["en/default"]
    for _ in range(6):
        reply = await one_shot(port, "The kitchen lights are on.", timeout=30)
        assert_well_formed(reply, streaming=False)
    before = await ended_requests([boxes["box1"], boxes["box2"]], 6)
    assert before[0] > 0 and before[1] > 0 and sum(before) == 6  # both boxes spoke

    boxes["box1"].process.kill()
    boxes["box1"].process.wait(10)
    for _ in range(6):  # at once, before the check has seen it: a refused connection goes to the other box
        reply = await one_shot(port, "The front door is locked.", timeout=30)
        assert_well_formed(reply, streaming=False)
    assert await ended_requests([boxes["box2"]], before[1] + 6) == [before[1] + 6]
    assert boxes["box2"].figures() == boxes["box2"].figures(outcome="finished")


async def turned_away(port: int) -> bool:
    """Whether a new connection is closed or reset before anything is said on it."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        data = await asyncio.wait_for(reader.read(), 10)
    except ConnectionResetError:
        return True
    writer.close()
    return data == b""


async def test_one_device_cannot_take_every_connection_through_the_balancer(start_server, balancer):
    # Behind the balancer every request comes from its address: the limit per client is the balancer's.
    box = start_server("--engine", "espeak", "--max-connections-per-peer", "0")
    port, _ = balancer({"box1": box.port})
    await describe(port)  # up
    hog = [await asyncio.open_connection("127.0.0.1", port) for _ in range(32)]
    reader, writer = hog[-1]
    await async_write_event(Describe().event(), writer)
    assert (await asyncio.wait_for(async_read_event(reader), 10)).type == "info"  # the 32nd is served
    assert await turned_away(port)  # the 33rd from that address is not
    # Another device (another loopback address) is still answered.
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
    await async_write_event(Synthesize(text="Still answered.").event(), writer)
    types = []
    while (event := await asyncio.wait_for(async_read_event(reader), 30)) is not None:
        types.append(event.type)
        if event.type == "audio-stop":
            break
    assert types[0] == "audio-start" and types[-1] == "audio-stop"
    for _, hogged in hog + [(reader, writer)]:
        hogged.close()
