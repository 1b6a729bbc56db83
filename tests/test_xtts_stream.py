"""The windowed vocoder against coqui's own streaming decode, on the real decoder."""

from threading import current_thread, main_thread

import pytest
import torch
from TTS.tts.configs.xtts_config import XttsConfig
from TTS.tts.models.xtts import Xtts

from tests.conftest import write_wav
from wyoming_streamtts.xtts_model import inference_settings
from wyoming_streamtts.xtts_stream import DEFAULT_CONTEXT_FRAMES, WindowedVocoder, stream_sentence
from wyoming_streamtts.xtts_worker import XttsWorker


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


def test_sentences_interleaved_chunk_by_chunk_each_keep_their_own_text(model, tmp_path):
    # Requests share the model and take turns a chunk at a time; XTTS keeps the
    # conditioning + text prefix of generation on the model, one for all.
    cond, speaker = model.get_conditioning_latents(audio_path=[str(write_wav(tmp_path / "ref.wav", 5.0))])
    # deterministic: the same text, the same audio
    greedy = {"sampling": inference_settings(model.config, {"top_k": 1})[0], "stream_chunk_size": 4}

    def alone(text: str) -> list[torch.Tensor]:
        return list(stream_sentence(model, text, "en", cond, speaker, **greedy))

    first, second = "Turn the lights on.", "The washing machine has finished its long cycle."
    expected = {first: alone(first), second: alone(second)}
    streams = {text: stream_sentence(model, text, "en", cond, speaker, **greedy) for text in expected}
    got: dict[str, list[torch.Tensor]] = {text: [] for text in expected}
    while streams:
        for text, stream in list(streams.items()):
            chunk = next(stream, None)
            if chunk is None:
                del streams[text]
            else:
                got[text].append(chunk)

    assert min(len(chunks) for chunks in expected.values()) >= 2  # they really took turns
    for text in expected:
        assert len(got[text]) == len(expected[text])
        assert all(torch.equal(a, b) for a, b in zip(got[text], expected[text], strict=True))


async def test_the_worker_hands_the_event_loop_pcm_made_on_its_own_thread(model, tmp_path, monkeypatch):
    # `.cpu()` waits for the GPU: done on the loop, it held every connection for as long.
    cond, speaker = model.get_conditioning_latents(audio_path=[str(write_wav(tmp_path / "ref.wav", 5.0))])
    sampling = inference_settings(model.config, {"top_k": 1})[0]
    expected = list(stream_sentence(model, "Turn the lights on.", "en", cond, speaker, sampling, 4))
    threads = []
    to_cpu = torch.Tensor.cpu
    monkeypatch.setattr(
        torch.Tensor, "cpu", lambda self, *a, **k: threads.append(current_thread()) or to_cpu(self, *a, **k)
    )
    worker = XttsWorker(model, sampling, stream_chunk_size=4, first_chunk_size=0)
    try:
        chunks = [chunk async for chunk in worker.stream("Turn the lights on.", "en", (cond, speaker))]
    finally:
        worker.close()
    assert all(isinstance(chunk, bytes) for chunk in chunks) and len(chunks) == len(expected) >= 2
    assert [len(chunk) for chunk in chunks] == [2 * len(wav) for wav in expected]
    assert threads and main_thread() not in threads
