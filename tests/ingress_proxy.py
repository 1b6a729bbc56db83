"""Home Assistant's ingress as the page meets it: the page is served at /api/hassio_ingress/TOKEN/, the prefix is
taken off before the request reaches the add-on, and X-Ingress-Path says what it was. Anything the browser asks
for outside the prefix is a URL the page should not have made: it is answered 404 and recorded."""

import asyncio
import threading

import aiohttp
from aiohttp import web

PREFIX = "/api/hassio_ingress/Xy9tokenOfTheSession"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


class IngressProxy:
    def __init__(self, target_port: int) -> None:
        self.target = f"http://127.0.0.1:{target_port}"
        self.outside: list[str] = []  # paths asked for outside the prefix
        self.forwarded: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "IngressProxy":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}/"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=300 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith(PREFIX + "/"):
            self.outside.append(request.path)
            raise web.HTTPNotFound()
        path = request.path_qs[len(PREFIX) :]
        self.forwarded.append(path)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["X-Ingress-Path"] = PREFIX
        async with self._session.request(request.method, self.target + path, headers=headers,
                                         data=await request.read()) as upstream:  # fmt: skip
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    response.headers[key] = value
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
