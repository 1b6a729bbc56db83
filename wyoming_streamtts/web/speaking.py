"""Speaking over HTTP: one HTTP request is one `Request`, the same one a Wyoming connection makes (speakable
text, translation, the fallback chain, figures), with its events written as an audio file while it is spoken.

The HTTP request also takes a place among the server's connections, so the same caps apply to it.
"""

import asyncio
import logging
import time
import uuid

from aiohttp import web
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import SynthesizeVoice

from ..connections import Connections
from ..reply import Failure, Outcome, Reply
from ..request import Request
from ..service import Service
from .audio_formats import Encoder

_LOGGER = logging.getLogger(__name__)

# How each refusal or failure of a request is answered over HTTP.
STATUS_OF = {
    "voice-not-found": 400,
    "empty-text": 400,
    "text-too-long": 413,
    "too-many-connections": 429,
    "server-stopping": 503,
}


class HttpError(Exception):
    """A request refused or failed before its audio began: said as JSON with an HTTP status."""

    def __init__(self, text: str, code: str, status: int) -> None:
        super().__init__(text)
        self.text, self.code, self.status = text, code, status


class HttpAnswer:
    """The events of one request as an HTTP response: the response begins with the audio; an `error`
    before it becomes an HttpError, an `error` after it breaks the response off (a client must not keep
    half an answer as whole)."""

    def __init__(self, http: web.Request, encoder: Encoder, write_timeout_s: float, request_id: str) -> None:
        self.http = http
        self.encoder = encoder
        self.write_timeout_s = write_timeout_s
        self.request_id = request_id
        self.response: web.StreamResponse | None = None
        self.failure: HttpError | None = None
        self.last_write = time.monotonic()

    async def write(self, event: Event) -> None:
        if AudioStart.is_type(event.type):
            self.response = web.StreamResponse(
                headers={"Content-Type": self.encoder.content_type, "Cache-Control": "no-store",
                         "X-Request-Id": self.request_id},
            )  # fmt: skip
            self.response.enable_chunked_encoding()
            await self._timed(self.response.prepare(self.http))
            await self._send(self.encoder.start())
        elif AudioChunk.is_type(event.type):
            await self._send(self.encoder.add(AudioChunk.from_event(event).audio))
        elif AudioStop.is_type(event.type):
            await self._send(self.encoder.finish())
        elif Error.is_type(event.type):
            error = Error.from_event(event)
            code = error.code or "failed"
            self.failure = HttpError(error.text, code, STATUS_OF.get(code, 500))
            if self.response is not None:
                self.break_off()

    async def cut_off_failed_stream(self) -> None:
        self.break_off()  # one-shot requests never come here; a broken-off response is the safe end

    def close(self) -> None:
        if self.response is not None and self.failure is not None:
            self.break_off()

    def break_off(self) -> None:
        if self.http.transport is not None:
            self.http.transport.abort()

    async def _send(self, data: bytes) -> None:
        if data and self.response is not None:
            await self._timed(self.response.write(data))

    async def _timed(self, write: object) -> None:
        try:
            async with asyncio.timeout(self.write_timeout_s):
                await write  # type: ignore[misc]
        except TimeoutError:
            self.break_off()
            raise ConnectionResetError("client stopped reading") from None
        self.last_write = time.monotonic()


class HttpConnection:
    """An HTTP request that speaks, as the server's connection registry sees it."""

    def __init__(self, answer: HttpAnswer) -> None:
        self.answer = answer
        self.request: Request | None = None

    async def run(self) -> None:
        """Never called: aiohttp serves the connection."""

    async def stop(self) -> None:
        self.drop()

    @property
    def busy(self) -> bool:
        return self.request is not None and not self.request.done

    @property
    def waiting_since(self) -> float | None:
        return None  # its text is all in: it is never closed to make room

    @property
    def last_active(self) -> float:
        return self.answer.last_write

    async def until_answered(self) -> None:
        if self.request is not None:
            await self.request.wait()

    async def abort(self, text: str, code: str) -> None:
        if self.request is not None:
            await self.request.finish(Outcome.SERVER_STOPPING, Failure(text, code))

    def drop(self) -> None:
        self.answer.break_off()


async def speak(
    service: Service,
    connections: Connections,
    http: web.Request,
    text: str,
    voice: str | None,
    encoder: Encoder,
    on_start: dict[str, Reply] | None = None,
) -> web.StreamResponse:
    """Speak `text` with `voice` (None: the default, or the text's language) as this HTTP request's answer
    (raises HttpError when it is refused or fails before its audio). `on_start` gets the request's reply
    under its id (its figures and the sentences as spoken), for the page to read once the audio has ended."""
    request_id = uuid.uuid4().hex[:12]
    answer = HttpAnswer(http, encoder, service.settings.write_timeout_s, request_id)
    connection = HttpConnection(answer)
    if refused := connections.admit(connection, http.remote):
        raise HttpError(refused[0], refused[1], STATUS_OF.get(refused[1], 503))
    try:
        requested = SynthesizeVoice(name=voice) if voice else None
        connection.request = request = Request(service, answer, requested, streaming=False)
        if on_start is not None:
            on_start[request_id] = request.reply
        await request.feed(text)
        request.end_text()
        await request.wait()
    finally:
        connections.remove(connection)
    if answer.response is None:
        if answer.failure is None:
            raise HttpError("The request ended before its audio", "ended", 503)
        raise answer.failure
    if request.outcome is Outcome.FINISHED:
        await answer.response.write_eof()
    return answer.response
