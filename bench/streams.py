"""Figures for streaming input as Home Assistant feeds it: many open streams, describe meanwhile.

The `describe` prober runs in its own process, so its figures are the server's
answer time, not this process keeping up with the streams' audio.
"""

import asyncio
import json
import subprocess
import sys

from wyoming.client import AsyncTcpClient
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from bench.server import start_server

# Several sentences, so that every stream keeps speaking while its text trickles in.
STREAM_TEXT = (
    "Good evening, the living room is at twenty one degrees and the heating is off. "
    "The front door is locked, the garage door is closed, and nobody is at home. "
    "Tomorrow will be cloudy with some rain in the afternoon, so take an umbrella. "
) * 3

_PROBER = """
import asyncio, json, sys, time
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe

async def main(port, seconds, every):
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            await client.read_event()
        latencies.append(time.perf_counter() - began)
        await asyncio.sleep(every)
    print(json.dumps(latencies))

asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])))
"""


async def _open_stream(port: int, voice: str | None, every_s: float, piece: int, stop: asyncio.Event) -> None:
    """One stream sending `piece` characters every `every_s` until `stop`, its answer read and dropped."""
    async with AsyncTcpClient("127.0.0.1", port) as client:

        async def read() -> None:
            while (event := await client.read_event()) is not None:
                if event.type == "synthesize-stopped":
                    return

        reader = asyncio.create_task(read())
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=voice) if voice else None).event())
        position = 0
        while not stop.is_set() and position < len(STREAM_TEXT):
            await client.write_event(SynthesizeChunk(text=STREAM_TEXT[position : position + piece]).event())
            position += piece
            await asyncio.sleep(every_s)
        await client.write_event(SynthesizeStop().event())
        reader.cancel()


def describe_under_streams(
    port: int,
    voice: str | None = None,
    streams: int = 50,
    seconds: float = 20.0,
    every_s: float = 1.0,
    in_step: bool = True,
) -> dict:
    """Worst and median `describe` while `streams` streams each send a 7-character delta per `every_s`.

    `in_step`: all streams send at the same moment, so their sentences end together (the worst
    case); else they are spread over the interval, as independent clients are.
    """

    async def run() -> list[float]:
        stop = asyncio.Event()
        tasks = []
        for _ in range(streams):
            tasks.append(asyncio.create_task(_open_stream(port, voice, every_s, 7, stop)))
            if not in_step:
                await asyncio.sleep(every_s / streams)
        prober = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _PROBER, str(port), str(seconds), "0.1", stdout=subprocess.PIPE
        )
        out, _ = await prober.communicate()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return json.loads(out)

    latencies = asyncio.run(run())
    ordered = sorted(latencies)
    return {
        "streams": streams,
        "delta_every_s": every_s,
        "in_step": in_step,
        "n": len(latencies),
        "p50_s": ordered[len(ordered) // 2],
        "max_s": ordered[-1],
    }


def streams_figures(configs: list[tuple[str, list[str], str | None]], seconds: float) -> list[dict]:
    """`describe` under 50 open streams in step, per (label, server arguments, voice)."""
    rows = []
    for label, args, voice in configs:
        server = start_server(args)
        try:
            rows.append({"engine": label, **describe_under_streams(server.port, voice, seconds=seconds)})
        finally:
            server.stop()
    return rows
