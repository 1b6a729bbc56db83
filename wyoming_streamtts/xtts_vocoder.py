"""Where XTTS's HiFi-GAN vocoder runs: PyTorch, or ONNX Runtime on a CPU.

On a CPU the vocoder is half or more of XTTS's work once the GPT is int8, and ONNX Runtime runs its
convolutions about 1.5x faster than PyTorch (docs/performance.md) with the same audio (checked at every
start). The generator is exported from the user's checkpoint once and kept in the model's cache folder,
never in the model folder; a start that finds it there loads it in a fraction of the export's time.
"""

import contextlib
import importlib.util
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

_LOGGER = logging.getLogger(__name__)

CACHE_NAME = "vocoder.onnx"
# A start compares ONNX Runtime's audio with PyTorch's on this many random frames before using it.
_CHECK_FRAMES = 24
_MAX_RELATIVE_ERROR = 1e-4


def onnx_available() -> bool:
    """Whether the exporter (onnx) and the runtime (onnxruntime) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def decide_vocoder(requested: str, device: str, available: bool) -> str:
    """The --xtts-vocoder asked for, checked against the device; `auto` is onnx on a CPU when it is
    installed, torch elsewhere (on a GPU PyTorch's kernels are the fast ones). Raises ValueError naming the flag."""
    if requested == "auto":
        return "onnx" if device == "cpu" and available else "torch"
    if requested == "onnx" and device != "cpu":
        raise ValueError(f"--xtts-vocoder onnx runs on the CPU only, not on {device}")
    if requested == "onnx" and not available:
        raise ValueError("--xtts-vocoder onnx needs onnx and onnxruntime (pip install 'wyoming-streamtts[xtts]')")
    return requested


class OnnxGenerator(nn.Module):
    """The HiFi-GAN generator (`waveform_decoder`) as ONNX Runtime runs it, called as the torch one is."""

    def __init__(self, session: Any, hop: int) -> None:
        super().__init__()
        self.session = session
        self.hop = hop  # output samples per input frame, as the torch generator's upsampling makes them

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        feed = {"x": x.detach().float().contiguous().numpy(), "g": g.detach().float().contiguous().numpy()}
        return torch.from_numpy(self.session.run(None, feed)[0])


def use_onnx_vocoder(model: Any, cache_folder: Path | None) -> bool:
    """Put ONNX Runtime in place of the model's vocoder generator; False (with a WARNING) when it cannot
    export or run it, or its audio differs from PyTorch's: PyTorch stays, a voice is never lost."""
    generator = model.hifigan_decoder.waveform_decoder
    path = None if cache_folder is None else cache_folder / CACHE_NAME
    session = _cached_session(path, generator)
    if session is None:
        try:
            exported = _export(generator)
            session = _session(exported)
            problem = None if _faithful(session, generator) else "its audio differs from PyTorch's"
        except Exception as err:  # noqa: BLE001 - the exporter and the runtime raise their own types
            problem = f"{type(err).__name__}: {err}"
        if problem is not None:
            _LOGGER.warning("The XTTS vocoder cannot run in ONNX Runtime (%s); it stays in PyTorch", problem)
            return False
        _write(path, exported)
    model.hifigan_decoder.waveform_decoder = OnnxGenerator(session, generator_hop(generator))
    return True


def generator_hop(generator: Any) -> int:  # coqui's HifiganGenerator is untyped
    """Output samples per input frame: the product of the generator's upsampling strides."""
    if isinstance(generator, OnnxGenerator):
        return generator.hop
    hop = 1
    for layer in generator.ups:
        hop *= layer.stride[0]
    return hop


def _cached_session(path: Path | None, generator: Any) -> Any:
    """The session of a cached export that still gives PyTorch's audio; None (with a WARNING if one is
    there but damaged or stale) otherwise."""
    if path is None or not path.is_file():
        return None
    try:
        session = _session(path.read_bytes())
        if _faithful(session, generator):
            _LOGGER.debug("XTTS vocoder for ONNX Runtime loaded from %s", path)
            return session
        problem = "its audio differs from this model's"
    except Exception as err:  # noqa: BLE001 - truncated, garbage, another graph: all re-exported
        problem = f"{type(err).__name__}: {err}"
    _LOGGER.warning("Vocoder cache %s is damaged (%s); exporting it again", path, problem)
    return None


def _export(generator: Any) -> bytes:
    frames = torch.randn(1, generator.conv_pre.in_channels, 2 * _CHECK_FRAMES)
    g = torch.randn(1, generator.cond_layer.in_channels, 1)
    buffer = io.BytesIO()
    # The TorchScript exporter needs no onnxscript; its deprecation notice is for developers, not the log.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            generator,
            (frames, g),
            buffer,  # type: ignore[arg-type]  # typed for the dynamo exporter; this one writes to a file object
            dynamo=False,
            input_names=["x", "g"],
            output_names=["wav"],
            dynamic_axes={"x": {2: "frames"}, "wav": {2: "samples"}},
            opset_version=17,
        )
    _LOGGER.info("XTTS vocoder exported for ONNX Runtime (%.0f MB)", buffer.tell() / 1e6)
    return buffer.getvalue()


def _session(model: bytes) -> Any:
    import onnxruntime  # noqa: PLC0415 - only with --xtts-vocoder onnx

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    # Its threads must not spin after a chunk: the GPT's PyTorch threads need the cores next.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _faithful(session: Any, generator: Any) -> bool:
    """Whether the session gives the torch generator's audio for random input."""
    seeded = torch.Generator().manual_seed(0)
    frames = torch.randn(1, generator.conv_pre.in_channels, _CHECK_FRAMES, generator=seeded)
    g = torch.randn(1, generator.cond_layer.in_channels, 1, generator=seeded)
    with torch.no_grad():
        expected = generator(frames, g=g)
    got = OnnxGenerator(session, 1)(frames, g)
    return got.shape == expected.shape and bool((got - expected).norm() <= _MAX_RELATIVE_ERROR * expected.norm())


def _write(path: Path | None, exported: bytes) -> None:
    """Keep the export for the next start; without a writable cache it is made again then."""
    if path is None:
        return
    partial = path.with_suffix(".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(exported)
        partial.replace(path)
    except OSError as err:
        with contextlib.suppress(OSError):  # where the folder cannot be made, there is no partial file either
            partial.unlink(missing_ok=True)
        _LOGGER.warning("Cannot write vocoder cache %s (%s); it is exported again at each start", path, err)
