"""The languages the product knows: one row each, with its name and NLLB's code for it.

Each engine's own code for a language comes from the list the engine publishes (gTTS's
`tts_langs()`, `espeak-ng --voices`, a Piper voice's JSON, XTTS's config), matched to these
rows by `normalize_language`; tests/test_languages.py checks the table against those lists.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from .echo import clip


@dataclass(frozen=True)
class Language:
    """One language as the wire names it."""

    code: str
    """Name on the wire and in voice names: ISO 639-1 where there is one (XTTS's `zh-cn` for Chinese)."""

    name: str
    """English name, for voice descriptions."""

    flores: str | None
    """FLORES-200 code, as NLLB names the language; None: NLLB does not translate into it."""

    aliases: tuple[str, ...] = ()
    """Other tags engines and clients use for it (`iw` for Hebrew, `cmn` for Mandarin)."""


_ROWS = (
    # code, English name, FLORES-200, other tags. English first: voices are listed in this order,
    # the first is the default voice, and Home Assistant's default language is the first listed.
    Language("en", "English", "eng_Latn"),
    Language("af", "Afrikaans", "afr_Latn"),
    Language("am", "Amharic", "amh_Ethi"),
    Language("an", "Aragonese", None),
    Language("ar", "Arabic", "arb_Arab"),
    Language("as", "Assamese", "asm_Beng"),
    Language("az", "Azerbaijani", "azj_Latn"),
    Language("ba", "Bashkir", "bak_Cyrl"),
    Language("be", "Belarusian", "bel_Cyrl"),
    Language("bg", "Bulgarian", "bul_Cyrl"),
    Language("bn", "Bengali", "ben_Beng"),
    Language("bpy", "Bishnupriya Manipuri", None),
    Language("bs", "Bosnian", "bos_Latn"),
    Language("ca", "Catalan", "cat_Latn"),
    Language("chr", "Cherokee", None),
    Language("cs", "Czech", "ces_Latn"),
    Language("cv", "Chuvash", None),
    Language("cy", "Welsh", "cym_Latn"),
    Language("da", "Danish", "dan_Latn"),
    Language("de", "German", "deu_Latn"),
    Language("el", "Greek", "ell_Grek"),
    Language("eo", "Esperanto", "epo_Latn"),
    Language("es", "Spanish", "spa_Latn"),
    Language("et", "Estonian", "est_Latn"),
    Language("eu", "Basque", "eus_Latn"),
    Language("fa", "Persian", "pes_Arab"),
    Language("fi", "Finnish", "fin_Latn"),
    Language("fr", "French", "fra_Latn"),
    Language("ga", "Irish", "gle_Latn"),
    Language("gd", "Scottish Gaelic", "gla_Latn"),
    Language("gl", "Galician", "glg_Latn"),
    Language("gn", "Guarani", "grn_Latn"),
    Language("gu", "Gujarati", "guj_Gujr"),
    Language("ha", "Hausa", "hau_Latn"),
    Language("hak", "Hakka Chinese", None),
    Language("haw", "Hawaiian", None),
    Language("he", "Hebrew", "heb_Hebr", ("iw",)),
    Language("hi", "Hindi", "hin_Deva"),
    Language("hr", "Croatian", "hrv_Latn"),
    Language("ht", "Haitian Creole", "hat_Latn"),
    Language("hu", "Hungarian", "hun_Latn"),
    Language("hy", "Armenian", "hye_Armn", ("hyw",)),
    Language("id", "Indonesian", "ind_Latn", ("in",)),
    Language("is", "Icelandic", "isl_Latn"),
    Language("it", "Italian", "ita_Latn"),
    Language("ja", "Japanese", "jpn_Jpan"),
    Language("jv", "Javanese", "jav_Latn", ("jw",)),
    Language("ka", "Georgian", "kat_Geor"),
    Language("kk", "Kazakh", "kaz_Cyrl"),
    Language("kl", "Greenlandic", None),
    Language("km", "Khmer", "khm_Khmr"),
    Language("kn", "Kannada", "kan_Knda"),
    Language("ko", "Korean", "kor_Hang"),
    Language("kok", "Konkani", None),
    Language("ku", "Kurdish", "kmr_Latn"),
    Language("ky", "Kyrgyz", "kir_Cyrl"),
    Language("la", "Latin", None),
    Language("lb", "Luxembourgish", "ltz_Latn"),
    Language("lt", "Lithuanian", "lit_Latn"),
    Language("ltg", "Latgalian", "ltg_Latn"),
    Language("lv", "Latvian", "lvs_Latn"),
    Language("mi", "Maori", "mri_Latn"),
    Language("mk", "Macedonian", "mkd_Cyrl"),
    Language("ml", "Malayalam", "mal_Mlym"),
    Language("mr", "Marathi", "mar_Deva"),
    Language("ms", "Malay", "zsm_Latn"),
    Language("mt", "Maltese", "mlt_Latn"),
    Language("my", "Burmese", "mya_Mymr"),
    Language("nb", "Norwegian", "nob_Latn", ("no",)),
    Language("ne", "Nepali", "npi_Deva"),
    Language("nl", "Dutch", "nld_Latn"),
    Language("nog", "Nogai", None),
    Language("om", "Oromo", "gaz_Latn"),
    Language("or", "Odia", "ory_Orya"),
    Language("pa", "Punjabi", "pan_Guru"),
    Language("pap", "Papiamento", "pap_Latn"),
    Language("pl", "Polish", "pol_Latn"),
    Language("pt", "Portuguese", "por_Latn"),
    Language("qu", "Quechua", "quy_Latn"),
    Language("quc", "K'iche'", None),
    Language("ro", "Romanian", "ron_Latn"),
    Language("ru", "Russian", "rus_Cyrl"),
    Language("sd", "Sindhi", "snd_Arab"),
    Language("shn", "Shan", "shn_Mymr"),
    Language("si", "Sinhala", "sin_Sinh"),
    Language("sk", "Slovak", "slk_Latn"),
    Language("sl", "Slovenian", "slv_Latn"),
    Language("smj", "Lule Sami", None),
    Language("sq", "Albanian", "als_Latn"),
    Language("sr", "Serbian", "srp_Cyrl"),
    Language("su", "Sundanese", "sun_Latn"),
    Language("sv", "Swedish", "swe_Latn"),
    Language("sw", "Swahili", "swh_Latn"),
    Language("ta", "Tamil", "tam_Taml"),
    Language("te", "Telugu", "tel_Telu"),
    Language("th", "Thai", "tha_Thai"),
    Language("tk", "Turkmen", "tuk_Latn"),
    Language("tl", "Filipino", "tgl_Latn", ("fil",)),
    Language("tn", "Tswana", "tsn_Latn"),
    Language("tr", "Turkish", "tur_Latn"),
    Language("tt", "Tatar", "tat_Cyrl"),
    Language("ug", "Uyghur", "uig_Arab"),
    Language("uk", "Ukrainian", "ukr_Cyrl"),
    Language("ur", "Urdu", "urd_Arab"),
    Language("uz", "Uzbek", "uzn_Latn"),
    Language("vi", "Vietnamese", "vie_Latn"),
    Language("yue", "Cantonese", "yue_Hant"),
    # Simplified by default, as XTTS names it; Traditional text is the same spoken language.
    Language("zh-cn", "Chinese", "zho_Hans", ("zh", "cmn", "zh-hans", "zh-hant", "zh-tw")),
)

LANGUAGES: dict[str, Language] = {language.code: language for language in _ROWS}

# XTTS v2's languages (its config's list): those a cloned voice is offered in, also where
# another engine stands in for XTTS.
XTTS_V2_LANGUAGES = frozenset(("en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn",
                               "ja", "hu", "ko", "hi"))  # fmt: skip
_BY_TAG: dict[str, str] = {tag: language.code for language in _ROWS for tag in (language.code, *language.aliases)}


class UnknownLanguageError(ValueError):
    """A language tag that no engine here speaks."""


def known_language(tag: str) -> str | None:
    """The code in LANGUAGES of a tag (`en-US`, `pt_BR`, `zh-CN`, `iw`, `cmn-latn-pinyin`), else None."""
    cleaned = _cleaned(tag)
    return _BY_TAG.get(cleaned) or _BY_TAG.get(cleaned.split("-", 1)[0])


def _cleaned(tag: str) -> str:
    """A tag as the table spells its codes and aliases: `pt_BR` -> `pt-br`."""
    return tag.strip().lower().replace("_", "-")


def normalize_language(tag: str) -> str:
    """`known_language`, raising UnknownLanguageError for a tag it does not know."""
    code = known_language(tag)
    if code is None:
        raise UnknownLanguageError(f"Language {clip(tag)!r} is not supported; use one of {', '.join(LANGUAGES)}")
    return code


def region_of(tag: str) -> str:
    """The region subtag of a tag (`pt_BR` -> `BR`, `es-419` -> `419`), else ''."""
    parts = tag.strip().replace("_", "-").split("-")
    region = next((part for part in parts[1:] if len(part) == 2 or part.isdigit()), "")
    return region.upper()


def engine_codes(published: Iterable[str]) -> dict[str, str]:
    """Each known language's tag in an engine's own list: the tag that is the language's code or
    an alias of it (`zh-CN`, `iw`) when the list has one, else the first that names it."""
    codes: dict[str, str] = {}
    for tag in published:
        code = known_language(tag)
        if code is not None and (code not in codes or _plain(tag, code) and not _plain(codes[code], code)):
            codes[code] = tag
    return codes


def _plain(tag: str, code: str) -> bool:
    return _cleaned(tag) in (code, *LANGUAGES[code].aliases)


def ordered(codes: Iterable[str]) -> list[str]:
    """Codes in the table's order (English, then alphabetical by code), known ones only."""
    wanted = set(codes)
    return [code for code in LANGUAGES if code in wanted]
