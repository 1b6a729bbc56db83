"""Many clients at once against a running server: every answer checked, describe timed meanwhile.

Shared by the load test (which asserts nothing is lost) and the benchmark (which reports figures).
"""

import asyncio
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info

from tests.conftest import Answer, one_shot, stream_request

TEXTS = (
    "The front door is locked.",
    "Good night. All lights are off.",
    "It is 21 degrees in the living room, and the window is closed.",
)


@dataclass
class LoadResult:
    requests: int
    clients: int
    wall_s: float = 0.0
    problems: list[str] = field(default_factory=list)  # one line per lost or malformed answer
    audio_bytes: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    first_chunk_s: list[float] = field(default_factory=list)
    describe_s: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        def stats(values: list[float]) -> dict:
            ordered = sorted(values)
            p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else None
            return {"n": len(values), "p50": statistics.median(values) if values else None, "p95": p95,
                    "max": max(values, default=None)}  # fmt: skip

        return {
            "requests": self.requests,
            "clients": self.clients,
            "lost": len(self.problems),
            "wall_s": self.wall_s,
            "first_chunk_s": stats(self.first_chunk_s),
            "describe_s": stats(self.describe_s),
        }


def check(reply: Answer, streaming: bool) -> str | None:
    """What is wrong with an answer, or None: audio-start, audio-chunk+, audio-stop
    (+ synthesize-stopped), no error, every chunk whole 16-bit samples in the start's format."""
    end = ["audio-stop", "synthesize-stopped"] if streaming else ["audio-stop"]
    if reply.errors:
        return f"error {reply.errors[0].code}: {reply.errors[0].text}"
    if not reply.types or reply.types[0] != "audio-start" or reply.types[-len(end) :] != end:
        return f"events {reply.types[:2]}...{reply.types[-2:]}"
    if set(reply.types[1 : -len(end)]) != {"audio-chunk"}:
        return "no audio, or other events among the chunks"
    start = reply.starts[0]
    for chunk in reply.chunks:
        if (chunk.rate, chunk.width, chunk.channels) != (start.rate, start.width, start.channels):
            return "chunk format differs from audio-start"
        if not chunk.audio or len(chunk.audio) % (start.width * start.channels):
            return f"chunk of {len(chunk.audio)} bytes is not whole samples"
    return None


async def one_request(port: int, text: str, streaming: bool, voice: str | None, timeout: float) -> Answer:
    if streaming:
        return await stream_request(port, text, voice, piece=7, timeout=timeout)
    return await one_shot(port, text, voice, timeout)


async def run_load(
    port: int, requests: int = 100, clients: int = 20, voice: str | None = None, timeout: float = 120.0
) -> LoadResult:
    """`requests` requests from `clients` concurrent clients, one-shot and streaming in turn."""
    result = LoadResult(requests, clients)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(requests):
        queue.put_nowait(number)

    async def client() -> None:
        while not queue.empty():
            number = queue.get_nowait()
            text, streaming = TEXTS[number % len(TEXTS)], number % 2 == 1
            sent = time.monotonic()
            try:
                reply = await one_request(port, text, streaming, voice, timeout)
            except (OSError, TimeoutError) as err:
                result.problems.append(f"request {number}: {type(err).__name__} {err}")
                continue
            if problem := check(reply, streaming):
                result.problems.append(f"request {number}: {problem}")
                continue
            result.first_chunk_s.append(reply.first_chunk_at - sent)
            result.audio_bytes[(text, "streaming" if streaming else "one-shot")].append(len(reply.samples) * 2)

    async def describe_meanwhile(done: asyncio.Event) -> None:
        while not done.is_set():
            began = time.monotonic()
            async with AsyncTcpClient("127.0.0.1", port) as probe:
                await probe.write_event(Describe().event())
                event = await asyncio.wait_for(probe.read_event(), timeout)
            if event is None or not Info.is_type(event.type):
                result.problems.append(f"describe answered {event}")
            result.describe_s.append(time.monotonic() - began)
            await asyncio.sleep(0.1)

    began = time.monotonic()
    done = asyncio.Event()
    prober = asyncio.create_task(describe_meanwhile(done))
    await asyncio.gather(*(client() for _ in range(clients)))
    result.wall_s = time.monotonic() - began
    done.set()
    await prober
    return result
