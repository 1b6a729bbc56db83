"""NeMo text processing's normaliser against ours (normalise.py), on the same Home Assistant sentences: what each
makes of them, first-use cost (grammar build, then loading the cached grammars) and cost per sentence.

NeMo is not a dependency (pynini and its grammars are ~200 MB, and building them takes minutes): run it in a
virtual environment of its own, where `pip install nemo_text_processing` and this repository are installed:

    python -m bench.nemo_compare [--languages en de fr] [--cache-dir DIR]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from wyoming_streamtts.normalise import Normaliser

SENTENCES = {
    "en": ["The dryer used 1.2 kWh.", "The wind is at 15 km/h and it is -3 °C outside.", "The bill is due 2026-12-08.",
           "Electricity costs €0.35 per kWh; the total is $12.50.", "The battery is at 3.7 V after 3 h 20 min.",
           "The alarm is at 7:05 am, the meeting at 14:30."],
    "de": ["Der Trockner hat 1,2 kWh verbraucht.", "Es sind -3 °C bei 15 km/h Wind.",
           "Am 08.12.2026 um 14:30 Uhr kostet es 0,35 €.", "Die Fahrt dauerte 1 h 20 min."],
    "fr": ["Le sèche-linge a consommé 1,2 kWh.", "Il fait 21 °C, le 2026-12-01 à 7:05.", "Cela coûte 12,50 €."],
}  # fmt: skip


def _timed(say, sentences: list[str], rounds: int) -> tuple[float, float]:
    costs = []
    for _ in range(rounds):
        for sentence in sentences:
            began = time.perf_counter()
            say(sentence)
            costs.append((time.perf_counter() - began) * 1000)
    costs.sort()
    return statistics.median(costs), costs[int(len(costs) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--languages", nargs="+", default=list(SENTENCES))
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/nemo-grammars"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from nemo_text_processing.text_normalization.normalize import Normalizer  # noqa: PLC0415

    ours = Normaliser()
    for language in args.languages:
        sentences = SENTENCES[language]
        began = time.perf_counter()
        nemo = Normalizer(input_case="cased", lang=language, cache_dir=str(args.cache_dir))
        first_use = time.perf_counter() - began
        began = time.perf_counter()
        Normalizer(input_case="cased", lang=language, cache_dir=str(args.cache_dir))
        cached = time.perf_counter() - began
        nemo_p50, nemo_p99 = _timed(lambda s: nemo.normalize(s, punct_post_process=True), sentences, args.rounds)  # noqa: B023
        ours_p50, ours_p99 = _timed(lambda s: ours.normalise(s, language), sentences, args.rounds)  # noqa: B023
        print(f"{language}: NeMo first use {first_use:.1f} s (grammars from its cache: {cached:.1f} s), "
              f"per sentence p50 {nemo_p50:.1f} ms p99 {nemo_p99:.1f} ms; ours p50 {ours_p50:.3f} ms "
              f"p99 {ours_p99:.3f} ms")  # fmt: skip
        for sentence in sentences:
            print(f"  {sentence}\n    NeMo: {nemo.normalize(sentence, punct_post_process=True)}\n"
                  f"    ours: {ours.normalise(sentence, language)}")  # fmt: skip
        sys.stdout.flush()


if __name__ == "__main__":
    main()
