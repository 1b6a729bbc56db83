"""Command line: `wyoming-streamtts` starts the server."""

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from wyoming.server import AsyncServer, AsyncStdioServer

from .cli import SAMPLING_FLAGS, build_parser
from .connections import CLOSING_BOUND_S, ConnectionFactory, Connections, for_wyoming, serve_stdio
from .detection import create_detector, detected_languages
from .devices import decide_device, gpus_present
from .discovery import Discovery, create_discovery, default_name, multicast_problem
from .engine import Engine, EngineError
from .engines import create_engine
from .figures import CLOSE_TIMEOUT_S as FIGURES_CLOSE_S
from .figures import FiguresFile
from .handler import ATTRIBUTION, ServerConfig, StreamTtsEventHandler
from .languages import LANGUAGES, XTTS_V2_LANGUAGES, normalize_language
from .settings import EngineSettings, ServerSettings, Settings, TranslatorSettings, XttsSettings
from .translation import TranslationError, Translator
from .voices import Speaker, VoiceCatalog, find_speakers
from .wire import EventLimits

_LOGGER = logging.getLogger("wyoming_streamtts")


def settings_from(args: argparse.Namespace) -> Settings:
    """The typed settings of parsed flags."""
    limits = EventLimits(args.max_event_bytes, args.read_timeout, args.idle_timeout, args.stream_idle_timeout)
    server = ServerSettings(
        uri=args.uri,
        name=args.name or args.zeroconf or ServerSettings.name,
        zeroconf=None if args.zeroconf is None else args.zeroconf or args.name or default_name(),
        zeroconf_host=args.zeroconf_host,
        voices_dir=args.voices_dir,
        languages=tuple(args.language or ()),
        default_voice=args.default_voice,
        samples_per_chunk=args.samples_per_chunk,
        streaming=not args.no_streaming,
        speakable=not args.keep_markdown,
        max_sentence_chars=args.max_sentence_chars,
        first_clause_chars=args.first_clause_chars,
        max_text_chars=args.max_text_chars,
        write_timeout_s=args.write_timeout,
        limits=limits,
        max_connections=args.max_connections,
        max_connections_per_peer=args.max_connections_per_peer,
        shutdown_grace_s=args.shutdown_grace,
        figures_file=args.figures_file,
    )
    xtts = XttsSettings(
        model=args.xtts_model,
        agree_license=args.agree_coqui_license,
        cache_dir=args.cache_dir,
        deepspeed=args.deepspeed,
        precision=args.xtts_precision,
        stream_chunk_size=args.stream_chunk_size,
        first_chunk_size=args.first_chunk_size,
        sampling={name: getattr(args, name) for name in SAMPLING_FLAGS},
    )
    engines = EngineSettings(
        engine=args.engine,
        fallback=args.fallback,
        device=args.device,
        data_dir=args.data_dir,
        download=args.download,
        xtts=xtts,
        gtts_tld=args.gtts_tld,
        gtts_timeout_s=args.gtts_timeout,
        piper_voices=args.piper_voices,
        download_piper_voices=tuple(args.download_piper_voice or ()),
    )
    translator = TranslatorSettings(args.translator, args.source_language, args.nllb_model, args.translation_cache)
    return Settings(server, engines, translator)


def create_translator(settings: TranslatorSettings, engines: EngineSettings, device: str) -> Translator | None:
    """The translation stage, on `device` (raises TranslationError)."""
    if settings.backend == "none":
        return None
    try:
        from .translation import create_backend  # noqa: PLC0415
    except ImportError as err:
        raise TranslationError(f"Translation needs the [translate] extra: {err}") from err
    try:
        folder = engines.data_folder()
    except EngineError as err:
        raise TranslationError(str(err)) from err
    backend = create_backend(settings.backend, settings.model, device, engines.download, folder)
    _LOGGER.info("Translating from %s with %s on %s", settings.source_language, settings.backend, backend.device)
    return Translator(backend, settings.source_language, settings.cache)


def download_piper_voice(name: str, voices_dir: Path) -> None:
    """Fetch a Piper voice asked for on the command line (raises EngineError)."""
    try:
        from .piper_engine import download  # noqa: PLC0415
    except ImportError as err:
        raise EngineError(f"--download-piper-voice needs the [piper] extra: {err}") from err
    download(name, voices_dir)


def create_config(settings: Settings) -> ServerConfig:
    """Engine, voices and translator from the settings (raises ValueError, EngineError, TranslationError)."""
    source = settings.translator.source_language
    code = None if source == "auto" else normalize_language(source)
    if code is not None and LANGUAGES[code].flores is None and settings.translator.backend != "none":
        raise ValueError(f"--source-language {source}: NLLB does not translate from {LANGUAGES[code].name}")
    for name in settings.engines.download_piper_voices:
        download_piper_voice(name, settings.engines.piper_folder())
    # Only XTTS and NLLB run on a device; the light engines need not load PyTorch to find one.
    torch_model = settings.translator.backend == "transformers" or "xtts" in settings.engines.wanted()
    models = torch_model or settings.translator.backend != "none"
    device = decide_device(settings.engines.device, *gpus_present(torch_model)) if models else "cpu"
    cloned = find_speakers(settings.server.voices_dir)
    engine = create_engine(settings.engines, cloned, device)
    catalog = build_catalog(settings.server, engine, cloned)
    return ServerConfig(
        engine=engine,
        catalog=catalog,
        settings=settings.server,
        translator=create_translator(settings.translator, settings.engines, device),
        detector=create_detector(detected_languages(catalog, bool(settings.server.languages))),
        figures=create_figures_file(settings.server.figures_file),
    )


def create_figures_file(path: Path | None) -> FiguresFile | None:
    """--figures-file, checked at start (raises ValueError naming the flag)."""
    try:
        return None if path is None else FiguresFile(path)
    except OSError as err:
        raise ValueError(f"--figures-file {path}: {err.strerror or err}") from err


def build_catalog(settings: ServerSettings, engine: Engine, cloned: list[Speaker]) -> VoiceCatalog:
    """The voices: the cloned speakers and the engine's own, in the languages asked for (raises ValueError).

    Cloned voices speak XTTS v2's languages, XTTS studio voices the engine's, Piper voices their
    own, the default voice every language of the engine chain."""
    allowed = {normalize_language(tag) for tag in settings.languages} if settings.languages else None

    def within(languages: frozenset[str]) -> frozenset[str]:
        return languages if allowed is None else languages & allowed

    speakers = [_in_engine_languages(speaker, engine) for speaker in cloned] + list(engine.speakers)
    speakers = [
        speaker if speaker.languages is None else dataclasses.replace(speaker, languages=within(speaker.languages))
        for speaker in speakers
    ]
    return VoiceCatalog(speakers, within(engine.languages), engine.attribution, settings.default_voice)


def _in_engine_languages(speaker: Speaker, engine: Engine) -> Speaker:
    """A cloned speaker in XTTS v2's languages that the engine speaks (or those its sidecar names)."""
    spoken = engine.languages & XTTS_V2_LANGUAGES
    if speaker.languages is None:
        return dataclasses.replace(speaker, languages=spoken)
    if unspoken := speaker.languages - spoken:
        _LOGGER.warning(
            "Voice %s: %s cannot speak %s as a cloned voice; not advertised in it",
            speaker.name, engine.name, ", ".join(sorted(unspoken)),
        )  # fmt: skip
    return dataclasses.replace(speaker, languages=speaker.languages & spoken)


async def reload_voices(config: ServerConfig) -> None:
    """SIGHUP: read the voices folder again. Running requests keep the voice they have."""
    voices_dir = config.settings.voices_dir
    cloned = await asyncio.to_thread(find_speakers, voices_dir)
    try:
        catalog = build_catalog(config.settings, config.engine, cloned)
    except ValueError as err:
        _LOGGER.error("Voices not reloaded, the old ones stay: %s", err)
        return
    answer = await asyncio.to_thread(config.answer_for, catalog)
    await config.engine.update_voices(cloned)
    before, after = set(config.catalog.speakers), set(catalog.speakers)
    config.catalog, config.describe_answer = catalog, answer
    _LOGGER.info(
        "Voices reloaded from %s: %d voices; added %s; removed %s",
        voices_dir, len(catalog.voices), ", ".join(sorted(after - before)) or "none",
        ", ".join(sorted(before - after)) or "none",
    )  # fmt: skip


async def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format=args.log_format)
    settings = settings_from(args)
    uri = settings.server.uri
    try:
        config = create_config(settings)
        server = AsyncServer.from_uri(uri)
        discovery = None
        if settings.server.zeroconf is not None:
            discovery = create_discovery(uri, settings.server.zeroconf, settings.server.zeroconf_host)
    except (EngineError, TranslationError, ValueError) as err:
        _LOGGER.error("Cannot start: %s", err)
        return 2
    _LOGGER.info(
        "Speaking with %s; %d voices (%d speakers in %d languages), default %s",
        config.engine.description,
        len(config.catalog.voices),
        len(config.catalog.speakers),
        len(config.catalog.languages),
        config.catalog.default.name,
    )
    await config.engine.start()
    connections = Connections(settings.server.max_connections, settings.server.max_connections_per_peer)
    handler_factory = partial(StreamTtsEventHandler, config, connections)
    loop = asyncio.get_running_loop()
    stop_by = None
    try:
        if isinstance(server, AsyncStdioServer):
            await serve_stdio(handler_factory)
        else:
            await serve(server, handler_factory, discovery, uri, partial(reload_voices, config))
            # Announcement withdrawn; running requests get the grace period, then all close. One bound
            # for the whole stop, the figures file's last lines included: Docker kills after 10 s.
            stop_by = loop.time() + settings.server.shutdown_grace_s + CLOSING_BOUND_S
            await connections.drain(settings.server.shutdown_grace_s)
            await server.stop()
    except OSError as err:
        _LOGGER.error("Cannot listen on %s: %s", uri, err)
        return 2
    finally:
        await config.engine.close()
        if config.figures is not None:
            await config.figures.close(FIGURES_CLOSE_S if stop_by is None else _rest(stop_by, FIGURES_CLOSE_S))
        if config.translator is not None:
            config.translator.close()
    return 0


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


def _reload_while_starting(*_: object) -> None:
    _LOGGER.warning("Reload (SIGHUP) asked for while starting: ignored, the voices are being read now")


def run() -> None:
    # SIGHUP's default ends the process, and `systemctl reload` may come while voices or models load:
    # until the server listens (and reloads for real), a reload is only logged.
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _reload_while_starting)
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main()))


if __name__ == "__main__":
    run()
