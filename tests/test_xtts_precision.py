"""--xtts-precision: the GPT's precision per device, int8 on a CPU, faithful to fp32 (tiny random-weight XTTS)."""

import copy
import threading

import pytest
import torch

from tests.conftest import speak_on_cpu_xtts
from wyoming_streamtts import xtts_engine
from wyoming_streamtts.xtts_engine import XttsEngine
from wyoming_streamtts.xtts_model import load_model
from wyoming_streamtts.xtts_precision import apply_precision, as_linear, decide_precision


@pytest.mark.parametrize(
    ("requested", "device", "precision"),
    [("auto", "cpu", "int8"), ("auto", "cuda", "fp16"), ("auto", "mps", "fp32"), ("fp32", "cpu", "fp32"),
     ("fp32", "cuda", "fp32"), ("int8", "cpu", "int8"), ("bf16", "cpu", "bf16"), ("fp16", "cuda", "fp16"),
     ("fp16", "mps", "fp16"), ("bf16", "cuda", "bf16")],
)  # fmt: skip
def test_the_precision_follows_the_device(requested, device, precision):
    assert decide_precision(requested, device) == precision


@pytest.mark.parametrize(("requested", "device"), [("int8", "cuda"), ("int8", "mps"), ("fp16", "cpu"), ("bf16", "mps")])
def test_a_precision_the_device_cannot_run_is_an_error_naming_the_flag(requested, device):
    with pytest.raises(ValueError, match=f"--xtts-precision {requested} does not run on {device}"):
        decide_precision(requested, device)


@pytest.fixture(scope="module")
def model(tiny_xtts):
    return load_model(tiny_xtts, "cpu", False)[0]


def gpt_states(gpt: torch.nn.Module, seed: int = 0) -> torch.Tensor:
    """The GPT stack's last hidden states for fixed random input embeddings (20 positions)."""
    embeds = torch.randn(1, 20, gpt.config.n_embd, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        return gpt(inputs_embeds=embeds).last_hidden_state[0]


def test_conv1d_as_linear_keeps_the_gpt_outputs(model):
    gpt = copy.deepcopy(model.gpt.gpt)
    before = gpt_states(gpt)
    assert as_linear(gpt) == 4 * gpt.config.n_layer  # qkv, attention out, MLP in and out, per block
    assert not any(type(module).__name__ == "Conv1D" for module in gpt.modules())
    torch.testing.assert_close(gpt_states(gpt), before, rtol=1e-5, atol=1e-5)


def test_int8_gpt_latents_stay_close_to_fp32(model):
    fp32 = gpt_states(model.gpt.gpt)
    quantized = copy.deepcopy(model)
    apply_precision(quantized, "int8", "cpu")
    assert any("quantized" in type(module).__module__ for module in quantized.gpt.gpt.modules())
    int8 = gpt_states(quantized.gpt.gpt)
    cosine = torch.nn.functional.cosine_similarity(int8, fp32, dim=-1)
    assert cosine.min() > 0.98, cosine
    assert model.gpt.gpt is not quantized.gpt.gpt and gpt_states(model.gpt.gpt).equal(fp32)  # the original untouched


@pytest.mark.parametrize(
    ("flags", "started"),
    [([], "XTTS GPT in dynamic int8 on cpu"),  # auto
     (["--xtts-precision", "bf16"], "XTTS GPT under bf16 autocast on cpu"),  # the autocast path GPUs take
     (["--xtts-precision", "fp32"], "XTTS in fp32 on cpu")],
)  # fmt: skip
async def test_a_cpu_server_speaks_at_each_precision_it_runs(start_server, tiny_xtts, tmp_path, flags, started):
    server = await speak_on_cpu_xtts(start_server, tiny_xtts, tmp_path / "latents", *flags)
    assert started in server.log()


def test_a_precision_the_device_cannot_run_stops_the_start(start_server, tiny_xtts):
    server = start_server(
        "--engine", "xtts", "--xtts-model", str(tiny_xtts), "--device", "cpu", "--xtts-precision", "fp16", ready=False
    )
    assert server.process.wait(120) == 2
    assert "--xtts-precision fp16 does not run on cpu (it runs on cuda, mps)" in server.log()


async def test_all_the_models_pytorch_work_runs_on_the_workers_one_thread(tiny_xtts, tmp_path, monkeypatch):
    # Loading it on another thread left that thread's OpenMP team behind, and every int8 GPT step on the
    # worker's thread then took 1.7x as long on a 2-core CPU (docs/performance.md).
    threads: dict[str, set[str]] = {}

    def watched(name, function):
        def run(*args):
            threads.setdefault(name, set()).add(threading.current_thread().name)
            return function(*args)

        monkeypatch.setattr(xtts_engine, name, run)

    for name in ("load_model", "apply_precision", "use_onnx_vocoder"):
        watched(name, getattr(xtts_engine, name))
    engine = XttsEngine(tiny_xtts, "cpu", [], tmp_path, 8, 0, precision="int8", vocoder="onnx")
    try:
        engine.model.hifigan_decoder.waveform_decoder.register_forward_pre_hook(
            lambda *_: threads.setdefault("vocoder", set()).add(threading.current_thread().name)
        )
        engine.model.gpt.mel_head.register_forward_pre_hook(  # after every GPT pass: prompt and step
            lambda *_: threads.setdefault("gpt", set()).add(threading.current_thread().name)
        )
        audio = [chunk async for chunk in engine.synthesize("The lights are on.", "en", engine.speakers[0].name)]
    finally:
        await engine.close()
    assert sum(len(chunk.audio) for chunk in audio) > engine.rate // 2
    assert set(threads) == {"load_model", "apply_precision", "use_onnx_vocoder", "vocoder", "gpt"}
    names = set().union(*threads.values())
    assert len(names) == 1 and names.pop().startswith("xtts")
