"""Typed settings, one class per stage: what the command line decided, with no argparse in it.

Each field's default here is the flag's default (cli.py reads it from here).
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from .chunk_planner import DEFAULT_FIRST_CHUNK_SIZE, DEFAULT_STREAM_CHUNK_SIZE
from .connections import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_PEER, DEFAULT_SHUTDOWN_GRACE_S
from .engine import EngineError
from .fallback import CHECK_INTERVAL_S
from .splitter import DEFAULT_FIRST_CLAUSE_CHARS, DEFAULT_MAX_CHARS
from .translation import DEFAULT_MODEL as DEFAULT_NLLB_MODEL
from .wire import EventLimits

ENGINES = ("xtts", "gtts", "piper", "espeak")


@dataclass(frozen=True)
class HttpSettings:
    """The web page's HTTP server (--http-port)."""

    port: int
    host: str = "127.0.0.1"
    token: str | None = None  # None: made at start when the host is not a loopback address
    openai_voices: tuple[tuple[str, str], ...] = ()  # OpenAI voice names (alloy, ...) → LANG/SPEAKER
    trusted_peers: tuple[str, ...] = ()  # addresses whose changes need no token (Home Assistant's ingress)


@dataclass(frozen=True)
class ServerSettings:
    """The server and what every request on it shares."""

    uri: str = "tcp://0.0.0.0:10200"
    name: str = "streamtts"
    zeroconf: str | None = None  # the announced name; None: not announced
    zeroconf_host: str | None = None
    voices_dir: Path = Path("voices")
    languages: tuple[str, ...] = ()  # advertised languages (empty: all the engine has)
    default_voice: str | None = None
    samples_per_chunk: int = 1024
    streaming: bool = True
    speakable: bool = True
    """Markdown and emoji become what a person would read aloud (off: --keep-markdown)."""
    normalise: bool = True
    """Numbers, units, dates, times and money become words in the voice's language (off: --keep-numbers)."""
    max_sentence_chars: int = DEFAULT_MAX_CHARS
    first_clause_chars: int = DEFAULT_FIRST_CLAUSE_CHARS
    """Streaming input without a translator starts speaking at the first clause this long (0: off)."""
    max_text_chars: int = 20000
    write_timeout_s: float = 30.0
    limits: EventLimits = field(default_factory=EventLimits)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_connections_per_peer: int = DEFAULT_MAX_CONNECTIONS_PER_PEER  # 0: no limit
    shutdown_grace_s: float = DEFAULT_SHUTDOWN_GRACE_S
    figures_file: Path | None = None  # one JSON line per request
    http: HttpSettings | None = None  # None: no web page


# The GPT's precision (xtts_precision.py); auto: int8 on a CPU, fp16 on CUDA, fp32 on Apple's GPU.
XTTS_PRECISIONS = ("auto", "fp32", "int8", "fp16", "bf16")
# What runs the vocoder (xtts_vocoder.py); auto: ONNX Runtime on a CPU when installed, PyTorch elsewhere.
XTTS_VOCODERS = ("auto", "torch", "onnx")


@dataclass(frozen=True)
class XttsSettings:
    model: str = "tts_models/multilingual/multi-dataset/xtts_v2"
    agree_license: bool = False
    cache_dir: Path | None = None  # None: DATA_DIR/latents
    deepspeed: bool = False
    precision: str = "auto"  # as asked for; xtts_precision.decide_precision makes it one for the device
    vocoder: str = "auto"  # as asked for; xtts_vocoder.decide_vocoder makes it one for the device
    stream_chunk_size: int = DEFAULT_STREAM_CHUNK_SIZE
    first_chunk_size: int = DEFAULT_FIRST_CHUNK_SIZE
    max_rows: int = 0  # sentences decoding at once; 0: as the memory and the measured pace allow
    sampling: dict[str, float | None] = field(default_factory=dict)
    """Overrides of the checkpoint's temperature, top_p, top_k, repetition_penalty, speed."""


@dataclass(frozen=True)
class EngineSettings:
    """Which engines start, in what order, and each one's settings."""

    engine: str = "auto"
    fallback: tuple[str, ...] = ENGINES
    device: str = "auto"  # as asked for; devices.decide_device makes it a device
    data_dir: Path | None = None
    download: bool = False
    xtts: XttsSettings = field(default_factory=XttsSettings)
    gtts_tld: str = "com"
    gtts_timeout_s: float = 10.0
    check_interval_s: float = CHECK_INTERVAL_S  # how often an engine that failed is checked in the background
    piper_voices: Path | None = None  # None: DATA_DIR/piper
    download_piper_voices: tuple[str, ...] = ()

    def data_folder(self) -> Path:
        """--data-dir, else the user's data folder; worked out only when needed, as a service
        user may have no home (raises EngineError then)."""
        if self.data_dir is not None:
            return self.data_dir
        base = os.environ.get("XDG_DATA_HOME")
        if not base:
            try:
                base = str(Path.home() / ".local" / "share")
            except RuntimeError as err:
                raise EngineError("there is no home directory to keep models and caches in: pass --data-dir") from err
        return Path(base) / "wyoming-streamtts"

    def piper_folder(self) -> Path:
        return self.piper_voices or self.data_folder() / "piper"

    def engine_order(self) -> list[str]:
        """The engines --engine and --fallback name, in order: the one asked for, then those after it
        in the order (all of it when the order does not name it: `--engine piper --fallback espeak`)."""
        order = list(self.fallback)
        if self.engine == "auto":
            return order or ["espeak"]
        return [self.engine, *(order[order.index(self.engine) + 1 :] if self.engine in order else order)]


@dataclass(frozen=True)
class TranslatorSettings:
    backend: str = "none"  # none, transformers or ctranslate2
    source_language: str = "en"
    model: str = DEFAULT_NLLB_MODEL
    cache: int = 512


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    engines: EngineSettings = field(default_factory=EngineSettings)
    translator: TranslatorSettings = field(default_factory=TranslatorSettings)
