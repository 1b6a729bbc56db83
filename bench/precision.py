"""XTTS on the CPU per GPT precision and vocoder runtime: speed of one stream, and fidelity to fp32 (random weights).

`python -m bench.precision [--quick]`: prints one JSON object. Random weights prove the numerics
(how far int8 moves the GPT's latents, tokens and audio from fp32), not the quality of a trained voice.
"""

import asyncio
import copy
import statistics
import time
from pathlib import Path

import torch

from bench import run_alone
from bench.xtts import checkpoint
from wyoming_streamtts.xtts_engine import XttsEngine
from wyoming_streamtts.xtts_model import load_model
from wyoming_streamtts.xtts_precision import apply_precision

TEXT = "The kitchen lights are on, and the front door is locked for the night."
# (GPT precision, vocoder runtime): before int8, int8 alone, and what `auto` runs on a CPU.
RUNS = (("fp32", "torch"), ("int8", "torch"), ("int8", "onnx"))


def stream_figures(folder: Path, precision: str, vocoder: str, runs: int) -> dict:
    """First audio and RTF of one sentence, one stream, through the product's XttsEngine."""
    engine = XttsEngine(
        folder, "cpu", [], None, stream_chunk_size=20, first_chunk_size=0, precision=precision, vocoder=vocoder
    )
    speaker = engine.speakers[0].name

    async def once() -> tuple[float, float]:
        began, first, samples = time.monotonic(), 0.0, 0
        async for chunk in engine.synthesize(TEXT, "en", speaker):
            first = first or time.monotonic() - began
            samples += len(chunk.audio) // 2
        return first, (time.monotonic() - began) / (samples / engine.rate)

    async def measure() -> list[tuple[float, float]]:
        await once()  # warm-up
        return [await once() for _ in range(runs)]

    results = asyncio.run(measure())
    asyncio.run(engine.close())
    return {
        "precision": precision,
        "vocoder": vocoder,
        "first_audio_s": statistics.median(r[0] for r in results),
        "rtf": statistics.median(r[1] for r in results),
    }


@torch.inference_mode()
def fidelity(folder: Path) -> dict:
    """int8 against fp32 with the same weights: GPT latents (cosine), greedy tokens, decoded audio (SNR)."""
    model = load_model(folder, "cpu", False)[0]
    int8 = copy.deepcopy(model)
    apply_precision(int8, "int8", "cpu")
    torch.manual_seed(0)
    cond = torch.randn(1, 32, model.args.gpt_n_model_channels) * 0.1
    speaker = torch.nn.functional.normalize(torch.randn(1, model.args.d_vector_dim, 1), dim=1)
    text = torch.IntTensor(model.tokenizer.encode(TEXT.lower(), lang="en")).unsqueeze(0)
    options = {"do_sample": False, "top_k": 1, "num_beams": 1, "repetition_penalty": 1.0}
    tokens = {name: m.gpt.generate(cond, text, **options)[0] for name, m in (("fp32", model), ("int8", int8))}
    length = min(len(tokens["fp32"]), len(tokens["int8"]))
    same = (tokens["fp32"][:length] == tokens["int8"][:length]).float()
    codes = tokens["fp32"].unsqueeze(0)  # both precisions read fp32's tokens: latents and audio compared
    lengths = torch.tensor([codes.shape[-1] * model.gpt.code_stride_len])

    def latents(m) -> torch.Tensor:
        return m.gpt(text, torch.tensor([text.shape[-1]]), codes, lengths, cond_latents=cond, return_latent=True)

    ref, low = latents(model), latents(int8)
    wav_ref = model.hifigan_decoder(ref, g=speaker).squeeze()
    wav_low = model.hifigan_decoder(low, g=speaker).squeeze()
    noise = (wav_low - wav_ref).pow(2).mean()
    return {
        "layers": model.args.gpt_layers,
        "latent_cosine_mean": torch.nn.functional.cosine_similarity(ref[0], low[0], dim=-1).mean().item(),
        "latent_cosine_min": torch.nn.functional.cosine_similarity(ref[0], low[0], dim=-1).min().item(),
        "greedy_tokens": [len(tokens["fp32"]), len(tokens["int8"])],
        "greedy_tokens_equal": same.mean().item() if length else 1.0,
        "greedy_identical_prefix": int(same.cumprod(0).sum().item()) if length else 0,
        "audio_snr_db": (10 * torch.log10(wav_ref.pow(2).mean() / noise)).item() if noise > 0 else float("inf"),
    }


def precision_figures(quick: bool) -> dict:
    """Fidelity for the tiny and the full-size model, speed for the full size (quick: the tiny model only)."""
    results: dict = {"threads": torch.get_num_threads(), "fidelity": [], "one_stream": []}
    for full_size in [False] if quick else [False, True]:
        folder = checkpoint(full_size, 120)
        results["fidelity"].append({"model": "full" if full_size else "tiny", **fidelity(folder)})
        if full_size or quick:
            results["one_stream"] += [stream_figures(folder, *run, 1 if quick else 3) for run in RUNS]
    return results


def report(results: dict) -> list[str]:
    lines = ["", "XTTS GPT precision on the CPU (one stream; fidelity against fp32, greedy, same weights):"]
    for row in results["one_stream"]:
        lines.append(
            f"  {row['precision']} GPT, {row['vocoder']} vocoder: "
            f"first audio {row['first_audio_s']:.2f} s, RTF {row['rtf']:.2f}"
        )
    for row in results["fidelity"]:
        lines.append(
            f"  {row['model']} ({row['layers']} layers): latent cosine {row['latent_cosine_mean']:.5f} "
            f"(min {row['latent_cosine_min']:.5f}), greedy tokens equal {row['greedy_tokens_equal']:.0%}, "
            f"audio SNR {row['audio_snr_db']:.1f} dB"
        )
    return lines


if __name__ == "__main__":
    run_alone(__doc__, "the tiny model only, one run", precision_figures, report)
