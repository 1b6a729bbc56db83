"""The languages the product speaks, and how each engine names them."""

from dataclasses import dataclass

from .wire import clip


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

    flores: str
    """FLORES-200 code, as NLLB names the language."""


# The 17 languages of XTTS v2: every engine speaks all of them, so a voice such
# as `fr/ana` exists whichever engine ends up speaking it.
LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        # code, name, espeak-ng voice, gTTS language, FLORES-200
        Language("en", "English", "en", "en", "eng_Latn"),
        Language("es", "Spanish", "es", "es", "spa_Latn"),
        Language("fr", "French", "fr", "fr", "fra_Latn"),
        Language("de", "German", "de", "de", "deu_Latn"),
        Language("it", "Italian", "it", "it", "ita_Latn"),
        Language("pt", "Portuguese", "pt", "pt", "por_Latn"),
        Language("pl", "Polish", "pl", "pl", "pol_Latn"),
        Language("tr", "Turkish", "tr", "tr", "tur_Latn"),
        Language("ru", "Russian", "ru", "ru", "rus_Cyrl"),
        Language("nl", "Dutch", "nl", "nl", "nld_Latn"),
        Language("cs", "Czech", "cs", "cs", "ces_Latn"),
        Language("ar", "Arabic", "ar", "ar", "arb_Arab"),
        Language("zh-cn", "Chinese", "cmn", "zh-CN", "zho_Hans"),
        Language("ja", "Japanese", "ja", "ja", "jpn_Jpan"),
        Language("hu", "Hungarian", "hu", "hu", "hun_Latn"),
        Language("ko", "Korean", "ko", "ko", "kor_Hang"),
        Language("hi", "Hindi", "hi", "hi", "hin_Deva"),
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
    raise UnknownLanguageError(f"Language {clip(tag)!r} is not supported; use one of {', '.join(LANGUAGES)}")
