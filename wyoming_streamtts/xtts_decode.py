"""One GPT-2 decode step for every row of the batch: one new position each, keys and values written in place.

HF's GPT2Model.forward is made for any input; for one token per row its Python and dispatch cost ~13 ms a step
over XTTS v2's 30 blocks whatever their width, and its DynamicCache copies the whole cache at every step. Here
each block runs from its own modules (their weights, quantization and autocast as loaded; a dynamic int8
Linear's kernel called as its module calls it), with only what a decode step needs, into a cache with room for
the next positions; an int8 stack as TorchScript. The prompt still runs through HF's forward, once per
sentence. XTTS's GPT adds each token's position itself, so the stack's own position embedding (coqui's returns
zeros) is left out. The blocks are GPT-2 as coqui configures them for XTTS (HF's defaults: gelu_new, attention
scaled by the head size only); tests hold the step to coqui's own generate().
"""

import logging
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import DynamicCache

_LOGGER = logging.getLogger(__name__)

_ROOM = 64  # positions of room added when the cache is full: a copy every 64 steps, not every step


class KeyValues:
    """Every block's keys and values, [rows, heads, positions + room, head size]; `length` positions in use.

    Rows are left-padded to a common length; `padding` holds each row's count of leading positions it must
    not attend to, so the cache alone says what each row sees.
    """

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], length: int, padding: list[int]) -> None:
        self.keys, self.values, self.length, self.padding = keys, values, length, padding

    @classmethod
    def of(cls, cache: DynamicCache) -> "KeyValues":
        """A prompt's cache, as HF's forward left it (one row)."""
        layers: list[Any] = list(cache.layers)  # DynamicLayers, as typed by HF: any kind of cache layer
        return cls([layer.keys for layer in layers], [layer.values for layer in layers], layers[0].keys.shape[2], [0])

    def stacked(self, other: "KeyValues") -> "KeyValues":
        """These rows and `other`'s in one cache, each left-padded to the longer length."""
        width = max(self.length, other.length)

        def stack(ours: torch.Tensor, theirs: torch.Tensor) -> torch.Tensor:
            rows, heads, _, size = ours.shape
            out = ours.new_zeros(rows + theirs.shape[0], heads, width + _ROOM, size)
            out[:rows, :, width - self.length : width] = ours[:, :, : self.length]
            out[rows:, :, width - other.length : width] = theirs[:, :, : other.length]
            return out

        keys = [stack(ours, theirs) for ours, theirs in zip(self.keys, other.keys, strict=True)]
        values = [stack(ours, theirs) for ours, theirs in zip(self.values, other.values, strict=True)]
        padding = [pad + width - self.length for pad in self.padding]
        padding += [pad + width - other.length for pad in other.padding]
        return KeyValues(keys, values, width, padding)

    def kept(self, rows: list[int]) -> "KeyValues":
        """Only `rows` (indices, in the order given), without the leading positions that all of them pad."""
        padding = [self.padding[row] for row in rows]
        start, end = min(padding), self.length
        index = torch.tensor(rows, device=self.keys[0].device)
        return KeyValues(
            [keys[index, :, start:end] for keys in self.keys],
            [values[index, :, start:end] for values in self.values],
            end - start,
            [pad - start for pad in padding],
        )

    def attention_mask(self) -> torch.Tensor | None:
        """What each row attends to after one more position, [rows, 1, 1, positions + 1]; None where all of it."""
        if not any(self.padding):
            return None
        positions = torch.arange(self.length + 1, device=self.keys[0].device)
        return (positions >= torch.tensor(self.padding, device=positions.device)[:, None])[:, None, None, :]

    def make_room(self) -> None:
        """Room for one more position in every block."""
        if self.length < self.keys[0].shape[2]:
            return
        self.keys = [F.pad(keys, (0, 0, 0, _ROOM)) for keys in self.keys]
        self.values = [F.pad(values, (0, 0, 0, _ROOM)) for values in self.values]


class _Int8Linear(nn.Module):
    """A dynamic int8 Linear's kernel, called as its module's forward calls it (the same packed weights and
    `reduce_range`): that forward looks both up at every call, ~8 µs, 120 calls a step."""

    def __init__(self, layer: Any) -> None:  # torch.ao's dynamic Linear: its packed weights are untyped
        super().__init__()
        self.packed = layer._packed_params._packed_params  # noqa: SLF001
        self.reduce_range: bool = layer.version is not None and layer.version >= 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed, self.reduce_range)


def _layer(layer: nn.Module) -> nn.Module:
    """`layer`, or its kernel where it is a dynamic int8 Linear."""
    int8 = isinstance(layer, torch.ao.nn.quantized.dynamic.Linear) and layer._packed_params.dtype == torch.qint8  # noqa: SLF001
    return _Int8Linear(layer) if int8 else layer


class _Block(nn.Module):
    """One GPT-2 block, as a decode step runs it (TorchScript can compile it: no Python beyond its operators)."""

    def __init__(self, block: Any) -> None:  # HF's GPT2Block
        super().__init__()
        self.ln_1, self.ln_2 = block.ln_1, block.ln_2
        self.c_attn, self.c_proj = _layer(block.attn.c_attn), _layer(block.attn.c_proj)
        self.c_fc, self.mlp_proj = _layer(block.mlp.c_fc), _layer(block.mlp.c_proj)
        self.heads: int = block.attn.num_heads
        self.head_dim: int = block.attn.head_dim

    def forward(
        self, hidden: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, at: int, attend: torch.Tensor | None
    ) -> torch.Tensor:
        """`hidden` [rows, 1, C] through the block; its keys and values written at position `at` of the cache's."""
        rows = hidden.shape[0]
        qkv = self.c_attn(self.ln_1(hidden)).view(rows, 1, 3, self.heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [rows, heads, 1, head size]
        keys.narrow(2, at, 1).copy_(key)
        values.narrow(2, at, 1).copy_(value)
        out = F.scaled_dot_product_attention(
            query, keys.narrow(2, 0, at + 1), values.narrow(2, 0, at + 1), attn_mask=attend
        )
        hidden = hidden + self.c_proj(out.transpose(1, 2).reshape(hidden.shape))
        # gelu_new, GPT-2's activation, is GELU's tanh form: one kernel instead of HF's five (3.5 ms a step).
        return hidden + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(hidden)), approximate="tanh"))


class _Stack(nn.Module):
    """The blocks and the final layer norm."""

    def __init__(self, stack: Any) -> None:  # HF's GPT2Model
        super().__init__()
        self.blocks = nn.ModuleList([_Block(block) for block in stack.h])
        self.ln_f = stack.ln_f

    def forward(
        self, hidden: torch.Tensor, keys: list[torch.Tensor], values: list[torch.Tensor], at: int,
        attend: torch.Tensor | None,
    ) -> torch.Tensor:  # fmt: skip
        for index, block in enumerate(self.blocks):
            hidden = block(hidden, keys[index], values[index], at, attend)
        return self.ln_f(hidden)

    def int8(self) -> bool:
        """Whether every block's layers are int8 kernels."""
        return all(
            isinstance(layer, _Int8Linear)
            for block in self.blocks
            for layer in (block.c_attn, block.c_proj, block.c_fc, block.mlp_proj)
        )


class DecodeStep:
    """One decode step of a GPT-2 stack (HF's GPT2Model, as loaded: quantized or not), its blocks read once.

    An int8 stack runs as TorchScript: its interpreter makes a step's ~600 operator calls about 3 ms faster than
    Python (a sixth of a full-size step on a 2-core CPU), with the same kernels and the same result. Other stacks
    stay in Python: TorchScript ignores the autocast that fp16 and bf16 run under.
    """

    def __init__(self, stack: Any) -> None:
        self.stack = _Stack(stack)
        self._run: nn.Module = _scripted(self.stack) if self.stack.int8() else self.stack

    @property
    def scripted(self) -> bool:
        return self._run is not self.stack

    def __call__(self, embeds: torch.Tensor, cache: KeyValues) -> torch.Tensor:
        """The stack's output (final layer norm included) for one new position per row, [rows, 1, C], as HF's
        GPT2Model gives it; the position's keys and values join `cache`. `embeds` [rows, 1, C]."""
        cache.make_room()
        # TorchScript's graph as scripted: unoptimized it runs as fast here (nothing to fuse on a CPU) without the
        # two profiling runs (65-85 ms each, at full size) that its optimizer would make the first steps pay.
        with torch.jit.optimized_execution(False):
            hidden = self._run(embeds, cache.keys, cache.values, cache.length, cache.attention_mask())
        cache.length += 1
        return hidden


def _scripted(stack: _Stack) -> nn.Module:
    """`stack` compiled by TorchScript; `stack` itself (with a WARNING) where that fails: the step is the same."""
    try:
        with warnings.catch_warnings():  # its deprecation notice is for developers, not the log
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.script(stack)
    except Exception as err:  # noqa: BLE001 - TorchScript's compiler raises its own types
        _LOGGER.warning(
            "The XTTS GPT step cannot run as TorchScript (%s: %s); it runs in Python", type(err).__name__, err
        )
        return stack
    _LOGGER.debug("XTTS GPT steps run as TorchScript")
    return scripted
