"""At what precision XTTS's GPT runs, per device: one decision at load, never written back to the model folder.

Only the GPT stack (XTTS v2: 30 GPT-2 blocks, 379 M parameters, the cost of every audio token) changes; the
vocoder and the conditioning encoders stay fp32, which is what they are measured against.
"""

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

_LOGGER = logging.getLogger(__name__)

GptStep = Callable[[], contextlib.AbstractContextManager]  # the context each GPT step runs in

# Where each runs: dynamic int8 kernels exist for the CPU only; fp16 on a CPU is emulated (slow).
_DEVICES = {"fp32": ("cpu", "cuda", "mps"), "int8": ("cpu",), "fp16": ("cuda", "mps"), "bf16": ("cpu", "cuda")}


def decide_precision(requested: str, device: str) -> str:
    """The --xtts-precision asked for, checked against the device; `auto` is int8 on a CPU, fp16 on
    CUDA, fp32 on Apple's GPU (MPS: half precision not measured there). Raises ValueError naming the flag."""
    if requested == "auto":
        return {"cpu": "int8", "cuda": "fp16"}.get(device, "fp32")
    if device not in _DEVICES[requested]:
        raise ValueError(
            f"--xtts-precision {requested} does not run on {device} (it runs on {', '.join(_DEVICES[requested])})"
        )
    return requested


def linear_from_conv1d(conv: Conv1D) -> nn.Linear:
    """The same layer as an nn.Linear: GPT-2's Conv1D keeps its weight transposed, and the quantizer
    knows only Linear."""
    inputs, outputs = conv.weight.shape
    linear = nn.Linear(inputs, outputs, device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        linear.weight.copy_(conv.weight.t())
        linear.bias.copy_(conv.bias)
    return linear


def as_linear(module: nn.Module) -> int:
    """Every Conv1D inside `module` replaced by its Linear, in place; how many were."""
    replaced = 0
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv1D):
                setattr(parent, name, linear_from_conv1d(child))
                replaced += 1
    return replaced


def apply_precision(model: Any, precision: str, device: str) -> GptStep:
    """Set the GPT of a loaded XTTS model to `precision`; returns the context each GPT step runs in.

    int8 quantizes the GPT stack's Linear layers dynamically (weights int8, activations quantized per
    step); fp16 and bf16 run the GPT steps under autocast, with the weights kept in fp32.
    """
    gpt = model.gpt.gpt
    if precision == "int8":
        count = as_linear(gpt)
        torch.ao.quantization.quantize_dynamic(gpt, {nn.Linear}, dtype=torch.qint8, inplace=True)
        _LOGGER.info("XTTS GPT in dynamic int8 on %s (%d layers); vocoder and conditioning in fp32", device, count)
        return contextlib.nullcontext
    if precision in ("fp16", "bf16"):
        dtype = torch.float16 if precision == "fp16" else torch.bfloat16
        _LOGGER.info("XTTS GPT under %s autocast on %s; vocoder and conditioning in fp32", precision, device)
        return lambda: torch.autocast(device_type=device, dtype=dtype)
    _LOGGER.info("XTTS in fp32 on %s", device)
    return contextlib.nullcontext
