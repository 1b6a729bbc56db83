"""Command line: `wyoming-streamtts` starts the server."""

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from wyoming.server import AsyncServer, AsyncStdioServer, HandlerFactory

from . import __version__
from .connections import DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_GRACE_S, Connections, serve_stdio
from .discovery import Discovery, create_discovery, default_name, multicast_problem
from .detection import create_detector
from .engine import Engine, EngineError
from .fallback import ENGINES, create_engine, cuda_available, data_dir, piper_voices_dir
from .handler import ATTRIBUTION, ServerConfig, StreamTtsEventHandler
from .languages import LANGUAGES, normalize_language
from .splitter import DEFAULT_MAX_CHARS
from .translation import DEFAULT_MODEL as DEFAULT_NLLB_MODEL
from .translation import TranslationError, Translator
from .voices import Speaker, VoiceCatalog, find_speakers
from .wire import (
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_STREAM_IDLE_TIMEOUT_S,
    EventLimits,
)

_LOGGER = logging.getLogger("wyoming_streamtts")

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-streamtts",
        description="Streaming text-to-speech server for Home Assistant (Wyoming protocol).",
    )
    parser.add_argument(
        "--uri",
        default="tcp://0.0.0.0:10200",
        help="where to listen: tcp://HOST:PORT, unix://PATH or stdio:// (default: %(default)s)",
    )
    parser.add_argument(
        "--name",
        help="name of the TTS program in describe, which Home Assistant titles it by, and of the "
        "zeroconf service (default: the zeroconf NAME when given, else streamtts)",
    )
    parser.add_argument(
        "--zeroconf",
        nargs="?",
        const="",
        metavar="NAME",
        help="announce the server to Home Assistant by zeroconf, as NAME (default: --name, else "
        f"{default_name()})",
    )
    parser.add_argument(
        "--zeroconf-host",
        help="address to announce (default: the bound address, or this machine's LAN address "
        "when bound to 0.0.0.0 or ::)",
    )
    parser.add_argument(
        "--voices-dir",
        type=Path,
        default=Path("voices"),
        help="folder of reference recordings: NAME.wav|mp3|flac or NAME/*.wav is speaker NAME "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", *ENGINES),
        default="auto",
        help="speech engine: xtts (Coqui XTTS v2, cloned voices; needs the [xtts] extra), gtts "
        "(Google, needs the internet), piper (offline neural voices; needs the [piper] extra) or "
        "espeak (offline); auto is the first of --fallback that can start, xtts only with a GPU "
        "(or when --device names one) (default: %(default)s)",
    )
    parser.add_argument(
        "--fallback",
        default=",".join(ENGINES),
        help="engine order: a request whose engine fails before speaking goes to the next one "
        "after it; 'none' turns this off (default: %(default)s)",
    )
    parser.add_argument(
        "--language",
        action="append",
        metavar="LANG",
        help="advertise voices only in this language (repeatable; default: all of "
        f"{' '.join(LANGUAGES)})",
    )
    parser.add_argument(
        "--default-voice",
        metavar="LANG/SPEAKER",
        help="voice for requests that name none (default: the first advertised voice)",
    )
    parser.add_argument(
        "--samples-per-chunk",
        type=int,
        default=1024,
        help="samples in each audio-chunk event, at 24 kHz (default: %(default)s)",
    )
    parser.add_argument(
        "--max-sentence-chars",
        type=int,
        default=DEFAULT_MAX_CHARS,
        help="longer sentences are cut at a comma or space before synthesis (default: %(default)s)",
    )
    limits = parser.add_argument_group("limits on clients")
    limits.add_argument(
        "--max-text-chars",
        type=int,
        default=20000,
        help="longest text one request may carry; longer gets a text-too-long error (default: %(default)s)",
    )
    limits.add_argument(
        "--max-event-bytes",
        type=int,
        default=DEFAULT_MAX_EVENT_BYTES,
        help="largest event a client may send (header line, data and payload); larger gets an "
        "event-too-large error and the connection is closed (default: %(default)s)",
    )
    limits.add_argument(
        "--read-timeout",
        type=float,
        default=DEFAULT_READ_TIMEOUT_S,
        help="seconds a client may take to finish an event it has begun sending (default: %(default)s)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT_S,
        help="seconds a connection with no request running may stay silent before it gets an "
        "idle-timeout error and is closed; 0 never closes it (default: %(default)s)",
    )
    limits.add_argument(
        "--stream-idle-timeout",
        type=float,
        default=DEFAULT_STREAM_IDLE_TIMEOUT_S,
        help="seconds an open stream (synthesize-start) may go without text before it ends with a "
        "stream-idle-timeout error and the connection is closed; 0 never ends it (default: %(default)s)",
    )
    limits.add_argument(
        "--write-timeout",
        type=float,
        default=30.0,
        help="seconds a client may stop reading before it is dropped (default: %(default)s)",
    )
    limits.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help="connections open at once; more get a too-many-connections error (default: %(default)s)",
    )
    limits.add_argument(
        "--shutdown-grace",
        type=float,
        default=DEFAULT_SHUTDOWN_GRACE_S,
        help="seconds running requests may take to finish on SIGTERM before they end with an "
        "error (default: %(default)s)",
    )
    parser.add_argument(
        "--no-streaming",
        action="store_true",
        help="do not advertise or accept streaming text input (synthesize-start/chunk/stop)",
    )
    parser.add_argument(
        "--gtts-tld",
        default="com",
        help="Google Translate domain for gtts, e.g. com, co.uk, fr (default: %(default)s)",
    )
    parser.add_argument(
        "--gtts-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for each answer from Google before failing (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cuda", "mps", "cpu"),
        default="auto",
        help="where XTTS and NLLB run; auto picks CUDA when a GPU is there (default: %(default)s)",
    )
    translation = parser.add_argument_group("translation (NLLB-200)")
    translation.add_argument(
        "--translator",
        choices=("none", "transformers", "ctranslate2"),
        default="none",
        help="translate text into each voice's language: transformers (fp32 CPU / bf16 GPU) or "
        "ctranslate2 (int8); none speaks the text as it comes (default: %(default)s)",
    )
    translation.add_argument(
        "--source-language",
        default="en",
        help="language of incoming text, or auto to detect it per sentence (default: %(default)s)",
    )
    translation.add_argument(
        "--nllb-model",
        default=DEFAULT_NLLB_MODEL,
        help="NLLB folder (transformers, or converted for ctranslate2) or a model id to "
        "--download (default: %(default)s)",
    )
    translation.add_argument(
        "--translation-cache",
        type=int,
        default=512,
        help="translations kept for repeated phrases (default: %(default)s)",
    )
    xtts = parser.add_argument_group("xtts engine")
    xtts.add_argument(
        "--xtts-model",
        default="tts_models/multilingual/multi-dataset/xtts_v2",
        help="folder with config.json, model.pth, vocab.json (and speakers_xtts.pth), "
        "or a coqui model name to --download (default: %(default)s)",
    )
    xtts.add_argument(
        "--download",
        action="store_true",
        help="download the named XTTS and NLLB models if they are not there yet",
    )
    xtts.add_argument(
        "--agree-coqui-license",
        action="store_true",
        help="accept the Coqui Public Model License of XTTS v2 (https://coqui.ai/cpml), "
        "needed to download it; COQUI_TOS_AGREED=1 does the same",
    )
    xtts.add_argument(
        "--data-dir",
        type=Path,
        help="where downloaded models, converted NLLB models and the latent cache live "
        "(default: $XDG_DATA_HOME/wyoming-streamtts, else ~/.local/share/wyoming-streamtts)",
    )
    xtts.add_argument(
        "--cache-dir",
        type=Path,
        help="where conditioning latents of cloned voices are kept (default: DATA_DIR/latents)",
    )
    xtts.add_argument("--deepspeed", action="store_true", help="use DeepSpeed on CUDA when installed")
    xtts.add_argument(
        "--stream-chunk-size",
        type=int,
        default=20,
        help="GPT tokens per streamed audio chunk; smaller starts sooner (default: %(default)s)",
    )
    piper = parser.add_argument_group("piper engine")
    piper.add_argument(
        "--piper-voices",
        type=Path,
        metavar="DIR",
        help="folder of Piper voices: each NAME.onnx with its NAME.onnx.json (default: DATA_DIR/piper)",
    )
    piper.add_argument(
        "--download-piper-voice",
        action="append",
        metavar="NAME",
        help="download this Piper voice (e.g. de_DE-thorsten-medium) into the Piper voices folder "
        "if it is not there yet (repeatable)",
    )
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level (includes text)")
    parser.add_argument(
        "--log-format",
        default=logging.BASIC_FORMAT,
        help="Python logging format (default: %(default)s)",
    )
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def create_translator(args: argparse.Namespace) -> Translator | None:
    """The translation stage named on the command line (raises TranslationError)."""
    if args.translator == "none":
        return None
    try:
        from .translation import create_backend  # noqa: PLC0415
    except ImportError as err:
        raise TranslationError(f"Translation needs the [translate] extra: {err}") from err
    device = "cuda" if args.device in ("auto", "cuda") and cuda_available() else "cpu"
    try:
        folder = data_dir(args)
    except EngineError as err:
        raise TranslationError(str(err)) from err
    backend = create_backend(args.translator, args.nllb_model, device, args.download, folder)
    _LOGGER.info("Translating from %s with %s on %s", args.source_language, args.translator, device)
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
    if args.samples_per_chunk < 1:
        raise ValueError("--samples-per-chunk must be at least 1")
    if args.max_sentence_chars < 20:
        raise ValueError("--max-sentence-chars must be at least 20")
    if min(args.max_text_chars, args.max_connections, args.write_timeout, args.read_timeout) <= 0:
        raise ValueError("--max-text-chars, --max-connections, --read-timeout and --write-timeout must be positive")
    if args.max_event_bytes < 1024:
        raise ValueError("--max-event-bytes must be at least 1024")
    if min(args.shutdown_grace, args.idle_timeout, args.stream_idle_timeout) < 0:
        raise ValueError("--shutdown-grace, --idle-timeout and --stream-idle-timeout must not be negative")
    if args.stream_chunk_size < 1:
        raise ValueError("--stream-chunk-size must be at least 1")
    if args.source_language != "auto":
        normalize_language(args.source_language)
    for name in args.download_piper_voice or []:
        download_piper_voice(name, piper_voices_dir(args))
    cloned = find_speakers(args.voices_dir)
    engine = create_engine(args, cloned)
    catalog = build_catalog(args, engine, cloned)
    return ServerConfig(
        name=args.name or args.zeroconf or "streamtts",
        translator=create_translator(args),
        detector=create_detector(catalog.languages) if len(catalog.languages) > 1 else None,
        engine=engine,
        catalog=catalog,
        samples_per_chunk=args.samples_per_chunk,
        streaming=not args.no_streaming,
        max_sentence_chars=args.max_sentence_chars,
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
    reload: Callable[[], Awaitable[None]],
) -> None:
    """Listen, then announce; on SIGHUP reload the voices; on SIGTERM or Ctrl-C withdraw
    the announcement and return."""
    await server.start(handler_factory)
    _LOGGER.info("Listening on %s (by %s)", uri, ATTRIBUTION.name)
    stopping = asyncio.Event()
    reloads: set[asyncio.Task] = set()

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
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    run()
