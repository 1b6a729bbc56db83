"""Which language a text is written in (lingua, offline; the [translate] extra)."""

import asyncio
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

_LOGGER = logging.getLogger(__name__)

_LIGHT_MIN_CONFIDENCE = 0.6


class LanguageDetector:
    """lingua, limited to the languages given (two or more codes of LANGUAGES)."""

    def __init__(self, languages: Iterable[str], light: bool = False) -> None:
        """light: trigram models only, loaded now (about 20 MB, 0.1 s) instead of all n-gram
        models loaded on first use (about 450 MB for the 17 languages, 2 s); a little less
        accurate on short texts, so it answers only when confident."""
        from lingua import IsoCode639_1, LanguageDetectorBuilder  # noqa: PLC0415 - an optional extra

        codes = [getattr(IsoCode639_1, code.split("-")[0].upper()) for code in languages]
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
        if light:
            builder = builder.with_low_accuracy_mode().with_preloaded_language_models()
        self._detector = builder.build()
        self._light = light
        # One thread of its own: requests take turns (each takes milliseconds), and many at once
        # do not grow the loop's default pool.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="language-detection")

    async def detect_off_loop(self, text: str) -> str | None:
        """`detect`, on the detector's own thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self.detect, text)

    def detect(self, text: str) -> str | None:
        """The language code, or None when lingua cannot tell."""
        if self._light:
            best = next(iter(self._detector.compute_language_confidence_values(text)), None)
            # Trigrams alone take "Never mind." for Hungarian (0.39): below this, better no answer.
            language = best.language if best is not None and best.value >= _LIGHT_MIN_CONFIDENCE else None
        else:
            language = self._detector.detect_language_of(text)
        if language is None:
            return None
        code = language.iso_code_639_1.name.lower()
        return "zh-cn" if code == "zh" else code


def create_detector(languages: Iterable[str]) -> LanguageDetector | None:
    """A light detector, or None when lingua is not installed."""
    try:
        return LanguageDetector(languages, light=True)
    except ImportError:
        _LOGGER.debug("lingua is not installed: requests that name no voice get the default voice")
        return None
