"""Which language a text is written in (lingua, offline; the [translate] extra)."""

import asyncio
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from .languages import XTTS_V2_LANGUAGES, known_language
from .voices import DEFAULT_SPEAKER, VoiceCatalog

_LOGGER = logging.getLogger(__name__)

_LIGHT_MIN_CONFIDENCE = 0.6

# lingua's trigram models tell XTTS's languages apart in short sentences. More candidates cost
# accuracy: with Finnish among them, "Allume la lumière de la cuisine." was Finnish (0.97), with
# Tagalog "Apaga la luz de la cocina." Tagalog; so other languages are candidates only when they
# are asked for (--language) or a voice of their own speaks them.
WELL_TOLD_APART = XTTS_V2_LANGUAGES


class LanguageDetector:
    """lingua, limited to the languages given that it knows (codes of LANGUAGES)."""

    def __init__(self, languages: Iterable[str], light: bool = False) -> None:
        """light: trigram models only, loaded now (about 20 MB, 0.1 s) instead of all n-gram
        models loaded on first use (about 450 MB for the 17 languages, 2 s); a little less
        accurate on short texts, so it answers only when confident."""
        from lingua import LanguageDetectorBuilder  # noqa: PLC0415 - an optional extra

        codes = lingua_codes(languages)
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
        return known_language(language.iso_code_639_1.name)


def lingua_codes(languages: Iterable[str]) -> list:
    """lingua's ISO 639-1 codes of those languages it knows."""
    from lingua import IsoCode639_1  # noqa: PLC0415 - an optional extra

    found = (getattr(IsoCode639_1, code.split("-")[0].upper(), None) for code in languages)
    return [code for code in found if code is not None]


def create_detector(languages: Iterable[str]) -> LanguageDetector | None:
    """A light detector among two or more languages, or None (fewer, or lingua not installed)."""
    try:
        if len(lingua_codes(languages)) < 2:
            return None
        return LanguageDetector(languages, light=True)
    except ImportError:
        _LOGGER.debug("lingua is not installed: requests that name no voice get the default voice")
        return None


def detected_languages(catalog: VoiceCatalog, asked_for: bool) -> list[str]:
    """The languages a request that names no voice is told apart among: every one advertised when
    --language named them; else the well-told-apart ones, and those of voices that speak only some
    languages (a Piper voice, a cloned voice whose sidecar names them)."""
    if asked_for:
        return catalog.languages
    own = {
        voice.language
        for voice in catalog.voices
        if voice.speaker != DEFAULT_SPEAKER and catalog.speakers[voice.speaker].languages is not None
    }
    return [code for code in catalog.languages if code in own or code in WELL_TOLD_APART]
