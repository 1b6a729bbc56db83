"""A request's text as it comes in, to the sentences its engine speaks.

Plain text is an answer that may be written in markdown (speakable.py makes it speakable); a `<speak>` document
(text_format `ssml`, or text that begins with `<speak`) is read as SSML (ssml.py). Either way the text is split
into sentences as it comes (splitter.py). A sentence of SSML is `Marked`: spoken as written, never translated
(its markup says how to read it in the voice's language), in its style, and a break is a `Marked` of silence.
"""

from dataclasses import dataclass

from .normalise import words_for
from .phonemes import said_and_rest, unmarked
from .speakable import SpeakableText
from .splitter import SentenceSplitter
from .ssml import PLAIN, Pause, SsmlReader, Style, looks_like_ssml


@dataclass(frozen=True)
class Marked:
    """A sentence of an SSML document, or (`text` empty) a pause of `pause_ms`."""

    text: str
    style: Style = PLAIN
    pause_ms: int = 0


Sentence = str | Marked


def chars_said(sentence: Sentence) -> int:
    """The sentence's characters, less a first clause said before it (`first_clause_apart`): what figures count."""
    return len(said_and_rest(sentence if isinstance(sentence, str) else sentence.text)[1])


class TextIntake:
    """One request's text, delta by delta, to sentences. `ssml`: the client's text_format said so (True or
    False), or it did not (None: the text's beginning decides). `language`: the voice's, for SSML's say-as."""

    def __init__(
        self,
        max_sentence_chars: int,
        first_clause_chars: int | None,
        markdown: bool,
        ssml: bool | None,
        language: str,
        clause_apart: bool = False,
    ) -> None:
        self._splitter = SentenceSplitter(max_sentence_chars, first_clause_chars, clause_apart)
        self._speakable = SpeakableText() if markdown else None
        self._language = language
        self._ssml: SsmlReader | None = None
        self._asked = ssml
        self._deciding = ssml is not False
        self._start = ""  # while deciding: the text so far
        self._wrapped = False  # SSML asked for, its text not a document: read as if between <speak> and </speak>
        self._style = PLAIN

    def feed(self, text: str) -> list[Sentence]:
        if self._deciding:
            self._start += text
            if (document := looks_like_ssml(self._start)) is None:
                return []
            text = self._decide(document)
        return self._fed(text)

    def flush(self) -> list[Sentence]:
        """The text has ended: what is left of it."""
        sentences = self._fed(self._decide(document=False)) if self._deciding else []
        if self._ssml is not None:
            ending = self._ssml.feed("</speak>") if self._wrapped else []
            return sentences + self._read(ending + self._ssml.flush()) + self._ended()
        rest = self._speakable.flush() if self._speakable is not None else ""
        return [*sentences, *self._splitter.feed(unmarked(rest)), *self._splitter.flush()]

    def _decide(self, document: bool) -> str:
        """SSML or not, now that the text's beginning says (or the text ended first); the text held till now."""
        text, self._start, self._deciding = self._start, "", False
        if document or self._asked:
            self._ssml = SsmlReader(words_for(self._language))
            self._wrapped = not document
            return text if document else f"<speak>{text}"
        return text

    def _fed(self, text: str) -> list[Sentence]:
        if self._ssml is not None:
            return self._read(self._ssml.feed(text))
        if self._speakable is not None:
            text = self._speakable.feed(text)
        return list(self._splitter.feed(unmarked(text)))

    def _read(self, pieces: list[str | Style | Pause]) -> list[Sentence]:
        sentences: list[Sentence] = []
        for piece in pieces:
            if isinstance(piece, str):
                sentences += [Marked(text, self._style) for text in self._splitter.feed(piece)]
                continue
            sentences += self._ended()  # a change of style or a pause ends the sentence
            if isinstance(piece, Style):
                self._style = piece
            elif piece.ms:
                sentences.append(Marked("", self._style, piece.ms))
        return sentences

    def _ended(self) -> list[Sentence]:
        return [Marked(text, self._style) for text in self._splitter.flush()]
