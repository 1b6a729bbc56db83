"""One request's speaking: sentences in, audio-start and audio-chunk events out.

The request (request.py) decides how the answer ends; this stage only speaks.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event

from .audio import CHANNELS, RATE, WIDTH, PcmFramer
from .engine import Engine, EngineAudio
from .figures import RequestFigures
from .translation import TranslationError, Translator
from .voices import Voice

_LOGGER = logging.getLogger(__name__)

WriteEvent = Callable[[Event], Awaitable[None]]
_END = None


class NothingToSayError(Exception):
    """No sentence of the request had anything to say."""


class Synthesis:
    """Speaks queued sentences in order while more may still be arriving.

    A one-shot request queues all its sentences at once; a streaming request
    queues each as soon as it is complete in the incoming text. `run` writes
    audio-start and the audio chunks, and returns once every sentence is spoken;
    it raises what stopped it (EngineError, TranslationError, NothingToSayError,
    ConnectionError, or any error of a broken engine).
    """

    def __init__(
        self,
        engine: Engine,
        voice: Voice,
        samples_per_chunk: int,
        write_event: WriteEvent,
        translator: Translator | None = None,
        choose_voice: Callable[[str], Awaitable[Voice]] | None = None,
    ) -> None:
        self.engine = engine
        self.translator = translator
        self.voice = voice
        self.audio_started = False
        self.figures = RequestFigures(voice.name, voice.language)
        self._choose_voice = choose_voice  # picks the voice from the first sentence's language
        self._write_event = write_event
        self._framer = PcmFramer(samples_per_chunk)
        self._sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self._text_ended = False
        self._begun = time.monotonic()

    def add(self, sentence: str) -> None:
        """Queue a complete sentence."""
        if self._text_ended:
            return
        self.figures.chars += len(sentence)
        self._sentences.put_nowait(sentence)

    def end_text(self) -> None:
        """No more sentences will come."""
        if not self._text_ended:
            self._text_ended = True
            self._sentences.put_nowait(_END)

    async def run(self) -> None:
        """Speak every sentence, then the framer's rest; audio-start is sent even for silence."""
        # Translation runs one sentence ahead: sentence n+1 is translated while n is spoken.
        ready: asyncio.Queue[str | BaseException | None] = asyncio.Queue(maxsize=1)
        translating = asyncio.create_task(self._translate_ahead(ready))
        try:
            number = 0
            while (sentence := await ready.get()) is not _END:
                ready.task_done()
                if isinstance(sentence, BaseException):
                    raise sentence
                number += 1
                _LOGGER.debug("Speaking sentence %d for %s: %r", number, self.voice.name, sentence)
                await self._speak(sentence)
                _LOGGER.debug("Spoke sentence %d", number)
        finally:
            translating.cancel()
        if number == 0:
            raise NothingToSayError("Nothing to say: the text is empty")
        for chunk in self._framer.flush():
            await self._send_audio(chunk)
        if not self.audio_started:
            await self._start_audio()

    async def _translate_ahead(self, ready: asyncio.Queue) -> None:
        number = 0
        try:
            while (sentence := await self._sentences.get()) is not _END:
                number += 1
                if self._choose_voice is not None:
                    # The request named no voice: the text's language picks one, and it needs no translating.
                    self.voice = await self._choose_voice(sentence)
                    self.figures.voice, self.figures.language = self.voice.name, self.voice.language
                    self._choose_voice = None
                    self.translator = None
                if self.translator is not None:
                    sentence = await self._translate(number, sentence)
                if not any(char.isalnum() for char in sentence):
                    _LOGGER.debug("Sentence %d has nothing to say after translation: skipped", number)
                    continue
                await ready.put(sentence)
                await ready.join()  # the speaker has taken it: translate the next meanwhile
            await ready.put(_END)
        except Exception as err:  # noqa: BLE001 - handed to the speaking side to report
            await ready.put(
                err if isinstance(err, TranslationError) else TranslationError(f"Translation failed: {err}")
            )

    async def _translate(self, number: int, sentence: str) -> str:
        assert self.translator is not None
        _LOGGER.debug("Translating sentence %d", number)
        translated = await self.translator.translate(sentence, self.voice.language)
        _LOGGER.debug("Translated sentence %d", number)
        if not translated.strip():
            _LOGGER.warning("Translation of sentence %d came out empty; speaking it untranslated", number)
            return sentence
        return translated

    async def _speak(self, sentence: str) -> None:
        began = time.monotonic()
        audio = self.engine.synthesize(sentence, self.voice.language, self.voice.speaker)
        async with contextlib.aclosing(audio):
            async for chunk in audio:
                if self.figures.engine_first_s is None:
                    self.figures.engine_first_s = time.monotonic() - began
                self.figures.engine_chunks.append(len(chunk.audio) // (chunk.width * chunk.channels))
                engine = chunk.engine if isinstance(chunk, EngineAudio) else self.engine.name
                if engine not in self.figures.engines:
                    self.figures.engines.append(engine)
                for framed in self._framer.add(chunk):
                    await self._send_audio(framed)

    async def _start_audio(self) -> None:
        self.audio_started = True
        await self._write_event(AudioStart(rate=RATE, width=WIDTH, channels=CHANNELS).event())

    async def _send_audio(self, chunk: AudioChunk) -> None:
        if not self.audio_started:
            self.figures.first_chunk_s = time.monotonic() - self._begun
            await self._start_audio()
        self.figures.audio_s += len(chunk.audio) / (WIDTH * CHANNELS * RATE)
        await self._write_event(chunk.event())
        # A write to a client that keeps up does not wait: give other connections their turn
        # after each chunk, or one fast stream holds the loop for a whole sentence.
        await asyncio.sleep(0)
