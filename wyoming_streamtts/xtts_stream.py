"""XTTS streaming with a flat cost per chunk.

coqui's `Xtts.inference_stream` runs the HiFi-GAN vocoder over all GPT latents
so far for every chunk, so a sentence of n chunks costs O(n²) vocoder work.
The vocoder is convolutional: audio at a frame depends only on nearby frames.
So each chunk is decoded from the new frames plus a fixed window of earlier
ones, and its start is cross-faded with the end of the previous chunk exactly
as coqui does. The cheap linear interpolations in front of the vocoder still see
all latents, so frame positions line up with a full decode sample for sample.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F

from .chunk_planner import ChunkPlanner, ChunkShape, Pace
from .splitter import split_sentences
from .xtts_model import Sampling
from .xtts_vocoder import generator_hop

# Frames of vocoder input decoded again before the new ones: beyond the HiFi-GAN
# receptive field, so the audio emitted equals a full decode's.
DEFAULT_CONTEXT_FRAMES = 48
DEFAULT_OVERLAP_SAMPLES = 1024


class WindowedVocoder:
    """Turns a growing sequence of GPT latents into audio chunks, one window at a time."""

    def __init__(
        self,
        hifigan_decoder: Any,  # coqui's HifiDecoder: its attributes are untyped
        speaker_embedding: torch.Tensor,
        length_scale: float = 1.0,
        context_frames: int = DEFAULT_CONTEXT_FRAMES,
        overlap: int = DEFAULT_OVERLAP_SAMPLES,
    ) -> None:
        self.decoder = hifigan_decoder
        self.speaker_embedding = speaker_embedding
        self.length_scale = length_scale
        self.context_frames = context_frames
        self.overlap = overlap
        self.hop = generator_hop(hifigan_decoder.waveform_decoder)
        self._emitted = 0  # samples of the full decode already handed out
        self._tail: torch.Tensor | None = None  # held back to cross-fade with the next chunk
        self.decoded_frames = 0  # frames the last call decoded, context included

    def shape(self) -> ChunkShape:
        """What a chunk costs and brings, per GPT token (the interpolations of `_frames`)."""
        decoder = self.decoder
        seconds_per_token = decoder.ar_mel_length_compression / decoder.input_sample_rate * self.length_scale
        return ChunkShape(
            audio_per_token_s=seconds_per_token,
            frames_per_token=seconds_per_token * decoder.output_sample_rate / self.hop,
            context_frames=self.context_frames,
            held_back_s=self.overlap / decoder.output_sample_rate,
        )

    def decode(self, latents: torch.Tensor, final: bool) -> torch.Tensor:
        """Audio for the latents [T, C] that are new since the last call."""
        frames = self._frames(latents)
        total = frames.shape[-1] * self.hop
        first = max(0, self._emitted // self.hop - self.context_frames)
        self.decoded_frames = frames.shape[-1] - first
        wav = self.decoder.waveform_decoder(frames[:, :, first:], g=self.speaker_embedding).squeeze()
        # wav[i] is sample first * hop + i of the full decode.
        start = self._emitted - first * self.hop
        end = wav.shape[0] if final else max(start, wav.shape[0] - self.overlap)
        chunk = wav[start:end].clone()
        if self._tail is not None:
            fade = min(len(self._tail), len(chunk))
            ramp = torch.linspace(0.0, 1.0, fade, device=chunk.device)
            chunk[:fade] = chunk[:fade] * ramp + self._tail[:fade] * (1.0 - ramp)
        self._tail = None if final else wav[end:].clone()
        self._emitted = first * self.hop + end
        assert self._emitted <= total
        return chunk

    def _frames(self, latents: torch.Tensor) -> torch.Tensor:
        """The vocoder's input for all latents: HifiDecoder.forward's interpolations."""
        x = latents[None]  # [1, T, C]
        if self.length_scale != 1.0:
            x = F.interpolate(x.transpose(1, 2), scale_factor=self.length_scale, mode="linear").transpose(1, 2)
        z = F.interpolate(
            x.transpose(1, 2),
            scale_factor=[self.decoder.ar_mel_length_compression / self.decoder.output_hop_length],
            mode="linear",
        ).squeeze(1)
        if self.decoder.output_sample_rate != self.decoder.input_sample_rate:
            z = F.interpolate(
                z,
                scale_factor=[self.decoder.output_sample_rate / self.decoder.input_sample_rate],
                mode="linear",
            ).squeeze(0)
        return z if z.dim() == 3 else z[None]


@torch.inference_mode()
def stream_sentence(
    model,
    text: str,
    language: str,
    gpt_cond_latent: torch.Tensor,
    speaker_embedding: torch.Tensor,
    sampling: Sampling,
    stream_chunk_size: int,
    first_chunk_size: int = 0,
    pace: Pace | None = None,
    gpt_step: Callable[[], AbstractContextManager] = nullcontext,
) -> Iterator[torch.Tensor]:
    """Like `Xtts.inference_stream` for one sentence, with a windowed vocoder and `sampling`;
    each GPT step runs in `gpt_step()` (xtts_precision: autocast for fp16/bf16)."""
    device = model.device
    gpt_cond_latent = gpt_cond_latent.to(device)
    speaker_embedding = speaker_embedding.to(device)
    tokens = model.tokenizer.encode(text.strip().lower(), lang=language)
    text_tokens = torch.IntTensor(tokens).unsqueeze(0).to(device)
    if text_tokens.shape[-1] >= model.args.gpt_max_text_tokens:
        raise ValueError(f"Sentence too long for XTTS ({text_tokens.shape[-1]} tokens)")
    fake_inputs = model.gpt.compute_embeddings(gpt_cond_latent, text_tokens)
    # XTTS keeps the prefix (conditioning + text) of generation on the model, one for
    # all; other sentences run between our chunks, so ours is put back at each resume.
    inference = model.gpt.gpt_inference
    prefix = inference.cached_prefix_emb
    generator = model.gpt.get_generator(
        fake_inputs=fake_inputs,
        do_sample=True,
        num_beams=1,
        num_return_sequences=1,
        output_attentions=False,
        output_hidden_states=True,
        return_dict_in_generate=True,
        **sampling.generate_options(),
    )
    vocoder = WindowedVocoder(model.hifigan_decoder, speaker_embedding, 1.0 / sampling.speed)
    rate = model.hifigan_decoder.output_sample_rate
    planner = ChunkPlanner(first_chunk_size, stream_chunk_size, vocoder.shape(), pace or Pace())
    latents: list[torch.Tensor] = []
    size, new = planner.first_size(), 0
    for latent in _gpt_latents(generator, gpt_step):
        latents.append(latent)
        planner.token()
        new += 1
        if new >= size:
            began = time.monotonic()
            wav = vocoder.decode(torch.cat(latents, dim=0), final=False)
            size, new = planner.sent(len(wav) / rate, time.monotonic() - began, vocoder.decoded_frames), 0
            yield wav
            planner.resumed()
            inference.store_prefix_emb(prefix)
    planner.finish()
    if latents:
        yield vocoder.decode(torch.cat(latents, dim=0), final=True)


def _gpt_latents(generator: Iterator[Any], gpt_step: Callable[[], AbstractContextManager]) -> Iterator[torch.Tensor]:
    """Each token's latent, in fp32 for the vocoder. The context is entered per step, never across a
    yield: autocast is per thread, and other sentences run on this thread between our chunks."""
    while True:
        with gpt_step():
            step = next(generator, None)
        if step is None:
            return
        yield step[1].float()


def fit_sentence(text: str, too_long: Callable[[str], bool]) -> list[str]:
    """`text` cut in halves, at clauses, else at spaces, until no piece is `too_long`.

    XTTS's character limits count the text before its normaliser spells out digits, so
    a sentence of numbers within them can still exceed the model's token limit.
    """
    if len(text) <= 2 or not too_long(text):  # two characters never exceed it, and cannot be halved
        return [text]
    pieces = split_sentences(text, len(text) // 2)  # each piece at most half the text plus one
    return [part for piece in pieces for part in fit_sentence(piece, too_long)]
