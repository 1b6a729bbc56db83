"""The command line: every flag declared once, as data, with its default (from settings.py) and its check.

`settings_from` turns the parsed flags into the typed settings every other module reads.
"""

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .devices import DEVICES
from .discovery import default_name
from .settings import (
    ENGINES,
    XTTS_PRECISIONS,
    XTTS_VOCODERS,
    EngineSettings,
    HttpSettings,
    ServerSettings,
    Settings,
    TranslatorSettings,
    XttsSettings,
)
from .wire import EventLimits

# Defaults come from the settings classes, so that each is written once.
SAMPLING_FLAGS = ("temperature", "top_p", "top_k", "repetition_penalty", "speed")
# The help's sections after the general options.
LIMITS_ON_CLIENTS, TRANSLATION = "limits on clients", "translation (NLLB-200)"
XTTS_ENGINE, PIPER_ENGINE, WEB_PAGE = "xtts engine", "piper engine", "web page"
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Flag:
    """One flag as argparse is told of it; `check` runs on its value as it is parsed (a bad one names the flag)."""

    name: str
    help: str
    default: Any = None
    type: Callable[[str], Any] | None = None
    check: Callable[[Any], str | None] | None = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    action: str | None = None  # "store_true" (a switch) or "append" (repeatable)
    const: str | None = None  # the value of the flag given bare (--zeroconf)
    group: str | None = None  # its section of the help (None: the general options)

    def add_to(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        kwargs: dict[str, Any] = {"help": self.help}
        if self.default is not None and "(default" not in self.help:
            kwargs["help"] = f"{self.help} (default: %(default)s)"
        if self.check is not None:
            kwargs.update(action=Checked, check=self.check)
        if self.const is not None:
            kwargs.update(nargs="?", const=self.const)
        for key in ("action", "default", "type", "choices", "metavar"):
            if (value := getattr(self, key)) is not None:
                kwargs[key] = value
        parser.add_argument(self.name, **kwargs)


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


def openai_voice(value: str) -> tuple[str, str]:
    """NAME=LANG/SPEAKER."""
    name, _, voice = value.partition("=")
    if not name.strip() or "/" not in voice:
        raise argparse.ArgumentTypeError(f"{value!r}: give NAME=LANG/SPEAKER, e.g. alloy=en/ana")
    return name.strip().lower(), voice.strip()


def unknown_engines(names: tuple[str, ...]) -> str | None:
    unknown = [name for name in names if name not in ENGINES]
    return f"names unknown engines: {', '.join(unknown)} (known: {', '.join(ENGINES)})" if unknown else None


# fmt: off
FLAGS = (
    Flag("--uri", default=ServerSettings.uri,
        help="where to listen: tcp://HOST:PORT, unix://PATH or stdio://"),
    Flag("--name",
        help="name of the TTS program in describe, which Home Assistant titles it by, and of the zeroconf service "
        f"(default: the zeroconf NAME when given, else {ServerSettings.name})"),
    Flag("--zeroconf", const="", metavar="NAME",
        help=f"announce the server to Home Assistant by zeroconf, as NAME (default: --name, else {default_name()})"),
    Flag("--zeroconf-host",
        help="address to announce (default: the bound address, or this machine's LAN address when bound to 0.0.0.0"
        " or ::)"),
    Flag("--voices-dir", type=Path, default=ServerSettings.voices_dir,
        help="folder of reference recordings: NAME.wav|mp3|flac or NAME/*.wav is speaker NAME"),
    Flag("--engine", choices=("auto", *ENGINES), default=EngineSettings.engine,
        help="speech engine: xtts (Coqui XTTS v2, cloned voices; needs the [xtts] extra), gtts (Google, needs the "
        "internet), piper (offline neural voices; needs the [piper] extra) or espeak (offline); auto is the "
        "first of --fallback that can start, xtts only with a GPU (or when --device names one)"),
    Flag("--fallback", type=engine_order, check=unknown_engines, default=",".join(EngineSettings.fallback),
        help="engine order: a request whose engine fails before speaking goes to the next one after it; 'none' "
        "turns this off"),
    Flag("--language", action="append", metavar="LANG",
        help="advertise voices only in this language, e.g. sv or pt-BR (repeatable; default: every language the "
        "engines speak); requests that name no voice are told apart among these languages"),
    Flag("--default-voice", metavar="LANG/SPEAKER",
        help="voice for requests that name none (default: the first advertised voice)"),
    Flag("--samples-per-chunk", type=int, check=at_least(1), default=ServerSettings.samples_per_chunk,
        help="samples in each audio-chunk event, at 24 kHz"),
    Flag("--max-sentence-chars", type=int, check=at_least(20), default=ServerSettings.max_sentence_chars,
        help="longer sentences are cut at a comma or space before synthesis"),
    Flag("--first-clause-chars", type=int, check=not_negative, default=ServerSettings.first_clause_chars, metavar="N",
        help="with streaming input and no translator, speak a long first sentence from its first clause (comma, "
        "semicolon, colon, dash) once it holds N characters; with Piper and gTTS, which say a sentence only once "
        "all of it is made, a first sentence's first clause is said apart also when it has come whole; 0 waits for "
        "the whole sentence"),
    Flag("--max-text-chars", type=int, check=positive, default=ServerSettings.max_text_chars, group=LIMITS_ON_CLIENTS,
        help="longest text one request may carry; longer gets a text-too-long error"),
    Flag("--max-event-bytes", type=int, check=at_least(1024), default=EventLimits.max_bytes, group=LIMITS_ON_CLIENTS,
        help="largest event a client may send (header line, data and payload); larger gets an event-too-large "
        "error and the connection is closed"),
    Flag("--read-timeout", type=float, check=positive, default=EventLimits.read_timeout_s, group=LIMITS_ON_CLIENTS,
        help="seconds a client may take to finish an event it has begun sending"),
    Flag("--idle-timeout", type=float, check=not_negative, default=EventLimits.idle_timeout_s, group=LIMITS_ON_CLIENTS,
        help="seconds a connection with no request running may stay silent before it gets an idle-timeout error "
        "and is closed; 0 never closes it"),
    Flag("--stream-idle-timeout", type=float, check=not_negative, default=EventLimits.stream_idle_timeout_s,
        group=LIMITS_ON_CLIENTS,
        help="seconds an open stream (synthesize-start) may go without text before it ends with a "
        "stream-idle-timeout error and the connection is closed; 0 never ends it"),
    Flag("--stream-timeout", type=float, check=not_negative, default=EventLimits.stream_timeout_s,
        group=LIMITS_ON_CLIENTS,
        help="seconds an open stream may take from synthesize-start to synthesize-stop, however its text drips "
        "in, before it ends with a stream-timeout error; 0 never ends it"),
    Flag("--write-timeout", type=float, check=positive, default=ServerSettings.write_timeout_s, group=LIMITS_ON_CLIENTS,
        help="seconds a client may stop reading before it is dropped"),
    Flag("--max-connections", type=int, check=positive, default=ServerSettings.max_connections, group=LIMITS_ON_CLIENTS,
        help="connections open at once; when all are taken, a newcomer from another address closes the "
        "longest-idle connection of the address that holds the most"),
    Flag("--max-connections-per-peer", type=int, check=not_negative, default=ServerSettings.max_connections_per_peer,
        metavar="N", group=LIMITS_ON_CLIENTS,
        help="connections one client address may hold; more get a too-many-connections error, so one device cannot"
        " take every place; 0: no limit, e.g. behind a load balancer"),
    Flag("--shutdown-grace", type=float, check=not_negative, default=ServerSettings.shutdown_grace_s,
        group=LIMITS_ON_CLIENTS,
        help="seconds running requests may take to finish on SIGTERM before they end with an error"),
    Flag("--no-streaming", action="store_true",
        help="do not advertise or accept streaming text input (synthesize-start/chunk/stop)"),
    Flag("--keep-numbers", action="store_true",
        help="hand numbers, units (kWh, km/h, °C), dates, times and money to the engine as written, instead of "
        "as words in the voice's language"),
    Flag("--keep-markdown", action="store_true",
        help="read the text as it comes; by default markdown (an LLM's **, #, lists, links, URLs, code blocks) and"
        " emoji are turned into what a person would read aloud"),
    Flag("--gtts-tld", default=EngineSettings.gtts_tld,
        help="Google Translate domain for gtts, e.g. com, co.uk, fr"),
    Flag("--gtts-timeout", type=float, default=EngineSettings.gtts_timeout_s,
        help="seconds to wait for each answer from Google before failing (reaching it at all: 1.5 s at most)"),
    Flag("--engine-check-interval", type=float, check=positive, default=EngineSettings.check_interval_s,
        help="an engine that failed is skipped until a check in the background, this many seconds apart, "
        "reaches it again (gtts: Google answers)"),
    Flag("--device", choices=DEVICES, default=EngineSettings.device,
        help="where XTTS and NLLB run; auto picks a CUDA GPU, else an Apple GPU (MPS), else the CPU"),
    Flag("--translator", choices=("none", "transformers", "ctranslate2"), default=TranslatorSettings.backend,
        group=TRANSLATION,
        help="translate text into each voice's language: transformers (fp32 CPU / bf16 GPU) or ctranslate2 (int8);"
        " none speaks the text as it comes"),
    Flag("--source-language", default=TranslatorSettings.source_language, group=TRANSLATION,
        help="language of incoming text, or auto to detect it per sentence"),
    Flag("--nllb-model", default=TranslatorSettings.model, group=TRANSLATION,
        help="NLLB folder (transformers, or converted for ctranslate2) or a model id to --download"),
    Flag("--translation-cache", type=int, default=TranslatorSettings.cache, group=TRANSLATION,
        help="translations kept for repeated phrases"),
    Flag("--xtts-model", default=XttsSettings.model, group=XTTS_ENGINE,
        help="folder with config.json, model.pth, vocab.json (and speakers_xtts.pth), or a coqui model name to "
        "--download"),
    Flag("--download", action="store_true", group=XTTS_ENGINE,
        help="download the named XTTS and NLLB models if they are not there yet"),
    Flag("--agree-coqui-license", action="store_true", group=XTTS_ENGINE,
        help="accept the Coqui Public Model License of XTTS v2 (https://coqui.ai/cpml), needed to download it; "
        "COQUI_TOS_AGREED=1 does the same"),
    Flag("--data-dir", type=Path, group=XTTS_ENGINE,
        help="where downloaded models, converted NLLB models, the latent cache and the pronunciation lexicons "
        "(DATA_DIR/lexicon) live (default: "
        "$XDG_DATA_HOME/wyoming-streamtts, else ~/.local/share/wyoming-streamtts)"),
    Flag("--cache-dir", type=Path, group=XTTS_ENGINE,
        help="where conditioning latents of cloned voices and the CPU vocoder's export are kept "
        "(default: DATA_DIR/latents)"),
    Flag("--deepspeed", action="store_true", group=XTTS_ENGINE,
        help="use DeepSpeed on CUDA when installed"),
    Flag("--xtts-precision", choices=XTTS_PRECISIONS, default=XttsSettings.precision, group=XTTS_ENGINE,
        help="the GPT's precision: int8 (CPU only; about twice as fast there end to end), fp16 (CUDA, MPS), bf16 "
        "(CUDA, CPU), fp32; auto is int8 on a CPU, fp16 on CUDA, fp32 on MPS. The vocoder stays fp32"),
    Flag("--xtts-vocoder", choices=XTTS_VOCODERS, default=XttsSettings.vocoder, group=XTTS_ENGINE,
        help="what runs the vocoder: onnx (ONNX Runtime, CPU only; about 1.5x faster there, the same audio, "
        "exported once into the cache folder) or torch; auto is onnx on a CPU when installed, torch elsewhere"),
    Flag("--stream-chunk-size", type=int, check=at_least(1), default=XttsSettings.stream_chunk_size, group=XTTS_ENGINE,
        help="GPT tokens per streamed audio chunk once a sentence is under way"),
    Flag("--first-chunk-size", type=int, check=at_least(0), default=XttsSettings.first_chunk_size, metavar="N",
        group=XTTS_ENGINE,
        help="GPT tokens of each sentence's first chunk, so that audio starts sooner; later chunks grow as the "
        "audio already sent allows, up to --stream-chunk-size; 0 for a fixed size"),
    Flag("--xtts-max-rows", type=int, check=not_negative, default=XttsSettings.max_rows, metavar="N",
        group=XTTS_ENGINE,
        help="most sentences XTTS decodes at once (one batched GPT step for all); more wait their turn in arrival "
        "order. 0 (default): as many as half the available memory holds at their longest (about 270 MB each at "
        "full size), and no more than stay faster than real time at the measured speed; N: at most N, however slow"),
    Flag("--temperature", type=within(float, 0.01, 2.0), group=XTTS_ENGINE,
        help="randomness of the speech, 0.01-2 (default: the model's config.json)"),
    Flag("--top-p", type=within(float, 0.01, 1.0), group=XTTS_ENGINE,
        help="nucleus sampling, 0.01-1 (default: the model's config.json)"),
    Flag("--top-k", type=within(int, 1, 1026), group=XTTS_ENGINE,
        help="tokens sampled from, 1-1026 (default: the model's config.json)"),
    Flag("--repetition-penalty", type=within(float, 1.0, 20.0), group=XTTS_ENGINE,
        help="against repeated sounds, 1-20 (default: the model's config.json)"),
    Flag("--speed", type=within(float, 0.25, 4.0), group=XTTS_ENGINE,
        help="speaking rate of XTTS and Piper voices, 0.25-4 (default: 1.0)"),
    Flag("--piper-voices", type=Path, metavar="DIR", group=PIPER_ENGINE,
        help="folder of Piper voices: each NAME.onnx with its NAME.onnx.json (default: DATA_DIR/piper)"),
    Flag("--download-piper-voice", action="append", metavar="NAME", group=PIPER_ENGINE,
        help="download this Piper voice (e.g. de_DE-thorsten-medium) into the Piper voices folder if it is not "
        "there yet (repeatable)"),
    Flag("--http-port", type=int, check=at_least(1), metavar="PORT", group=WEB_PAGE,
        help="serve the web page (voices, recording a cloned voice, trying voices, status) on PORT; off when not "
        "given"),
    Flag("--http-host", default=HttpSettings.host, metavar="ADDRESS", group=WEB_PAGE,
        help="address the web page listens on; on any but a loopback address, changes (uploads, deletions) need "
        "the token"),
    Flag("--http-token", metavar="TOKEN", group=WEB_PAGE,
        help="token the web page asks for before changes (default: none on loopback; elsewhere one made at start "
        "and logged once)"),
    Flag("--http-trusted-peer", action="append", metavar="ADDRESS", group=WEB_PAGE,
        help="changes from this address need no token: a proxy that authenticates its users itself, such as Home "
        "Assistant's ingress (172.30.32.2) (repeatable)"),
    Flag("--openai-voice", action="append", type=openai_voice, metavar="NAME=LANG/SPEAKER", group=WEB_PAGE,
        help="speak OpenAI's voice NAME (alloy, echo, ...) on /v1/audio/speech with this voice (repeatable; "
        "default: OpenAI's names spread over the default voice's language, the default voice first)"),
    Flag("--figures-file", type=Path, metavar="PATH",
        help="append one JSON line per request to PATH: voice, language, how it ended, engines that spoke, "
        "characters, first chunk, the engine's first chunk, audio and wall seconds (never the text); written "
        "on a thread of its own, so a file or pipe that takes no line for now holds up no request"),
    Flag("--log-level", choices=LOG_LEVELS, default="info",
        help="least important log lines kept"),
    Flag("--debug", action="store_true",
        help="log at DEBUG level (includes text)"),
    Flag("--log-format", default=logging.BASIC_FORMAT,
        help="Python logging format"),
)
# fmt: on


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-streamtts",
        description="Streaming text-to-speech server for Home Assistant (Wyoming protocol).",
    )
    sections: dict[str | None, argparse.ArgumentParser | argparse._ArgumentGroup] = {None: parser}
    for flag in FLAGS:
        if flag.group not in sections:
            sections[flag.group] = parser.add_argument_group(flag.group)
        flag.add_to(sections[flag.group])
    parser.add_argument("--version", action="version", version=__version__)
    return parser


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


def settings_from(args: argparse.Namespace) -> Settings:
    """The typed settings of parsed flags."""
    limits = EventLimits(
        args.max_event_bytes, args.read_timeout, args.idle_timeout, args.stream_idle_timeout, args.stream_timeout
    )
    http = None
    if args.http_port is not None:
        http = HttpSettings(args.http_port, args.http_host, args.http_token, tuple(args.openai_voice or ()),
                            tuple(args.http_trusted_peer or ()))  # fmt: skip
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
        normalise=not args.keep_numbers,
        max_sentence_chars=args.max_sentence_chars,
        first_clause_chars=args.first_clause_chars,
        max_text_chars=args.max_text_chars,
        write_timeout_s=args.write_timeout,
        limits=limits,
        max_connections=args.max_connections,
        max_connections_per_peer=args.max_connections_per_peer,
        shutdown_grace_s=args.shutdown_grace,
        figures_file=args.figures_file,
        http=http,
    )
    xtts = XttsSettings(
        model=args.xtts_model,
        agree_license=args.agree_coqui_license,
        cache_dir=args.cache_dir,
        deepspeed=args.deepspeed,
        precision=args.xtts_precision,
        vocoder=args.xtts_vocoder,
        stream_chunk_size=args.stream_chunk_size,
        first_chunk_size=args.first_chunk_size,
        max_rows=args.xtts_max_rows,
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
        check_interval_s=args.engine_check_interval,
        piper_voices=args.piper_voices,
        download_piper_voices=tuple(args.download_piper_voice or ()),
    )
    translator = TranslatorSettings(args.translator, args.source_language, args.nllb_model, args.translation_cache)
    return Settings(server, engines, translator)
