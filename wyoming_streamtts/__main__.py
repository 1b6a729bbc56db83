"""Command line: `wyoming-streamtts` starts the server."""

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from wyoming.server import AsyncServer, AsyncStdioServer, HandlerFactory

from .cli import build_parser, check_settings
from .connections import Connections, serve_stdio
from .detection import create_detector
from .devices import decide_device, gpus_present
from .discovery import Discovery, create_discovery, default_name, multicast_problem
from .engine import Engine, EngineError
from .fallback import create_engine, data_dir, fallback_order, piper_voices_dir, wanted_engines
from .handler import ATTRIBUTION, ServerConfig, StreamTtsEventHandler
from .languages import normalize_language
from .translation import TranslationError, Translator
from .voices import Speaker, VoiceCatalog, find_speakers
from .wire import EventLimits

_LOGGER = logging.getLogger("wyoming_streamtts")


def create_translator(args: argparse.Namespace, device: str) -> Translator | None:
    """The translation stage named on the command line, on `device` (raises TranslationError)."""
    if args.translator == "none":
        return None
    try:
        from .translation import create_backend  # noqa: PLC0415
    except ImportError as err:
        raise TranslationError(f"Translation needs the [translate] extra: {err}") from err
    try:
        folder = data_dir(args)
    except EngineError as err:
        raise TranslationError(str(err)) from err
    backend = create_backend(args.translator, args.nllb_model, device, args.download, folder)
    _LOGGER.info("Translating from %s with %s on %s", args.source_language, args.translator, backend.device)
    return Translator(backend, args.source_language, args.translation_cache)


def download_piper_voice(name: str, voices_dir: Path) -> None:
    """Fetch a Piper voice asked for on the command line (raises EngineError)."""
    try:
        from .piper_engine import download  # noqa: PLC0415
    except ImportError as err:
        raise EngineError(f"--download-piper-voice needs the [piper] extra: {err}") from err
    download(name, voices_dir)


def create_config(args: argparse.Namespace) -> ServerConfig:
    """Engine, voices and settings from the command line (raises ValueError, EngineError)."""
    check_settings(args)
    if args.source_language != "auto":
        normalize_language(args.source_language)
    for name in args.download_piper_voice or []:
        download_piper_voice(name, piper_voices_dir(args))
    # Only XTTS and NLLB run on a device; the light engines need not load PyTorch to find one.
    models = args.translator != "none" or "xtts" in wanted_engines(args.engine, fallback_order(args.fallback))
    device = decide_device(args.device, *gpus_present()) if models else "cpu"
    cloned = find_speakers(args.voices_dir)
    engine = create_engine(args, cloned, device)
    catalog = build_catalog(args, engine, cloned)
    return ServerConfig(
        name=args.name or args.zeroconf or "streamtts",
        translator=create_translator(args, device),
        detector=create_detector(catalog.languages) if len(catalog.languages) > 1 else None,
        engine=engine,
        catalog=catalog,
        samples_per_chunk=args.samples_per_chunk,
        streaming=not args.no_streaming,
        max_sentence_chars=args.max_sentence_chars,
        first_clause_chars=args.first_clause_chars,
        max_text_chars=args.max_text_chars,
        write_timeout_s=args.write_timeout,
        limits=EventLimits(args.max_event_bytes, args.read_timeout, args.idle_timeout, args.stream_idle_timeout),
    )


def build_catalog(args: argparse.Namespace, engine: Engine, cloned: list[Speaker]) -> VoiceCatalog:
    """The voices: the cloned speakers and the engine's own, in the languages asked for (raises ValueError)."""
    languages = set(engine.languages)
    if args.language:
        languages &= {normalize_language(tag) for tag in args.language}
    return VoiceCatalog(cloned + list(engine.speakers), languages, engine.attribution, args.default_voice)


async def reload_voices(args: argparse.Namespace, config: ServerConfig) -> None:
    """SIGHUP: read the voices folder again. Running requests keep the voice they have."""
    cloned = await asyncio.to_thread(find_speakers, args.voices_dir)
    try:
        catalog = build_catalog(args, config.engine, cloned)
    except ValueError as err:
        _LOGGER.error("Voices not reloaded, the old ones stay: %s", err)
        return
    answer = await asyncio.to_thread(config.answer_for, catalog)
    await config.engine.update_voices(cloned)
    before, after = set(config.catalog.speakers), set(catalog.speakers)
    config.catalog, config.describe_answer = catalog, answer
    _LOGGER.info(
        "Voices reloaded from %s: %d voices; added %s; removed %s",
        args.voices_dir, len(catalog.voices), ", ".join(sorted(after - before)) or "none",
        ", ".join(sorted(before - after)) or "none",
    )  # fmt: skip


async def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format=args.log_format)
    try:
        config = create_config(args)
        server = AsyncServer.from_uri(args.uri)
        discovery = None
        if args.zeroconf is not None:
            discovery = create_discovery(args.uri, args.zeroconf or args.name or default_name(), args.zeroconf_host)
    except (EngineError, TranslationError, ValueError) as err:
        _LOGGER.error("Cannot start: %s", err)
        return 2
    _LOGGER.info(
        "Speaking with %s; %d voices (%d speakers x %d languages), default %s",
        config.engine.description,
        len(config.catalog.voices),
        len(config.catalog.speakers),
        len(config.catalog.languages),
        config.catalog.default.name,
    )
    await config.engine.start()
    connections = Connections(args.max_connections)
    handler_factory = partial(StreamTtsEventHandler, config, connections)
    try:
        if isinstance(server, AsyncStdioServer):
            await serve_stdio(handler_factory)
        else:
            await serve(server, handler_factory, discovery, args.uri, partial(reload_voices, args, config))
            # Announcement withdrawn; running requests get the grace period, then all close.
            await connections.drain(args.shutdown_grace)
            await server.stop()
    except OSError as err:
        _LOGGER.error("Cannot listen on %s: %s", args.uri, err)
        return 2
    finally:
        await config.engine.close()
        if config.translator is not None:
            config.translator.close()
    return 0


async def serve(
    server: AsyncServer,
    handler_factory: HandlerFactory,
    discovery: Discovery | None,
    uri: str,
    reload: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    """Listen, then announce; on SIGHUP reload the voices; on SIGTERM or Ctrl-C withdraw
    the announcement and return."""
    await server.start(handler_factory)
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


def run() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main()))


if __name__ == "__main__":
    run()
