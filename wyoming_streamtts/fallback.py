"""The engine chain: which engines start, and the next one speaks when one fails before speaking.

Every engine's audio is converted to the connection's one format, so Home
Assistant's stream stays valid whichever engine ends up speaking.
"""

import argparse
import contextlib
import logging
import os
import time
from collections.abc import AsyncGenerator
from functools import partial
from pathlib import Path

from wyoming.audio import AudioChunk

from .engine import Engine, EngineAudio, EngineError
from .voices import Speaker

_LOGGER = logging.getLogger(__name__)

# After a failure an engine is skipped for a while, so that a missing internet
# does not cost every request a timeout before the offline voice speaks.
RETRY_AFTER_S = 30.0

ENGINES = ("xtts", "gtts", "piper", "espeak")
# XTTS settings that flags override (None: the checkpoint's own).
SAMPLING_FLAGS = ("temperature", "top_p", "top_k", "repetition_penalty", "speed")


class FallbackEngine(Engine):
    """Speaks with the first engine of the chain that works for this request."""

    def __init__(self, chain: list[Engine], retry_after_s: float = RETRY_AFTER_S) -> None:
        if not chain:
            raise EngineError("No engine could be started")
        self.chain = chain
        primary = chain[0]
        self.name = primary.name
        others = ", ".join(engine.description for engine in chain[1:])
        self.description = primary.description + (f", falling back to {others}" if others else "")
        self.attribution = primary.attribution
        self.languages = primary.languages
        self.speakers = primary.speakers
        self.retry_after_s = retry_after_s
        self._failed_at: dict[str, float] = {}

    async def start(self) -> None:
        for engine in self.chain:
            await engine.start()

    async def synthesize(self, text: str, language: str, speaker: str) -> AsyncGenerator[AudioChunk, None]:
        candidates = [engine for engine in self.chain if self._available(engine)] or self.chain[-1:]
        for position, engine in enumerate(candidates):
            started = False
            audio = engine.synthesize(text, language, speaker)
            try:
                async with contextlib.aclosing(audio):
                    async for chunk in audio:
                        started = True
                        yield EngineAudio(chunk.rate, chunk.width, chunk.channels, chunk.audio, engine=engine.name)
                self._failed_at.pop(engine.name, None)
                return
            except Exception as err:
                if started or position == len(candidates) - 1:
                    raise  # audio already went out in this engine's voice: end with an error
                self._failed_at[engine.name] = time.monotonic()
                _LOGGER.warning(
                    "%s failed before speaking (%s); falling back to %s",
                    engine.name,
                    err,
                    candidates[position + 1].name,
                )

    async def update_voices(self, cloned: list[Speaker]) -> None:
        for engine in self.chain:
            await engine.update_voices(cloned)

    def _available(self, engine: Engine) -> bool:
        failed_at = self._failed_at.get(engine.name)
        return failed_at is None or time.monotonic() - failed_at > self.retry_after_s

    async def close(self) -> None:
        for engine in self.chain:
            await engine.close()


def fallback_order(value: str) -> list[str]:
    """The --fallback list, checked."""
    if value.strip().lower() == "none":
        return []
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        raise ValueError(f"--fallback names unknown engines: {', '.join(unknown)} (known: {', '.join(ENGINES)})")
    return names


def auto_engines(order: list[str], requested_device: str, device: str) -> list[str]:
    """The engines `--engine auto` tries: the --fallback order, without XTTS when `auto`
    found no GPU (CUDA or Apple's MPS): on a CPU it is far slower than real time."""
    if "xtts" in order and requested_device == "auto" and device == "cpu":
        _LOGGER.warning("Engine xtts unavailable: no GPU (--device cpu runs it on the CPU, slowly)")
        return [name for name in order if name != "xtts"]
    return order


def wanted_engines(engine: str, order: list[str]) -> list[str]:
    """The engines --engine and --fallback name, in order: the one asked for, then those after it."""
    if engine == "auto":
        return order or ["espeak"]
    return [engine, *(order[order.index(engine) + 1 :] if engine in order else [])]


def create_engine(args: argparse.Namespace, cloned: list[Speaker], device: str) -> Engine:
    """The engine chain from --engine and --fallback, XTTS on `device` (raises EngineError)."""
    names = wanted_engines(args.engine, fallback_order(args.fallback))
    build = partial(_try_engine, args, cloned, device)
    if args.engine == "auto":
        chain = [engine for engine in map(build, auto_engines(names, args.device, device)) if engine]
    else:
        # The engine asked for must start; the ones after it are fallbacks.
        chain = [_build_engine(args.engine, args, cloned, device)]
        chain += [engine for engine in map(build, names[1:]) if engine]
    if len(chain) == 1:
        return chain[0]
    return FallbackEngine(chain)


def _try_engine(args: argparse.Namespace, cloned: list[Speaker], device: str, name: str) -> Engine | None:
    try:
        return _build_engine(name, args, cloned, device)
    except EngineError as err:
        _LOGGER.warning("Engine %s unavailable: %s", name, err)
        return None


def _build_engine(name: str, args: argparse.Namespace, cloned: list[Speaker], device: str) -> Engine:
    if name == "xtts":
        try:
            from .xtts_engine import XttsEngine  # noqa: PLC0415
            from .xtts_model import resolve_model_dir  # noqa: PLC0415
        except ImportError as err:
            raise EngineError(
                f"The xtts engine needs the [xtts] extra (pip install 'wyoming-streamtts[xtts]'): {err}"
            ) from err
        agreed = args.agree_coqui_license or os.environ.get("COQUI_TOS_AGREED") == "1"
        model_dir = resolve_model_dir(args.xtts_model, data_dir(args), args.download, agreed)
        return XttsEngine(
            model_dir,
            device,
            cloned,
            args.cache_dir or data_dir(args) / "latents",
            stream_chunk_size=args.stream_chunk_size,
            first_chunk_size=args.first_chunk_size,
            sampling={name: getattr(args, name) for name in SAMPLING_FLAGS},
            deepspeed=args.deepspeed,
        )
    if name == "gtts":
        from .gtts_engine import GttsEngine  # noqa: PLC0415 - only load what is used

        return GttsEngine(tld=args.gtts_tld, timeout=args.gtts_timeout)
    if name == "piper":
        try:
            from .piper_engine import PiperEngine  # noqa: PLC0415
        except ImportError as err:
            raise EngineError(
                f"The piper engine needs the [piper] extra (pip install 'wyoming-streamtts[piper]'): {err}"
            ) from err
        return PiperEngine(piper_voices_dir(args))
    from .espeak_engine import EspeakEngine  # noqa: PLC0415

    return EspeakEngine()


def piper_voices_dir(args: argparse.Namespace) -> Path:
    return args.piper_voices or data_dir(args) / "piper"


def data_dir(args: argparse.Namespace) -> Path:
    """--data-dir, else the user's data folder; worked out only when needed, as a service
    user may have no home (raises EngineError then)."""
    if args.data_dir is not None:
        return args.data_dir
    base = os.environ.get("XDG_DATA_HOME")
    if not base:
        try:
            base = str(Path.home() / ".local" / "share")
        except RuntimeError as err:
            raise EngineError("there is no home directory to keep models and caches in: pass --data-dir") from err
    return Path(base) / "wyoming-streamtts"
