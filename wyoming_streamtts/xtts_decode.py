"""One GPT-2 decode step for every row of the batch: one new position each, keys and values written in place.

HF's GPT2Model.forward is made for any input; for one token per row its Python and dispatch cost ~13 ms a step
over XTTS v2's 30 blocks whatever their width, and its DynamicCache copies the whole cache at every step. Here
each block runs from its own modules (their weights, quantization and autocast as loaded; a dynamic int8
Linear's kernel called as its module calls it), with only what a decode step needs, into a cache with room for
the next positions. The prompt still runs through HF's forward, once per sentence. XTTS's GPT adds each
token's position itself, so the stack's own position embedding (coqui's returns zeros) is left out. The blocks
are GPT-2 as coqui configures them for XTTS (HF's defaults: gelu_new, attention scaled by the head size only);
tests hold the step to coqui's own generate().
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import DynamicCache

_ROOM = 64  # positions of room added when the cache is full: a copy every 64 steps, not every step

Layer = Callable[[torch.Tensor], torch.Tensor]


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

    def put(self, index: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Block `index`'s keys and values [rows, heads, 1, head size] at the next position; all so far, with it."""
        at, keys, values = self.length, self.keys[index], self.values[index]
        keys.narrow(2, at, 1).copy_(key)
        values.narrow(2, at, 1).copy_(value)
        return keys.narrow(2, 0, at + 1), values.narrow(2, 0, at + 1)


@dataclass(frozen=True)
class _Block:
    """One GPT-2 block's layers, as a decode step calls them."""

    ln_1: nn.Module
    c_attn: Layer
    c_proj: Layer
    ln_2: nn.Module
    c_fc: Layer
    mlp_proj: Layer
    heads: int
    head_dim: int


class DecodeStep:
    """One decode step of a GPT-2 stack (HF's GPT2Model, as loaded: quantized or not), its blocks read once."""

    def __init__(self, stack: Any) -> None:
        self.blocks = [
            _Block(
                block.ln_1,
                _direct(block.attn.c_attn),
                _direct(block.attn.c_proj),
                block.ln_2,
                _direct(block.mlp.c_fc),
                _direct(block.mlp.c_proj),
                block.attn.num_heads,
                block.attn.head_dim,
            )
            for block in stack.h
        ]
        self.ln_f = stack.ln_f

    def __call__(self, embeds: torch.Tensor, cache: KeyValues) -> torch.Tensor:
        """The stack's output (final layer norm included) for one new position per row, [rows, 1, C], as HF's
        GPT2Model gives it; the position's keys and values join `cache`. `embeds` [rows, 1, C]."""
        cache.make_room()
        attend = cache.attention_mask()
        rows, hidden = embeds.shape[0], embeds
        for index, block in enumerate(self.blocks):
            qkv = block.c_attn(block.ln_1(hidden)).view(rows, 1, 3, block.heads, block.head_dim)
            query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [rows, heads, 1, head size]
            keys, values = cache.put(index, key, value)
            out = F.scaled_dot_product_attention(query, keys, values, attn_mask=attend)
            hidden = hidden + block.c_proj(out.transpose(1, 2).reshape(hidden.shape))
            # gelu_new, GPT-2's activation, is GELU's tanh form: one kernel instead of HF's five (3.5 ms a step).
            hidden = hidden + block.mlp_proj(F.gelu(block.c_fc(block.ln_2(hidden)), approximate="tanh"))
        cache.length += 1
        return self.ln_f(hidden)


def _direct(layer: nn.Module) -> Layer:
    """`layer`, or for a dynamic int8 Linear its kernel called as the module's forward calls it: that forward's
    Python costs ~8 µs a call, 120 calls a step (2-3 ms of a 20-25 ms step on a 2-core CPU)."""
    quantized: Any = layer  # torch.ao's dynamic Linear: its packed weights are untyped
    if isinstance(layer, torch.ao.nn.quantized.dynamic.Linear) and quantized._packed_params.dtype == torch.qint8:  # noqa: SLF001
        kernel, packed = torch.ops.quantized.linear_dynamic.default, quantized._packed_params._packed_params  # noqa: SLF001
        reduce_range = quantized.version is not None and quantized.version >= 4
        return lambda x: kernel(x, packed, reduce_range)
    return layer
