"""SIGTERM while requests run: they finish within the grace period or end with an error; exit 0."""

import asyncio
import signal

from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop

from tests.bad_input import send_raw
from tests.conftest import assert_well_formed, read_reply, wait_for_log


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
    await wait_for_log(server, "Waiting up to 20 s for 1 running requests", timeout=10)
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
    assert "Ending 1 requests that did not finish in 1 s" in server.log()
