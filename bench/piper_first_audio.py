"""`python -m bench.piper_first_audio`: first audio of a typical Home Assistant answer with Piper, ours at its
defaults against wyoming-piper with the same voice (en_US-joe-medium), in the same run, requests interleaved.

One-shot: from `synthesize` sent to the first `audio-chunk`. Streamed: the answer in 6-character deltas as an LLM
writes it, timed from the delta that shows the first sentence has ended (the space after its period: "3." may
still become "3.5"). wyoming-piper is not a dependency: give the
Python of a virtual environment where it is installed (`pip install wyoming-piper==2.5.2`), or leave it out to
measure ours alone.

    python -m bench.piper_first_audio [--wyoming-piper /path/to/venv/bin/python] [--runs 15]
"""

import argparse
import asyncio
import socket
import subprocess
import time
from pathlib import Path

from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from bench.server import collect_audio, piper_voices, start_server, summary
from tests.conftest import free_port

ANSWER = "The living room lights are on, and the kitchen is at twenty one degrees. The front door is locked."
FIRST_SENTENCE_END = ANSWER.index(".") + 1


async def one_shot(port: int, voice: str) -> tuple[float, float]:
    """(first audio s, audio s)."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        began = time.perf_counter()
        await client.write_event(Synthesize(text=ANSWER, voice=SynthesizeVoice(name=voice)).event())
        first, _, seconds = await collect_audio(client, 0.0)  # first: when, on time.perf_counter()
    return first - began, seconds


async def streamed(port: int, voice: str, piece: int = 6) -> tuple[float, float]:
    """(first audio s, audio s) of the answer's deltas written at an LLM's pace while its audio is read."""
    ended_at: list[float] = []

    async with AsyncTcpClient("127.0.0.1", port) as client:

        async def write() -> None:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=voice)).event())
            for start in range(0, len(ANSWER), piece):
                await client.write_event(SynthesizeChunk(text=ANSWER[start : start + piece]).event())
                if start <= FIRST_SENTENCE_END < start + piece:  # the space after its "." has come: it has ended
                    ended_at.append(time.perf_counter())
                await asyncio.sleep(0.02)  # an LLM's pace: ~50 deltas a second
            await client.write_event(Synthesize(text=ANSWER, voice=SynthesizeVoice(name=voice)).event())
            await client.write_event(SynthesizeStop().event())

        writing = asyncio.create_task(write())
        first, _, seconds = await collect_audio(client, 0.0)  # first: when, on time.perf_counter()
        await writing
    return first - ended_at[0], seconds


def _wyoming_piper(python: str, folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [
            python,
            "-m",
            "wyoming_piper",
            "--uri",
            f"tcp://127.0.0.1:{port}",
            "--voice",
            "en_US-joe-medium",
            "--data-dir",
            str(folder),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("wyoming-piper did not listen within 60 s")


async def measure(targets: dict[str, tuple[int, str]], runs: int) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {name: {"one-shot": [], "streamed": []} for name in targets}
    for port, voice in targets.values():  # warm-up: the voice loaded, the first inference run
        await one_shot(port, voice)
        await streamed(port, voice)
    for _ in range(runs):
        for name, (port, voice) in targets.items():
            for kind, request in (("one-shot", one_shot), ("streamed", streamed)):
                # A pause first: onnxruntime's threads spin for a while after a run, and the other server's
                # spinning threads would take this one's cores.
                await asyncio.sleep(0.5)
                figures[name][kind].append((await request(port, voice))[0])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wyoming-piper", help="the Python of a virtual environment with wyoming-piper installed")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    folder = piper_voices()
    ours = start_server(["--engine", "piper", "--fallback", "none", "--piper-voices", str(folder)])
    targets = {"wyoming-streamtts": (ours.port, "en/joe")}
    theirs = None
    if args.wyoming_piper:
        version = subprocess.run([args.wyoming_piper, "-m", "wyoming_piper", "--version"], capture_output=True,
                                 text=True, check=True).stdout.strip()  # fmt: skip
        theirs, port = _wyoming_piper(args.wyoming_piper, folder)
        targets[f"wyoming-piper {version}"] = (port, "en_US-joe-medium")
    try:
        figures = asyncio.run(measure(targets, args.runs))
    finally:
        ours.stop()
        if theirs is not None:
            theirs.terminate()
            theirs.wait(timeout=10)
    print(f"First audio, ms (p50 / p95 of {args.runs}), Piper en_US-joe-medium: {ANSWER!r}")
    for name, kinds in figures.items():
        shown = ", ".join(f"{kind} {summary(v)['p50'] * 1000:.0f} / {summary(v)['p95'] * 1000:.0f}"
                          for kind, v in kinds.items())  # fmt: skip
        print(f"  {name}: {shown}")


if __name__ == "__main__":
    main()
