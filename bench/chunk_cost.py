"""`python -m bench.chunk_cost [--quick]`: where one full-size XTTS stream's time goes, per chunk schedule.

One stream, one-shot requests of the bench sentence, the server at its defaults but for `--first-chunk-size`
(0: the fixed schedule of 20-token chunks), as a client that plays the chunks at 24 kHz hears them (wall/audio,
underruns). The server's debug log says what each chunk cost: its tokens, its GPT steps (the first chunk's with
the prompt) and its vocoder call (frames decoded, context included). What is left of the wall time is the rest of
the server (event loop, resampling, the wire).
"""

import asyncio
import re
import statistics
import time

import torch

from bench import run_alone
from bench.first_audio import timeline
from bench.server import SENTENCE, start_server
from bench.xtts import CACHE, checkpoint
from tests.conftest import ServerProcess
from tests.listener import underruns
from wyoming_streamtts.chunk_planner import DEFAULT_FIRST_CHUNK_SIZE

_CHUNK = re.compile(
    r"XTTS chunk of (\d+) tokens \((\d+) planned\): GPT ([\d.]+) ms, vocoder ([\d.]+) ms for (\d+) frames, "
    r"([\d.]+) ms of audio"
)
SCHEDULES = (("fixed 20", 0), (f"default (first {DEFAULT_FIRST_CHUNK_SIZE})", DEFAULT_FIRST_CHUNK_SIZE))


def _request_figures(chunks: list[tuple[float, float]], log: list[tuple[str, ...]]) -> dict:
    wall, audio = chunks[-1][0], sum(seconds for _, seconds in chunks)
    count, silence = underruns(chunks)
    sizes = [int(line[0]) for line in log]
    gpt, vocoder = sum(float(line[2]) for line in log) / 1000, sum(float(line[3]) for line in log) / 1000
    return {
        "wall_per_audio": wall / audio,
        "first_audio_s": chunks[0][0],
        "underruns": count,
        "silence_s": silence,
        "chunks": len(log),
        "tokens": sum(sizes),
        "chunk_tokens": sizes,
        "first_chunk_gpt_s": float(log[0][2]) / 1000,  # the prompt and the first chunk's steps
        "gpt_s": gpt,
        "vocoder_s": vocoder,
        "frames": sum(int(line[4]) for line in log),
        "rest_s": wall - gpt - vocoder,
        "wall_s": wall,
        "audio_s": audio,
    }


def _logged_chunks(server: ServerProcess, at_least: int) -> int:
    """How many chunks the server's log holds, once it stops growing (its lines may lag the audio)."""
    count = -1
    while count != (count := len(_CHUNK.findall(server.log()))) or count < at_least:
        time.sleep(0.2)
    return count


def schedule_costs(model: str, first_chunk_size: int, runs: int, sentences: int) -> list[dict]:
    server = start_server(["--engine", "xtts", "--fallback", "none", "--xtts-model", model, "--device", "cpu",
                           "--voices-dir", str(CACHE / "no-voices"), "--first-chunk-size", str(first_chunk_size),
                           "--debug"])  # fmt: skip
    try:
        asyncio.run(timeline(server.port, "en/Ana Florence", SENTENCE))  # warm-up: the pace is measured
        figures = []
        for _ in range(runs):
            before = _logged_chunks(server, 0)
            chunks = asyncio.run(timeline(server.port, "en/Ana Florence", " ".join([SENTENCE] * sentences)))
            figures.append(
                _request_figures(chunks, _CHUNK.findall(server.log())[before : _logged_chunks(server, before)])
            )
        return figures
    finally:
        server.stop()


def median_of(figures: list[dict]) -> dict:
    return {key: statistics.median(f[key] for f in figures) if not isinstance(figures[0][key], list) else
            figures[len(figures) // 2][key] for key in figures[0]}  # fmt: skip


def figures(quick: bool, runs: int = 3) -> dict:
    model = str(checkpoint(not quick, 48 if quick else 120))
    rows = []
    for sentences in (1, 3):
        for name, size in SCHEDULES:
            each = schedule_costs(model, size, runs, sentences)
            rows.append({"schedule": name, "sentences": sentences, "median": median_of(each), "runs": each})
    return {"model": "tiny" if quick else "full-size", "threads": torch.get_num_threads(), "rows": rows}


def report(results: dict) -> list[str]:
    lines = [f"XTTS {results['model']}, one stream, {results['threads']} threads, medians of "
             f"{len(results['rows'][0]['runs'])}:"]  # fmt: skip
    for figures in results["rows"]:
        row = figures["median"]
        lines.append(
            f"{figures['sentences']} sentence(s), {figures['schedule']}: wall/audio {row['wall_per_audio']:.2f}, "
            f"first audio {row['first_audio_s'] * 1000:.0f} ms, "
            f"underruns {row['underruns']:g} ({row['silence_s']:.2f} s), {row['chunks']:g} chunks "
            f"{row['chunk_tokens']} of {row['tokens']:g} tokens; GPT {row['gpt_s']:.2f} s (first chunk with its "
            f"prompt {row['first_chunk_gpt_s']:.2f} s), vocoder {row['vocoder_s']:.2f} s for {row['frames']:g} "
            f"frames, rest {row['rest_s']:.2f} s; wall {row['wall_s']:.2f} s for {row['audio_s']:.2f} s of audio"
        )
    return lines


if __name__ == "__main__":
    run_alone(__doc__, "the tiny checkpoint instead of the full-size one", figures, report)
