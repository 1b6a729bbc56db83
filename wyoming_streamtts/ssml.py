"""SSML: a `<speak>` document read as it streams in, into text and the marks between it.

expat reads the document incrementally (a tag or entity cut between deltas waits for its rest; text is given on as
it comes). What it gives: text (in the style of the element it stands in), `Style` when prosody or language
change, and `Pause` for a `break` or the end of a `p` or `s`. `say-as`, `sub` and `phoneme` become words (or a
phoneme span) where they stand. Unknown elements are dropped and their text read (an `audio`'s text is what to say
instead of it); `desc` and metadata are not read. A malformed document is read as its text from the delta that
broke it on, its tags left out, with one warning: SSML never fails a request.
"""

import html
import logging
import re
from dataclasses import dataclass, replace
from xml.parsers import expat

from .normalise import Words
from .phonemes import mark, unmarked

_LOGGER = logging.getLogger(__name__)

_NOT_READ = frozenset({"desc", "meta", "metadata", "lexicon"})
_STRENGTH_MS = {"none": 0, "x-weak": 100, "weak": 250, "medium": 400, "strong": 750, "x-strong": 1200}
_MAX_PAUSE_MS = 10_000
_RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.6}
_VOLUMES_DB = {"silent": -96.0, "x-soft": -12.0, "soft": -6.0, "medium": 0.0, "default": 0.0, "loud": 4.0,
               "x-loud": 8.0}  # fmt: skip
_TAG_HOLD = 200  # after a malformed document: how far a `<` waits for its `>` before it is read as text


@dataclass(frozen=True)
class Style:
    """How the text from here on is said: `rate` and `volume` as factors, `language` from an `xml:lang`."""

    rate: float = 1.0
    volume: float = 1.0
    language: str | None = None


PLAIN = Style()


@dataclass(frozen=True)
class Pause:
    """Silence of `ms` (0: only the sentence ends here)."""

    ms: int


Piece = str | Style | Pause


@dataclass
class _Open:
    name: str
    style: Style
    attrs: dict[str, str]
    held: list[str] | None = None  # the text of a say-as, sub or phoneme, said at its end


class SsmlReader:
    """One document's deltas in, pieces out. `words`: how numbers are said in the voice's language (say-as)."""

    def __init__(self, words: Words | None) -> None:
        self._words = words
        self._parser = expat.ParserCreate()
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._text
        self._parser.StartDoctypeDeclHandler = self._doctype
        self._open: list[_Open] = []
        self._out: list[Piece] = []
        self._style = PLAIN  # the style last given out
        self._broken = False
        self._rest = ""  # after a malformed document: the start of a tag not closed yet

    def feed(self, text: str) -> list[Piece]:
        if self._broken:
            return self._as_text(text)
        try:
            self._parser.Parse(text, False)
        except expat.ExpatError as err:
            return self._give_up(text, err)
        out, self._out = self._out, []
        return out

    def flush(self) -> list[Piece]:
        """The document has ended."""
        if self._broken:
            return self._as_text("", final=True)
        try:
            self._parser.Parse("", True)
        except expat.ExpatError as err:
            return self._give_up("", err)
        out, self._out = self._out, []
        return out

    def _give_up(self, text: str, err: expat.ExpatError) -> list[Piece]:
        _LOGGER.warning("Malformed SSML (%s): reading the rest as text", expat.ErrorString(err.code))
        self._broken = True
        self._out = []  # what this delta gave before the error is read again below, as text
        outermost = next((entry.held for entry in self._open if entry.held is not None), [])
        held = "".join(outermost)
        out: list[Piece] = [PLAIN] if self._style != PLAIN else []
        self._style = PLAIN
        return out + ([held] if held else []) + self._as_text(text, final=not text)

    def _as_text(self, text: str, final: bool = False) -> list[Piece]:
        text = self._rest + text
        cut = text.rfind("<")
        self._rest = "" if final or cut < 0 or ">" in text[cut:] or len(text) - cut > _TAG_HOLD else text[cut:]
        text = text[: len(text) - len(self._rest)]
        words = html.unescape(re.sub(r"<[^<>]*>", " ", text))
        return [unmarked(words)] if words else []

    def _doctype(self, *_: object) -> None:
        raise expat.ExpatError("a document type declaration is not read")  # its entities could expand without end

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        parent = self._open[-1] if self._open else None
        style = parent.style if parent else PLAIN
        if name == "prosody":
            style = replace(style, rate=style.rate * _rate(attrs.get("rate")),
                            volume=style.volume * _volume(attrs.get("volume")))  # fmt: skip
        language = attrs.get("xml:lang")
        if language and parent is not None:  # the root's language is the voice's own
            style = replace(style, language=language)
        held = parent.held if parent and parent.held is not None else None
        if name in ("say-as", "sub", "phoneme") or name in _NOT_READ:
            held = []
        self._open.append(_Open(name, style, attrs, held))
        if name in ("p", "s"):
            self._out.append(Pause(0))
        elif name == "break":
            self._out.append(Pause(_break_ms(attrs)))

    def _end(self, name: str) -> None:
        closed = self._open.pop()
        if name in ("say-as", "sub", "phoneme") and closed.held is not None:
            said = self._said(closed)
            parent_held = self._open[-1].held if self._open else None
            if parent_held is not None:
                parent_held.append(said)
            else:
                self._give(said, closed.style)
        elif name in ("p", "s"):
            self._out.append(Pause(0))

    def _text(self, data: str) -> None:
        entry = self._open[-1] if self._open else None
        if entry is None:
            return  # whitespace outside the document
        data = unmarked(data)  # a client's text cannot open a phoneme span
        if entry.held is not None:
            entry.held.append(data)
        else:
            self._give(data, entry.style)

    def _give(self, text: str, style: Style) -> None:
        if style != self._style:
            self._out.append(style)
            self._style = style
        self._out.append(text)

    def _said(self, closed: _Open) -> str:
        text = "".join(closed.held or [])
        if closed.name in _NOT_READ:
            return ""
        if closed.name == "sub":
            return closed.attrs.get("alias", text)
        if closed.name == "phoneme":
            ipa = closed.attrs.get("ph", "")
            return mark(ipa, text) if ipa and closed.attrs.get("alphabet", "ipa") == "ipa" else text
        return say_as(self._words, closed.attrs.get("interpret-as", ""), closed.attrs.get("format", ""), text)


def say_as(words: Words | None, kind: str, form: str, text: str) -> str:
    """SSML's say-as: the text as the kind of thing it is (numbers in words of the voice's language)."""
    digits = re.findall(r"\d+", text)
    if kind in ("characters", "spell-out", "letters"):
        return " ".join(_digit(words, char) if char.isdigit() else char.upper() for char in text if not char.isspace())
    if kind == "digits":
        return " ".join(_digit(words, char) for char in text if char.isdigit())
    if kind == "telephone":
        groups = re.findall(r"\+|\d+", text)
        return ", ".join("plus" if group == "+" else " ".join(_digit(words, d) for d in group) for group in groups)
    if words is None:
        return text
    if kind in ("cardinal", "number") and digits:
        return words.number(text.strip())
    if kind == "ordinal" and digits:
        return words.ordinal(int(digits[0]))
    if kind == "date" and digits:
        return _date(words, form or "ymd", [int(d) for d in digits]) or text
    if kind == "time":
        match = re.search(r"(\d{1,2})[:h.](\d{2})\s*([ap])?", text, re.IGNORECASE)
        return words.time(match) if match else text
    return text


def _date(words: Words, form: str, numbers: list[int]) -> str | None:
    """A date in the order `form` gives (`dmy`, `md`, ...); a year or a month alone is read as its numbers."""
    parts = dict(zip(form, numbers, strict=False))
    if "m" not in parts or "d" not in parts:
        return None
    return words.date(parts.get("y"), parts["m"], parts["d"])


def _digit(words: Words | None, char: str) -> str:
    return words.number(char) if words is not None else char


def _break_ms(attrs: dict[str, str]) -> int:
    time = attrs.get("time", "")
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", time)
    if match:
        ms = float(match[1]) * (1000 if match[2] == "s" else 1)
        return int(min(ms, _MAX_PAUSE_MS))
    return _STRENGTH_MS.get(attrs.get("strength", "medium"), _STRENGTH_MS["medium"])


def _rate(value: str | None) -> float:
    """SSML 1.1 rate: a keyword, a factor (`1.5`), or a percentage of the default (`150%`, `+20%`)."""
    if not value:
        return 1.0
    if value in _RATES:
        return _RATES[value]
    match = re.fullmatch(r"\s*([+-]?)(\d+(?:\.\d+)?)(%?)\s*", value)
    if not match:
        return 1.0
    sign, number, percent = match[1], float(match[2]), match[3]
    if not percent:
        factor = number
    elif sign:  # relative: "+20%" is 1.2 times the current rate
        factor = 1 + (-number if sign == "-" else number) / 100
    else:
        factor = number / 100
    return min(max(factor, 0.5), 2.0)  # past these, stretched speech is no longer understood


def _volume(value: str | None) -> float:
    """SSML volume: a keyword or a change in dB (`+6dB`), as a factor on the samples."""
    if not value:
        return 1.0
    decibels = _VOLUMES_DB.get(value)
    if decibels is None:
        match = re.fullmatch(r"\s*([+-]?\d+(?:\.\d+)?)\s*dB\s*", value)
        decibels = min(float(match[1]), 12.0) if match else 0.0
    return 0.0 if decibels <= -96 else 10 ** (decibels / 20)


def looks_like_ssml(start: str) -> bool | None:
    """Whether text that begins so is a `<speak>` document; None while too little of it has come to say."""
    text = start.lstrip()
    if text.startswith("<?xml"):
        return True
    if text.startswith("<speak"):
        return None if len(text) == len("<speak") else text[len("<speak")] in " \t\r\n>/"
    return None if "<?xml".startswith(text) or "<speak".startswith(text) else False
