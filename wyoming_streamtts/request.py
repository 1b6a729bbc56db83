"""One request from its first text to its end: intake, speaking, and the closing events, written once.

Every way a request ends is an `Outcome`; `finish` (from outside) or the request's
own task (when speaking ends) writes that outcome's closing events, exactly once.
"""

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from wyoming.audio import AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import SynthesizeStopped

from .engine import Engine, EngineError
from .figures import FiguresFile, RequestFigures
from .settings import ServerSettings
from .speakable import SpeakableText
from .splitter import SentenceSplitter
from .synthesis import NothingToSayError, Synthesis
from .translation import TranslationError, Translator
from .voices import Voice
from .wire import clip

_LOGGER = logging.getLogger(__name__)


class Outcome(enum.Enum):
    FINISHED = "finished"
    FAILED = "failed"  # the engine, the translator or the text: the client gets an `error`
    REPLACED = "replaced"  # a new request on the connection
    CLIENT_GONE = "client gone"
    SERVER_STOPPING = "server stopping"


class State(enum.Enum):
    RECEIVING = "receiving"  # a stream whose text is still coming
    SPEAKING = "speaking"  # all its text is in
    ENDING = "ending"  # its closing events are being written: nothing may cut them
    ENDED = "ended"


@dataclass(frozen=True)
class Failure:
    """The `error` event a failed request ends with."""

    text: str
    code: str
    by_client: bool = False  # the client's doing (too much text, a silent stream): logged as a warning


SERVER_STOPPING = Failure("The server is shutting down", "server-stopping")


class Shared(Protocol):
    """What every request of a server shares (handler.ServerConfig)."""

    settings: ServerSettings
    engine: Engine
    translator: Translator | None
    figures: FiguresFile | None


class Client(Protocol):
    """What a request needs of its connection."""

    async def write_event(self, event: Event) -> None:
        """Write one event (raises ConnectionError when the client is gone)."""

    async def end_failed_stream(self) -> None:
        """End the connection's answer so that no client keeps a failed stream's audio."""

    def close(self) -> None:
        """Close the connection (after a failed one-shot request)."""


class Request:
    """A one-shot request (all its text at once) or a stream (text in pieces until its stop).

    Closing events by outcome: FINISHED: audio-stop (and synthesize-stopped when
    streaming). FAILED and SERVER_STOPPING: `error`; when streaming, audio-stop if audio
    had started and the failed-stream ending; one-shot, the connection is closed so that
    Home Assistant reports the failure instead of caching a broken answer. REPLACED and
    CLIENT_GONE: audio-stop if audio had started.
    """

    def __init__(
        self,
        shared: Shared,
        voice: Voice,
        client: Client,
        streaming: bool,
        choose_voice: Callable[[str], Awaitable[Voice]] | None = None,
    ) -> None:
        self.settings = settings = shared.settings
        self.engine = shared.engine
        self._figures_file = shared.figures
        translator = shared.translator
        self.streaming = streaming
        self.state = State.RECEIVING if streaming else State.SPEAKING
        self.outcome: Outcome | None = None
        self._client = client
        self._chars = 0
        self._splitter: SentenceSplitter | None = None
        self._speakable = SpeakableText() if settings.speakable else None
        if streaming:
            # Clauses translate badly (no context): with a translator, the first unit stays a sentence.
            clause = settings.first_clause_chars if translator is None else 0
            self._splitter = SentenceSplitter(settings.max_sentence_chars, clause or None)
        self._synthesis = Synthesis(
            self.engine, voice, settings.samples_per_chunk, client.write_event, translator, choose_voice
        )
        self._ended = asyncio.Event()
        self._begun = time.monotonic()
        self._task = asyncio.create_task(self._run(), name=f"request {voice.name}")

    @property
    def figures(self) -> RequestFigures:
        return self._synthesis.figures

    @property
    def receiving(self) -> bool:
        """A stream is open: its text is still coming."""
        return self.state is State.RECEIVING

    @property
    def done(self) -> bool:
        return self.state is State.ENDED

    def add_sentences(self, sentences: list[str]) -> None:
        """A one-shot request's text, already split: all of it."""
        for sentence in sentences:
            self._synthesis.add(sentence)
        self._synthesis.end_text()

    async def feed(self, text: str) -> None:
        """A piece of a stream's text; past --max-text-chars the request fails."""
        if self._splitter is None or not self.receiving:
            return  # the stream has ended: the rest of its text is dropped unread
        self._chars += len(text)
        if self._chars > self.settings.max_text_chars:
            await self.finish(Outcome.FAILED, too_long(self._chars, self.settings.max_text_chars))
            return
        if self._speakable is not None:
            text = self._speakable.feed(text)
        for sentence in self._splitter.feed(text):
            self._synthesis.add(sentence)

    def end_text(self) -> None:
        """The stream's stop: no more text comes."""
        if self._splitter is None or not self.receiving:
            return
        rest = self._speakable.flush() if self._speakable is not None else ""
        for sentence in self._splitter.feed(rest) + self._splitter.flush():
            self._synthesis.add(sentence)
        self._synthesis.end_text()
        self.state = State.SPEAKING

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
        await self._end(outcome, failure)

    def _claim_end(self) -> bool:
        """Take the one right to write the request's end; False when another path has it."""
        if self.state in (State.ENDING, State.ENDED):
            return False
        self.state = State.ENDING
        return True

    async def _run(self) -> None:
        outcome, failure = Outcome.FINISHED, None
        try:
            await self._synthesis.run()
        except ConnectionError:
            _LOGGER.info("Client of %s went away; synthesis stopped", self._synthesis.voice.name)
            outcome = Outcome.CLIENT_GONE
        except NothingToSayError as err:
            outcome, failure = Outcome.FAILED, Failure(str(err), "empty-text")
        except EngineError as err:
            outcome, failure = Outcome.FAILED, Failure(str(err), "engine-failed")
        except TranslationError as err:
            outcome, failure = Outcome.FAILED, Failure(str(err), "translation-failed")
        except Exception as err:  # a broken engine must not hang the client
            _LOGGER.exception("Synthesis with %s failed", self.engine.name)
            outcome, failure = Outcome.FAILED, Failure(f"Synthesis failed: {err}", "engine-failed")
        if self._claim_end():  # else `finish` ends it (a cancel that something swallowed)
            await self._end(outcome, failure)

    async def _end(self, outcome: Outcome, failure: Failure | None = None) -> None:
        """Write the closing events of `outcome`: the one place they are written, by whoever claimed the end."""
        self.outcome = outcome
        self.figures.outcome = outcome.value
        self.figures.wall_s = time.monotonic() - self._begun
        try:
            if outcome is Outcome.FINISHED:
                await self._write_finished()
            elif outcome in (Outcome.REPLACED, Outcome.CLIENT_GONE):
                if self._synthesis.audio_started:
                    with contextlib.suppress(ConnectionError):
                        await self._client.write_event(AudioStop().event())
            else:
                await self._write_failed(failure or SERVER_STOPPING)
        finally:
            # Also when the closing events could not go out (a client dropped at the stop's bound).
            if self._figures_file is not None:
                self._figures_file.record(self.figures)
            self.state = State.ENDED
            self._ended.set()

    async def _write_finished(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._client.write_event(AudioStop().event())
            _LOGGER.info("Spoke %s", self.figures.describe(self.engine.name))
            if self.streaming:
                await self._client.write_event(SynthesizeStopped().event())

    async def _write_failed(self, failure: Failure) -> None:
        text = clip(failure.text, 2000)
        if failure.by_client:
            _LOGGER.warning("Request refused (%s): %s", failure.code, text)
        else:
            _LOGGER.error("Synthesis with voice %s failed: %s", self._synthesis.voice.name, text)
        with contextlib.suppress(ConnectionError):
            await self._client.write_event(Error(text=text, code=failure.code).event())
            if self.streaming and self._synthesis.audio_started:
                await self._client.write_event(AudioStop().event())
        if self.streaming:
            await self._client.end_failed_stream()
        else:
            self._client.close()


def too_long(chars: int, limit: int) -> Failure:
    text = f"The text is too long: {chars} characters, at most {limit} (--max-text-chars)"
    return Failure(text, "text-too-long", by_client=True)
