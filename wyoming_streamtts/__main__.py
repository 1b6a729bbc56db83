"""`wyoming-streamtts`: the server's life, from the flags to its stop (what it serves is built in service.py)."""

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from wyoming.server import AsyncServer, AsyncStdioServer

from .cli import build_parser, settings_from
from .connections import CLOSING_BOUND_S, ConnectionFactory, Connections, for_wyoming, serve_stdio
from .discovery import Discovery, create_discovery, multicast_problem
from .echo import counted
from .engine import EngineError
from .figures import CLOSE_TIMEOUT_S as FIGURES_CLOSE_S
from .handler import StreamTtsEventHandler
from .service import ATTRIBUTION, create_service
from .settings import EngineSettings
from .translation import TranslationError
from .web.server import WebServer

_LOGGER = logging.getLogger("wyoming_streamtts")


async def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.debug else getattr(logging, args.log_level.upper())
    logging.basicConfig(level=level, format=args.log_format)
    settings = settings_from(args)
    uri = settings.server.uri
    try:
        server = server_for(uri)  # before anything loads: a typo costs no model load
        service = create_service(settings)
        discovery = None
        if settings.server.zeroconf is not None:
            discovery = create_discovery(uri, settings.server.zeroconf, settings.server.zeroconf_host)
    except (EngineError, TranslationError, ValueError) as err:
        _LOGGER.error("Cannot start: %s", err)
        return 2
    _LOGGER.info(
        "Speaking with %s; %s (%s in %s), default %s",
        service.engine.description,
        counted(len(service.catalog.voices), "voice"),
        counted(len(service.catalog.speakers), "speaker"),
        counted(len(service.catalog.languages), "language"),
        service.catalog.default.name,
    )
    await service.engine.start()
    connections = Connections(settings.server.max_connections, settings.server.max_connections_per_peer)
    handler_factory = partial(StreamTtsEventHandler, service, connections)
    loop = asyncio.get_running_loop()
    stop_by = None
    web = None
    try:
        if settings.server.http is not None:
            web = WebServer(service, connections, settings.server.http, _piper_folder(settings.engines))
            await web.start()
        if isinstance(server, AsyncStdioServer):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # started: a signal now ends the process as usual
            signal.signal(signal.SIGINT, signal.default_int_handler)
            await serve_stdio(handler_factory)
        else:
            await serve(server, handler_factory, discovery, uri, service.reload_voices)
            # Announcement withdrawn; running requests get the grace period, then all close. One bound
            # for the whole stop, the figures file's last lines included: Docker kills after 10 s.
            stop_by = loop.time() + settings.server.shutdown_grace_s + CLOSING_BOUND_S
            await connections.drain(settings.server.shutdown_grace_s)
            await server.stop()
    except OSError as err:
        where = uri if web is None or web.started else f"the web page's port {web.settings.port}"
        _LOGGER.error("Cannot listen on %s: %s", where, err)
        return 2
    finally:
        if web is not None:
            await web.stop()
        await service.close()
        if service.figures_file is not None:
            await service.figures_file.close(FIGURES_CLOSE_S if stop_by is None else _rest(stop_by, FIGURES_CLOSE_S))
    return 0


def _piper_folder(engines: EngineSettings) -> Path | None:
    """Where the web page puts Piper voices; None when there is no data folder (no home, no --piper-voices)."""
    try:
        return engines.piper_folder()
    except EngineError:
        return None


def server_for(uri: str) -> AsyncServer:
    """The server for --uri (raises ValueError with an example of the right form)."""
    try:
        return AsyncServer.from_uri(uri)
    except ValueError as err:
        raise ValueError(f"--uri {uri}: {err} (e.g. tcp://0.0.0.0:10200, unix:///run/tts.sock, stdio://)") from err


def _rest(deadline: float, at_most: float) -> float:
    """Seconds left before the loop-time `deadline`, at most `at_most`; a tenth at the least, for what is written."""
    return min(at_most, max(0.1, deadline - asyncio.get_running_loop().time()))


async def serve(
    server: AsyncServer,
    handler_factory: ConnectionFactory,
    discovery: Discovery | None,
    uri: str,
    reload: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    """Listen, then announce; on SIGHUP reload the voices; on SIGTERM or Ctrl-C withdraw
    the announcement and return."""
    await server.start(for_wyoming(handler_factory))
    _LOGGER.info("Listening on %s (by %s)", uri, ATTRIBUTION.name)
    stopping = asyncio.Event()
    reloads: set[asyncio.Task[None]] = set()

    def on_hangup() -> None:
        task = asyncio.create_task(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop = asyncio.get_running_loop()
    for signum, action in ((signal.SIGTERM, stopping.set), (signal.SIGINT, stopping.set), (signal.SIGHUP, on_hangup)):
        with contextlib.suppress(NotImplementedError, AttributeError):  # no SIGHUP on Windows
            loop.add_signal_handler(signum, action)
    if discovery is not None:
        # Only now that connections are accepted: Home Assistant connects at once.
        await discovery.register_server()
        if problem := multicast_problem():
            _LOGGER.warning(
                "Zeroconf announcement of %s cannot be sent: %s. Home Assistant will not discover this "
                "server: give this machine an interface with multicast (its LAN interface), announce that "
                "interface's address with --zeroconf-host, or add the server by hand (port %s)",
                discovery.name, problem, discovery.port,
            )  # fmt: skip
        else:
            _LOGGER.info("Announced by zeroconf as %s at %s:%s", discovery.name, discovery.host, discovery.port)
    try:
        await stopping.wait()
        _LOGGER.info("Stopping")
    finally:
        if discovery is not None:
            await discovery.unregister_server()


class StoppedWhileStarting(Exception):
    """SIGTERM or Ctrl-C before the server listens."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _reload_while_starting(*_: object) -> None:
    _LOGGER.warning("Reload (SIGHUP) asked for while starting: ignored, the voices are being read now")


def _stop_while_starting(signum: int, _frame: object) -> None:
    raise StoppedWhileStarting(signum)


def run(argv: list[str] | None = None) -> None:
    # SIGHUP's default ends the process, and `systemctl reload` may come while voices or models load:
    # until the server listens (and reloads for real), a reload is only logged. SIGTERM has no default
    # for PID 1 (the Docker image): without a handler `docker stop` waited 10 s, then killed. Once the
    # server listens, its loop's handlers take over all three.
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _reload_while_starting)
    try:
        with asyncio.Runner() as runner:
            for signum in (signal.SIGTERM, signal.SIGINT):  # after the runner's own Ctrl-C handler
                signal.signal(signum, _stop_while_starting)
            code = runner.run(main(argv))
    except StoppedWhileStarting as stop:
        _LOGGER.info("Stopped while starting (%s)", stop)
        logging.shutdown()
        # A model may still be loading on its own thread: it is not waited for.
        os._exit(128 + stop.signum)
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    run()
