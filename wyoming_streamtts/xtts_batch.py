"""Concurrent XTTS sentences share the GPT's decode steps: one batched forward per token for all of them.

A GPT-2 decode step on a CPU costs about the same for four rows as for one (the weights are read once), so
sentences that speak at the same time step together instead of taking turns. Each row keeps its own prompt
(conditioning and text), key/value cache, sampling and token history; rows join and leave between steps.
Rows of different lengths are left-padded in the shared cache and masked out of attention. XTTS replaces
GPT-2's own position embedding with none, and adds each audio token's position itself: that is per row here,
so padding changes nothing a row attends to. A prompt runs through HF's forward, alone; the steps through
xtts_decode's, which writes the shared cache in place.

Everything here runs on the model's one thread (xtts_worker).
"""

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from transformers import DynamicCache
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from .xtts_decode import DecodeStep, KeyValues
from .xtts_model import Sampling
from .xtts_precision import GptStep


def logits_processors(sampling: Sampling) -> LogitsProcessorList:
    """What HF's generate() applies for these settings, in its order (sampling, one beam)."""
    processors = LogitsProcessorList()
    if sampling.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(penalty=sampling.repetition_penalty))
    if sampling.temperature != 1.0:
        processors.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k:
        processors.append(TopKLogitsWarper(top_k=sampling.top_k))
    if sampling.top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p=sampling.top_p))
    return processors


@dataclass(eq=False)
class Row:
    """One sentence's place in the batch."""

    ids: torch.Tensor  # [1, n]: the prompt's placeholder ids and the audio tokens so far, as generate() keeps them
    processors: LogitsProcessorList
    limit: int  # the most audio tokens the model makes for one sentence
    fed: int = 0  # audio tokens given to the GPT so far: the next one's position
    token: int = -1  # the last token drawn, fed at the next step
    done: bool = field(default=False)


class GptBatch:
    """The rows decoding together and their shared cache (which also says what each row attends to)."""

    def __init__(self, gpt: Any, gpt_step: GptStep = nullcontext) -> None:
        self.gpt = gpt  # coqui's GPT: its embeddings, heads and the GPT-2 stack (model.gpt)
        self.gpt_step = gpt_step
        self._decode = DecodeStep(gpt.gpt)  # the stack as loaded: build the batch after its precision is set
        self.device = gpt.mel_embedding.weight.device  # every tensor made here goes there, with the GPT's
        self.rows: list[Row] = []
        self._cache: KeyValues | None = None

    def join(
        self, cond_latent: torch.Tensor, text_tokens: torch.Tensor, sampling: Sampling
    ) -> tuple[Row, torch.Tensor]:
        """A sentence's prompt run alone, its row added to the batch; the row and its first latent [C]."""
        gpt = self.gpt
        text = F.pad(F.pad(text_tokens, (0, 1), value=gpt.stop_text_token), (1, 0), value=gpt.start_text_token)
        prompt = torch.cat([cond_latent, gpt.text_embedding(text) + gpt.text_pos_embedding(text)], dim=1)
        start = torch.full((1, 1), gpt.start_audio_token, dtype=torch.long, device=self.device)
        embeds = torch.cat([prompt, gpt.mel_embedding(start) + gpt.mel_pos_embedding.emb(start * 0)], dim=1)
        cache = DynamicCache()
        with self.gpt_step():
            hidden = gpt.gpt(inputs_embeds=embeds, past_key_values=cache, use_cache=True).last_hidden_state
        # generate()'s ids: ones for the prompt, then the start token (the repetition penalty reads them).
        ids = torch.ones(1, embeds.shape[1], dtype=torch.long, device=self.device)
        ids[0, -1] = gpt.start_audio_token
        row = Row(ids, logits_processors(sampling), limit=gpt.max_gen_mel_tokens)
        latent = self._draw([row], hidden[:, -1])[0]  # before the row is in the batch: a draw that fails leaves none
        self._add(row, KeyValues.of(cache))
        return row, latent

    def step(self) -> list[tuple[Row, torch.Tensor]]:
        """One token for every row that has not ended: (row, latent [C]) each; a row's `token` is what it drew."""
        gpt = self.gpt
        tokens = torch.tensor([[row.token] for row in self.rows], device=self.device)
        positions = torch.tensor([[row.fed] for row in self.rows], device=self.device)
        embeds = gpt.mel_embedding(tokens) + gpt.mel_pos_embedding.emb(positions)
        assert self._cache is not None
        with self.gpt_step():
            hidden = self._decode(embeds, self._cache)
        return list(zip(self.rows, self._draw(self.rows, hidden[:, -1]), strict=True))

    def leave(self, rows: list[Row]) -> None:
        """Drop rows (ended, or their client gone); the padding no remaining row needs is cut."""
        keep = [index for index, row in enumerate(self.rows) if row not in rows]
        if len(keep) == len(self.rows):
            return
        self.rows = [self.rows[index] for index in keep]
        assert self._cache is not None
        self._cache = self._cache.kept(keep) if keep else None

    def _add(self, row: Row, cache: KeyValues) -> None:
        """The newcomer's row and cache stacked under the batch's."""
        self._cache = cache if self._cache is None else self._cache.stacked(cache)
        self.rows.append(row)

    def _draw(self, rows: list[Row], hidden: torch.Tensor) -> list[torch.Tensor]:
        """Each row's next token from its own settings and history; the latents the vocoder reads, in fp32."""
        latents = self.gpt.final_norm(hidden)
        logits = self.gpt.mel_head(latents).float()
        for index, row in enumerate(rows):
            scores = row.processors(row.ids, logits[index : index + 1])  # type: ignore[arg-type]  # a LongTensor in name
            token = int(torch.multinomial(F.softmax(scores, dim=-1), num_samples=1))
            row.ids = torch.cat([row.ids, row.ids.new_tensor([[token]])], dim=1)
            row.token, row.fed = token, row.fed + 1
            row.done = token == self.gpt.stop_audio_token or row.fed >= row.limit
        return list(latents.float())
