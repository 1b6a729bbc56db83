"""Which language a text is written in (lingua, offline; the [translate] extra)."""

import logging
from collections.abc import Iterable

from .languages import LANGUAGES

_LOGGER = logging.getLogger(__name__)


class LanguageDetector:
    """lingua, limited to the languages given (two or more codes of LANGUAGES)."""

    def __init__(self, languages: Iterable[str]) -> None:
        from lingua import IsoCode639_1, LanguageDetectorBuilder  # noqa: PLC0415 - an optional extra

        codes = [getattr(IsoCode639_1, code.split("-")[0].upper()) for code in languages]
        self._detector = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()

    def detect(self, text: str) -> str | None:
        """The language code, or None when lingua cannot tell."""
        language = self._detector.detect_language_of(text)
        if language is None:
            return None
        code = language.iso_code_639_1.name.lower()
        return "zh-cn" if code == "zh" else code


def create_detector(languages: Iterable[str]) -> LanguageDetector | None:
    """A detector, or None when lingua is not installed."""
    try:
        return LanguageDetector(languages)
    except ImportError:
        _LOGGER.debug("lingua is not installed: requests that name no voice get the default voice")
        return None
