"""Sentence splitting of text that arrives in pieces cut anywhere.

Sentences are the unit of work: each is spoken as soon as it is complete in the
incoming text, so audio starts after the first sentence, not after the text.
"""

import re

DEFAULT_MAX_CHARS = 250

_CLOSERS = "\"')\\]}»”’」』）"
# A run of sentence-ending marks with any closing quotes or brackets, or a line break.
_CANDIDATE = re.compile(rf"[.!?…]+[{_CLOSERS}]*|[。！？]+[{_CLOSERS}]*|\n")
# Where an over-long sentence may be cut: after clause punctuation, else at a space.
_CLAUSE_CUT = re.compile(r"[,;:，、；：]\s")
_SPACES = re.compile(r"\s+")
# Control characters that are not white space (NUL, BEL, ESC...): nothing to say, and NUL
# would even cut espeak's text short.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")

# Words that end with a period without ending the sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e approx dept est fig inc ltd co "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "hr fr m.me mme mlle sra sr.a dipl ing bzw usw z.b d.h ca nr".split()
)


def _is_abbreviation(text_before: str) -> bool:
    """True when the word in front of a period is an abbreviation or an initial."""
    match = re.search(r"(\S+)$", text_before)
    if match is None:
        return False
    word = match.group(1).lstrip("\"'([{«“‘")
    if word.lower() in _ABBREVIATIONS:
        return True
    # An initial as in "J. R. R. Tolkien" (but "I." ends a sentence).
    return len(word) == 1 and word.isalpha() and word.isupper() and word != "I"


def _clean(sentence: str) -> str | None:
    """Fold white space; drop pieces with nothing to say (only punctuation)."""
    cleaned = _SPACES.sub(" ", sentence).strip()
    if not any(char.isalnum() for char in cleaned):
        return None
    return cleaned


class SentenceSplitter:
    """Turns text deltas into complete sentences, in order."""

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.max_chars = max_chars
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        """Add a delta; return the sentences it completed."""
        self._buffer += _CONTROL.sub("", text)
        return self._take(final=False)

    def flush(self) -> list[str]:
        """The text has ended: return what is left as sentences."""
        return self._take(final=True)

    def _take(self, final: bool) -> list[str]:
        sentences: list[str] = []
        while self._buffer:
            end = self._sentence_end(final)
            if end is None:
                break
            piece, self._buffer = self._buffer[:end], self._buffer[end:]
            sentence = _clean(piece)
            if sentence:
                sentences.append(sentence)
        return sentences

    def _sentence_end(self, final: bool) -> int | None:
        """Index just past the first sentence, or None while it is incomplete."""
        buffer = self._buffer
        end = self._boundary(final)
        if end is None and final:
            end = len(buffer)
        limit = len(buffer) if end is None else end
        if limit > self.max_chars:
            return self._cut(buffer[: self.max_chars + 1])
        return end

    def _boundary(self, final: bool) -> int | None:
        buffer = self._buffer
        for match in _CANDIDATE.finditer(buffer):
            end = match.end()
            if match.group() == "\n":
                return end
            if end == len(buffer):
                # The next delta may still bring "5" after "3." or a closing quote.
                return end if final else None
            if buffer[end].isspace():
                single_period = match.group().rstrip(_CLOSERS) == "."
                if single_period and _is_abbreviation(buffer[: match.start()]):
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


def split_sentences(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Split a whole text into sentences."""
    splitter = SentenceSplitter(max_chars)
    return splitter.feed(text) + splitter.flush()
