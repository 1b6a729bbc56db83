"""Figures for hardening: the splitter on worst-case text, describe with thousands of
recordings, and what abandoned requests leave behind (tests/test_hardening.py asserts
the behaviour; this times it)."""

import asyncio
import json
import signal
import statistics
import tempfile
import time
import wave
from pathlib import Path

from tests.bad_input import abandon, header, start_unread_request
from tests.conftest import ServerProcess, add_voice, describe
from wyoming_streamtts.splitter import split_sentences

# 20,000 characters each: every period an initial or an abbreviation, no end, one word, clauses, plain sentences.
WORST_TEXTS = {
    "initials": "J. " * 6667,
    "abbreviations": "Dr. " * 5000,
    "one word": "a" * 20000,
    "clauses": "x, " * 6667,
    "sentences": "The door is locked. " * 1000,
}


def splitter_figures(runs: int) -> dict:
    figures = {}
    for name, text in WORST_TEXTS.items():
        text = text[:20000]
        seconds = []
        for _ in range(runs):
            began = time.perf_counter()
            split_sentences(text)
            seconds.append(time.perf_counter() - began)
        figures[name] = statistics.median(seconds)
    return {"chars": 20000, "median_s": figures}


def _recordings(folder: Path, count: int) -> Path:
    voices = folder / "voices"
    voices.mkdir()
    silence = b"\0\0" * 2205  # 0.1 s: decodes, which is all describe needs
    for number in range(count):
        with wave.open(str(voices / f"speaker{number:04}.wav"), "wb") as recording:
            recording.setnchannels(1)
            recording.setsampwidth(2)
            recording.setframerate(22050)
            recording.writeframes(silence)
    return voices


def describe_figures(recordings: int, probes: int, every_language: bool = False) -> dict:
    """describe with `recordings` cloned voices in XTTS's 17 languages: alone, and 4 at once.
    every_language: the default chain's every language too (gTTS, then a Piper voice, then espeak-ng)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engines = ["--engine", "espeak"]
        if every_language:
            engines = ["--engine", "gtts", "--piper-voices", str(add_voice(folder / "piper"))]
        server = ServerProcess([*engines, "--voices-dir", str(_recordings(folder, recordings))], None,
                               folder).wait_ready(timeout=600)  # fmt: skip
        try:

            async def timed() -> float:
                """Until the whole answer has arrived; not parsed (a client's JSON parsing is not the server's)."""
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                began = time.perf_counter()
                writer.write(header({"type": "describe"}))
                head = json.loads(await reader.readline())
                await reader.readexactly(head["data_length"])
                seconds = time.perf_counter() - began
                writer.close()
                return seconds

            async def measure() -> tuple[list[float], list[float], int, int]:
                listed = (await describe(server.port, timeout=30)).tts[0].voices
                alone = [await timed() for _ in range(probes)]
                together = [t for _ in range(probes) for t in await asyncio.gather(*(timed() for _ in range(4)))]
                return alone, together, len(listed), len({voice.languages[0] for voice in listed})

            alone, together, voices, languages = asyncio.run(measure())
        finally:
            server.stop()
    return {"recordings": recordings, "voices": voices, "languages": languages,
            "alone_p50_s": statistics.median(alone), "four_at_once_max_s": max(together)}  # fmt: skip


def abandoned_figures(requests: int) -> dict:
    """fds and RSS before and after requests whose clients left 10 ms after asking."""
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(["--engine", "espeak"], None, Path(tmp)).wait_ready()
        try:

            async def run() -> dict:
                before = {"fds": server.open_fds(), "rss_mb": server.rss_mb()}
                for number in range(requests):
                    await abandon(server.port, reset=number % 2 == 1, streaming=number % 4 >= 2)
                await asyncio.sleep(5)  # their syntheses stop and their processes are reaped
                return {"requests": requests, "before": before,
                        "after": {"fds": server.open_fds(), "rss_mb": server.rss_mb()}}  # fmt: skip

            return asyncio.run(run())
        finally:
            server.stop()


def flood_figures(events: int, probes: int) -> dict:
    """describe from another connection while one client pipelines `events` describes (reading its answers)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(["--engine", "espeak"], None, Path(tmp)).wait_ready()
        try:

            async def run() -> list[float]:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(header({"type": "describe"}) * events)
                flood = asyncio.create_task(_read_all(reader))
                times = []
                for _ in range(probes):
                    began = time.perf_counter()
                    await describe(server.port)
                    times.append(time.perf_counter() - began)
                    await asyncio.sleep(0.02)
                flood.cancel()
                writer.close()
                return sorted(times)

            times = asyncio.run(run())
        finally:
            server.stop()
    return {"events": events, "probes": probes, "p50_s": times[len(times) // 2],
            "p99_s": times[min(len(times) - 1, int(len(times) * 0.99))], "max_s": times[-1]}  # fmt: skip


async def _read_all(reader: asyncio.StreamReader) -> None:
    while await reader.read(1 << 16):
        pass


def stop_figures(grace_s: float, runs: int) -> dict:
    """SIGTERM to exit, with one client that stopped reading mid-audio (its request outlasts the grace)."""

    async def once(server: ServerProcess) -> float:
        _, writer = await start_unread_request(server.port)
        await asyncio.sleep(1.0)  # its buffers fill up
        began = time.perf_counter()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.process.wait, 120)
        writer.close()
        return time.perf_counter() - began

    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            server = ServerProcess(["--engine", "espeak", "--shutdown-grace", f"{grace_s:g}"], None, Path(tmp))
            try:
                seconds.append(asyncio.run(once(server.wait_ready())))
            finally:
                server.stop()
    return {"grace_s": grace_s, "runs": runs, "median_s": statistics.median(seconds), "max_s": max(seconds)}


def hardening_figures(quick: bool, runs: int) -> dict:
    return {
        "splitter": splitter_figures(runs),
        "describe": describe_figures(300 if quick else 3000, probes=3 if quick else 10),
        "describe_every_language": describe_figures(5, probes=3 if quick else 10, every_language=True),
        "abandoned": abandoned_figures(40 if quick else 400),
        "flood": flood_figures(10000 if quick else 50000, probes=10 if quick else 100),
        "stop": stop_figures(1.0 if quick else 5.0, runs=1 if quick else 3),
    }
