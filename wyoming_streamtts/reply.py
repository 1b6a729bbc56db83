"""What goes back to a client: the connection's writing side, and one request's answer on it.

`Outbox` is a connection's writing side: the write timeout, and the failed-stream ending
after which nothing more is written. `Reply` is one request's answer through it, and the
only place a request's events are written: audio-start once, the audio cut into fixed
chunks, the request's figures, and the closing events of its `Outcome`.
"""

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.tts import SynthesizeStopped

from .audio import CHANNELS, RATE, WIDTH, PcmFramer
from .echo import clip, describe_event
from .figures import RequestFigures, SentenceFigures
from .speech import ReadySentence, SpokenAudio

_LOGGER = logging.getLogger(__name__)

# The header of a synthesize-stopped whose announced data never comes: see Outbox.cut_off_failed_stream.
CUT_OFF_STOPPED = b'{"type": "synthesize-stopped", "data_length": 2}\n'


class Outcome(enum.Enum):
    FINISHED = "finished"
    FAILED = "failed"  # refused, or the engine, the translator or the text failed: the client gets an `error`
    REPLACED = "replaced"  # a new request on the connection
    CLIENT_GONE = "client gone"
    SERVER_STOPPING = "server stopping"


@dataclass(frozen=True)
class Failure:
    """The `error` event a failed request (or a refused event) ends with."""

    text: str
    code: str
    refused: bool = False  # a refusal (too much text, a silent stream, the server stopping): logged as a warning
    lasting: bool = False
    """The same text fails the same way every time (too long, nothing to say): an answer Home Assistant caches
    is what it would get again, so a stream ends as a stream does, after its `error`, not cut off."""

    @property
    def shown(self) -> str:
        """The text as the client and the log get it: client strings in it are cut already; this is the safety net."""
        return clip(self.text, 2000)

    def event(self) -> Event:
        return Error(text=self.shown, code=self.code).event()


SERVER_STOPPING = Failure("The server is shutting down", "server-stopping")
REFUSED_WHILE_STOPPING = Failure(
    SERVER_STOPPING.text, SERVER_STOPPING.code, refused=True
)  # a request that came too late
NOTHING_TO_SAY = Failure("Nothing to say: the text is empty", "empty-text", refused=True, lasting=True)


def too_long(chars: int, limit: int) -> Failure:
    text = f"The text is too long: {chars} characters, at most {limit} (--max-text-chars)"
    return Failure(text, "text-too-long", refused=True, lasting=True)


class EventSink(Protocol):
    """Where a request's events go: a Wyoming connection's Outbox, or the web's answer to one HTTP request."""

    async def write(self, event: Event) -> None:
        """Write one event (raises ConnectionError when the client is gone)."""

    async def cut_off_failed_stream(self) -> None:
        """End a failed streaming answer so that no client keeps it."""

    def close(self) -> None:
        """End the answer (a one-shot request that failed)."""


class Outbox:
    """A connection's writing side: a client that stops reading is dropped, so server memory stays bounded."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, write_timeout_s: float) -> None:
        self.reader = reader
        self.writer = writer
        self.write_timeout_s = write_timeout_s
        self.last_write = time.monotonic()
        self.answer_cut_off = False  # a failed stream has ended the answer: see cut_off_failed_stream

    async def write(self, event: Event) -> None:
        """Write one event (raises ConnectionError when the client is gone or too slow)."""
        self._check_open()
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("Event out: %s", describe_event(event))
        await self._timed(async_write_event(event, self.writer))

    async def write_serialised(self, wire: bytes, what: str) -> None:
        """Write events serialised once beforehand (the describe answer, megabytes with many voices)."""
        self._check_open()
        _LOGGER.debug("Event out: %s data=%d bytes (with its header line, serialised once)", what, len(wire))
        self.writer.write(wire)
        await self._timed(self.writer.drain())

    def _check_open(self) -> None:
        if self.answer_cut_off:
            raise ConnectionResetError("this connection's answer has ended")

    async def _timed(self, write: Awaitable[None]) -> None:
        try:
            # Not asyncio.wait_for: on 3.11 it swallows a cancel that lands as the write completes,
            # and the request the client replaced would play on to its end.
            async with asyncio.timeout(self.write_timeout_s):
                await write
            self.last_write = time.monotonic()
        except TimeoutError:
            _LOGGER.warning("Client stopped reading for %.0f s; dropping it", self.write_timeout_s)
            self.writer.transport.abort()
            raise ConnectionResetError("client stopped reading") from None

    async def cut_off_failed_stream(self) -> None:
        """End a failed streaming answer (its `error` is sent) so that no Home Assistant keeps it.

        Home Assistant 2025.7 to 2026.10 ignore `error` in a streaming answer and cache
        whatever audio came before `synthesize-stopped`, even none, then serve that for every
        identical request. The only ending that makes them drop the answer is a connection
        that breaks off inside an event (their reader raises IncompleteReadError, which they
        do not catch). So the stream's `synthesize-stopped` is cut off after its header, and
        our side of the connection is closed. Newer versions stop at the `error` and never
        read this far.
        """
        _LOGGER.debug("Event out: synthesize-stopped, cut off after its header")
        # OSError: a reset that lands between the drain and the half-close fails it with ENOTCONN.
        with contextlib.suppress(OSError, TimeoutError):
            self.writer.write(CUT_OFF_STOPPED)
            async with asyncio.timeout(self.write_timeout_s):
                await self.writer.drain()
            if self.writer.can_write_eof():
                # Half-close, and read on until the client closes: closing with its text still unread
                # would reset the connection, and the cut-off header would be lost with it.
                self.writer.write_eof()
                self.answer_cut_off = True
                return
        self.close()

    def close(self) -> None:
        """Close the connection: its read loop ends, and with it the connection."""
        self.writer.close()
        self.reader.feed_eof()

    def drop(self) -> None:
        """Close now, with whatever the client has not read yet: a client that does not read cannot hold the stop."""
        self.writer.transport.abort()
        self.reader.feed_eof()


# The one log line of a request that did not fail (a failure's line says why, at WARNING or ERROR).
_LOG_LINE_OF = {
    Outcome.FINISHED: "Spoke",
    Outcome.REPLACED: "Cut short by the client's next request:",
    Outcome.CLIENT_GONE: "Cut short, the client left:",
}


class Reply:
    """One request's answer: its audio, its figures, and the closing events of how it ended.

    Closing events by outcome: FINISHED: the audio's rest and audio-stop (and
    synthesize-stopped when streaming). FAILED and SERVER_STOPPING: `error`; when
    streaming, audio-stop if audio had started and the failed-stream ending; one-shot,
    the connection is closed so that Home Assistant reports the failure instead of
    caching a broken answer. REPLACED and CLIENT_GONE: audio-stop if audio had started.
    Whatever the outcome, the request gets one log line and one --figures-file line.
    """

    def __init__(
        self,
        outbox: EventSink,
        streaming: bool,
        figures: RequestFigures,
        samples_per_chunk: int,
        record: Callable[[RequestFigures], None] | None = None,
    ) -> None:
        """`outbox`: a connection's (Outbox), or any sink of events with its methods (the web's);
        `record`: where the request's figures go once it has ended."""
        self.figures = figures
        self.audio_started = False
        self._outbox = outbox
        self._streaming = streaming
        self._framer = PcmFramer(samples_per_chunk)
        self._record = record
        self._begun = time.monotonic()
        self.spoken: list[ReadySentence] = []  # the sentences as the engine spoke them (the web page shows them)

    async def audio(self, spoken: SpokenAudio) -> None:
        """A chunk of the request's speech, framed into the connection's chunks (raises ConnectionError)."""
        figures = self.figures
        if figures.engine_first_s is None:
            figures.engine_first_s = spoken.engine_s
            figures.voice, figures.language = spoken.voice, spoken.language  # a voice picked from the text
        samples = len(spoken.audio) // (spoken.width * spoken.channels)
        figures.engine_chunks.append(samples)
        if spoken.engine not in figures.engines:
            figures.engines.append(spoken.engine)
        if spoken.sentence is not None:
            self._count_in_sentence(spoken.sentence, spoken.voice_from, samples)
        for framed in self._framer.add(spoken):
            await self._send(framed)

    def _count_in_sentence(self, sentence: ReadySentence, voice_from: str, samples: int) -> None:
        """A chunk of `sentence` in the figures: its first opens the sentence's entry (a silent one has none)."""
        now = time.monotonic() - self._begun
        if not self.spoken or sentence is not self.spoken[-1]:
            self.spoken.append(sentence)
            ready = sentence.ready_at - self._begun
            self.figures.sentences.append(
                SentenceFigures(sentence.chars, sentence.translation, voice_from, ready, first_s=now)
            )
        entry = self.figures.sentences[-1]
        entry.done_s = now
        entry.chunks.append(samples)

    async def write_closing(self, outcome: Outcome, failure: Failure | None = None, chars: int = 0) -> None:
        """Write the closing events of `outcome`, then the request's figures (also when the events could not go out)."""
        self.figures.outcome, self.figures.chars = outcome.value, chars
        try:
            if outcome is Outcome.FINISHED:
                await self._finished()
            elif outcome in (Outcome.REPLACED, Outcome.CLIENT_GONE):
                if self.audio_started:
                    with contextlib.suppress(ConnectionError):
                        await self._outbox.write(AudioStop().event())
            else:
                await self._failed(failure or SERVER_STOPPING, outcome)
        finally:
            self.figures.wall_s = time.monotonic() - self._begun
            if (ended := _LOG_LINE_OF.get(outcome)) is not None:  # a failure has its own line, said as it is sent
                _LOGGER.info("%s %s", ended, self.figures.describe())
            if self._record is not None:
                self._record(self.figures)

    async def _finished(self) -> None:
        with contextlib.suppress(ConnectionError):
            for chunk in self._framer.flush():
                await self._send(chunk)
            if not self.audio_started:
                await self._start_audio()  # audio-start even for silence
            await self._outbox.write(AudioStop().event())
            if self._streaming:
                await self._outbox.write(SynthesizeStopped().event())

    async def _failed(self, failure: Failure, outcome: Outcome) -> None:
        if failure.refused:
            _LOGGER.warning("Request refused (%s): %s", failure.code, failure.shown)
        elif outcome is Outcome.SERVER_STOPPING:  # the stop's doing, not a fault: said once by the stop too
            _LOGGER.warning("Request with voice %s ended by the stop: %s", self.figures.voice, failure.shown)
        else:
            _LOGGER.error("Synthesis with voice %s failed: %s", self.figures.voice, failure.shown)
        with contextlib.suppress(ConnectionError):
            await self._outbox.write(failure.event())
            if self._streaming and self.audio_started:
                await self._outbox.write(AudioStop().event())
            if self._streaming and failure.lasting:
                # Home Assistant 2026.2 logs a cut-off as two more ERROR lines; here caching does no harm.
                await self._outbox.write(SynthesizeStopped().event())
                return
        if self._streaming:
            await self._outbox.cut_off_failed_stream()
        else:
            self._outbox.close()

    async def _start_audio(self) -> None:
        self.audio_started = True
        await self._outbox.write(AudioStart(rate=RATE, width=WIDTH, channels=CHANNELS).event())

    async def _send(self, chunk: AudioChunk) -> None:
        if not self.audio_started:
            self.figures.first_chunk_s = time.monotonic() - self._begun
            await self._start_audio()
        self.figures.audio_s += len(chunk.audio) / (WIDTH * CHANNELS * RATE)
        await self._outbox.write(chunk.event())
        # A write to a client that keeps up does not wait: give other connections their turn
        # after each chunk, or one fast stream holds the loop for a whole sentence.
        await asyncio.sleep(0)
