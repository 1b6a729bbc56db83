"""The command line: every flag, with its range check beside it (its default comes from settings.py)."""

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__
from .devices import DEVICES
from .discovery import default_name
from .settings import ENGINES, XTTS_PRECISIONS, EngineSettings, ServerSettings, TranslatorSettings, XttsSettings
from .wire import EventLimits

# Defaults come from the settings classes, so that each is written once.
SERVER, ENGINE, XTTS, TRANSLATOR, LIMITS = ServerSettings, EngineSettings, XttsSettings, TranslatorSettings, EventLimits
SAMPLING_FLAGS = ("temperature", "top_p", "top_k", "repetition_penalty", "speed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-streamtts",
        description="Streaming text-to-speech server for Home Assistant (Wyoming protocol).",
    )
    parser.add_argument(
        "--uri",
        default=SERVER.uri,
        help="where to listen: tcp://HOST:PORT, unix://PATH or stdio:// (default: %(default)s)",
    )
    parser.add_argument(
        "--name",
        help="name of the TTS program in describe, which Home Assistant titles it by, and of the "
        f"zeroconf service (default: the zeroconf NAME when given, else {SERVER.name})",
    )
    parser.add_argument(
        "--zeroconf",
        nargs="?",
        const="",
        metavar="NAME",
        help=f"announce the server to Home Assistant by zeroconf, as NAME (default: --name, else {default_name()})",
    )
    parser.add_argument(
        "--zeroconf-host",
        help="address to announce (default: the bound address, or this machine's LAN address "
        "when bound to 0.0.0.0 or ::)",
    )
    parser.add_argument(
        "--voices-dir",
        type=Path,
        default=SERVER.voices_dir,
        help="folder of reference recordings: NAME.wav|mp3|flac or NAME/*.wav is speaker NAME (default: %(default)s)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", *ENGINES),
        default=ENGINE.engine,
        help="speech engine: xtts (Coqui XTTS v2, cloned voices; needs the [xtts] extra), gtts "
        "(Google, needs the internet), piper (offline neural voices; needs the [piper] extra) or "
        "espeak (offline); auto is the first of --fallback that can start, xtts only with a GPU "
        "(or when --device names one) (default: %(default)s)",
    )
    parser.add_argument(
        "--fallback",
        type=engine_order,
        action=Checked,
        check=unknown_engines,
        default=",".join(ENGINE.fallback),
        help="engine order: a request whose engine fails before speaking goes to the next one "
        "after it; 'none' turns this off (default: %(default)s)",
    )
    parser.add_argument(
        "--language",
        action="append",
        metavar="LANG",
        help="advertise voices only in this language, e.g. sv or pt-BR (repeatable; default: every language the "
        "engines speak); requests that name no voice are told apart among these languages",
    )
    parser.add_argument(
        "--default-voice",
        metavar="LANG/SPEAKER",
        help="voice for requests that name none (default: the first advertised voice)",
    )
    parser.add_argument(
        "--samples-per-chunk",
        type=int,
        action=Checked,
        check=at_least(1),
        default=SERVER.samples_per_chunk,
        help="samples in each audio-chunk event, at 24 kHz (default: %(default)s)",
    )
    parser.add_argument(
        "--max-sentence-chars",
        type=int,
        action=Checked,
        check=at_least(20),
        default=SERVER.max_sentence_chars,
        help="longer sentences are cut at a comma or space before synthesis (default: %(default)s)",
    )
    parser.add_argument(
        "--first-clause-chars",
        type=int,
        action=Checked,
        check=not_negative,
        default=SERVER.first_clause_chars,
        metavar="N",
        help="with streaming input and no translator, speak a long first sentence from its first "
        "clause (comma, semicolon, colon, dash) once it holds N characters; 0 waits for the whole "
        "sentence (default: %(default)s)",
    )
    limits = parser.add_argument_group("limits on clients")
    limits.add_argument(
        "--max-text-chars",
        type=int,
        action=Checked,
        check=positive,
        default=SERVER.max_text_chars,
        help="longest text one request may carry; longer gets a text-too-long error (default: %(default)s)",
    )
    limits.add_argument(
        "--max-event-bytes",
        type=int,
        action=Checked,
        check=at_least(1024),
        default=LIMITS.max_bytes,
        help="largest event a client may send (header line, data and payload); larger gets an "
        "event-too-large error and the connection is closed (default: %(default)s)",
    )
    limits.add_argument(
        "--read-timeout",
        type=float,
        action=Checked,
        check=positive,
        default=LIMITS.read_timeout_s,
        help="seconds a client may take to finish an event it has begun sending (default: %(default)s)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        action=Checked,
        check=not_negative,
        default=LIMITS.idle_timeout_s,
        help="seconds a connection with no request running may stay silent before it gets an "
        "idle-timeout error and is closed; 0 never closes it (default: %(default)s)",
    )
    limits.add_argument(
        "--stream-idle-timeout",
        type=float,
        action=Checked,
        check=not_negative,
        default=LIMITS.stream_idle_timeout_s,
        help="seconds an open stream (synthesize-start) may go without text before it ends with a "
        "stream-idle-timeout error and the connection is closed; 0 never ends it (default: %(default)s)",
    )
    limits.add_argument(
        "--write-timeout",
        type=float,
        action=Checked,
        check=positive,
        default=SERVER.write_timeout_s,
        help="seconds a client may stop reading before it is dropped (default: %(default)s)",
    )
    limits.add_argument(
        "--max-connections",
        type=int,
        action=Checked,
        check=positive,
        default=SERVER.max_connections,
        help="connections open at once; when all are taken, a newcomer from another address closes the "
        "longest-idle connection of the address that holds the most (default: %(default)s)",
    )
    limits.add_argument(
        "--max-connections-per-peer",
        type=int,
        action=Checked,
        check=not_negative,
        default=SERVER.max_connections_per_peer,
        metavar="N",
        help="connections one client address may hold; more get a too-many-connections error, so one "
        "device cannot take every place; 0: no limit, e.g. behind a load balancer (default: %(default)s)",
    )
    limits.add_argument(
        "--shutdown-grace",
        type=float,
        action=Checked,
        check=not_negative,
        default=SERVER.shutdown_grace_s,
        help="seconds running requests may take to finish on SIGTERM before they end with an "
        "error (default: %(default)s)",
    )
    parser.add_argument(
        "--no-streaming",
        action="store_true",
        help="do not advertise or accept streaming text input (synthesize-start/chunk/stop)",
    )
    parser.add_argument(
        "--keep-markdown",
        action="store_true",
        help="read the text as it comes; by default markdown (an LLM's **, #, lists, links, URLs, "
        "code blocks) and emoji are turned into what a person would read aloud",
    )
    parser.add_argument(
        "--gtts-tld",
        default=ENGINE.gtts_tld,
        help="Google Translate domain for gtts, e.g. com, co.uk, fr (default: %(default)s)",
    )
    parser.add_argument(
        "--gtts-timeout",
        type=float,
        default=ENGINE.gtts_timeout_s,
        help="seconds to wait for each answer from Google before failing (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default=ENGINE.device,
        help="where XTTS and NLLB run; auto picks a CUDA GPU, else an Apple GPU (MPS), else the CPU "
        "(default: %(default)s)",
    )
    translation = parser.add_argument_group("translation (NLLB-200)")
    translation.add_argument(
        "--translator",
        choices=("none", "transformers", "ctranslate2"),
        default=TRANSLATOR.backend,
        help="translate text into each voice's language: transformers (fp32 CPU / bf16 GPU) or "
        "ctranslate2 (int8); none speaks the text as it comes (default: %(default)s)",
    )
    translation.add_argument(
        "--source-language",
        default=TRANSLATOR.source_language,
        help="language of incoming text, or auto to detect it per sentence (default: %(default)s)",
    )
    translation.add_argument(
        "--nllb-model",
        default=TRANSLATOR.model,
        help="NLLB folder (transformers, or converted for ctranslate2) or a model id to "
        "--download (default: %(default)s)",
    )
    translation.add_argument(
        "--translation-cache",
        type=int,
        default=TRANSLATOR.cache,
        help="translations kept for repeated phrases (default: %(default)s)",
    )
    xtts = parser.add_argument_group("xtts engine")
    xtts.add_argument(
        "--xtts-model",
        default=XTTS.model,
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
        "--xtts-precision",
        choices=XTTS_PRECISIONS,
        default=XTTS.precision,
        help="the GPT's precision: int8 (CPU only; about twice as fast there end to end), fp16 (CUDA, MPS), bf16 "
        "(CUDA, CPU), fp32; auto is int8 on a CPU, fp16 on CUDA, fp32 on MPS. The vocoder stays fp32 "
        "(default: %(default)s)",
    )
    xtts.add_argument(
        "--stream-chunk-size",
        type=int,
        action=Checked,
        check=at_least(1),
        default=XTTS.stream_chunk_size,
        help="GPT tokens per streamed audio chunk once a sentence is under way (default: %(default)s)",
    )
    xtts.add_argument(
        "--first-chunk-size",
        type=int,
        action=Checked,
        check=at_least(0),
        default=XTTS.first_chunk_size,
        metavar="N",
        help="GPT tokens of each sentence's first chunk, so that audio starts sooner; later chunks grow "
        "as the audio already sent allows, up to --stream-chunk-size; 0 for a fixed size (default: %(default)s)",
    )
    # Sampling: the checkpoint's config.json gives each (fine-tuned models ship their own).
    checkpoint = "(default: the model's config.json)"
    xtts.add_argument(
        "--temperature", type=within(float, 0.01, 2.0), help=f"randomness of the speech, 0.01-2 {checkpoint}"
    )
    xtts.add_argument("--top-p", type=within(float, 0.01, 1.0), help=f"nucleus sampling, 0.01-1 {checkpoint}")
    xtts.add_argument("--top-k", type=within(int, 1, 1026), help=f"tokens sampled from, 1-1026 {checkpoint}")
    xtts.add_argument(
        "--repetition-penalty", type=within(float, 1.0, 20.0), help=f"against repeated sounds, 1-20 {checkpoint}"
    )
    xtts.add_argument(
        "--speed", type=within(float, 0.25, 4.0), help="speaking rate of XTTS voices, 0.25-4 (default: 1.0)"
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
    parser.add_argument(
        "--figures-file",
        type=Path,
        metavar="PATH",
        help="append one JSON line per request to PATH: voice, language, how it ended, engines that spoke, "
        "characters, first chunk, the engine's first chunk, audio and wall seconds (never the text); "
        "written on a thread of its own, so a file or pipe that takes no line for now holds up no request",
    )
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level (includes text)")
    parser.add_argument(
        "--log-format",
        default=logging.BASIC_FORMAT,
        help="Python logging format (default: %(default)s)",
    )
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def within(kind: Callable[[str], float], low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number of `kind` from `low` to `high` (argparse names the flag on error)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not from {low:g} to {high:g}")
        return value

    return parse


class Checked(argparse.Action):
    """A flag whose value is checked where the flag is declared: a bad one stops the start, naming the flag."""

    def __init__(self, *args: Any, check: Callable[[Any], str | None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.check = check

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: Any = None
    ) -> None:
        if (problem := self.check(values)) is not None:
            parser.error(f"{option_string} {problem}")
        setattr(namespace, self.dest, values)


def at_least(minimum: int) -> Callable[[float], str | None]:
    return lambda value: None if value >= minimum else f"must be at least {minimum}"


def positive(value: float) -> str | None:
    return None if value > 0 else "must be positive"


def not_negative(value: float) -> str | None:
    return None if value >= 0 else "must not be negative"


def engine_order(value: str) -> tuple[str, ...]:
    """The --fallback list ('none': no fallback)."""
    if value.strip().lower() == "none":
        return ()
    return tuple(name.strip() for name in value.split(",") if name.strip())


def unknown_engines(names: tuple[str, ...]) -> str | None:
    unknown = [name for name in names if name not in ENGINES]
    return f"names unknown engines: {', '.join(unknown)} (known: {', '.join(ENGINES)})" if unknown else None
