"""Wyoming protocol handler: one per client connection."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from .connections import Connections
from .echo import clip, describe_event
from .reply import REFUSED_WHILE_STOPPING, Failure, Outbox, Outcome
from .request import Request
from .service import Service
from .wire import Deadline, ProtocolError, read_event

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T", Synthesize, SynthesizeStart, SynthesizeChunk)


class StreamTtsEventHandler:
    """One client connection: admitted, read within the limits, each event routed to its request.

    Not a wyoming AsyncEventHandler, whose `run` reads with no limits: wyoming's servers
    call only `run()` and `stop()` on what the handler factory returns (see `connections.for_wyoming`).
    """

    def __init__(
        self, service: Service, connections: Connections, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.service = service
        self.connections = connections
        self.reader = reader
        self.writer = writer
        self.outbox = Outbox(reader, writer, service.settings.write_timeout_s)
        self._request: Request | None = None
        self._last_read = time.monotonic()  # last event read
        self._last_text = time.monotonic()  # when the open stream last received text
        self._began = time.monotonic()  # when the request began

    async def run(self) -> None:
        """Read events within the limits until the client leaves; bad input is answered, then closed."""
        try:
            refused = self.connections.admit(self, _peer_host(self.writer))
            if refused is not None:
                await self._refuse(Failure(*refused, refused=True))
                return
            while (event := await read_event(self.reader, self.service.settings.limits, self._deadline)) is not None:
                self._last_read = time.monotonic()
                if not await self.handle_event(event):
                    break
                # Events a client has pipelined are read from the buffer without waiting: one event
                # per turn of the loop, or one client's flood holds every other connection.
                await asyncio.sleep(0)
        except ProtocolError as err:
            # The rest of the stream cannot be trusted: say why, then close.
            with contextlib.suppress(ConnectionError):
                if err.code in ("stream-idle-timeout", "stream-timeout") and self._request is not None:
                    failure = Failure(str(err), err.code, refused=True)
                    await self._request.finish(Outcome.FAILED, failure)  # a failed stream's end
                else:
                    await self._refuse(Failure(str(err), err.code, refused=True))
        except ConnectionError:
            pass  # the client is gone
        finally:
            self.connections.remove(self)
            await self._client_left()
            self.writer.close()

    def close(self) -> None:
        """Close the connection: the read loop ends, and with it the connection."""
        self.outbox.close()

    async def stop(self) -> None:
        """What wyoming's server calls on each connection as it stops."""
        if self.writer.transport.get_write_buffer_size():
            self.drop()  # a client that does not read its answers would hold the server's close
        else:
            self.close()

    def drop(self) -> None:
        """Close now, with whatever the client has not read yet: a client that does not read cannot hold the stop."""
        self.outbox.drop()

    async def handle_event(self, event: Event) -> bool:
        """Route one event; False closes the connection."""
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("Event in: %s", describe_event(event))
        if self.outbox.answer_cut_off:
            return True  # after a failed stream's end: read and dropped until the client closes
        try:
            await self._route(event)
        except ConnectionError:
            return False  # the client is gone
        return True

    def _deadline(self) -> Deadline | None:
        """By when the client must send its next event, and what it is told if it does not."""
        limits = self.service.settings.limits
        if self._stream_open:
            # An open stream waits for an LLM's text, but not for ever: a silent one, or one whose text
            # drips in a character at a time, would hold a place.
            bounds = (  # (seconds, since, what the client is told, code); 0 seconds: no bound
                (limits.stream_idle_timeout_s, self._last_text, "No text for {:g} s in an open stream "
                 "(--stream-idle-timeout)", "stream-idle-timeout"),
                (limits.stream_timeout_s, self._began, "The stream's text did not end within {:g} s "
                 "(--stream-timeout)", "stream-timeout"),
            )  # fmt: skip
            deadlines = [Deadline(since + seconds, text.format(seconds), code) for seconds, since, text, code in bounds
                         if seconds]  # fmt: skip
            return min(deadlines, key=lambda deadline: deadline.at, default=None)
        # A running request keeps the connection in use, however long the client is silent.
        if self.busy or not limits.idle_timeout_s:
            return None
        return Deadline(
            self.last_active + limits.idle_timeout_s,
            f"Nothing asked for {limits.idle_timeout_s:g} s (--idle-timeout)",
            "idle-timeout",
        )

    @property
    def last_active(self) -> float:
        """time.monotonic() of the last event read or written."""
        return max(self._last_read, self.outbox.last_write)

    @property
    def waiting_since(self) -> float | None:
        """Since when the connection has waited on its client: since its last text for an open stream,
        its last event when nothing runs; None while a request whose text is all in is answered."""
        if self._stream_open:
            return self._last_text
        return None if self.busy else self.last_active

    @property
    def busy(self) -> bool:
        return self._request is not None and not self._request.done

    @property
    def _stream_open(self) -> bool:
        return self._request is not None and self._request.awaiting_stop

    async def until_answered(self) -> None:
        if self._request is not None:
            await self._request.wait()

    async def abort(self, text: str, code: str) -> None:
        if self._request is not None:
            await self._request.finish(Outcome.SERVER_STOPPING, Failure(text, code))

    async def _route(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.outbox.write_serialised(self.service.describe_answer, "info")
        elif Synthesize.is_type(event.type) and self._stream_open:
            pass  # Home Assistant repeats the whole text for old servers: already streaming it
        elif Synthesize.is_type(event.type):
            synthesize = _parse(Synthesize.from_event, event)
            request = await self._begin(synthesize.voice, streaming=False, ssml=_is_ssml(synthesize.text_format))
            await request.feed(synthesize.text)
            request.end_text()
        elif not self.service.settings.streaming:
            _LOGGER.debug("Ignoring %s: streaming is off (--no-streaming)", clip(event.type))
        elif SynthesizeStart.is_type(event.type):
            start = _parse(SynthesizeStart.from_event, event)
            if self._stream_open:
                await self._refuse(
                    Failure("A streaming request is already open on this connection", "stream-in-progress")
                )
            else:
                await self._begin(start.voice, streaming=True, ssml=_is_ssml(start.text_format))
        elif SynthesizeChunk.is_type(event.type):
            text = _parse(SynthesizeChunk.from_event, event).text
            if self._request is None or not self._stream_open:
                await self._refuse(Failure("synthesize-chunk without synthesize-start", "no-stream"))
            else:
                self._last_text = time.monotonic()
                await self._request.feed(text)
        elif SynthesizeStop.is_type(event.type):
            if self._request is None or not self._stream_open:
                await self._refuse(Failure("synthesize-stop without synthesize-start", "no-stream"))
            else:
                self._request.end_text()
        else:
            _LOGGER.debug("Ignoring event of type %s", clip(event.type))

    async def _begin(self, voice: SynthesizeVoice | None, streaming: bool, ssml: bool | None) -> Request:
        """A new request, after the one running on the connection (if any) is replaced."""
        if self._request is not None and not self._request.done:
            _LOGGER.debug("New request on the connection: cancelling the running one")
            await self._request.finish(Outcome.REPLACED)
        self._last_text = self._began = time.monotonic()
        self._request = Request(self.service, self.outbox, voice, streaming, ssml)
        if self.connections.closing:
            # Started now, it would be cut off by the drain's end mid-audio.
            await self._request.finish(Outcome.FAILED, REFUSED_WHILE_STOPPING)
        return self._request

    async def _refuse(self, failure: Failure) -> None:
        """An event that is no request's, refused: the client's doing, so a warning."""
        _LOGGER.warning("Request refused (%s): %s", failure.code, failure.shown)
        await self.outbox.write(failure.event())

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


def _is_ssml(text_format: object) -> bool | None:
    """wyoming 1.10's text_format: SSML, plain text, or unsaid (None: a text that is a `<speak>` document is SSML)."""
    value = getattr(text_format, "value", text_format)
    return {"ssml": True, "text": False}.get(value) if isinstance(value, str) else None


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
