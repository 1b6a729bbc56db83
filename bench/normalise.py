"""`python -m bench.normalise`: the normalisation stage's cost per sentence (p50, p99) and its first use, per
language, in process (the stage runs in the request's task: this is what it adds to a sentence); then an SSML
document's reading and a 1,000-entry lexicon's, per sentence."""

import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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
    sentences = itertools.cycle(SENTENCES[language])
    return _p50_p99(lambda: normaliser.normalise(next(sentences), language), rounds)


def _p50_p99(work: Callable[[], object], rounds: int = 2000) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    times.sort()
    return statistics.median(times), times[int(0.99 * len(times))]


def ssml_and_lexicon() -> None:
    from wyoming_streamtts.intake import TextIntake  # noqa: PLC0415
    from wyoming_streamtts.lexicon import Lexicon  # noqa: PLC0415

    document = ('<speak>The front door is <emphasis>locked</emphasis>.<break time="300ms"/>It is '
                '<say-as interpret-as="date" format="dmy">08.12.2026</say-as>; call <sub alias="doctor">Dr.</sub> '
                '<phoneme alphabet="ipa" ph="ˈnwɪn">Nguyen</phoneme> at <say-as interpret-as="telephone">555-0100'
                '</say-as>. <prosody rate="slow">Good night.</prosody></speak>')  # fmt: skip

    def read() -> None:
        intake = TextIntake(250, None, markdown=True, ssml=None, language="en")
        intake.feed(document)
        intake.flush()

    p50, p99 = _p50_p99(read)
    print(f"SSML   p50 {p50 * 1000:6.3f} ms  p99 {p99 * 1000:6.3f} ms  ({len(document)} characters, 4 sentences)")
    with tempfile.TemporaryDirectory() as folder:
        lexicon = Lexicon(Path(folder))
        lexicon.write("en", "".join(f"name{index} = word{index}\n" for index in range(1000)))
        sentence = "The living room lights are on, and name500 is at home."
        p50, p99 = _p50_p99(lambda: lexicon.apply(sentence, "en"))
        print(f"lexicon p50 {p50 * 1000:6.3f} ms  p99 {p99 * 1000:6.3f} ms  (1,000 entries; a stat each time)")


def main() -> None:
    for language in SENTENCES:
        p50, p99 = per_sentence(language)
        first = first_use(language)
        print(f"{language:6} p50 {p50 * 1000:6.3f} ms  p99 {p99 * 1000:6.3f} ms  first use {first * 1000:6.1f} ms")
    ssml_and_lexicon()


if __name__ == "__main__":
    main()
