"""The windowed vocoder against coqui's own streaming decode, on the real decoder."""

import pytest
import torch
from TTS.tts.configs.xtts_config import XttsConfig
from TTS.tts.models.xtts import Xtts

from wyoming_streamtts.xtts_stream import DEFAULT_CONTEXT_FRAMES, WindowedVocoder


@pytest.fixture(scope="module")
def model(tiny_xtts):
    config = XttsConfig()
    config.load_json(str(tiny_xtts / "config.json"))
    xtts = Xtts(config)
    xtts.load_checkpoint(config, checkpoint_dir=str(tiny_xtts), eval=True)
    return xtts


def decoder_input_frames(model, run):
    """Frames the HiFi-GAN generator is given on each call while `run` runs."""
    seen = []
    hook = model.hifigan_decoder.waveform_decoder.register_forward_pre_hook(
        lambda _module, args: seen.append(args[0].shape[-1])
    )
    try:
        output = run()
    finally:
        hook.remove()
    return output, seen


# Tokens generated when each chunk is decoded: a fixed schedule, and schedules the planner makes.
@pytest.mark.parametrize(
    "steps",
    [list(range(20, 101, 20)), [4, 9, 17, 33, 53, 73, 93, 100], [1, 3, 6, 10, 15, 21, 41, 61, 81, 100]],
    ids=["fixed", "growing", "from-one"],
)
@torch.inference_mode()
def test_windowed_stream_matches_coquis_stream_with_flat_cost(model, steps):
    torch.manual_seed(3)
    latents = torch.randn(100, model.args.gpt_n_model_channels)
    g = torch.nn.functional.normalize(torch.randn(1, 512, 1), dim=1)

    def stock():
        prev = overlap = None
        chunks = []
        for n in steps:
            wav = model.hifigan_decoder(latents[None, :n], g=g).squeeze()
            chunk, prev, overlap = model.handle_chunks(wav, prev, overlap, 1024, is_final=n == steps[-1])
            chunks.append(chunk)
        return chunks

    def windowed():
        vocoder = WindowedVocoder(model.hifigan_decoder, g)
        return [vocoder.decode(latents[:n], final=n == steps[-1]) for n in steps]

    stock_chunks, stock_frames = decoder_input_frames(model, stock)
    our_chunks, our_frames = decoder_input_frames(model, windowed)
    ours, theirs = torch.cat(our_chunks), torch.cat(stock_chunks)
    full = model.hifigan_decoder(latents[None], g=g).squeeze()

    # Same audio as coqui's stream, chunk for chunk, so the joins are cross-faded the same way.
    assert [len(c) for c in our_chunks] == [len(c) for c in stock_chunks]
    assert ((ours - theirs).norm() / theirs.norm()).item() < 1e-4
    assert ((ours - full).norm() / full.norm()).item() < 0.01
    # No clicks: no jump at a join is larger than the largest within the full decode.
    # (An empty chunk, as a one-token first chunk is, makes no join: index 0 would compare with the last sample.)
    joins = torch.cumsum(torch.tensor([len(c) for c in our_chunks[:-1] if len(c)]), 0)
    largest_step = (full[1:] - full[:-1]).abs().max()
    assert all(abs(ours[j] - ours[j - 1]) <= largest_step for j in joins)
    # Coqui re-decodes everything so far; the window stays the same size.
    assert stock_frames[-1] == max(stock_frames) >= 4 * stock_frames[0]
    frames_per_token = stock_frames[-1] / steps[-1]
    widest_chunk = max(b - a for a, b in zip([0, *steps], steps, strict=False))
    assert max(our_frames) <= DEFAULT_CONTEXT_FRAMES + widest_chunk * frames_per_token + 8


@torch.inference_mode()
def test_the_context_window_covers_the_vocoders_reach(model):
    # The frames decoded again before a chunk must hold everything its first sample depends on: a change
    # to one input frame may move the audio only within DEFAULT_CONTEXT_FRAMES frames of it, either side.
    generator = model.hifigan_decoder.waveform_decoder
    torch.manual_seed(5)
    frames = torch.randn(1, generator.conv_pre.in_channels, 4 * DEFAULT_CONTEXT_FRAMES)
    g = torch.nn.functional.normalize(torch.randn(1, 512, 1), dim=1)
    changed = frames.clone()
    changed[:, :, 2 * DEFAULT_CONTEXT_FRAMES] += 1.0
    before, after = generator(frames, g=g).squeeze(), generator(changed, g=g).squeeze()
    hop = before.shape[0] // frames.shape[-1]
    moved = ((after - before).abs() > 1e-6 * before.abs().max()).nonzero().squeeze(1)
    reach = max(2 * DEFAULT_CONTEXT_FRAMES - moved[0].item() / hop, moved[-1].item() / hop - 2 * DEFAULT_CONTEXT_FRAMES)
    assert 8 < reach <= DEFAULT_CONTEXT_FRAMES


@pytest.mark.parametrize("speed", [1.5, 2.0, 4.0])
@torch.inference_mode()
def test_any_speed_streams_with_one_token_chunks(model, speed):
    # --speed 1.5 with one-token chunks failed on every request: one token scaled by 1/1.5 is no frame, and the
    # interpolation to zero frames raised "Input and output sizes should be greater than 0".
    torch.manual_seed(4)
    latents = torch.randn(30, model.args.gpt_n_model_channels)
    g = torch.nn.functional.normalize(torch.randn(1, 512, 1), dim=1)
    vocoder = WindowedVocoder(model.hifigan_decoder, g, length_scale=1.0 / speed)
    chunks = [vocoder.decode(latents[:n], final=n == len(latents)) for n in range(1, len(latents) + 1)]
    scaled = torch.nn.functional.interpolate(latents.T[None], scale_factor=1.0 / speed, mode="linear")
    full = model.hifigan_decoder(scaled.transpose(1, 2), g=g).squeeze()  # the whole sentence at that speed
    streamed = torch.cat(chunks)
    assert len(streamed) == len(full)
    assert ((streamed - full).norm() / full.norm()).item() < 0.03  # a cross-fade at each of 30 joins
