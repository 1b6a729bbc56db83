"""Wyoming protocol handler: one per client connection."""

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from wyoming.error import Error
from wyoming.event import Event, async_write_event, write_event
from wyoming.info import Attribution, Describe, Info, TtsProgram
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from . import __version__
from .connections import Connections
from .detection import LanguageDetector
from .engine import Engine
from .figures import FiguresFile, RequestFigures
from .request import Failure, Outcome, Request, too_long
from .settings import ServerSettings
from .speakable import speakable
from .splitter import split_sentences
from .translation import Translator
from .voices import Voice, VoiceCatalog, VoiceNotFoundError
from .wire import CUT_OFF_STOPPED, Deadline, ProtocolError, clip, describe_event, read_event

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T", Synthesize, SynthesizeStart, SynthesizeChunk)

ATTRIBUTION = Attribution(name="wyoming-streamtts", url="https://github.com/wyoming-streamtts/wyoming-streamtts")


@dataclass
class ServerConfig:
    """What every connection shares: the engine, the voices and the settings."""

    engine: Engine
    catalog: VoiceCatalog
    settings: ServerSettings = field(default_factory=ServerSettings)
    translator: Translator | None = None
    detector: LanguageDetector | None = None
    """Picks the voice for requests that name none, from the text's language."""
    figures: FiguresFile | None = None

    describe_answer: bytes = field(init=False, repr=False)
    """The `info` event as it goes on the wire: built once per voice list, since with
    thousands of recordings it is megabytes (serialising it per `describe` took 210 ms
    with 3,000 recordings here, and the loop waited meanwhile)."""

    def __post_init__(self) -> None:
        self.describe_answer = self.answer_for(self.catalog)

    def answer_for(self, catalog: VoiceCatalog) -> bytes:
        """The describe answer with these voices (slow for many voices: run it off the loop)."""
        wire = io.BytesIO()
        write_event(self.info(catalog).event(), wire)
        return wire.getvalue()

    def info(self, catalog: VoiceCatalog) -> Info:
        """The answer to `describe`: one TTS program (Home Assistant uses only the first)."""
        program = TtsProgram(
            name=self.settings.name,
            description=f"Streaming TTS with {self.engine.description}",
            attribution=ATTRIBUTION,
            installed=True,
            version=__version__,
            voices=catalog.tts_voices(__version__),
            supports_synthesize_streaming=self.settings.streaming,
        )
        return Info(tts=[program])


class StreamTtsEventHandler:
    """One client connection: admitted, read within the limits, each event routed to its request.

    Not a wyoming AsyncEventHandler, whose `run` reads with no limits: wyoming's servers
    call only `run()` and `stop()` on what the handler factory returns (see `serving`).
    """

    def __init__(
        self, config: ServerConfig, connections: Connections, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.config = config
        self.connections = connections
        self.reader = reader
        self.writer = writer
        self._request: Request | None = None
        self._last_active = time.monotonic()  # last event read or written
        self._write_closed = False  # a failed stream has ended the answer: see end_failed_stream
        self._last_text = time.monotonic()  # when the open stream last received text

    async def run(self) -> None:
        """Read events within the limits until the client leaves; bad input is answered, then closed."""
        try:
            refused = self.connections.admit(self, _peer_host(self.writer))
            if refused is not None:
                await self._error(*refused)
                return
            while (event := await read_event(self.reader, self.config.settings.limits, self._deadline)) is not None:
                self._last_active = time.monotonic()
                if not await self.handle_event(event):
                    break
                # Events a client has pipelined are read from the buffer without waiting: one event
                # per turn of the loop, or one client's flood holds every other connection.
                await asyncio.sleep(0)
        except ProtocolError as err:
            # The rest of the stream cannot be trusted: say why, then close.
            with contextlib.suppress(ConnectionError):
                if err.code == "stream-idle-timeout" and self._request is not None:
                    failure = Failure(str(err), err.code, by_client=True)
                    await self._request.finish(Outcome.FAILED, failure)  # a failed stream's end
                else:
                    await self._error(str(err), err.code)
        except ConnectionError:
            pass  # the client is gone
        finally:
            self.connections.remove(self)
            await self._client_left()
            self.writer.close()

    def close(self) -> None:
        """Close the connection: the read loop ends, and with it the connection."""
        self.writer.close()
        self.reader.feed_eof()

    async def stop(self) -> None:
        """What wyoming's server calls on each connection as it stops."""
        if self.writer.transport.get_write_buffer_size():
            self.drop()  # a client that does not read its answers would hold the server's close
        else:
            self.close()

    def drop(self) -> None:
        """Close now, with whatever the client has not read yet: a client that does not read cannot hold the stop."""
        self.writer.transport.abort()
        self.reader.feed_eof()

    async def write_event(self, event: Event) -> None:
        """Write, or drop a client that has stopped reading (its server memory stays bounded)."""
        if self._write_closed:
            raise ConnectionResetError("this connection's answer has ended")
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("Event out: %s", describe_event(event))
        await self._timed(async_write_event(event, self.writer))

    async def _write_describe_answer(self) -> None:
        answer = self.config.describe_answer
        if self._write_closed:
            raise ConnectionResetError("this connection's answer has ended")
        _LOGGER.debug("Event out: info data=%d bytes (with its header line, serialised once)", len(answer))
        self.writer.write(answer)
        await self._timed(self.writer.drain())

    async def _timed(self, write: Awaitable[None]) -> None:
        try:
            # Not asyncio.wait_for: on 3.11 it swallows a cancel that lands as the write completes,
            # and the request the client replaced would play on to its end.
            async with asyncio.timeout(self.config.settings.write_timeout_s):
                await write
            self._last_active = time.monotonic()
        except TimeoutError:
            _LOGGER.warning("Client stopped reading for %.0f s; dropping it", self.config.settings.write_timeout_s)
            self.writer.transport.abort()
            raise ConnectionResetError("client stopped reading") from None

    async def handle_event(self, event: Event) -> bool:
        """Route one event; False closes the connection."""
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("Event in: %s", describe_event(event))
        if self._write_closed:
            return True  # after a failed stream's end: read and dropped until the client closes
        try:
            return await self._route(event)
        except ConnectionError:
            return False  # the client is gone

    def _deadline(self) -> Deadline | None:
        """By when the client must send its next event, and what it is told if it does not."""
        limits = self.config.settings.limits
        if self._stream_open:
            # An open stream waits for an LLM's text, but not for ever: a silent one would hold a place.
            if not limits.stream_idle_timeout_s:
                return None
            return Deadline(
                self._last_text + limits.stream_idle_timeout_s,
                f"No text for {limits.stream_idle_timeout_s:g} s in an open stream (--stream-idle-timeout)",
                "stream-idle-timeout",
            )
        # A running request keeps the connection in use, however long the client is silent.
        if self.busy or not limits.idle_timeout_s:
            return None
        return Deadline(
            self._last_active + limits.idle_timeout_s,
            f"Nothing asked for {limits.idle_timeout_s:g} s (--idle-timeout)",
            "idle-timeout",
        )

    @property
    def last_active(self) -> float:
        return self._last_active

    @property
    def busy(self) -> bool:
        return self._request is not None and not self._request.done

    @property
    def _stream_open(self) -> bool:
        return self._request is not None and self._request.receiving

    async def idle(self) -> None:
        if self._request is not None:
            await self._request.wait()

    async def abort(self, text: str, code: str) -> None:
        if self._request is not None:
            await self._request.finish(Outcome.SERVER_STOPPING, Failure(text, code))

    async def _route(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self._write_describe_answer()
            return True
        if Synthesize.is_type(event.type) and self._stream_open:
            return True  # Home Assistant repeats the whole text for old servers: already streaming it
        starts = Synthesize.is_type(event.type) or SynthesizeStart.is_type(event.type)
        if starts and self.connections.closing:
            # Started now, it would be cut off by the drain's end mid-audio.
            start = _parse(Synthesize.from_event, event) if Synthesize.is_type(event.type) else None
            voice = start.voice if start else _parse(SynthesizeStart.from_event, event).voice
            await self._refuse(voice, 0, "The server is shutting down", "server-stopping")
            return False
        if Synthesize.is_type(event.type):
            return await self._one_shot(_parse(Synthesize.from_event, event))
        if not self.config.settings.streaming:
            return True
        if SynthesizeStart.is_type(event.type):
            await self._stream_start(_parse(SynthesizeStart.from_event, event).voice)
        elif SynthesizeChunk.is_type(event.type):
            text = _parse(SynthesizeChunk.from_event, event).text
            if self._request is None or not self._stream_open:
                await self._error("synthesize-chunk without synthesize-start", "no-stream")
            else:
                self._last_text = time.monotonic()
                await self._request.feed(text)
        elif SynthesizeStop.is_type(event.type):
            if self._request is None or not self._stream_open:
                await self._error("synthesize-stop without synthesize-start", "no-stream")
            else:
                self._request.end_text()
        else:
            _LOGGER.debug("Ignoring event of type %s", clip(event.type))
        return True

    async def _one_shot(self, synthesize: Synthesize) -> bool:
        await self._replace_running()
        chars = len(synthesize.text)
        if chars > self.config.settings.max_text_chars:
            failure = too_long(chars, self.config.settings.max_text_chars)
            await self._refuse(synthesize.voice, chars, failure.text, failure.code)
            return False
        text = speakable(synthesize.text) if self.config.settings.speakable else synthesize.text
        sentences = split_sentences(text, self.config.settings.max_sentence_chars)
        if not sentences:
            await self._refuse(synthesize.voice, chars, "Nothing to say: the text is empty", "empty-text")
            return False
        request = await self._begin(synthesize.voice, streaming=False)
        if request is None:
            return False
        request.add_sentences(sentences)
        return True

    async def _stream_start(self, voice: SynthesizeVoice | None) -> None:
        if self._stream_open:
            await self._error("A streaming request is already open on this connection", "stream-in-progress")
            return
        await self._replace_running()
        self._last_text = time.monotonic()
        if await self._begin(voice, streaming=True) is None:
            await self.end_failed_stream()

    async def _begin(self, requested: SynthesizeVoice | None, streaming: bool) -> Request | None:
        """Start a request, or send an error and return None for an unknown voice."""
        try:
            voice = self.config.catalog.resolve(requested)
        except VoiceNotFoundError as err:
            await self._refuse(requested, 0, str(err), "voice-not-found")
            return None
        names_none = requested is None or not (requested.name or requested.language)
        choose = self._voice_for_text if names_none and self.config.detector is not None else None
        self._request = Request(self.config, voice, self, streaming, choose)
        return self._request

    async def _voice_for_text(self, text: str) -> Voice:
        """The default voice of the text's language (Home Assistant keeps an automation's language to itself)."""
        assert self.config.detector is not None
        detected = await self.config.detector.detect_off_loop(text)
        voice = (self.config.catalog.default_for(detected) if detected else None) or self.config.catalog.default
        _LOGGER.debug("Request names no voice; text detected as %s: speaking with %s", detected, voice.name)
        return voice

    async def end_failed_stream(self) -> None:
        """End a failed streaming request (its `error` is sent) so that no Home Assistant keeps it.

        Home Assistant 2025.7 to 2026.10 ignore `error` in a streaming answer and cache
        whatever audio came before `synthesize-stopped`, even none, then serve that for every
        identical request. The only ending that makes them drop the answer is a connection
        that breaks off inside an event (their reader raises IncompleteReadError, which they
        do not catch). So the stream's `synthesize-stopped` is cut off after its header, and
        our side of the connection is closed. Newer versions stop at the `error` and never
        read this far.
        """
        _LOGGER.debug("Event out: synthesize-stopped, cut off after its header")
        with contextlib.suppress(ConnectionError, TimeoutError):
            self.writer.write(CUT_OFF_STOPPED)
            async with asyncio.timeout(self.config.settings.write_timeout_s):
                await self.writer.drain()
            if self.writer.can_write_eof():
                # Half-close, and read on until the client closes: closing with its text still unread
                # would reset the connection, and the cut-off header would be lost with it.
                self.writer.write_eof()
                self._write_closed = True
                return
        self.close()

    async def _replace_running(self) -> None:
        if self._request is not None and not self._request.done:
            _LOGGER.debug("New request on the connection: cancelling the running one")
            await self._request.finish(Outcome.REPLACED)
        self._request = None

    async def _refuse(self, requested: SynthesizeVoice | None, chars: int, text: str, code: str) -> None:
        """A request refused before it starts is a request too: its `error`, its log line, its figures line."""
        if self.config.figures is not None:
            try:
                voice = self.config.catalog.resolve(requested)
                name, language = voice.name, voice.language
            except VoiceNotFoundError:
                name, language = clip(requested.name or "") if requested else "", ""
            self.config.figures.record(RequestFigures(name, language, outcome="failed", chars=chars))
        await self._error(text, code)

    async def _error(self, text: str, code: str) -> None:
        text = clip(text, 2000)  # client strings in it are cut already; this is the safety net
        _LOGGER.warning("Request refused (%s): %s", code, text)
        await self.write_event(Error(text=text, code=code).event())

    async def _client_left(self) -> None:
        # The client may only have closed its sending side: finish what it asked
        # for. A client that is really gone makes the next write fail, which
        # stops the request at the next chunk.
        if self._request is None or self._request.done:
            return
        if self._stream_open:
            await self._request.finish(Outcome.CLIENT_GONE)
        else:
            await self._request.wait()


def _peer_host(writer: asyncio.StreamWriter) -> str | None:
    """The client's address on TCP; None on stdio and unix sockets (all local)."""
    peer = writer.get_extra_info("peername")
    return peer[0] if isinstance(peer, tuple) and peer else None


def _parse(from_event: Callable[[Event], T], event: Event) -> T:
    """wyoming's parsing of a synthesize event, with wrong fields reported instead of raised."""
    try:
        parsed = from_event(event)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        detail = f"no field {err}" if isinstance(err, KeyError) else str(err)
        raise ProtocolError(f"Bad {clip(event.type)} event: {detail}") from None
    voice = getattr(parsed, "voice", None)
    names = [voice.name, voice.language, voice.speaker] if voice else []
    # wyoming reads a voice that is not an object as no voice: the default would speak unasked.
    if not isinstance(event.data.get("voice") or {}, dict) or not all(isinstance(n, str | None) for n in names):
        raise ProtocolError(f"Bad {clip(event.type)} event: voice must be an object of strings")
    if not isinstance(getattr(parsed, "text", ""), str):
        raise ProtocolError(f"Bad {clip(event.type)} event: text must be a string")
    return parsed
