"""Sentence splitting of text that arrives in pieces cut anywhere.

Sentences are the unit of work: each is spoken as soon as it is complete in the
incoming text, so audio starts after the first sentence, not after the text.
"""

import logging
import re

from .phonemes import after_said

_LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 250
# A first clause this long sounds like a phrase of its own, not a word cut off.
DEFAULT_FIRST_CLAUSE_CHARS = 40
# A clause said apart from its sentence holds at least this much ("Yes, ..." is not).
FIRST_CLAUSE_APART_CHARS = 16

_CLOSERS = "\"')\\]}»”’」』）"
# A run of sentence-ending marks with any closing quotes or brackets, or a line break.
_CANDIDATE = re.compile(rf"[.!?…]+[{_CLOSERS}]*|[。！？]+[{_CLOSERS}]*|\n")
# Where an over-long sentence may be cut: after clause punctuation, else at a space.
_CLAUSE_CUT = re.compile(r"[,;:，、；：]\s")
# Where a first clause may end early: clause punctuation or a dash between spaces, then a
# space (which must have arrived: "3,5" and "well-known" are no boundaries).
_CLAUSE_BREAK = re.compile(r"[,;:，、；：]\s|\s[-–—]\s")
_SPACES = re.compile(r"\s+")
# Control characters that are not white space (NUL, BEL, ESC...): nothing to say, and NUL
# would even cut espeak's text short. U+FFFD stands where a lone surrogate was.
_UNSPEAKABLE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ufffd]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# Words that end with a period without ending the sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e approx dept est fig inc ltd co "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "hr fr m.me mme mlle sra sr.a dipl ing bzw usw z.b d.h ca nr".split()
)


# No abbreviation or initial is longer than this: a period's word is looked for this far back only,
# so that each period costs the same however long the text before it (a text of "J. " x 4000 was quadratic).
_LONGEST_WORD = 32


def _is_abbreviation(text: str, period: int, start: int) -> bool:
    """True when the word in front of the period at `period` is an abbreviation or an initial."""
    match = re.search(r"(\S+)$", text[max(start, period - _LONGEST_WORD) : period])
    if match is None:
        return False
    word = match.group(1).lstrip("\"'([{«“‘")
    if word.lower() in _ABBREVIATIONS:
        return True
    # An initial as in "J. R. R. Tolkien" (but "I." ends a sentence).
    return len(word) == 1 and word.isalpha() and word.isupper() and word != "I"


def has_words(text: str) -> bool:
    """Whether there is anything to say in `text` (punctuation and space alone are silence)."""
    return any(char.isalnum() for char in text)


def _clean(sentence: str) -> str | None:
    """Fold white space; drop pieces with nothing to say (only punctuation)."""
    cleaned = _SPACES.sub(" ", sentence).strip()
    if not has_words(cleaned):
        if cleaned:
            _LOGGER.debug("Skipping %r: nothing to say", cleaned[:40])
        return None
    return cleaned


def _valid_code_points(text: str) -> str:
    """Surrogate pairs joined into their characters, lone surrogates (valid JSON, invalid text) dropped."""
    if _SURROGATE.search(text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _UNSPEAKABLE.sub("", text)


def delta_code_points(held: str, delta: str) -> tuple[str, str]:
    """A delta's valid text, and the first half of an emoji whose second half is in the next delta
    (JSON's "\\ud83d\\ude42" cut in two arrives as two lone surrogates): hold it, with `held` before it."""
    text = held + delta
    if text and "\ud800" <= text[-1] <= "\udbff":
        return _valid_code_points(text[:-1]), text[-1]
    return _valid_code_points(text), ""


class SentenceSplitter:
    """Turns text deltas into complete sentences, in order.

    With `first_clause_chars`, the text's first sentence may be released at its first
    clause boundary (comma, semicolon, colon, dash) once it holds that many characters, so
    that speech starts while an LLM is still writing a long first sentence. Later text keeps
    whole sentences, which sound better.
    """

    def __init__(
        self, max_chars: int = DEFAULT_MAX_CHARS, first_clause_chars: int | None = None, clause_apart: bool = False
    ) -> None:
        """`clause_apart`: the first sentence is given as its first clause and the rest (`first_clause_apart`)."""
        self.max_chars = max_chars
        self._first_clause_chars = first_clause_chars  # None once the first piece is out
        self._clause_apart = clause_apart  # False once the first sentence is out
        self._buffer = ""
        self._high_surrogate = ""  # the first half of an emoji whose second half is in the next delta

    def feed(self, text: str) -> list[str]:
        """Add a delta; return the sentences it completed."""
        text, self._high_surrogate = delta_code_points(self._high_surrogate, text)
        self._buffer += text
        return self._take(final=False)

    def flush(self) -> list[str]:
        """The text has ended: return what is left as sentences."""
        self._high_surrogate = ""
        return self._take(final=True)

    def _take(self, final: bool) -> list[str]:
        # Sentences are found by position and the buffer is cut once: linear in the text.
        buffer = self._buffer
        sentences: list[str] = []
        start = 0
        while start < len(buffer):
            end = self._sentence_end(buffer, start, final)
            if end is None:
                break
            sentence = _clean(buffer[start:end])
            if sentence:
                sentences += first_clause_apart(sentence) if self._clause_apart else [sentence]
                self._clause_apart = False
            start = end
        self._buffer = buffer[start:]
        return sentences

    def _sentence_end(self, buffer: str, start: int, final: bool) -> int | None:
        """Index just past the sentence that begins at `start`, or None while it is incomplete."""
        end = self._boundary(buffer, start, final)
        if end is None and final:
            end = len(buffer)
        limit = len(buffer) if end is None else end
        if limit - start > self.max_chars:
            end = start + self._cut(buffer[start : start + self.max_chars + 1])
        elif end is None and self._first_clause_chars is not None:
            end = self._first_clause_end(buffer, start, self._first_clause_chars)
        if self._first_clause_chars is not None and end is not None and any(c.isalnum() for c in buffer[start:end]):
            self._first_clause_chars = None  # something is said: the rest goes by sentences
        return end

    def _first_clause_end(self, buffer: str, start: int, min_chars: int) -> int | None:
        """Index just past the first clause boundary at least `min_chars` into the sentence, if any."""
        match = _CLAUSE_BREAK.search(buffer, start + min_chars - 1, start + self.max_chars + 1)
        return None if match is None else match.end() - 1

    def _boundary(self, buffer: str, start: int, final: bool) -> int | None:
        # Only the first max_chars matter: a sentence longer than that is cut anyway.
        for match in _CANDIDATE.finditer(buffer, start, start + self.max_chars + 1):
            end = match.end()
            if match.group() == "\n":
                return end
            if end == len(buffer):
                # The next delta may still bring "5" after "3." or a closing quote.
                return end if final else None
            if buffer[end].isspace():
                single_period = match.group().rstrip(_CLOSERS) == "."
                if single_period and _is_abbreviation(buffer, match.start(), start):
                    continue
                return end
            if match.group()[0] in "。！？":
                # CJK text runs on without a space after the full stop.
                return end
        return None

    def _cut(self, window: str) -> int:
        """Where to cut a sentence too long to speak in one go."""
        clause_ends = [match.end() for match in _CLAUSE_CUT.finditer(window)]
        if clause_ends:
            return clause_ends[-1]
        space = max(window.rfind(" "), window.rfind("\n"))
        if space > 0:
            return space + 1
        return self.max_chars


def first_clause_apart(sentence: str, min_chars: int = FIRST_CLAUSE_APART_CHARS) -> list[str]:
    """The sentence as its first clause and the rest, when both hold `min_chars`: an engine that speaks a
    sentence in one go (Piper) starts sooner with a clause said on its own; the clause keeps its comma, so it
    is said as a clause, not as a sentence's end. The rest carries the clause (`after_said`): said alone it
    would begin a new utterance, and a recognizer hears it worse."""
    match = _CLAUSE_BREAK.search(sentence, min_chars - 1)
    if match is None or len(sentence) - match.end() < min_chars:
        return [sentence]
    cut = match.end() - 1
    clause = sentence[:cut].rstrip()
    return [clause, after_said(clause, sentence[cut:].lstrip())]


def split_sentences(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Split a whole text into sentences."""
    splitter = SentenceSplitter(max_chars)
    return splitter.feed(text) + splitter.flush()
