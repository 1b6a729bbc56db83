"""Which engines start, built from their settings: the chain --engine and --fallback name, in order."""

import importlib.util
import logging
import os

from .engine import Engine, EngineError
from .fallback import FallbackEngine
from .settings import EngineSettings
from .voices import Speaker

_LOGGER = logging.getLogger(__name__)


def auto_engines(order: list[str], requested_device: str, device: str) -> list[str]:
    """The engines `--engine auto` tries: the --fallback order, without XTTS when `auto`
    found no GPU (CUDA or Apple's MPS): on a CPU it is far slower than real time."""
    if reason := _xtts_left_out(order, requested_device, device):
        _LOGGER.warning("Engine xtts unavailable: %s", reason)
        return [name for name in order if name != "xtts"]
    return order


def _xtts_left_out(order: list[str], requested_device: str, device: str) -> str | None:
    """Why `--engine auto` leaves XTTS out, or None when it tries it."""
    if "xtts" not in order or requested_device != "auto" or device != "cpu":
        return None
    # The first thing missing first: without the extra, --device cpu would only lead to it.
    missing = importlib.util.find_spec("TTS") is None or importlib.util.find_spec("torch") is None
    return needs_extra("xtts") if missing else "no GPU (--device cpu runs it on the CPU, slowly)"


def needs_extra(extra: str) -> str:
    """What to install for an engine's extra, in a container image too (pip cannot be used inside it)."""
    built = os.environ.get("WYOMING_STREAMTTS_EXTRAS")  # set by the Dockerfile to its EXTRAS
    if built is None:
        return f"it needs the [{extra}] extra (script/setup {extra}, or pip install 'wyoming-streamtts[{extra}]')"
    other = " or use the GPU image" if extra == "xtts" else ""
    return (
        f"it needs the [{extra}] extra, which this image was built without (EXTRAS={built}): build it again "
        f"with --build-arg EXTRAS={extra},{built}{other}"
    )


def create_engine(settings: EngineSettings, cloned: list[Speaker], device: str) -> tuple[Engine, dict[str, str]]:
    """The engine chain, XTTS on `device`, and why each engine of the order left out is unavailable (raises
    EngineError)."""
    names = settings.engine_order()
    unavailable: dict[str, str] = {}

    def build(name: str) -> Engine | None:
        try:
            return _build_engine(name, settings, cloned, device)
        except EngineError as err:
            _LOGGER.warning("Engine %s unavailable: %s", name, err)
            unavailable[name] = str(err)
            return None

    if settings.engine == "auto":
        if reason := _xtts_left_out(names, settings.device, device):
            unavailable["xtts"] = reason
        chain = [engine for engine in map(build, auto_engines(names, settings.device, device)) if engine]
    else:
        # The engine asked for must start; the ones after it are fallbacks.
        chain = [_build_engine(settings.engine, settings, cloned, device)]
        chain += [engine for engine in map(build, names[1:]) if engine]
    if len(chain) == 1:
        return chain[0], unavailable
    return FallbackEngine(chain, settings.check_interval_s), unavailable


def _build_engine(name: str, settings: EngineSettings, cloned: list[Speaker], device: str) -> Engine:
    if name == "xtts":
        try:
            from .xtts_engine import XttsEngine  # noqa: PLC0415
            from .xtts_model import resolve_model_dir  # noqa: PLC0415
            from .xtts_precision import decide_precision  # noqa: PLC0415
            from .xtts_vocoder import decide_vocoder, onnx_available  # noqa: PLC0415
        except ImportError as err:
            raise EngineError(f"The xtts engine cannot start: {needs_extra('xtts')} ({err})") from err
        xtts = settings.xtts
        agreed = xtts.agree_license or os.environ.get("COQUI_TOS_AGREED") == "1"
        model_dir = resolve_model_dir(xtts.model, settings.data_folder(), settings.download, agreed)
        return XttsEngine(
            model_dir,
            device,
            cloned,
            xtts.cache_dir or settings.data_folder() / "latents",
            stream_chunk_size=xtts.stream_chunk_size,
            first_chunk_size=xtts.first_chunk_size,
            max_rows=xtts.max_rows,
            sampling=xtts.sampling,
            deepspeed=xtts.deepspeed,
            precision=decide_precision(xtts.precision, device),
            vocoder=decide_vocoder(xtts.vocoder, device, onnx_available()),
        )
    if name == "gtts":
        from .gtts_engine import GttsEngine  # noqa: PLC0415 - only load what is used

        return GttsEngine(tld=settings.gtts_tld, timeout=settings.gtts_timeout_s)
    if name == "piper":
        try:
            from .piper_engine import PiperEngine  # noqa: PLC0415
        except ImportError as err:
            raise EngineError(f"The piper engine cannot start: {needs_extra('piper')} ({err})") from err
        return PiperEngine(settings.piper_folder(), speed=settings.xtts.sampling.get("speed"))
    from .espeak_engine import EspeakEngine  # noqa: PLC0415

    return EspeakEngine()
