"""One GPT-2 decode step for every row of the batch: one new position each, keys and values written in place.

HF's GPT2Model.forward is made for any input; for one token per row its Python and dispatch cost ~13 ms a step
over XTTS v2's 30 blocks whatever their width, and its DynamicCache copies the whole cache at every step. Here
each block runs from its own modules (their weights, quantization and autocast as loaded), with only what a
decode step needs, into a cache with room for the next positions. The prompt still runs through HF's forward,
once per sentence. XTTS's GPT adds each token's position itself, so the stack's own position embedding
(coqui's returns zeros) is left out. The blocks are GPT-2 as coqui configures them for XTTS (HF's defaults:
gelu_new, attention scaled by the head size only); tests hold the step to coqui's own generate().
"""

from typing import Any

import torch
import torch.nn.functional as F
from transformers import DynamicCache

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

    def put(self, index: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Block `index`'s keys and values [rows, heads, 1, head size] at the next position; all so far, with it."""
        at = self.length
        self.keys[index][:, :, at : at + 1] = key
        self.values[index][:, :, at : at + 1] = value
        return self.keys[index][:, :, : at + 1], self.values[index][:, :, : at + 1]


def decode_step(stack: Any, embeds: torch.Tensor, cache: KeyValues) -> torch.Tensor:
    """The stack's output (final layer norm included) for one new position per row, [rows, 1, C], as HF's
    GPT2Model gives it; the position's keys and values join `cache`. `embeds` [rows, 1, C]."""
    cache.make_room()
    attend = cache.attention_mask()
    hidden = embeds
    for index, block in enumerate(stack.h):
        attn = block.attn
        query, key, value = (_heads(part, attn.head_dim) for part in attn.c_attn(block.ln_1(hidden)).chunk(3, dim=2))
        keys, values = cache.put(index, key, value)
        out = F.scaled_dot_product_attention(query, keys, values, attn_mask=attend)
        hidden = hidden + attn.c_proj(out.transpose(1, 2).reshape(hidden.shape))
        # gelu_new, GPT-2's activation, is GELU's tanh form: one kernel instead of HF's five (3.5 ms a step).
        hidden = hidden + block.mlp.c_proj(F.gelu(block.mlp.c_fc(block.ln_2(hidden)), approximate="tanh"))
    cache.length += 1
    return stack.ln_f(hidden)


def _heads(part: torch.Tensor, head_dim: int) -> torch.Tensor:
    """[rows, 1, C] as [rows, heads, 1, head size]."""
    return part.view(part.shape[0], 1, -1, head_dim).transpose(1, 2)
