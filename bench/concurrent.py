"""Concurrent XTTS streams on the CPU: audio seconds per wall second, and each stream's underruns.

`python -m bench.concurrent [--quick]`: prints one JSON object. 1, 2, 4 and 8 streams start together, each one
sentence, through the product's XttsEngine (its GPT steps are shared by the streams), int8 GPT (the CPU's
default), with the batch's cap at its default (`--xtts-max-rows 0`: no more rows than stay faster than real time)
and lifted (8: every stream joins the batch); then one request arrives as another starts speaking, and its first
audio is timed. Peak RSS is the bench process's resident memory (the engine runs in it), sampled during each count.
A stream underruns when a chunk arrives after the audio before it has played out (playback starting at its
first chunk). Run it on an idle machine: other load changes every figure.
"""

import asyncio
import time
from pathlib import Path

import torch

from bench import run_alone
from bench.precision import TEXT
from bench.server import memory_mb
from bench.xtts import checkpoint
from wyoming_streamtts.xtts_engine import XttsEngine


async def _one(engine: XttsEngine, speaker: str, began: float, sounding: asyncio.Event | None = None) -> dict:
    """One stream's figures: first audio, audio, underruns and the silence they make (`sounding` set at
    its first audio)."""
    first = played_until = None
    audio_s = underruns = gap_s = 0.0
    async for chunk in engine.synthesize(TEXT, "en", speaker):
        now = time.monotonic() - began
        if first is None:
            first = played_until = now
            if sounding:
                sounding.set()
        elif now > played_until:
            underruns += 1
            gap_s += now - played_until
            played_until = now
        seconds = len(chunk.audio) / 2 / engine.rate
        played_until += seconds
        audio_s += seconds
    return {"first_audio_s": first, "audio_s": audio_s, "underruns": int(underruns), "silence_s": gap_s}


def concurrent_figures(
    folder: Path, precision: str, counts: tuple[int, ...], max_rows: int = 0
) -> tuple[list[dict], dict]:
    """For each count of streams, started together after a warm-up: aggregate speed and each stream's figures;
    then the first audio of a request arriving while another speaks."""
    engine = XttsEngine(  # the vocoder a CPU runs by default (`auto`)
        folder, "cpu", [], None, stream_chunk_size=20, first_chunk_size=4, max_rows=max_rows, precision=precision,
        vocoder="onnx",
    )  # fmt: skip
    speaker = engine.speakers[0].name

    async def measure() -> tuple[list[dict], float]:
        await _one(engine, speaker, time.monotonic())  # warm-up, and the planner's first measure
        rows = []
        for count in counts:
            sampled: list[float] = []
            sampling = asyncio.create_task(_sample_rss(sampled))
            began = time.monotonic()
            streams = await asyncio.gather(*(_one(engine, speaker, began) for _ in range(count)))
            wall = time.monotonic() - began
            sampling.cancel()
            audio = sum(stream["audio_s"] for stream in streams)
            rows.append({
                "precision": precision, "max_rows": max_rows or "auto", "streams": count,
                "audio_per_wall_s": audio / wall, "per_stream": streams,
                "peak_rss_mb": max(sampled, default=float("nan")),
            })  # fmt: skip
        late = await _arriving_late(engine, speaker)
        await engine.close()
        return rows, late

    rows, late = asyncio.run(measure())
    return rows, {"precision": precision, "max_rows": max_rows or "auto", "first_audio_s": late}


async def _sample_rss(into: list[float]) -> None:
    """The process's resident memory every 50 ms (its peak since start would be the model's loading)."""
    while True:
        into.append(memory_mb("self", "VmRSS"))
        await asyncio.sleep(0.05)


async def _arriving_late(engine: XttsEngine, speaker: str) -> float:
    """The first audio of a request that arrives while another is speaking (just after its first audio)."""
    sounding = asyncio.Event()
    speaking = asyncio.create_task(_one(engine, speaker, time.monotonic(), sounding))
    await sounding.wait()
    late = await _one(engine, speaker, time.monotonic())
    await speaking
    return late["first_audio_s"]


def figures(quick: bool) -> dict:
    """Full size, int8, 1/2/4/8 streams, the cap at its default and lifted (quick: the tiny model, 1 and 2
    streams, the default cap)."""
    folder = checkpoint(not quick, 120)
    runs = [("int8", (1, 2), 0)] if quick else [("int8", (1, 2, 4, 8), 0), ("int8", (1, 2, 4, 8), 8)]
    measured = [concurrent_figures(folder, precision, counts, max_rows) for precision, counts, max_rows in runs]
    return {
        "threads": torch.get_num_threads(),
        "model": "tiny" if quick else "full",
        "runs": [row for rows, _ in measured for row in rows],
        "arriving_late": [late for _, late in measured],
    }


def report(results: dict) -> list[str]:
    lines = ["", f"Concurrent XTTS streams on the CPU ({results['model']} model, GPT steps shared):"]
    for row in results["runs"]:
        streams = row["per_stream"]
        lines.append(
            f"  {row['precision']}, cap {row['max_rows']}, {row['streams']} streams: "
            f"{row['audio_per_wall_s']:.2f} audio s per wall s; first audio "
            f"{min(s['first_audio_s'] for s in streams):.2f}-{max(s['first_audio_s'] for s in streams):.2f} s; "
            f"underruns per stream {[s['underruns'] for s in streams]}, silence "
            f"{sum(s['silence_s'] for s in streams):.1f} s; peak RSS {row['peak_rss_mb']:.0f} MB"
        )
    for late in results["arriving_late"]:
        lines.append(
            f"  {late['precision']}, cap {late['max_rows']}, a request arriving while another speaks: first audio "
            f"{late['first_audio_s']:.2f} s"
        )
    return lines


if __name__ == "__main__":
    run_alone(__doc__, "the tiny model, int8, 1 and 2 streams", figures, report)
