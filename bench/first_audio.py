"""First audio sooner: XTTS chunk schedules with their gaps, the first-clause rule, first-sentence translation.

Each figure is taken at a Wyoming client against the server as a separate process,
every compared pair in the same run on the same machine.
"""

import asyncio
import statistics
import time
from pathlib import Path

import torch
from wyoming.audio import AudioChunk, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from bench.server import SENTENCE, piper_voices, start_server
from bench.translation import full_size_nllb
from bench.xtts import CACHE, checkpoint
from tests.listener import underruns
from wyoming_streamtts.chunk_planner import DEFAULT_FIRST_CHUNK_SIZE, DEFAULT_STREAM_CHUNK_SIZE
from wyoming_streamtts.speakable import SpeakableText
from wyoming_streamtts.translation import Translator, convert_to_ct2, create_backend

FIXED, ADAPTIVE = "0", str(DEFAULT_FIRST_CHUNK_SIZE)
# An LLM's first sentence of ~150 characters, with clauses, as Home Assistant passes it on.
LLM_TEXT = (
    "Good evening, the living room is at twenty one degrees, the heating is off, the front door "
    "is locked, and the forecast says rain after midnight. Sleep well."
)
# The same kind of answer as an LLM writes it for a chat window.
LLM_MARKDOWN = (
    "## Good evening\n**The living room** is at *twenty one* degrees 🙂, the heating is off:\n"
    "* the front door is locked\n* rain after midnight, see [the forecast](https://www.example.com/weather?day=1)."
)
LLM_PIECE, LLM_CHARS_PER_S = 7, 40.0


async def timeline(port: int, voice: str, text: str) -> list[tuple[float, float]]:
    """(arrival s after the request, audio s) of every chunk of a one-shot request."""
    chunks = []
    async with AsyncTcpClient("127.0.0.1", port) as client:
        began = time.perf_counter()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        while (event := await client.read_event()) is not None and not AudioStop.is_type(event.type):
            if AudioChunk.is_type(event.type):
                chunks.append((time.perf_counter() - began, AudioChunk.from_event(event).seconds))
    return chunks


SCHEDULES = (
    (f"fixed {DEFAULT_STREAM_CHUNK_SIZE}", FIXED),
    (f"adaptive, first {ADAPTIVE}, up to {DEFAULT_STREAM_CHUNK_SIZE}", ADAPTIVE),
)


def schedule_figures(
    label: str, folder: Path, device: str, runs: int, sentences: int, schedules: tuple = SCHEDULES
) -> list[dict]:
    """First audio and gaps of each (name, --first-chunk-size) schedule, in the same run."""
    text = " ".join([SENTENCE] * sentences)
    rows = []
    for name, sizes in schedules:
        server = start_server(["--engine", "xtts", "--fallback", "none", "--xtts-model", str(folder),
                               "--device", device, "--voices-dir", str(CACHE / "no-voices"),
                               "--first-chunk-size", sizes])  # fmt: skip
        try:
            asyncio.run(timeline(server.port, "en/Ana Florence", SENTENCE))  # warm-up
            timelines = [asyncio.run(timeline(server.port, "en/Ana Florence", text)) for _ in range(runs)]
        finally:
            server.stop()
        gaps = [underruns(timeline) for timeline in timelines]
        rows.append({
            "model": label,
            "schedule": name,
            "sentences": sentences,
            "first_audio_s": statistics.median(timeline[0][0] for timeline in timelines),
            "underruns": statistics.median(count for count, _ in gaps),
            "silence_s": statistics.median(seconds for _, seconds in gaps),
            "audio_s": statistics.median(sum(seconds for _, seconds in timeline) for timeline in timelines),
            "last_audio_s": statistics.median(timeline[-1][0] for timeline in timelines),
        })  # fmt: skip
    return rows


async def _llm_stream(port: int, voice: str, text: str = LLM_TEXT) -> float:
    """Seconds from the first delta to the first audio, deltas sent at an LLM's pace."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=voice)).event())

        async def write() -> None:
            for start in range(0, len(text), LLM_PIECE):
                await client.write_event(SynthesizeChunk(text=text[start : start + LLM_PIECE]).event())
                await asyncio.sleep(LLM_PIECE / LLM_CHARS_PER_S)
            await client.write_event(SynthesizeStop().event())

        began = time.perf_counter()
        writer = asyncio.create_task(write())
        while (event := await client.read_event()) is not None and not AudioChunk.is_type(event.type):
            pass
        first = time.perf_counter() - began
        await writer
        while (event := await client.read_event()) is not None and event.type != "synthesize-stopped":
            pass
    return first


def clause_figures(label: str, args: list[str], voice: str, runs: int) -> dict:
    """First delta to first audio with whole sentences (before) and the first-clause rule (after)."""
    figures = {"engine": label, "text_chars": len(LLM_TEXT), "chars_per_s": LLM_CHARS_PER_S}
    for name, clause in (("sentence_s", "0"), ("first_clause_s", None)):
        server = start_server([*args, "--voices-dir", str(CACHE / "no-voices")]
                         + (["--first-clause-chars", clause] if clause else []))  # fmt: skip
        try:
            asyncio.run(_llm_stream(server.port, voice))  # warm-up
            figures[name] = statistics.median(asyncio.run(_llm_stream(server.port, voice)) for _ in range(runs))
        finally:
            server.stop()
    return figures


def speakable_figures(label: str, args: list[str], voice: str, runs: int) -> dict:
    """First delta to first audio at an LLM's pace with --keep-markdown (no text stage) and without,
    for a plain answer and a markdown one, in the same run."""
    figures: dict = {"engine": label, "chars_per_s": LLM_CHARS_PER_S}
    for name, extra in (("kept", ["--keep-markdown"]), ("speakable", [])):
        server = start_server([*args, "--voices-dir", str(CACHE / "no-voices"), *extra])
        try:
            asyncio.run(_llm_stream(server.port, voice))  # warm-up
            for text_name, text in (("plain", LLM_TEXT), ("markdown", LLM_MARKDOWN)):
                times = [asyncio.run(_llm_stream(server.port, voice, text)) for _ in range(runs)]
                figures[f"{text_name}_{name}_s"] = statistics.median(times)
        finally:
            server.stop()
    return figures


def text_stage_cost(repeats: int) -> dict:
    """The text stage's own cost per 7-character delta (µs), plain and markdown answers."""
    figures = {}
    for name, text in (("plain", LLM_TEXT), ("markdown", LLM_MARKDOWN)):
        deltas = [text[start : start + LLM_PIECE] for start in range(0, len(text), LLM_PIECE)]
        costs = []
        for _ in range(repeats):
            stage = SpeakableText()
            for delta in deltas:
                began = time.perf_counter()
                stage.feed(delta)
                costs.append(time.perf_counter() - began)
        costs.sort()
        figures[name] = {
            "deltas": len(costs),
            "p50_us": costs[len(costs) // 2] * 1e6,
            "p99_us": costs[int(len(costs) * 0.99)] * 1e6,
            "max_us": costs[-1] * 1e6,
        }
    return figures


def first_sentence_translation(runs: int) -> dict:
    """The product's translator (CTranslate2 int8, the default backend) on the bench's sentence,
    NLLB-600M shapes with random weights: random weights rarely stop, so each run goes to the
    output bound (the worst case a sentence can take)."""
    converted = convert_to_ct2(full_size_nllb(), CACHE / "nllb-600m-random-ct2-int8")
    backend = create_backend("ctranslate2", str(converted), "cpu", False, CACHE)
    translator = Translator(backend, source="en", cache_size=0)

    async def once() -> float:
        began = time.perf_counter()
        await translator.translate(SENTENCE, "fr")
        return time.perf_counter() - began

    async def measure() -> list[float]:
        await once()  # warm-up
        return [await once() for _ in range(runs)]

    try:
        times = asyncio.run(measure())
    finally:
        translator.close()
    tokens = len(backend.tokenizer.encode(SENTENCE))  # type: ignore[attr-defined]
    return {"sentence_chars": len(SENTENCE), "input_tokens": tokens, "median_s": statistics.median(times)}


def first_audio_figures(quick: bool, runs: int) -> dict:
    """Every figure of this module, for the tiny model (and the full-size one unless quick)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tiny = checkpoint(full_size=False, max_audio_tokens=48)
    models = [("xtts tiny", tiny, 2)]
    if not quick:
        models.append(("xtts full-size", checkpoint(full_size=True, max_audio_tokens=120), 1))
    schedules = [
        row
        for label, folder, sentences in models
        for row in schedule_figures(f"{label} ({device})", folder, device, runs, sentences)
    ]
    clauses = [clause_figures("espeak", ["--engine", "espeak"], "en/default", runs)]
    if not quick:
        xtts = ["--engine", "xtts", "--fallback", "none", "--xtts-model", str(tiny), "--device", device]
        clauses.append(clause_figures(f"xtts tiny ({device})", xtts, "en/Ana Florence", runs))
    piper = ["--engine", "piper", "--fallback", "none", "--piper-voices", str(piper_voices())]
    speakable = [speakable_figures("espeak", ["--engine", "espeak"], "en/default", runs)]
    if not quick:
        speakable.append(speakable_figures("piper (joe, medium)", piper, "en/joe", runs))
    figures = {
        "schedules": schedules,
        "first_clause": clauses,
        "speakable": speakable,
        "text_stage": text_stage_cost(20 if quick else 500),
    }
    if not quick:
        figures["first_sentence_translation"] = first_sentence_translation(max(5, runs))
    return figures
