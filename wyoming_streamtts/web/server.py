"""The web page's HTTP server (aiohttp), in the Wyoming server's process and event loop: the page itself, its
JSON API, and speech streamed through the same request path Wyoming requests take.

Every URL the page uses is relative, so it works under any prefix (Home Assistant's ingress). Requests that
change files need the page's CSRF token, and the access token when the server listens beyond loopback.
"""

import asyncio
import hmac
import ipaddress
import logging
import secrets
import tempfile
from importlib import resources
from pathlib import Path

from aiohttp import BodyPartReader, web

from ..connections import Connections
from ..engine import Engine
from ..fallback import FallbackEngine, chain_of
from ..languages import LANGUAGES
from ..lexicon import Lexicon, LexiconError
from ..reply import Reply
from ..service import Service
from ..settings import HttpSettings
from .audio_formats import WavStream
from .openai_api import OpenAiSpeech
from .openai_api import error as openai_error
from .speaking import HttpError, speak
from .voice_edits import EditError, VoiceEditor

_LOGGER = logging.getLogger(__name__)

MAX_RECORDING_BYTES = 50 * 1024 * 1024
MAX_PIPER_BYTES = 200 * 1024 * 1024  # a Piper "high" voice is about 110 MB
MAX_SPOKEN_CHARS = 2000  # the page's text box
_STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
_CHANGES = ("POST", "PUT", "PATCH", "DELETE")
_KEPT_REPLIES = 50


class WebServer:
    """The page and its API for one service."""

    def __init__(
        self, service: Service, connections: Connections, settings: HttpSettings, piper_folder: Path | None
    ) -> None:
        self.service = service
        self.connections = connections
        self.settings = settings
        self.editor = VoiceEditor(service, piper_folder)
        self.csrf = secrets.token_urlsafe(24)
        self.token = settings.token
        if self.token is None and not _loopback(settings.host):
            self.token = secrets.token_urlsafe(12)
            _LOGGER.warning("Web page token (changes on the page ask for it; pass --http-token to choose one): %s",
                            self.token)  # fmt: skip
        self.replies: dict[str, Reply] = {}  # the page's recent requests, by the id their answer carries
        self._runner: web.AppRunner | None = None
        self.started = False

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_PIPER_BYTES + 1024 * 1024, middlewares=[self._guard])
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/voices", self._voices)
        app.router.add_get("/api/speak", self._speak)
        app.router.add_get("/api/requests/{id}", self._request_figures)
        app.router.add_get("/api/jobs/{id}", self._job)
        app.router.add_post("/api/cloned", self._add_cloned)
        app.router.add_post("/api/cloned/{name}/rename", self._rename)
        app.router.add_put("/api/cloned/{name}", self._describe)
        app.router.add_delete("/api/cloned/{name}", self._delete)
        app.router.add_post("/api/piper", self._add_piper)
        app.router.add_delete("/api/piper/{file}", self._delete_piper)
        app.router.add_get("/api/lexicon", self._lexicons)
        app.router.add_get("/api/lexicon/{language}", self._lexicon)
        app.router.add_put("/api/lexicon/{language}", self._write_lexicon)
        OpenAiSpeech(self.service, self.connections, dict(self.settings.openai_voices)).add_routes(app)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        self.started = True
        _LOGGER.info("Web page on http://%s:%s/", _url_host(self.settings.host), self.settings.port)

    async def stop(self) -> None:
        await self.editor.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _guard(self, request: web.Request, handler: object) -> web.StreamResponse:
        if request.path.startswith("/v1/"):  # API clients: the access token (when there is one), no CSRF
            if self.token is not None and not self._authorized(request):
                return openai_error("Incorrect API key: send the server's token as Authorization: Bearer TOKEN",
                                    "invalid_api_key", 401)  # fmt: skip
        elif request.method in _CHANGES:
            if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), self.csrf):
                return _error("This change did not come from the page (its CSRF token is missing): reload the page",
                              "csrf", 403)  # fmt: skip
            if self.token is not None and not self._authorized(request):
                return _error("The token is needed for changes (the server logged it at start)", "token", 401)
        try:
            response: web.StreamResponse = await handler(request)  # type: ignore[operator]
        except (EditError, HttpError) as err:
            code = err.code if isinstance(err, HttpError) else "refused"
            return _error(str(err), code, err.status)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    def _authorized(self, request: web.Request) -> bool:
        if request.remote in self.settings.trusted_peers:
            return True  # a proxy that has authenticated its user (Home Assistant's ingress)
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return self.token is not None and hmac.compare_digest(given, self.token)

    async def _page(self, request: web.Request) -> web.Response:
        page = _read_static("index.html").replace("{{csrf}}", self.csrf)
        page = page.replace("{{token_needed}}", "true" if self.token else "false")
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        return web.Response(text=_read_static(name), content_type=_STATIC[name])

    async def _status(self, request: web.Request) -> web.Response:
        service = self.service
        catalog = service.catalog
        chain = [{"name": engine.name, "description": engine.description, "up": _up(service.engine, engine)}
                 for engine in chain_of(service.engine)]  # fmt: skip
        recent = [{"voice": f.voice, "outcome": f.outcome, "engines": f.engines, "first_audio_s": f.first_chunk_s,
                   "rtf": f.wall_s / f.audio_s if f.audio_s else None, "at": f.started_at}
                  for f in service.recent]  # fmt: skip
        return web.json_response({
            "engines": chain,
            "unavailable": service.unavailable,
            "device": service.device,
            "translator": service.translator.backend.device if service.translator else None,
            "languages": len(catalog.languages),
            "voices": len(catalog.voices),
            "speakers": len(catalog.speakers),
            "cloned": sum(1 for speaker in catalog.speakers.values() if speaker.files),
            "connections": self.connections.count,
            "max_connections": self.connections.limit,
            "clones": self.editor.clones,
            "recent": recent,
        })  # fmt: skip

    async def _voices(self, request: web.Request) -> web.Response:
        """Every advertised voice, grouped by the engine that speaks it, then by language."""
        catalog, chain = self.service.catalog, chain_of(self.service.engine)
        groups: dict[str, dict[str, list[dict]]] = {}
        for voice in catalog.voices:
            speaker = catalog.speakers[voice.speaker]
            if speaker.files:
                group = "Cloned (XTTS)" if self.editor.clones else "Cloned (no XTTS: the other engines speak them)"
            else:
                group = next((e.description for e in chain if any(s.name == speaker.name for s in e.speakers)),
                             "Every engine of the chain")  # fmt: skip
            language = LANGUAGES[voice.language].name
            groups.setdefault(group, {}).setdefault(language, []).append(
                {"name": voice.name, "description": speaker.description or voice.speaker}
            )
        return web.json_response({"groups": groups, "default": catalog.default.name, "cloned": self.editor.cloned(),
                                  "piper": self.editor.piper_files()})  # fmt: skip

    async def _speak(self, request: web.Request) -> web.StreamResponse:
        text = request.query.get("text", "")
        if len(text) > MAX_SPOKEN_CHARS:
            raise HttpError(f"At most {MAX_SPOKEN_CHARS} characters here", "text-too-long", 413)
        while len(self.replies) >= _KEPT_REPLIES:
            del self.replies[next(iter(self.replies))]
        return await speak(self.service, self.connections, request, text, request.query.get("voice") or None,
                           WavStream(), self.replies)  # fmt: skip

    async def _request_figures(self, request: web.Request) -> web.Response:
        reply = self.replies.get(request.match_info["id"])
        if reply is None:
            raise web.HTTPNotFound()
        figures = reply.figures
        sentences = [{"text": spoken.text, "language": spoken.voice.language, "translation": entry.translation,
                      "first_s": entry.first_s, "done_s": entry.done_s}
                     for spoken, entry in zip(reply.spoken, figures.sentences, strict=False)]  # fmt: skip
        return web.json_response({
            "voice": figures.voice, "outcome": figures.outcome, "engines": figures.engines,
            "first_audio_s": figures.first_chunk_s, "audio_s": figures.audio_s, "wall_s": figures.wall_s,
            "rtf": figures.wall_s / figures.audio_s if figures.audio_s else None, "sentences": sentences,
        })  # fmt: skip

    async def _job(self, request: web.Request) -> web.Response:
        job = self.editor.jobs.get(request.match_info["id"])
        if job is None:
            raise web.HTTPNotFound()
        return web.json_response(job.shown())

    async def _add_cloned(self, request: web.Request) -> web.Response:
        folder = self.editor.upload_folder(piper=False)
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            fields, files = await _read_form(request, Path(scratch), {"audio": MAX_RECORDING_BYTES})
            if "audio" not in files:
                raise EditError("No recording came with the request")
            languages = [tag for tag in fields.get("languages", "").replace(",", " ").split() if tag]
            job = await self.editor.add_cloned(files["audio"], fields.get("name", "").strip(), languages,
                                               fields.get("description", ""))  # fmt: skip
        return web.json_response(job.shown(), status=202)

    async def _rename(self, request: web.Request) -> web.Response:
        body = await _json(request)
        await self.editor.rename(request.match_info["name"], str(body.get("name", "")).strip())
        return web.json_response({"ok": True})

    async def _describe(self, request: web.Request) -> web.Response:
        body = await _json(request)
        languages = body.get("languages") or []
        if not isinstance(languages, list) or not all(isinstance(tag, str) for tag in languages):
            raise EditError("languages is a list of language tags")
        await self.editor.describe(request.match_info["name"], languages, str(body.get("description") or ""))
        return web.json_response({"ok": True})

    async def _delete(self, request: web.Request) -> web.Response:
        await self.editor.delete(request.match_info["name"])
        return web.json_response({"ok": True})

    async def _add_piper(self, request: web.Request) -> web.Response:
        folder = self.editor.upload_folder(piper=True)
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            limits = {"model": MAX_PIPER_BYTES, "config": 1024 * 1024}
            _, files = await _read_form(request, Path(scratch), limits)
            if "model" not in files or "config" not in files:
                raise EditError("A Piper voice needs both its .onnx and its .onnx.json")
            added = await self.editor.add_piper(files["model"], files["config"], files["model"].name)
        return web.json_response({"voices": added})

    async def _delete_piper(self, request: web.Request) -> web.Response:
        await self.editor.delete_piper(request.match_info["file"])
        return web.json_response({"ok": True})

    async def _lexicons(self, request: web.Request) -> web.Response:
        """The languages of the voices (a lexicon is per language), and those that have a lexicon."""
        lexicon = self._lexicon_or_refuse()
        languages = [{"code": code, "name": LANGUAGES[code].name} for code in self.service.catalog.languages]
        return web.json_response({"languages": languages, "with_lexicon": lexicon.languages()})

    async def _lexicon(self, request: web.Request) -> web.Response:
        try:
            text = await asyncio.to_thread(self._lexicon_or_refuse().read, request.match_info["language"])
        except LexiconError as err:
            raise EditError(str(err)) from err
        return web.json_response({"text": text})

    async def _write_lexicon(self, request: web.Request) -> web.Response:
        text = (await _json(request)).get("text")
        if not isinstance(text, str):
            raise EditError("text is the lexicon, one `word = how to say it` a line")
        try:
            entries = await asyncio.to_thread(self._lexicon_or_refuse().write, request.match_info["language"], text)
        except LexiconError as err:
            raise EditError(str(err)) from err
        return web.json_response({"entries": entries})

    def _lexicon_or_refuse(self) -> Lexicon:
        if self.service.lexicon is None:
            raise EditError("There is no data folder to keep lexicons in (pass --data-dir)", 409)
        return self.service.lexicon


async def _read_form(request: web.Request, folder: Path, limits: dict[str, int]) -> tuple[dict[str, str], dict]:
    """A multipart form: its text fields, and its files written into `folder` under their (checked) names, each
    within its size limit (raises EditError)."""
    if not request.content_type.startswith("multipart/"):
        raise EditError("Send the form as multipart/form-data")
    fields: dict[str, str] = {}
    files: dict[str, Path] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is None:
            fields[part.name] = (await part.read(decode=True))[:4096].decode("utf-8", "replace")
            continue
        if part.name not in limits:
            raise EditError(f"Unexpected file field {part.name}")
        name = Path(part.filename).name  # never a path from the client
        if not name or name.startswith("."):
            name = f"upload-{part.name}"
        path = folder / name
        size = 0
        with path.open("wb") as out:
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                if size > limits[part.name]:
                    raise EditError(f"The file is larger than {limits[part.name] // (1024 * 1024)} MB", 413)
                await asyncio.to_thread(out.write, chunk)
        files[part.name] = path
    return fields, files


async def _json(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError as err:
        raise EditError(f"The request's body is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise EditError("The request's body is a JSON object")
    return body


def _error(text: str, code: str, status: int) -> web.Response:
    return web.json_response({"error": {"message": text, "code": code}}, status=status)


def _read_static(name: str) -> str:
    return resources.files(__package__).joinpath("static").joinpath(name).read_text(encoding="utf-8")


def _up(engine: Engine, member: Engine) -> str | None:
    """Why a member of the chain is skipped now (it failed, and is checked in the background), or None."""
    return "failed; checked again in the background" if isinstance(engine, FallbackEngine) and engine.is_down(
        member) else None  # fmt: skip


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
