"""SIGTERM while requests run: they finish within the grace period or end with an error; exit 0."""

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop

from tests.bad_input import send_raw
from tests.conftest import ServerProcess, assert_well_formed, messages, read_reply, wait_for_log


async def start_stream(port: int) -> tuple[AsyncTcpClient, Event]:
    """A stream whose first sentence is being spoken; the audio-start it got."""
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    await client.write_event(SynthesizeStart().event())
    await client.write_event(SynthesizeChunk(text="The first sentence is spoken before the signal. ").event())
    first = await asyncio.wait_for(client.read_event(), 10)
    assert first.type == "audio-start"
    return client, first


async def test_a_running_stream_finishes_within_the_grace_period(start_server):
    server = start_server("--engine", "espeak", "--shutdown-grace", "20")
    client, first = await start_stream(server.port)
    server.process.send_signal(signal.SIGTERM)
    await wait_for_log(server, "Waiting up to 20 s for 1 running request", timeout=10)
    # Meanwhile newcomers are told, not left hanging.
    newcomer = await asyncio.to_thread(send_raw, server.port, b"", 5.0)
    assert newcomer.closed and newcomer.codes == ["server-stopping"]
    await client.write_event(SynthesizeChunk(text=" The second one arrives during the grace period.").event())
    await client.write_event(SynthesizeStop().event())
    reply = await read_reply(client, streaming=True, timeout=10)
    await client.disconnect()
    assert reply.errors == []
    reply.events.insert(0, first)
    assert_well_formed(reply, streaming=True)
    assert reply.seconds > 2.0  # the second sentence was spoken too
    assert await asyncio.to_thread(server.process.wait, 10) == 0


async def test_a_stream_that_does_not_finish_ends_with_an_error(start_server):
    server = start_server("--engine", "espeak", "--shutdown-grace", "1")
    client, _ = await start_stream(server.port)
    server.process.send_signal(signal.SIGTERM)
    reply = await read_reply(client, streaming=True, timeout=10)  # the client never sends stop
    await client.disconnect()
    codes = [e.code for e in reply.errors]
    assert codes == ["server-stopping"]
    assert reply.types[-2:] == ["error", "audio-stop"] and reply.cut_off  # a failed stream's end
    assert await asyncio.to_thread(server.process.wait, 10) == 0
    assert "Ending 1 request that did not finish in 1 s" in server.log()
    # A normal stop is no fault: it logged the request it ended as an ERROR.
    assert not messages(server.log(), "ERROR")
    assert any(
        m.startswith("Request with voice en/default ended by the stop") for m in messages(server.log(), "WARNING")
    )


class Silent:
    """A proxy that takes connections and never answers: a start that downloads waits on it for ever."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.env = {name: f"http://127.0.0.1:{self.socket.getsockname()[1]}" for name in ("HTTPS_PROXY", "https_proxy")}


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.parametrize(
    ("signum", "pid_one"),
    [(signal.SIGTERM, True), (signal.SIGTERM, False), (signal.SIGINT, False)],
    ids=["SIGTERM as PID 1", "SIGTERM", "Ctrl-C"],
)
async def test_a_signal_while_starting_stops_at_once(tmp_path, signum, pid_one):
    # As PID 1 (the Docker image) SIGTERM during a start was ignored: the server went on to listen and
    # `docker stop` killed it after 10 s. Ctrl-C waited for the start to end, then exited 0.
    silent = Silent()
    program = (sys.executable, "-m", "wyoming_streamtts")
    if pid_one:  # in a PID namespace of its own, as in a container
        program = ("unshare", "--pid", "--fork", "--kill-child", *program)
    voices = tmp_path / "piper"
    args = ["--piper-voices", str(voices), "--download-piper-voice", "de_DE-thorsten-medium"]
    server = ServerProcess(args, silent.env, tmp_path, program=program)
    try:
        await wait_for_log(server, "Downloading Piper voice", timeout=30)
        target = children(server.process.pid)[0] if pid_one else server.process.pid
        os.kill(target, signum)
        assert await asyncio.to_thread(server.process.wait, 5) == 128 + signum
        assert "Stopped while starting" in server.log() and "Traceback" not in server.log()
        assert not list(voices.iterdir())  # the download's scratch folder went with it
    finally:
        server.stop()
        silent.socket.close()
