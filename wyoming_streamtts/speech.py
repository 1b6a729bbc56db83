"""One request's speaking as a pure stream: sentences in, audio out, in stages.

The stages: the voice (picked from the first sentence's language when the request
named none), translation one sentence ahead of the engine, and the engine. Nothing
here writes to a client or keeps state between requests: the request (request.py)
hands each chunk to its reply (reply.py).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from wyoming.audio import AudioChunk

from .audio import CHANNELS, RATE, WIDTH
from .chunk_planner import Playout
from .engine import Engine, EngineAudio
from .intake import Marked, Sentence, chars_said
from .lexicon import Lexicon
from .normalise import Normaliser
from .prosody import Stretch, louder
from .splitter import has_words
from .ssml import PLAIN, Style
from .translation import Translation, TranslationError, Translator
from .voices import Voice

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
PickVoice = Callable[[str], Awaitable[Voice]]
_NO_MORE = object()


@dataclass(frozen=True, eq=False)
class ReadySentence:
    """A sentence ready for the engine: in its voice's language, and how it got there (its chunks share it)."""

    voice: Voice
    text: str
    chars: int  # as it came, before translation
    translation: str  # how it reached the voice's language ("" without a translator)
    ready_at: float  # time.monotonic() when it was ready
    style: Style = PLAIN  # SSML's prosody
    pause_ms: int = 0  # silence after it (an SSML break)


@dataclass
class SpokenAudio(EngineAudio):
    """A chunk of a request's speech, with the voice that spoke it and how long its sentence's engine took to it."""

    voice: str = ""
    language: str = ""
    engine_s: float = 0.0  # from its sentence reaching the engine to this chunk
    sentence: ReadySentence | None = None  # the sentence it speaks


class NothingToSayError(Exception):
    """No sentence of the request had anything to say."""


@dataclass(frozen=True)
class Reading:
    """How a sentence in its voice's language is read: numbers and units in words, then the lexicon's words;
    and the voice an SSML `xml:lang` asks for, given the request's (None: the request's voice says it)."""

    normaliser: Normaliser | None = None
    lexicon: Lexicon | None = None
    voice_in: Callable[[str, Voice], Voice | None] | None = None

    def voice_of(self, sentence: Marked, voice: Voice) -> Voice:
        """The voice an SSML sentence's language asks for, else the request's."""
        language = sentence.style.language
        return (self.voice_in(language, voice) if language and self.voice_in is not None else None) or voice

    def text(self, text: str, language: str) -> str:
        if self.normaliser is not None:
            text = self.normaliser.normalise(text, language)
        return self.lexicon.apply(text, language) if self.lexicon is not None else text


async def speak(
    sentences: AsyncIterator[Sentence],
    voice: Voice,
    engine: Engine,
    translator: Translator | None = None,
    pick_voice: PickVoice | None = None,
    reading: Reading | None = None,
) -> AsyncGenerator[SpokenAudio, None]:
    """Every sentence spoken in order, as it comes: the engine's chunks at its own rate.

    Raises what stopped it: EngineError, TranslationError, NothingToSayError, or any error
    of a broken engine. Closing the stream stops the engine at its next chunk.
    """
    spoken = 0
    playout = Playout()  # the answer's audio that the client has yet to play, for the next sentence's engine
    ready = _one_ahead(_prepared(sentences, voice, translator, pick_voice, reading or Reading()))
    async with contextlib.aclosing(ready):
        async for sentence in ready:
            spoken += 1
            sentence_voice = sentence.voice
            _LOGGER.debug("Speaking sentence %d for %s: %r", spoken, sentence_voice.name, sentence.text)
            began = time.monotonic()
            made_by = (engine.name, "")
            audio = _sentence_audio(engine, sentence, playout.ahead())
            async with contextlib.aclosing(audio):
                async for chunk in audio:
                    playout.add(chunk.seconds)
                    # The chain says which of its engines spoke, and XTTS where it had the voice from.
                    if isinstance(chunk, EngineAudio):
                        made_by = (chunk.engine, chunk.voice_from)
                    yield SpokenAudio(
                        chunk.rate, chunk.width, chunk.channels, chunk.audio,
                        engine=made_by[0], voice_from=made_by[1],
                        voice=sentence_voice.name, language=sentence_voice.language,
                        engine_s=time.monotonic() - began, sentence=sentence,
                    )  # fmt: skip
            _LOGGER.debug("Spoke sentence %d", spoken)
    if spoken == 0:
        raise NothingToSayError("Nothing to say: the text is empty")


async def _prepared(
    sentences: AsyncIterator[Sentence],
    voice: Voice,
    translator: Translator | None,
    pick_voice: PickVoice | None,
    reading: Reading,
) -> AsyncGenerator[ReadySentence, None]:
    """Each sentence with the voice that speaks it, translated into the voice's language (an SSML sentence is
    spoken as written), read in words of that language; silent ones left out."""
    number = 0
    try:
        async for sentence in sentences:
            number += 1
            if isinstance(sentence, Marked):  # SSML: as written, by a voice of the language its markup names
                marked, how, chars = sentence, "", chars_said(sentence)
                said_by = reading.voice_of(sentence, voice)
            else:
                if pick_voice is not None and number == 1:
                    # The request named no voice: the text's language picks one, and it needs no translating.
                    voice, translator = await pick_voice(sentence), None
                text, how = (
                    (sentence, "") if translator is None else await _translate(translator, number, sentence, voice)
                )
                marked, chars, said_by = Marked(text), chars_said(sentence), voice
            says = has_words(marked.text)
            if not says and not marked.pause_ms:
                _LOGGER.debug("Sentence %d has nothing to say after translation: skipped", number)
                continue
            text = reading.text(marked.text, said_by.language) if says else ""
            yield ReadySentence(said_by, text, chars, how, time.monotonic(), marked.style, marked.pause_ms)
    except TranslationError:
        raise
    except Exception as err:  # a broken detector or translator fails the request, named as translation
        raise TranslationError(f"Translation failed: {err}") from err


async def _sentence_audio(engine: Engine, sentence: ReadySentence, ahead_s: float) -> AsyncGenerator[AudioChunk, None]:
    """A sentence's audio, and then its pause."""
    if sentence.text:
        said = _said(engine, sentence, ahead_s)
        async with contextlib.aclosing(said):
            async for chunk in said:
                yield chunk
    if sentence.pause_ms > 0:
        yield AudioChunk(RATE, WIDTH, CHANNELS, bytes(RATE * sentence.pause_ms // 1000 * WIDTH * CHANNELS))


async def _said(engine: Engine, sentence: ReadySentence, ahead_s: float) -> AsyncGenerator[AudioChunk, None]:
    """The engine's audio of a sentence, at its SSML rate and volume."""
    style = sentence.style
    audio = engine.synthesize(sentence.text, sentence.voice.language, sentence.voice.speaker, ahead_s)
    stretch: Stretch | None = None
    last: AudioChunk | None = None
    async with contextlib.aclosing(audio):
        async for chunk in audio:
            if style == PLAIN:
                yield chunk
                continue
            if stretch is None and style.rate != 1.0:
                stretch = Stretch(chunk.rate, style.rate)
            last = chunk
            pcm = stretch.add(chunk.audio) if stretch is not None else chunk.audio
            if pcm:
                yield replace(chunk, audio=louder(pcm, style.volume))
    if stretch is not None and last is not None and (rest := stretch.finish()):
        yield replace(last, audio=louder(rest, style.volume))


async def _translate(translator: Translator, number: int, sentence: str, voice: Voice) -> Translation:
    _LOGGER.debug("Translating sentence %d", number)
    translated = await translator.translate(sentence, voice.language)
    _LOGGER.debug("Translated sentence %d", number)
    if not translated.text.strip():
        _LOGGER.warning("Translation of sentence %d came out empty; speaking it untranslated", number)
        return Translation(sentence, "came out empty")
    return translated


async def _one_ahead(source: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """`source`'s items, the next one made while this one is used (sentence n+1 translated while n is spoken)."""
    ready: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
    pulling = asyncio.create_task(_pull(source, ready))
    try:
        while (item := await ready.get()) is not _NO_MORE:
            ready.task_done()  # taken: the next one is made meanwhile
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        pulling.cancel()


async def _pull(source: AsyncGenerator[T, None], ready: asyncio.Queue[object]) -> None:
    try:
        async with contextlib.aclosing(source):
            async for item in source:
                await ready.put(item)
                await ready.join()
        await ready.put(_NO_MORE)
    except Exception as err:  # noqa: BLE001 - handed to the speaking side to raise
        await ready.put(err)
