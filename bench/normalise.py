"""`python -m bench.normalise`: the normalisation stage's cost per sentence (p50, p99) and its first use, per
language, in process (the stage runs in the request's task: this is what it adds to a sentence)."""

import statistics
import subprocess
import sys
import time

from tests.test_normalise import CASES

SENTENCES = {language: [written for lang, written, _ in CASES if lang == language] for language, _, _ in CASES}


def first_use(language: str) -> float:
    """Seconds of a fresh process's first sentence in the language (imports and first compiles included)."""
    code = (
        "import time; t = time.perf_counter(); from wyoming_streamtts.normalise import Normaliser; "
        f"Normaliser().normalise({SENTENCES[language][0]!r}, {language!r}); print(time.perf_counter() - t)"
    )
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def per_sentence(language: str, rounds: int = 2000) -> tuple[float, float]:
    from wyoming_streamtts.normalise import Normaliser  # noqa: PLC0415

    normaliser = Normaliser()
    times = []
    for index in range(rounds):
        sentence = SENTENCES[language][index % len(SENTENCES[language])]
        began = time.perf_counter()
        normaliser.normalise(sentence, language)
        times.append(time.perf_counter() - began)
    times.sort()
    return statistics.median(times), times[int(0.99 * len(times))]


def main() -> None:
    for language in SENTENCES:
        p50, p99 = per_sentence(language)
        first = first_use(language)
        print(f"{language:6} p50 {p50 * 1000:6.3f} ms  p99 {p99 * 1000:6.3f} ms  first use {first * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
