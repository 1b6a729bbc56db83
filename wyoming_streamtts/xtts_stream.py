"""XTTS streaming with a flat cost per chunk.

coqui's `Xtts.inference_stream` runs the HiFi-GAN vocoder over all GPT latents
so far for every chunk, so a sentence of n chunks costs O(n²) vocoder work.
The vocoder is convolutional: audio at a frame depends only on nearby frames.
So each chunk is decoded from the new frames plus a fixed window of earlier
ones, and its start is cross-faded with the end of the previous chunk exactly
as coqui does. The cheap linear interpolations in front of the vocoder still see
all latents, so frame positions line up with a full decode sample for sample.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .chunk_planner import ChunkPlanner, ChunkShape, Pace
from .splitter import split_sentences
from .xtts_model import Sampling
from .xtts_vocoder import generator_hop

_LOGGER = logging.getLogger(__name__)

# Frames of vocoder input decoded again before the new ones: beyond the HiFi-GAN
# receptive field (a change to one input frame moves XTTS v2's audio 13.6 frames
# either side, no further), so the audio emitted equals a full decode's. Each
# frame more costs as much as a new one: 48 made a 20-token chunk a third dearer.
DEFAULT_CONTEXT_FRAMES = 16
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
        if int(len(latents) * self.length_scale) < 1:
            # Faster than spoken (--speed above 1), a token or two make no frame yet: no audio, not
            # an interpolation to zero frames (which fails).
            self.decoded_frames = 0
            return torch.zeros(0, device=latents.device)
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


class SentenceAudio:
    """One sentence's latents as they come, turned into audio chunks of the sizes its planner picks."""

    def __init__(
        self,
        model: Any,
        speaker_embedding: torch.Tensor,
        sampling: Sampling,
        stream_chunk_size: int,
        first_chunk_size: int = 0,
        pace: Pace | None = None,
        ahead_s: float = 0.0,
    ) -> None:
        """`ahead_s`: audio of the same answer the listener has yet to hear (`ChunkPlanner`)."""
        self.vocoder = WindowedVocoder(model.hifigan_decoder, speaker_embedding.to(model.device), 1.0 / sampling.speed)
        self.rate = model.hifigan_decoder.output_sample_rate
        self.planner = ChunkPlanner(
            first_chunk_size, stream_chunk_size, self.vocoder.shape(), pace or Pace(), ahead_s=ahead_s
        )
        self._latents: list[torch.Tensor] = []
        self._size, self._new = self.planner.first_size(), 0
        self._gpt_s = 0.0  # the chunk's GPT work so far (the first chunk's includes the prompt)
        self._decoded = 0  # tokens decoded so far

    def take(self, latent: torch.Tensor, final: bool, gpt_s: float) -> torch.Tensor | None:
        """The latents so far when this one (after `gpt_s` of GPT work) completes a chunk or ends the sentence,
        else None: `decode` them (apart, so that a failure there is known as the vocoder's)."""
        self._latents.append(latent)
        self.planner.token(gpt_s)
        self._new += 1
        self._gpt_s += gpt_s
        if final:
            self.planner.finish()
        elif self._new < self._size:
            return None
        self._new = 0
        return torch.stack(self._latents)

    def decode(self, latents: torch.Tensor, final: bool) -> torch.Tensor:
        """The chunk's audio from what `take` gave; what it cost sizes the next chunk."""
        began = time.monotonic()
        wav = self.vocoder.decode(latents, final)
        vocoder_s = time.monotonic() - began
        # What a chunk cost, for tuning the plan (bench.chunk_cost reads it from a server's debug log).
        _LOGGER.debug("XTTS chunk of %d tokens (%d planned): GPT %.1f ms, vocoder %.1f ms for %d frames, %.1f ms of "
                      "audio", len(latents) - self._decoded, self._size, self._gpt_s * 1000, vocoder_s * 1000,
                      self.vocoder.decoded_frames, len(wav) / self.rate * 1000)  # fmt: skip
        self._gpt_s, self._decoded = 0.0, len(latents)
        if not final:
            self._size = self.planner.sent(len(wav) / self.rate, vocoder_s, self.vocoder.decoded_frames)
        return wav


def text_tokens(model: Any, text: str, language: str) -> torch.Tensor:
    """The sentence as XTTS's GPT reads it, [1, n] (raises ValueError when XTTS would refuse it)."""
    tokens = torch.IntTensor(model.tokenizer.encode(text.strip().lower(), lang=language)).unsqueeze(0)
    if tokens.shape[-1] >= model.args.gpt_max_text_tokens:
        raise ValueError(f"Sentence too long for XTTS ({tokens.shape[-1]} tokens)")
    return tokens.to(model.device)


def fit_sentence(text: str, too_long: Callable[[str], bool]) -> list[str]:
    """`text` cut in halves, at clauses, else at spaces, until no piece is `too_long`.

    XTTS's character limits count the text before its normaliser spells out digits, so
    a sentence of numbers within them can still exceed the model's token limit.
    """
    if len(text) <= 2 or not too_long(text):  # two characters never exceed it, and cannot be halved
        return [text]
    pieces = split_sentences(text, len(text) // 2)  # each piece at most half the text plus one
    return [part for piece in pieces for part in fit_sentence(piece, too_long)]
