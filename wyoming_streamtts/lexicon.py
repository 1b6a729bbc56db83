"""Pronunciation lexicons: per language, a word or phrase and how to say it, in `DATA_DIR/lexicon/<language>.txt`.

One entry a line, `#` starts a comment:

    Nguyen = win
    Siobhan = /ʃɪˈvɔːn/
    US == you ess

`=` matches whole words in any case, `==` only as written. Between slashes is IPA, which Piper and eSpeak NG
speak; other engines say the word as written. A file is read again when it changes (its size or time), checked
at each sentence: a stat, a few microseconds. The lexicon sees a sentence in its voice's language, after its
numbers and units are words.
"""

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .phonemes import mark

_LOGGER = logging.getLogger(__name__)

_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
_LINE = re.compile(r"(?P<phrase>[^=]*?)\s*(?P<eq>==?)\s*(?P<say>.*)")
MAX_BYTES = 256 * 1024


class LexiconError(ValueError):
    """A lexicon that cannot be read; the message names the line."""


@dataclass(frozen=True)
class Entry:
    phrase: str
    say: str  # words, or IPA when `ipa`
    ipa: bool
    match_case: bool


def parse(text: str) -> list[Entry]:
    """A lexicon file's entries; raises LexiconError naming the first bad line."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None or not match["phrase"] or not match["say"]:
            raise LexiconError(f"Line {number}: write it as `word = how to say it` (or `word == …` to match case)")
        say = match["say"].strip()
        ipa = len(say) > 2 and say.startswith("/") and say.endswith("/")
        if "=" in say:
            raise LexiconError(f"Line {number}: one `=` (or `==`) a line")
        entries.append(Entry(match["phrase"], say[1:-1].strip() if ipa else say, ipa, match["eq"] == "=="))
    return entries


class _Table:
    """One language's entries, compiled."""

    def __init__(self, entries: list[Entry], stamp: tuple[int, int]) -> None:
        self.stamp = stamp
        self._exact = {entry.phrase: entry for entry in entries if entry.match_case}
        self._any = {entry.phrase.casefold(): entry for entry in entries if not entry.match_case}
        self._patterns = [
            re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", flags)
            for table, flags in ((self._exact, 0), (self._any, re.IGNORECASE))
            if (alternatives := "|".join(re.escape(p) for p in sorted(table, key=len, reverse=True)))
        ]

    def apply(self, text: str) -> str:
        for pattern in self._patterns:
            text = pattern.sub(self._say, text)
        return text

    def _say(self, match: re.Match[str]) -> str:
        entry = self._exact.get(match[0]) or self._any.get(match[0].casefold())
        if entry is None:  # IGNORECASE matched where casefold differs (ß and SS): left as written
            return match[0]
        return mark(entry.say, match[0]) if entry.ipa else entry.say


class Lexicon:
    """The lexicons of a folder (which need not exist); read, and written by the web page."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._tables: dict[str, _Table] = {}

    def apply(self, text: str, language: str) -> str:
        table = self._table(language)
        return table.apply(text) if table is not None else text

    def languages(self) -> list[str]:
        """The languages that have a lexicon file."""
        if not self.folder.is_dir():
            return []
        return sorted(path.stem for path in self.folder.glob("*.txt") if _LANGUAGE.fullmatch(path.stem))

    def read(self, language: str) -> str:
        """A language's file as written ("" when it has none)."""
        try:
            return self._path(language).read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def write(self, language: str, text: str) -> int:
        """Check and keep a language's lexicon (whole, atomically); the number of entries. Raises LexiconError."""
        if len(text.encode("utf-8")) > MAX_BYTES:
            raise LexiconError(f"A lexicon may hold {MAX_BYTES // 1024} KB at most")
        entries = parse(text)
        path = self._path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".txt.new")
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
        _LOGGER.info("Lexicon of %s: %d entries", language, len(entries))
        return len(entries)

    def _path(self, language: str) -> Path:
        if not _LANGUAGE.fullmatch(language):
            raise LexiconError(f"Not a language code: {language[:20]!r}")
        return self.folder / f"{language}.txt"

    def _table(self, language: str) -> _Table | None:
        try:
            status = self._path(language).stat()
        except (OSError, LexiconError):
            self._tables.pop(language, None)
            return None
        stamp = (status.st_mtime_ns, status.st_size)
        known = self._tables.get(language)
        if known is None or known.stamp != stamp:
            known = self._load(language, stamp)
        return known

    def _load(self, language: str, stamp: tuple[int, int]) -> _Table:
        try:
            if stamp[1] > MAX_BYTES:
                raise LexiconError(f"larger than {MAX_BYTES // 1024} KB")
            entries = parse(self.read(language))
        except (OSError, UnicodeDecodeError, LexiconError) as err:
            # Kept, empty, until the file changes again: one warning, not one a sentence.
            _LOGGER.warning("Lexicon %s not used: %s", self._path(language), err)
            entries = []
        else:
            _LOGGER.info("Lexicon of %s read: %s", language, self._path(language))
        self._tables[language] = table = _Table(entries, stamp)
        return table
