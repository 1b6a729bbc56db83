"""Bad input and bad clients against the real server: an answer or a clean close, never a hang."""

import asyncio
import socket
from pathlib import Path

from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart

from conftest import assert_well_formed, read_reply

SENTENCE = "The quick brown fox jumps over the lazy dog. "


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_100_kb_of_text_is_refused_and_the_server_serves_on(start_server):
    server = start_server("--engine", "espeak")
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(Synthesize(text="x" * 100_000).event())
        reply = await read_reply(client, streaming=False, timeout=10)
    assert [e.code for e in reply.errors] == ["text-too-long"]
    assert "100000 characters, at most 20000" in reply.errors[0].text
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(Synthesize(text="Still here.").event())
        assert_well_formed(await read_reply(client, streaming=False), streaming=False)


async def test_streaming_past_the_cap_ends_the_stream(start_server):
    server = start_server("--engine", "espeak", "--max-text-chars", "200")
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart().event())
        for _ in range(10):
            await client.write_event(SynthesizeChunk(text=SENTENCE).event())
        reply = await read_reply(client, streaming=True, timeout=10)
    assert "text-too-long" in [e.code for e in reply.errors]
    assert reply.types[-1] == "synthesize-stopped"


async def test_a_client_that_stops_reading_is_dropped_with_bounded_memory(start_server):
    server = start_server("--engine", "espeak", "--write-timeout", "2", "--debug")
    before = rss_mb(server.process.pid)
    with socket.create_connection(("127.0.0.1", server.port)) as silent:
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        text = SENTENCE * 400  # about 20 minutes of speech, never read
        header = f'{{"type": "synthesize", "data": {{"text": "{text}"}}}}\n'.encode()
        silent.sendall(header)
        for _ in range(100):
            if "Client stopped reading for 2 s; dropping it" in server.log():
                break
            await asyncio.sleep(0.1)
        assert "Client stopped reading for 2 s; dropping it" in server.log()
    assert rss_mb(server.process.pid) - before < 20
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(Synthesize(text="Next client.").event())
        assert_well_formed(await read_reply(client, streaming=False), streaming=False)


async def test_malformed_header_is_a_clean_close(start_server):
    server = start_server("--engine", "espeak")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"{this is not json\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing sent
    writer.close()
