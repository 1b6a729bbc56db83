"""--figures-file that takes no line for now (a pipe nobody reads yet, a hung network mount):
requests, the start and the stop go on; the lines wait for the file, bounded, and none is lost once it takes them."""

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart

from tests.conftest import assert_well_formed, one_shot, read_reply
from wyoming_streamtts import figures
from wyoming_streamtts.figures import FiguresFile, RequestFigures


@contextlib.contextmanager
def stalled_pipe(path: Path) -> Iterator[int]:
    """A named pipe that is full and has a reader that reads nothing until told: yields the reader."""
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    for size in (4096, 1):  # to the last byte
        with contextlib.suppress(BlockingIOError):
            while True:
                os.write(writer, b"\n" * size)  # blank lines: what the pipe held before the server's
    os.close(writer)
    try:
        yield reader
    finally:
        os.close(reader)


def read_records(reader: int, count: int, timeout: float = 30.0) -> list[dict]:
    """Read the pipe until `count` JSON lines have come (the blank lines it was filled with are skipped)."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data += read_all(reader)
        records = [json.loads(line) for line in data.split(b"\n") if line.endswith(b"}")]
        if len(records) >= count:
            return records
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} lines came through the pipe: {data.strip()[-2000:]!r}")


async def test_requests_go_on_while_the_file_takes_no_line(start_server, tmp_path):
    pipe = tmp_path / "figures.pipe"
    with stalled_pipe(pipe) as reader:
        server = start_server("--engine", "espeak", "--figures-file", str(pipe))
        client = AsyncTcpClient("127.0.0.1", server.port)
        await client.connect()
        # The second request on a connection waits for the first to have ended, figures included.
        for text in ("The first request.", "The second request, on the same connection."):
            await client.write_event(Synthesize(text=text).event())
            assert_well_formed(await read_reply(client, streaming=False, timeout=30), streaming=False)
        await client.disconnect()
        # Nothing was lost: once the pipe is read, both lines come, in the order the requests ended.
        records = await asyncio.to_thread(read_records, reader, 2)
    assert [(r["outcome"], r["chars"]) for r in records] == [("finished", 18), ("finished", 43)]


async def test_the_server_stops_while_the_file_takes_no_line(start_server, tmp_path):
    pipe = tmp_path / "figures.pipe"
    with stalled_pipe(pipe):
        server = start_server("--engine", "espeak", "--figures-file", str(pipe))
        assert_well_formed(await one_shot(server.port, "Hello there.", timeout=30), streaming=False)
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.process.wait, 30) == 0
    assert f"{pipe} took no line for 2 s: the figures of 1 request were not written" in server.log()


async def test_a_stop_that_ends_a_stream_waits_for_the_file_only_within_its_bound(start_server, tmp_path):
    # Grace, closing events and the last figures lines share one bound (grace + 2 s): Docker kills after
    # 10 s. Before, the file had 2 s of its own after the closing events' 2 s.
    pipe = tmp_path / "figures.pipe"
    with stalled_pipe(pipe):
        server = start_server("--engine", "espeak", "--figures-file", str(pipe), "--shutdown-grace", "1")
        client = AsyncTcpClient("127.0.0.1", server.port)
        await client.connect()
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text="This stream is never stopped by its client. ").event())
        assert (await asyncio.wait_for(client.read_event(), 10)).type == "audio-start"
        server.process.send_signal(signal.SIGTERM)
        reply = await read_reply(client, streaming=True, timeout=10)
        await client.disconnect()
        assert [error.code for error in reply.errors] == ["server-stopping"]
        assert await asyncio.to_thread(server.process.wait, 30) == 0
    waited = re.search(rf"{re.escape(str(pipe))} took no line for ([\d.]+) s", server.log())
    assert waited is not None and float(waited.group(1)) < 2.0, server.log()[-2000:]


async def test_a_pipe_whose_reader_comes_later(start_server, tmp_path):
    pipe = tmp_path / "figures.pipe"
    os.mkfifo(pipe)
    server = start_server("--engine", "espeak", "--figures-file", str(pipe))  # nothing reads the pipe yet
    assert_well_formed(await one_shot(server.port, "Hello there.", timeout=30), streaming=False)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    try:
        records = await asyncio.to_thread(read_records, reader, 1)
    finally:
        os.close(reader)
    assert records[0]["outcome"] == "finished"


async def test_lines_held_are_bounded(tmp_path, caplog):
    pipe = tmp_path / "figures.pipe"
    with stalled_pipe(pipe) as reader:
        file = FiguresFile(pipe, max_waiting=20)
        with caplog.at_level(logging.WARNING, logger=figures.__name__):
            for number in range(50):
                file.record(RequestFigures(voice=f"voice-{number}", language="en"))
        # 20 lines wait, and one more if the writer had taken the first already; the rest are dropped, warned once.
        dropping = [r.message for r in caplog.records if "dropping requests' figures" in r.message]
        assert dropping == [f"{pipe} has taken no line for a while (20 wait): dropping requests' figures until it does"]
        data = await asyncio.to_thread(read_all, reader)  # the pipe takes lines again
        await file.close()  # writes the lines still held
        data += await asyncio.to_thread(read_all, reader)
    voices = [json.loads(line)["voice"] for line in data.split(b"\n") if line]
    numbers = [int(voice.removeprefix("voice-")) for voice in voices]
    assert numbers[:20] == list(range(20)) and len(numbers) in (20, 21) and numbers == sorted(numbers)


def read_all(reader: int) -> bytes:
    """What the pipe holds now."""
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(reader, 65536):
            data += chunk
    return data


async def test_every_request_has_one_log_line_with_the_figures_of_the_file(start_server):
    # Each request line said wall=0.00 s (logged before the wall time was taken), and a replaced request or a
    # stream whose client left logged no line at all.
    server = start_server("--engine", "espeak")
    await one_shot(server.port, "Hello there.")  # finished
    long_text = "This sentence is long enough to still be spoken when the next request comes. " * 3
    async with AsyncTcpClient("127.0.0.1", server.port) as client:  # replaced by the next request
        await client.write_event(Synthesize(text=long_text).event())
        await client.read_event()
        await client.write_event(Synthesize(text="Short.").event())
        await read_reply(client, streaming=False)  # the first's end
        await read_reply(client, streaming=False)  # the second's
    async with AsyncTcpClient("127.0.0.1", server.port) as client:  # a stream whose client left
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text=long_text).event())
        await client.read_event()
    for _ in range(100):
        if len(server.figures()) == 4:
            break
        await asyncio.sleep(0.1)
    said = {"finished": "Spoke", "replaced": "Cut short by the client's next request:",
            "client gone": "Cut short, the client left:"}  # fmt: skip
    lines = [
        line.split(":", 2)[2] for line in server.log().splitlines() if line.startswith("INFO:wyoming_streamtts.reply")
    ]
    records = server.figures()
    assert sorted(record["outcome"] for record in records) == ["client gone", "finished", "finished", "replaced"]
    assert len(lines) == len(records)
    for record in records:
        assert record["wall_s"] > 0
        expected = (f"{said[record['outcome']]} voice={record['voice']} language={record['language']} engine="
                    f"{','.join(record['engines']) or '-'} chars={record['chars']} ")  # fmt: skip
        line = next(line for line in lines if line.startswith(expected) and f"audio={record['audio_s']:.2f} s" in line)
        assert line.endswith(f"wall={record['wall_s']:.2f} s")
