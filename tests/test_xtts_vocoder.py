"""--xtts-vocoder: the HiFi-GAN vocoder in ONNX Runtime on a CPU, with PyTorch's audio (tiny random-weight XTTS:
its vocoder is XTTS v2's own, full size)."""

import logging

import pytest
import torch

from tests.conftest import speak_on_cpu_xtts
from wyoming_streamtts import xtts_vocoder
from wyoming_streamtts.xtts_model import load_model
from wyoming_streamtts.xtts_stream import WindowedVocoder
from wyoming_streamtts.xtts_vocoder import CACHE_NAME, OnnxGenerator, decide_vocoder, use_onnx_vocoder


@pytest.mark.parametrize(
    ("requested", "device", "installed", "vocoder"),
    [("auto", "cpu", True, "onnx"), ("auto", "cpu", False, "torch"), ("auto", "cuda", True, "torch"),
     ("auto", "mps", True, "torch"), ("torch", "cpu", True, "torch"), ("onnx", "cpu", True, "onnx")],
)  # fmt: skip
def test_the_vocoder_runs_in_onnx_runtime_on_a_cpu_only(requested, device, installed, vocoder):
    assert decide_vocoder(requested, device, installed) == vocoder


@pytest.mark.parametrize(
    ("device", "installed", "error"),
    [("cuda", True, "--xtts-vocoder onnx runs on the CPU only, not on cuda"),
     ("cpu", False, r"--xtts-vocoder onnx needs onnx and onnxruntime \(pip install")],
)  # fmt: skip
def test_onnx_where_it_cannot_run_is_an_error_naming_the_flag(device, installed, error):
    with pytest.raises(ValueError, match=error):
        decide_vocoder("onnx", device, installed)


def said(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == level]


@pytest.fixture(scope="module")
def torch_model(tiny_xtts):
    return load_model(tiny_xtts, "cpu", False)[0]


@pytest.fixture
def onnx_model(tiny_xtts, tmp_path):
    model = load_model(tiny_xtts, "cpu", False)[0]
    assert use_onnx_vocoder(model, tmp_path / "cache")
    return model


@torch.inference_mode()
def windowed(model, latents: torch.Tensor, g: torch.Tensor, steps: list[int]) -> list[torch.Tensor]:
    vocoder = WindowedVocoder(model.hifigan_decoder, g)
    return [vocoder.decode(latents[:n], final=n == steps[-1]) for n in steps]


def test_onnx_runtime_streams_pytorchs_audio(torch_model, onnx_model):
    assert isinstance(onnx_model.hifigan_decoder.waveform_decoder, OnnxGenerator)
    torch.manual_seed(3)
    latents = torch.randn(60, torch_model.args.gpt_n_model_channels)
    g = torch.nn.functional.normalize(torch.randn(1, 512, 1), dim=1)
    steps = [4, 9, 17, 37, 60]  # a small first chunk, then growing: other lengths than the export's example
    theirs, ours = windowed(torch_model, latents, g, steps), windowed(onnx_model, latents, g, steps)
    assert [len(chunk) for chunk in ours] == [len(chunk) for chunk in theirs]
    expected, got = torch.cat(theirs), torch.cat(ours)
    assert expected.abs().max() > 0.01  # there is audio to compare
    assert ((got - expected).norm() / expected.norm()).item() < 1e-4


def test_the_export_is_made_once_into_the_cache_and_never_into_the_model_folder(tiny_xtts, tmp_path, caplog):
    model_files = sorted(tiny_xtts.iterdir())
    caplog.set_level(logging.DEBUG, logger="wyoming_streamtts")
    for _ in range(2):
        assert use_onnx_vocoder(load_model(tiny_xtts, "cpu", False)[0], tmp_path)
    assert (tmp_path / CACHE_NAME).stat().st_size > 1_000_000
    assert len([m for m in said(caplog, logging.INFO) if m.startswith("XTTS vocoder exported")]) == 1
    assert sorted(tiny_xtts.iterdir()) == model_files


@pytest.mark.parametrize("damage", [b"", b"not an onnx graph", "truncated"])
def test_a_damaged_cached_export_is_made_again(tiny_xtts, tmp_path, caplog, damage):
    use_onnx_vocoder(load_model(tiny_xtts, "cpu", False)[0], tmp_path)
    cached = tmp_path / CACHE_NAME
    good = cached.read_bytes()
    cached.write_bytes(good[: len(good) // 2] if damage == "truncated" else damage)
    model = load_model(tiny_xtts, "cpu", False)[0]
    assert use_onnx_vocoder(model, tmp_path)
    assert any(m.startswith(f"Vocoder cache {cached} is damaged") for m in said(caplog, logging.WARNING))
    assert cached.read_bytes() == good  # the same graph, written again


def test_an_unwritable_cache_still_runs_in_onnx_runtime(tiny_xtts, tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    model = load_model(tiny_xtts, "cpu", False)[0]
    assert use_onnx_vocoder(model, blocked)
    assert isinstance(model.hifigan_decoder.waveform_decoder, OnnxGenerator)
    assert any(m.startswith("Cannot write vocoder cache") for m in said(caplog, logging.WARNING))


@pytest.mark.parametrize("failure", ["export fails", "audio differs"])
def test_a_vocoder_onnx_runtime_cannot_run_stays_in_pytorch(tiny_xtts, tmp_path, caplog, monkeypatch, failure):
    def unexportable(*_args, **_kwargs):
        raise RuntimeError("no op")

    if failure == "export fails":
        monkeypatch.setattr(torch.onnx, "export", unexportable)
    else:  # ONNX Runtime's float arithmetic is not bit for bit PyTorch's: no difference at all is allowed here
        monkeypatch.setattr(xtts_vocoder, "_MAX_RELATIVE_ERROR", 0.0)
    model = load_model(tiny_xtts, "cpu", False)[0]
    generator = model.hifigan_decoder.waveform_decoder
    assert not use_onnx_vocoder(model, tmp_path)
    assert model.hifigan_decoder.waveform_decoder is generator
    assert not (tmp_path / CACHE_NAME).exists()
    reason = "RuntimeError: no op" if failure == "export fails" else "its audio differs from PyTorch's"
    warning = f"The XTTS vocoder cannot run in ONNX Runtime ({reason}); it stays in PyTorch"
    assert warning in said(caplog, logging.WARNING)


@pytest.mark.parametrize(
    ("flags", "started"),
    [([], "XTTS vocoder in ONNX Runtime on the CPU"), (["--xtts-vocoder", "torch"], None)],
)  # fmt: skip
async def test_a_cpu_server_speaks_with_either_vocoder(start_server, tiny_xtts, tmp_path, flags, started):
    server = await speak_on_cpu_xtts(start_server, tiny_xtts, tmp_path / "latents", *flags)
    assert (started in server.log()) if started else "ONNX Runtime" not in server.log()
    if started:  # kept for the next start, in the model's own folder of the cache
        assert len(list((tmp_path / "latents").glob(f"*/{CACHE_NAME}"))) == 1
