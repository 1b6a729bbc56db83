"""Numbers, units, dates, times, money and entity ids read as a person reads them, in the language the voice
speaks (after translation): eSpeak NG, and so Piper, read `1.2 kWh` as "one point two K double-u aitch".

Rules in order, each leaving words for the next: entity ids, dates, times, money, ranges, numbers with units,
ordinals, the remaining numbers, symbols. Numbers are num2words' (about 50 languages); units, months and the
words between numbers are spoken_forms' tables (English, German, French). A language num2words lacks passes
unchanged. A sentence costs tens of microseconds: plain regular expressions, compiled once.
"""

import logging
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from num2words import CONVERTER_CLASSES, num2words

from .spoken_forms import SpokenForms, forms_for

_LOGGER = logging.getLogger(__name__)

_NUMBER = r"[-−]?\d+(?:[.,]\d+)*"
_DOMAINS = (
    "alarm_control_panel|automation|binary_sensor|button|calendar|camera|climate|counter|cover|device_tracker|event|"
    "fan|humidifier|input_boolean|input_number|input_select|input_text|light|lock|media_player|number|person|remote|"
    "scene|script|select|sensor|siren|sun|switch|timer|todo|update|vacuum|valve|water_heater|weather|zone"
)
_ENTITY = re.compile(rf"\b(?:{_DOMAINS})\.([a-z0-9]+(?:_[a-z0-9]+)*)\b")
# A German date after "am", "vom", "zum" takes the dative: "am achten Dezember".
_ISO_DATE = re.compile(r"(?:\b((?i:am|vom|zum|dem)) )?\b(\d{4})-(\d{2})-(\d{2})\b")
_LOCAL_DATE = re.compile(r"(?:\b((?i:am|vom|zum|dem)) )?\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b")
_TIME = re.compile(r"\b(\d{1,2})(?::|h ?)(\d{2})(?::\d{2})?(?:\s?([ap])\.?\s?m\b\.?)?(?:\s?Uhr\b)?", re.IGNORECASE)
_HOUR_AMPM = re.compile(r"\b(\d{1,2})\s?([ap])\.?\s?m\b\.?", re.IGNORECASE)
_CURRENCY = {"€": "EUR", "$": "USD", "£": "GBP", "EUR": "EUR", "USD": "USD", "GBP": "GBP"}
_MONEY_BEFORE = re.compile(r"(?<![\w$€£])(€|\$|£|EUR|USD|GBP)\s?(\d+(?:[.,]\d{1,2})?)\b")
_MONEY_AFTER = re.compile(r"\b(\d+(?:[.,]\d{1,2})?)\s?(€|EUR|USD|GBP)(?!\w)")
_RANGE = re.compile(r"(?<![\w.,])(\d+(?:[.,]\d+)?)\s?[–-]\s?(\d+(?:[.,]\d+)?)(?![\d.,]\d)")
_ORDINAL_EN = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_ORDINAL_FR = re.compile(r"\b(\d+)(?:er|re|ère|e)\b")
_NUMBER_ALONE = re.compile(rf"(?<![\w.,]){_NUMBER}(?![\w])")
# Unit symbols that are words too ("2 in the garage", "5 A"): a unit only at a clause's end, or before the next
# number of a duration ("3 h 20 min").
_WORD_LIKE = {"in", "A", "d", "m", "s", "h", "g", "L"}


def _num2words_language(language: str) -> str | None:
    base = language.split("-")[0]
    return base if base in CONVERTER_CLASSES else None


def words_for(language: str) -> "Words | None":
    """How numbers are said in `language` (SSML's say-as), or None where num2words has no such language."""
    lang = _num2words_language(language)
    return None if lang is None else Words(lang, forms_for(language))


class Normaliser:
    """The stage, for every language; built once (its unit patterns are compiled per language at first use)."""

    def __init__(self) -> None:
        self._units: dict[str, re.Pattern[str]] = {}

    def normalise(self, text: str, language: str) -> str:
        lang = _num2words_language(language)
        if lang is None or not any(char.isdigit() or char in "&+=#." for char in text):
            return text
        forms = forms_for(language)
        words = Words(lang, forms)
        text = _ENTITY.sub(lambda m: m[1].replace("_", " "), text)
        text = _ISO_DATE.sub(lambda m: words.date(int(m[2]), int(m[3]), int(m[4]), m[1]) or m[0], text)
        text = _LOCAL_DATE.sub(lambda m: words.local_date(m) or m[0], text)
        text = _TIME.sub(words.time, text)
        text = _HOUR_AMPM.sub(lambda m: f"{words.number(m[1])} {m[2].lower()} m", text)
        text = _MONEY_BEFORE.sub(lambda m: words.money(m[2], _CURRENCY[m[1]]), text)
        text = _MONEY_AFTER.sub(lambda m: words.money(m[1], _CURRENCY[m[2]]), text)
        text = _RANGE.sub(lambda m: f"{m[1]} {forms.to} {m[2]}", text)
        if forms.units:
            text = self._unit_pattern(language, forms).sub(words.with_unit, text)
        if lang == "en":
            text = _ORDINAL_EN.sub(lambda m: num2words(int(m[1]), lang="en", to="ordinal"), text)
        elif lang == "fr":
            text = _ORDINAL_FR.sub(lambda m: words.ordinal(int(m[1])), text)
        text = _NUMBER_ALONE.sub(lambda m: words.number(m[0]), text)
        for symbol, word in forms.symbols.items():
            text = re.sub(rf"(?<=\w)\s?{re.escape(symbol)}\s?(?=\w)" if symbol != "#" else r"#(?=\s?\w)",
                          f" {word} ", text)  # fmt: skip
        return re.sub(r"[ \t]{2,}", " ", text)

    def _unit_pattern(self, language: str, forms: SpokenForms) -> re.Pattern[str]:
        if language not in self._units:
            symbols = sorted(forms.units, key=len, reverse=True)
            plain = "|".join(re.escape(symbol) for symbol in symbols if symbol not in _WORD_LIKE)
            word_like = "|".join(re.escape(symbol) for symbol in symbols if symbol in _WORD_LIKE)
            self._units[language] = re.compile(
                rf"(?<![\w.,])({_NUMBER})\s?(?:({plain}|°)(?![\w/])|({word_like})(?=\s*(?:[.,;:!?)]|$|\d)))"
            )
        return self._units[language]


class Words:
    """num2words in one language, with that language's forms."""

    def __init__(self, lang: str, forms: SpokenForms) -> None:
        self.lang = lang
        self.forms = forms

    def value(self, written: str) -> Decimal | None:
        """The number as written in this language: 1,234.5 in English, 1.234,5 in German."""
        text = written.replace("−", "-")
        thousands, decimal = (".", ",") if self.forms.decimal_comma else (",", ".")
        if re.fullmatch(rf"-?\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+(?:{re.escape(decimal)}\d+)?", text):
            text = text.replace(thousands, "")
        text = text.replace(decimal, ".")
        try:
            return Decimal(text) if text.count(".") <= 1 else None
        except InvalidOperation:
            return None

    def number(self, written: str) -> str:
        value = self.value(written)
        return written if value is None else self._say(lambda: num2words(value, lang=self.lang), written)

    def ordinal(self, value: int) -> str:
        return self._say(lambda: num2words(value, lang=self.lang, to="ordinal"), str(value))

    def with_unit(self, match: re.Match[str]) -> str:
        written, symbol = match[1], match[2] or match[3]
        value = self.value(written)
        if symbol == "°":
            singular, plural = {"en": ("degree", "degrees"), "de": ("Grad", "Grad"), "fr": ("degré", "degrés")}.get(
                self.lang, ("°", "°"))  # fmt: skip
        else:
            singular, plural = self.forms.units[symbol]
        if value is not None and abs(value) == 1 and value == value.to_integral_value():
            return f"{self._one(singular, value)} {singular}"
        return f"{self.number(written)} {plural}"

    def _one(self, unit: str, value: Decimal) -> str:
        """ "one kilowatt hour", "eine Kilowattstunde", "une heure": the article-like one agrees with the unit."""
        sign = "minus " if value < 0 else ""
        if self.lang == "de":
            return sign + ("eine" if unit.split()[0].endswith("e") and unit != "Grad Celsius" else "ein")
        if self.lang == "fr":
            return sign + ("une" if unit.split()[0] in _FEMININE_FR else "un")
        return sign + self._say(lambda: num2words(1, lang=self.lang), "1")

    def date(self, year: int | None, month: int, day: int, before: str | None = None) -> str | None:
        """The date (`year` None: the day and month), and the word before it (German: "am" makes the day's
        ordinal dative)."""
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        lead = f"{before} " if before else ""
        year_words = "" if year is None else self._say(lambda: num2words(year, lang=self.lang, to="year"), str(year))
        if not self.forms.months:
            return f"{lead}{self.number(str(day))} {self.number(str(month))} {year_words}".rstrip()
        month_name = self.forms.months[month - 1]
        if self.lang == "en":
            return f"{lead}{month_name} {self.ordinal(day)}" + (f", {year_words}" if year_words else "")
        if self.lang == "fr":
            return f"{lead}{'premier' if day == 1 else self.number(str(day))} {month_name} {year_words}".rstrip()
        ordinal = self.ordinal(day) + ("n" if before and self.lang == "de" else "")
        return f"{lead}{ordinal} {month_name} {year_words}".rstrip()

    def local_date(self, match: re.Match[str]) -> str | None:
        first, second, year = int(match[2]), int(match[3]), int(match[4])
        month, day = (first, second) if self.forms.date_order == "mdy" else (second, first)
        return self.date(year, month, day, match[1])

    def time(self, match: re.Match[str]) -> str:
        hour, minute, half = int(match[1]), int(match[2]), (match[3] or "").lower()
        if hour > 24 or minute > 59:
            return match[0]
        hours = self.number(str(hour))
        if self.lang == "de":
            return f"{hours} Uhr" + (f" {self.number(str(minute))}" if minute else "")
        if self.lang == "fr":
            return f"{hours} {'heure' if hour == 1 else 'heures'}" + (f" {self.number(str(minute))}" if minute else "")
        if self.lang != "en":
            return f"{hours} {self.number(str(minute))}"
        suffix = f" {half} m" if half else ""
        if minute == 0:
            return hours + (suffix or (" hundred" if hour > 12 or hour == 0 else " o'clock"))
        return f"{hours} {'oh ' if minute < 10 else ''}{self.number(str(minute))}{suffix}"

    def money(self, written: str, currency: str) -> str:
        value = self.value(written)
        if value is None:
            return written
        spoken = self._say(lambda: num2words(value, lang=self.lang, to="currency", currency=currency), "")
        if not spoken:
            return f"{self.number(written)} {currency}"
        # num2words says the empty part too ("twelve euro, zero cents", "zero euro, thirty-five cents").
        parts = re.split(r", | und | et ", spoken, maxsplit=1)
        major, minor = parts[0], parts[-1]
        if value == value.to_integral_value():
            return major
        if value < 1:
            return minor
        return spoken

    def _say(self, convert: Callable[[], str], fallback: str) -> str:
        try:
            return convert()
        except (NotImplementedError, ValueError, TypeError, OverflowError, KeyError, IndexError) as err:
            _LOGGER.debug("num2words (%s) cannot say %s: %s", self.lang, fallback, err)
            return fallback


_FEMININE_FR = {"heure", "minute", "seconde", "milliseconde", "livre", "once", "partie", "wattheure",
                "kilowattheure", "mégawattheure"}  # fmt: skip
