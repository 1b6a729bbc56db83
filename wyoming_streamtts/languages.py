"""The languages the product speaks, and how each engine names them."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """One language as the wire names it, with each engine's own name for it."""

    code: str
    """Name on the wire and in voice names (XTTS's code: `en`, `zh-cn`)."""

    name: str
    """English name, for voice descriptions."""

    espeak: str
    """espeak-ng voice."""

    gtts: str
    """gTTS language."""


# The 17 languages of XTTS v2: every engine speaks all of them, so a voice such
# as `fr/ana` exists whichever engine ends up speaking it.
LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "en", "en"),
        Language("es", "Spanish", "es", "es"),
        Language("fr", "French", "fr", "fr"),
        Language("de", "German", "de", "de"),
        Language("it", "Italian", "it", "it"),
        Language("pt", "Portuguese", "pt", "pt"),
        Language("pl", "Polish", "pl", "pl"),
        Language("tr", "Turkish", "tr", "tr"),
        Language("ru", "Russian", "ru", "ru"),
        Language("nl", "Dutch", "nl", "nl"),
        Language("cs", "Czech", "cs", "cs"),
        Language("ar", "Arabic", "ar", "ar"),
        Language("zh-cn", "Chinese", "cmn", "zh-CN"),
        Language("ja", "Japanese", "ja", "ja"),
        Language("hu", "Hungarian", "hu", "hu"),
        Language("ko", "Korean", "ko", "ko"),
        Language("hi", "Hindi", "hi", "hi"),
    )
}


class UnknownLanguageError(ValueError):
    """A language tag that no engine here speaks."""


def normalize_language(tag: str) -> str:
    """Map a wire tag (`en-US`, `pt_BR`, `zh-CN`, `zh`) to a code in LANGUAGES."""
    cleaned = tag.strip().lower().replace("_", "-")
    if cleaned in LANGUAGES:
        return cleaned
    base = cleaned.split("-", 1)[0]
    # Chinese is written Simplified by default; XTTS calls it zh-cn.
    if base == "zh":
        return "zh-cn"
    if base in LANGUAGES:
        return base
    raise UnknownLanguageError(
        f"Language {tag!r} is not supported; use one of {', '.join(LANGUAGES)}"
    )
