"""One request from its first text to its end: intake and state, speaking handed to speech.py, the answer to reply.py.

Every way a request ends is an `Outcome`; `finish` (from outside) or the request's own
task (when speaking ends) claims the end, and its reply writes it, exactly once. A
request refused before it speaks (unknown voice, too long, empty) is a request too:
it ends FAILED at once, with its log line and figures line like any other.
"""

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncGenerator

from wyoming.tts import SynthesizeVoice

from .echo import clip
from .engine import EngineError
from .figures import RequestFigures
from .intake import Sentence, TextIntake, chars_said
from .reply import NOTHING_TO_SAY, EventSink, Failure, Outcome, Reply, too_long
from .service import Service
from .speech import NothingToSayError, speak
from .translation import TranslationError
from .voices import Voice, VoiceNotFoundError

_LOGGER = logging.getLogger(__name__)


class State(enum.Enum):
    RECEIVING = "receiving"  # its text is still coming
    ALL_TEXT_IN = "all text in"  # its text has all come (it may be speaking still)
    ENDING = "ending"  # its closing events are being written: nothing may cut them
    ENDED = "ended"


class Request:
    """A one-shot request (`feed` once, then `end_text`) or a stream (text in pieces until its stop)."""

    def __init__(
        self,
        service: Service,
        outbox: EventSink,
        requested: SynthesizeVoice | None,
        streaming: bool,
        ssml: bool | None = None,
    ) -> None:
        """`ssml`: the client's text_format (True: SSML, False: text, None: unsaid, a `<speak>` document is SSML)."""
        settings = service.settings
        self.streaming = streaming
        self.state = State.RECEIVING
        self.outcome: Outcome | None = None
        self._max_chars = settings.max_text_chars
        self._chars = 0  # as received, against --max-text-chars
        self._sentence_chars = 0  # as split into sentences: what the figures count
        voice, refusal = _resolve(service, requested)
        # Clauses translate badly (no context): with a translator, the first unit stays a sentence.
        clause = settings.first_clause_chars if streaming and service.translator is None else 0
        language = voice.language if voice else service.catalog.default.language
        # An engine that says a sentence only once all of it is made starts sooner with a first clause apart.
        apart = service.engine.says_sentences_whole and service.translator is None and settings.first_clause_chars > 0
        self._intake = TextIntake(
            settings.max_sentence_chars, clause or None, settings.speakable, ssml, language, clause_apart=apart
        )
        self._sentences: asyncio.Queue[Sentence | None] = asyncio.Queue()
        self._ended = asyncio.Event()
        self._text_ended = False  # the client said its text has ended (a stream's stop)
        figures = RequestFigures(voice.name, voice.language) if voice else RequestFigures(_asked(requested), "")
        self.reply = Reply(outbox, streaming, figures, settings.samples_per_chunk, service.record)
        self._task = asyncio.create_task(self._run(service, voice, requested, refusal), name=f"request {figures.voice}")

    @property
    def receiving(self) -> bool:
        """Its text is still coming (for a stream: it is open)."""
        return self.state is State.RECEIVING

    @property
    def awaiting_stop(self) -> bool:
        """A stream whose client has not sent its stop yet, also when its answer has ended first (the text
        was too long): the rest of its text is dropped, quietly."""
        return self.streaming and not self._text_ended

    @property
    def done(self) -> bool:
        return self.state is State.ENDED

    async def feed(self, text: str) -> None:
        """A piece of the request's text; past --max-text-chars the request fails."""
        if not self.receiving:
            return  # the request has ended: the rest of its text is dropped unread
        self._chars += len(text)
        if self._chars > self._max_chars:
            await self.finish(Outcome.FAILED, too_long(self._chars, self._max_chars))
            return
        self._queue(self._intake.feed(text))

    def end_text(self) -> None:
        """No more text comes (a stream's stop)."""
        self._text_ended = True
        if not self.receiving:
            return
        self._queue(self._intake.flush())
        self._sentences.put_nowait(None)
        self.state = State.ALL_TEXT_IN

    def _queue(self, sentences: list[Sentence]) -> None:
        for sentence in sentences:
            self._sentence_chars += chars_said(sentence)
            self._sentences.put_nowait(sentence)

    async def _queued(self) -> AsyncGenerator[Sentence, None]:
        while (sentence := await self._sentences.get()) is not None:
            yield sentence

    async def wait(self) -> None:
        """Wait until the request has ended, however it ended."""
        await self._ended.wait()

    async def finish(self, outcome: Outcome, failure: Failure | None = None) -> None:
        """End the request now with `outcome`, unless it has ended, or is ending, already."""
        if not self._claim_end():
            await self.wait()  # its own end goes out whole
            return
        self._task.cancel()
        await asyncio.wait({self._task})  # never raises the task's cancel: only a cancel of ours
        await self._write_closing(outcome, failure)

    def _claim_end(self) -> bool:
        """Take the one right to write the request's end; False when another path has it."""
        if self.state in (State.ENDING, State.ENDED):
            return False
        self.state = State.ENDING
        return True

    async def _run(
        self, service: Service, voice: Voice | None, requested: SynthesizeVoice | None, refusal: Failure | None
    ) -> None:
        outcome, failure = (Outcome.FAILED, refusal) if voice is None else await self._speak(service, voice, requested)
        if self._claim_end():  # else `finish` ends it (a cancel that something swallowed)
            await self._write_closing(outcome, failure)

    async def _speak(
        self, service: Service, voice: Voice, requested: SynthesizeVoice | None
    ) -> tuple[Outcome, Failure | None]:
        names_none = requested is None or not (requested.name or requested.language)
        pick = service.voice_for_text if names_none and service.detector is not None else None
        translator = None if pick else service.translator
        try:
            audio = speak(self._queued(), voice, service.engine, translator, pick, service.reading)
            async with contextlib.aclosing(audio):
                async for chunk in audio:
                    await self.reply.audio(chunk)
        except ConnectionError:
            _LOGGER.info("Client of %s went away; synthesis stopped", self.reply.figures.voice)
            return Outcome.CLIENT_GONE, None
        except NothingToSayError:
            return Outcome.FAILED, NOTHING_TO_SAY
        except EngineError as err:
            return Outcome.FAILED, Failure(str(err), "engine-failed")
        except TranslationError as err:
            return Outcome.FAILED, Failure(str(err), "translation-failed")
        except Exception as err:  # a broken engine must not hang the client
            _LOGGER.exception("Synthesis with %s failed", service.engine.name)
            return Outcome.FAILED, Failure(f"Synthesis failed: {err}", "engine-failed")
        return Outcome.FINISHED, None

    async def _write_closing(self, outcome: Outcome, failure: Failure | None) -> None:
        self.outcome = outcome
        try:
            chars = self._sentence_chars or self._chars  # refused before splitting: as received
            await self.reply.write_closing(outcome, failure, chars)
        finally:
            self.state = State.ENDED
            self._ended.set()


def _resolve(service: Service, requested: SynthesizeVoice | None) -> tuple[Voice | None, Failure | None]:
    try:
        return service.catalog.resolve(requested), None
    except VoiceNotFoundError as err:
        return None, Failure(str(err), "voice-not-found", refused=True)


def _asked(requested: SynthesizeVoice | None) -> str:
    """The name of a voice asked for, as the figures may hold it."""
    return clip(requested.name or "") if requested else ""
