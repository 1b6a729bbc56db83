"""OpenAI's audio API on the web page's HTTP server: `POST /v1/audio/speech` (Open WebUI, LibreChat, n8n, the
`openai` client), `GET /v1/models`, and `GET /v1/audio/voices`.

A request is spoken as a Wyoming request is (speakable text, translation into the voice's language, the
fallback chain, the connection caps, a --figures-file line) and its audio streams while it is made. Errors
have OpenAI's shape and status codes.
"""

import asyncio
import json
import logging

from aiohttp import web

from ..connections import Connections
from ..service import Service
from ..voices import VoiceCatalog
from .audio_formats import FORMATS, encoder_for
from .speaking import HttpError, speak

_LOGGER = logging.getLogger(__name__)

MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")  # listed; any other name is accepted too
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")
MAX_BODY_BYTES = 1024 * 1024
_SPEEDS = (0.25, 4.0)


class OpenAiSpeech:
    """The routes, for one service; `voices`: --openai-voice's NAME=LANG/SPEAKER, over the default mapping."""

    def __init__(self, service: Service, connections: Connections, voices: dict[str, str]) -> None:
        self.service = service
        self.connections = connections
        self.chosen = voices

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/speech", self.speech)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/v1/audio/voices", self.voices)

    def mapping(self) -> dict[str, str]:
        """OpenAI's voice names → ours: as chosen, the rest spread over the default language's voices."""
        return {**default_mapping(self.service.catalog), **self.chosen}

    async def speech(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _body(request, self.service.settings.limits.read_timeout_s)
            text, voice, response_format, speed, sse = self._parse(body)
            return await speak(self.service, self.connections, request, text, voice,
                               encoder_for(response_format, speed, sse))  # fmt: skip
        except HttpError as err:
            return error(err.text, err.code, err.status)

    def _parse(self, body: dict) -> tuple[str, str, str, float, bool]:
        text = body.get("input")
        if not isinstance(text, str) or not text.strip():
            raise HttpError("input: the text to speak is missing or empty", "empty-text", 400)
        voice = body.get("voice")
        if isinstance(voice, dict):  # {"id": ...}, as newer clients send a custom voice
            voice = voice.get("id")
        if not isinstance(voice, str) or not voice:
            raise HttpError("voice: a voice name is needed (GET /v1/audio/voices lists them)", "invalid-voice", 400)
        voice = self.mapping().get(voice.lower(), voice)
        response_format = body.get("response_format") or "mp3"
        if response_format not in FORMATS:
            raise HttpError(f"response_format {str(response_format)[:40]!r} is not one of {', '.join(FORMATS)}",
                            "invalid-format", 400)  # fmt: skip
        speed = body.get("speed", 1.0)
        if not isinstance(speed, int | float) or isinstance(speed, bool) or not _SPEEDS[0] <= speed <= _SPEEDS[1]:
            raise HttpError(f"speed must be a number from {_SPEEDS[0]} to {_SPEEDS[1]}", "invalid-speed", 400)
        stream_format = body.get("stream_format") or "audio"
        if stream_format not in ("audio", "sse"):
            raise HttpError("stream_format is audio or sse", "invalid-stream-format", 400)
        if body.get("instructions"):
            _LOGGER.debug("instructions ignored: no engine of this server takes them")
        return text, voice, response_format, float(speed), stream_format == "sse"

    async def models(self, request: web.Request) -> web.Response:
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "wyoming-streamtts"} for name in MODELS]
        return web.json_response({"object": "list", "data": data})

    async def voices(self, request: web.Request) -> web.Response:
        catalog = self.service.catalog
        return web.json_response({"voices": [voice.name for voice in catalog.voices], "openai": self.mapping(),
                                  "default": catalog.default.name})  # fmt: skip


def default_mapping(catalog: VoiceCatalog) -> dict[str, str]:
    """OpenAI's names over the voices of the default voice's language, the default voice first: different names
    sound different where the language has several voices."""
    language = catalog.default.language
    voices = [catalog.default.name] + [
        v.name for v in catalog.voices if v.language == language and v != catalog.default
    ]
    return {name: voices[index % len(voices)] for index, name in enumerate(OPENAI_VOICES)}


def error(text: str, code: str, status: int) -> web.Response:
    """OpenAI's error shape."""
    kind = {401: "authentication_error", 429: "rate_limit_error", 503: "server_error"}.get(status)
    kind = kind or ("server_error" if status >= 500 else "invalid_request_error")
    return web.json_response({"error": {"message": text, "type": kind, "param": None, "code": code}}, status=status)


async def _body(request: web.Request, timeout_s: float) -> dict:
    """The JSON body, within its size and its time (raises HttpError)."""
    if not request.content_type.endswith("json"):
        raise HttpError("Send the request as JSON (Content-Type: application/json)", "invalid-content-type", 400)
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise HttpError(f"The request is larger than {MAX_BODY_BYTES} bytes", "body-too-large", 413)
    data = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await request.content.read(64 * 1024):
                data += chunk
                if len(data) > MAX_BODY_BYTES:
                    raise HttpError(f"The request is larger than {MAX_BODY_BYTES} bytes", "body-too-large", 413)
    except TimeoutError:
        raise HttpError(f"The request's body did not come within {timeout_s:g} s", "read-timeout", 400) from None
    try:
        body = json.loads(data)
    except ValueError as err:
        raise HttpError(f"The body is not JSON: {err}", "invalid-json", 400) from err
    if not isinstance(body, dict):
        raise HttpError("The body is a JSON object", "invalid-json", 400)
    return body
