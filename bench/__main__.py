"""`python -m bench [--quick]`: measure, print a table, write bench/results/*.json.

Benchmarks print figures; no test asserts on them (the machines are noisy).
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from bench import translation, xtts

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny model only, fewer runs")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; medians are reported")
    parser.add_argument("--only", choices=("xtts", "translation"), help="run one part only")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    RESULTS.mkdir(exist_ok=True)
    if args.only != "xtts" and not args.quick:
        report_translation(translation.translation_figures(runs=max(5, args.runs)))
    if args.only != "translation":
        report_xtts(args.quick, runs)


def report_translation(figures: dict) -> None:
    (RESULTS / "translation.json").write_text(json.dumps({"machine": machine(), **figures}, indent=2))
    print(f"NLLB-600M architecture, 12 tokens in, 16 out, {figures['threads']} threads, median:")
    for name in ("transformers_fp32", "ctranslate2_int8"):
        print(f"  {name:18} {figures[name]['median_s']:6.2f} s")
    print(f"  CTranslate2 int8 is {figures['speedup']:.1f}x faster")


def report_xtts(quick: bool, runs: int) -> None:
    tiny = xtts.checkpoint(full_size=False, max_audio_tokens=48)
    engines = [xtts.engine_figures("xtts tiny (random weights)", tiny, runs, chunk_size=20)]
    if not quick:
        full = xtts.checkpoint(full_size=True, max_audio_tokens=120)
        engines.append(xtts.engine_figures("xtts full-size (random weights)", full, max(2, runs // 2), 20))
    vocoder = xtts.vocoder_cost(tiny, chunks=6 if quick else 12)
    cache = xtts.latent_cache_figures(tiny, runs=runs)
    results = {"machine": machine(), "xtts_engines": engines, "xtts_vocoder": vocoder, "latent_cache": cache}
    (RESULTS / "xtts.json").write_text(json.dumps(results, indent=2))

    print(f"machine: {results['machine']}")
    print(f"{'model':36} {'device':6} {'first chunk':>12} {'RTF':>6} {'audio':>7}")
    for row in engines:
        print(
            f"{row['model']:36} {row['device']:6} {row['first_chunk_s_median'] * 1000:9.0f} ms "
            f"{row['rtf_median']:6.2f} {row['audio_s']:6.1f}s"
        )
    print("vocoder seconds per chunk by position (stock inference_stream vs windowed):")
    for index, (stock, ours) in enumerate(zip(vocoder["stock_s"], vocoder["windowed_s"]), 1):
        print(f"  chunk {index:2}: stock {stock:6.3f}  windowed {ours:6.3f}")
    print(
        f"windowed/stock total: {sum(vocoder['windowed_s']) / sum(vocoder['stock_s']):.2f}; "
        f"last/first chunk: stock {vocoder['stock_s'][-1] / vocoder['stock_s'][0]:.1f}x, "
        f"windowed {statistics.median(vocoder['windowed_s'][-3:]) / vocoder['windowed_s'][0]:.1f}x"
    )
    print(
        f"latent cache: cold {cache['cold_compute_s'] * 1000:.0f} ms, warm memory "
        f"{cache['warm_memory_s'] * 1000:.2f} ms, warm disk {cache['warm_disk_s'] * 1000:.1f} ms"
    )
    print(f"written: {RESULTS / 'xtts.json'}")


if __name__ == "__main__":
    main()
