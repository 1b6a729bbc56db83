"""`python -m bench [--quick]`: measure, print a table, write bench/results/*.json and a plot.

Benchmarks print figures; no test asserts on them (the machines are noisy).
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from bench import (
    chunk_cost,
    concurrent,
    first_audio,
    hardening,
    load,
    plot,
    precision,
    server,
    streams,
    translation,
    xtts,
)
from bench.server import piper_voices
from tests.fake_google import FakeGoogle

RESULTS = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parent.parent / "docs"


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


def engine_runs(quick: bool, runs: int) -> list[dict]:
    """Client-side figures per engine: espeak, tiny XTTS, full-size XTTS (random weights)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    google = FakeGoogle()  # gTTS against the local fake of Google (MP3 encoding included)
    piper = ["--engine", "piper", "--fallback", "none", "--piper-voices", str(piper_voices())]
    configs = [
        ("espeak", ["--engine", "espeak"], "en/default", None),
        ("gtts (local fake Google)", ["--engine", "gtts", "--fallback", "none"], "en/default", google.trusted_env),
        ("piper (joe, medium)", piper, "en/joe", None),
    ]
    models = [("xtts tiny", xtts.checkpoint(False, 48))]
    if not quick:
        models.append(("xtts full-size", xtts.checkpoint(True, 120)))
    for label, folder in models:
        args = ["--engine", "xtts", "--fallback", "none", "--xtts-model", str(folder), "--device", device]
        configs.append((f"{label} ({device})", args, "en/Ana Florence", None))
    busy = 2 if quick else 4
    try:
        return [server.server_figures(label, args, voice, runs, busy, env) for label, args, voice, env in configs]
    finally:
        google.close()


def stream_configs(quick: bool) -> list[tuple[str, list[str], str | None]]:
    """Servers that 50 open streams are run against (the first names no voice: its language is detected)."""
    configs: list[tuple[str, list[str], str | None]] = [("espeak", ["--engine", "espeak"], None)]
    if not quick:
        tiny = xtts.checkpoint(False, 48)
        configs += [
            ("xtts tiny (cpu)", ["--engine", "xtts", "--fallback", "none", "--xtts-model", str(tiny),
                                 "--device", "cpu"], "en/Ana Florence"),
            ("piper (joe, medium)", ["--engine", "piper", "--fallback", "none", "--piper-voices",
                                     str(piper_voices())], "en/joe"),
        ]  # fmt: skip
    return configs


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small models only, few runs (a smoke run)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; medians are reported")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    RESULTS.mkdir(exist_ok=True)

    tiny = xtts.checkpoint(full_size=False, max_audio_tokens=48)
    results = {
        "machine": machine(),
        "quick": args.quick,
        "engines": engine_runs(args.quick, runs),
        "xtts_vocoder": xtts.vocoder_cost(tiny, chunks=4 if args.quick else 12),
        "latent_cache": xtts.latent_cache_figures(tiny, runs=runs),
        "huge_reference": xtts.huge_reference_figures(tiny),
        "reliability": load.reliability_figures(args.quick),
        "hardening": hardening.hardening_figures(args.quick, runs),
        "first_audio": first_audio.first_audio_figures(args.quick, runs),
        "xtts_chunk_cost": chunk_cost.figures(args.quick),
        "describe_under_streams": streams.streams_figures(stream_configs(args.quick), seconds=10 if args.quick else 30),
        "xtts_precision": precision.precision_figures(args.quick),
        "xtts_concurrent": concurrent.figures(args.quick),
    }
    if not args.quick:
        results["translation"] = translation.translation_figures(runs=max(5, runs))
    name = "quick" if args.quick else "latest"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2))
    # A full run's plot is the one docs/performance.md shows.
    picture = RESULTS / "quick.png" if args.quick else DOCS / "performance.png"
    plot.save(results, picture)
    print(report(results))
    print(f"written: {RESULTS / f'{name}.json'}, {picture}")


def report(results: dict) -> str:
    lines = [f"machine: {results['machine']}", ""]
    lines.append(
        "| engine | first chunk one-shot p50 / p95 | streaming p50 / p95 | engine's own | server overhead | RTF | describe under load p50 / max | peak RSS |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for row in results["engines"]:
        one, stream, own, described = (row["first_chunk_one_shot_s"], row["first_chunk_streaming_s"],
                                       row["engine_first_chunk_s"], row["describe_under_load_s"])  # fmt: skip
        lines.append(
            f"| {row['engine']} | {one['p50'] * 1000:.0f} / {one['p95'] * 1000:.0f} ms "
            f"| {stream['p50'] * 1000:.0f} / {stream['p95'] * 1000:.0f} ms | {own['p50'] * 1000:.0f} ms "
            f"| {row['server_overhead_ms']:.1f} ms | {row['rtf']:.2f} "
            f"| {described['p50'] * 1000:.1f} / {described['max'] * 1000:.1f} ms ({described['busy_syntheses']} busy) "
            f"| {row['peak_rss_mb']:.0f} MB |"
        )
    lines += precision.report(results["xtts_precision"])
    lines += ["", *chunk_cost.report(results["xtts_chunk_cost"])]
    lines += concurrent.report(results["xtts_concurrent"])
    vocoder = results["xtts_vocoder"]
    lines += ["", "Vocoder seconds per chunk by position (coqui's stock re-decode vs windowed):"]
    for index, (stock, ours) in enumerate(zip(vocoder["stock_s"], vocoder["windowed_s"], strict=True), 1):
        lines.append(f"  chunk {index:2}: stock {stock:6.3f}  windowed {ours:6.3f}")
    cache = results["latent_cache"]
    lines.append(
        f"Latent cache (10 s reference, tiny model): cold {cache['cold_compute_s'] * 1000:.0f} ms, "
        f"warm memory {cache['warm_memory_s'] * 1000:.2f} ms, warm disk {cache['warm_disk_s'] * 1000:.1f} ms"
    )
    huge = results["huge_reference"]
    lines.append(
        f"Warm-up with a {huge['file_bytes'] / 2**30:.0f} GiB reference recording: {huge['read_bytes'] / 2**20:.0f} MiB "
        f"read, peak RSS {huge['peak_rss_before_warm_up_mb']:.0f} -> {huge['peak_rss_mb']:.0f} MB, "
        f"{huge['warm_up_s']:.1f} s"
    )
    reliability = results["reliability"]
    lines += ["", "| 100 requests, 20 clients, one-shot + streaming | lost | wall | first chunk p50 / p95 | describe meanwhile p50 / max (n) | peak RSS |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for row in reliability["load"]:
        first, described = row["first_chunk_s"], row["describe_s"]
        lines.append(
            f"| {row['engine']} | {row['lost']} | {row['wall_s']:.1f} s "
            f"| {first['p50'] * 1000:.0f} / {first['p95'] * 1000:.0f} ms "
            f"| {described['p50'] * 1000:.1f} / {described['max'] * 1000:.1f} ms ({described['n']}) "
            f"| {row['peak_rss_mb']:.0f} MB |"
        )
    bad, slow = reliability["bad_input"], reliability["slow_reader"]
    lines.append(
        f"Bad input ({bad['cases']} kinds): error and close after {bad['p50_s'] * 1000:.1f} ms p50, "
        f"{bad['max_s'] * 1000:.1f} ms max. Client that never reads: server RSS {slow['rss_before_mb']:.0f} MB "
        f"-> peak {slow['rss_peak_mb']:.0f} MB until dropped ({'dropped' if slow['dropped'] else 'NOT dropped'})."
    )
    splitter, described, abandoned = (results["hardening"][key] for key in ("splitter", "describe", "abandoned"))
    lines.append(
        f"Splitter, {splitter['chars']} characters: "
        + ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in splitter["median_s"].items())
    )
    lines.append(
        f"describe with {described['recordings']} recordings ({described['voices']} voices): "
        f"{described['alone_p50_s'] * 1000:.0f} ms p50 alone, {described['four_at_once_max_s'] * 1000:.0f} ms max "
        f"4 at once. {abandoned['requests']} abandoned requests: fds {abandoned['before']['fds']} -> "
        f"{abandoned['after']['fds']}, RSS {abandoned['before']['rss_mb']:.0f} -> {abandoned['after']['rss_mb']:.0f} MB"
    )
    every = results["hardening"]["describe_every_language"]
    lines.append(
        f"describe with every language of gTTS, Piper and espeak-ng and {every['recordings']} recordings "
        f"({every['languages']} languages, {every['voices']} voices): {every['alone_p50_s'] * 1000:.1f} ms p50 alone, "
        f"{every['four_at_once_max_s'] * 1000:.1f} ms max 4 at once"
    )
    flood, stop = results["hardening"]["flood"], results["hardening"]["stop"]
    lines.append(
        f"describe from another connection while one client pipelines {flood['events']} describes: "
        f"p50 {flood['p50_s'] * 1000:.1f} ms, p99 {flood['p99_s'] * 1000:.1f} ms, max {flood['max_s'] * 1000:.1f} ms "
        f"({flood['probes']} probes). SIGTERM to exit with a client that stopped reading, --shutdown-grace "
        f"{stop['grace_s']:g}: median {stop['median_s']:.2f} s, max {stop['max_s']:.2f} s ({stop['runs']} runs)"
    )
    lines += first_audio_report(results)
    if "translation" in results:
        figures = results["translation"]
        lines.append(
            f"NLLB-600M architecture, 12 tokens in, 16 out, {figures['threads']} threads: transformers fp32 "
            f"{figures['transformers_fp32']['median_s']:.2f} s, CTranslate2 int8 "
            f"{figures['ctranslate2_int8']['median_s']:.2f} s ({figures['speedup']:.1f}x)"
        )
    return "\n".join(lines)


def first_audio_report(results: dict) -> list[str]:
    figures = results["first_audio"]
    lines = ["", "| XTTS one-shot | chunk schedule | first audio p50 | underruns | silence after first audio | last chunk at | audio |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in figures["schedules"]:
        lines.append(
            f"| {row['model']}, {row['sentences']} sentence(s) | {row['schedule']} | {row['first_audio_s'] * 1000:.0f} ms "
            f"| {row['underruns']:g} | {row['silence_s']:.2f} s | {row['last_audio_s']:.2f} s | {row['audio_s']:.2f} s |"
        )
    for row in figures["first_clause"]:
        lines.append(
            f"Streaming input at {row['chars_per_s']:g} characters/s, {row['engine']}: first delta to first audio "
            f"{row['sentence_s'] * 1000:.0f} ms waiting for the sentence, {row['first_clause_s'] * 1000:.0f} ms "
            f"from its first clause ({row['first_clause_s'] / row['sentence_s']:.2f}x)"
        )
    for row in figures["speakable"]:
        lines.append(
            f"Text stage at {row['chars_per_s']:g} characters/s, {row['engine']}: first delta to first audio, "
            f"plain answer {row['plain_kept_s'] * 1000:.0f} ms with --keep-markdown, {row['plain_speakable_s'] * 1000:.0f} ms "
            f"without; markdown answer {row['markdown_kept_s'] * 1000:.0f} / {row['markdown_speakable_s'] * 1000:.0f} ms"
        )
    for name, cost in figures["text_stage"].items():
        lines.append(
            f"Text stage's own cost per {cost['deltas']} deltas of a {name} answer: p50 {cost['p50_us']:.1f} µs, "
            f"p99 {cost['p99_us']:.1f} µs, max {cost['max_us']:.0f} µs"
        )
    if "first_sentence_translation" in figures:
        translated = figures["first_sentence_translation"]
        tts = {
            row["model"]: row["first_audio_s"] for row in figures["schedules"] if row["schedule"].startswith("adaptive")
        }
        lines.append(
            f"First sentence ({translated['sentence_chars']} characters) translated by NLLB-600M shapes, CTranslate2 int8: "
            f"{translated['median_s'] * 1000:.0f} ms; with XTTS's first audio: "
            + ", ".join(f"{model} {(translated['median_s'] + first) * 1000:.0f} ms" for model, first in tts.items())
        )
    lines += ["", "describe while 50 streams each send a delta per second, in step:"]
    for row in results["describe_under_streams"]:
        lines.append(
            f"  {row['engine']}: p50 {row['p50_s'] * 1000:.1f} ms, max {row['max_s'] * 1000:.1f} ms ({row['n']} probes)"
        )
    return lines


if __name__ == "__main__":
    main()
