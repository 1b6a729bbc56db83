"""XTTS v2 checkpoints as users have them: both model.pth formats, read-only folders, the model's own settings."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.conftest import ServerProcess, assert_well_formed, one_shot, write_wav
from tests.tiny_xtts import XTTS_V2_INFERENCE, XTTS_V2_SAMPLING, build_tiny_xtts
from wyoming_streamtts.xtts_model import conditioning_latents, inference_settings, load_model

VOICE = "en/Ana Florence"  # a studio speaker: no recordings needed


def digests(folder) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def xtts_args(model, *extra: str) -> list[str]:
    return ["--engine", "xtts", "--fallback", "none", "--xtts-model", str(model), "--device", "cpu", *extra]


def read_only_server(model, tmp_path) -> ServerProcess:
    """The server in its own mount namespace, where the model folder is a read-only bind mount."""
    mount = f"mount --bind {model} {model} && mount -o remount,bind,ro {model}"
    check = subprocess.run(["unshare", "-m", "sh", "-c", f"{mount} && touch {model}/written"], check=False)
    assert check.returncode != 0 and not (model / "written").exists(), "the bind mount must be read-only"
    program = ("unshare", "-m", "sh", "-c", f'{mount} && exec "$0" -m wyoming_streamtts "$@"', sys.executable)
    return ServerProcess(xtts_args(model), None, tmp_path, program=program)


@pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "writable"])
@pytest.mark.parametrize("original_format", [True, False], ids=["original-download", "coqui-tts-format"])
async def test_both_checkpoint_formats_load_and_the_model_folder_is_never_written(original_format, read_only, tmp_path):
    model = build_tiny_xtts(tmp_path / "model", original_format=original_format)
    before = digests(model)
    server = read_only_server(model, tmp_path) if read_only else ServerProcess(xtts_args(model), None, tmp_path)
    try:
        server.wait_ready(timeout=120)
        assert_well_formed(await one_shot(server.port, "Hello there.", VOICE, timeout=300), streaming=False)
    finally:
        server.stop()
    assert digests(model) == before  # coqui's own loader rewrites an original-format model.pth


async def test_sampling_comes_from_the_checkpoint_config_and_flags_override_it(start_server, tiny_xtts, tmp_path):
    # A fine-tuned model ships its own settings: this one samples greedily, so the same text is the same audio.
    greedy = build_tiny_xtts(tmp_path / "greedy", top_k=1)

    async def twice(model, *flags: str) -> list[np.ndarray]:
        server = start_server(*xtts_args(model, "--first-chunk-size", "0", *flags))
        replies = [await one_shot(server.port, "Hello there.", VOICE, timeout=300) for _ in range(2)]
        server.stop()
        for reply in replies:
            assert_well_formed(reply, streaming=False)
        return [reply.samples for reply in replies]

    first, second = await twice(greedy)
    assert np.array_equal(first, second)
    assert not np.array_equal(*await twice(greedy, "--top-k", "50"))
    assert not np.array_equal(*await twice(tiny_xtts))  # the official top_k 50
    assert np.array_equal(*await twice(tiny_xtts, "--top-k", "1"))
    # --speed 2 speaks the same tokens in half the time.
    fast, _ = await twice(greedy, "--speed", "2")
    assert abs(len(fast) / len(first) - 0.5) < 0.05


def test_the_checkpoint_settings_are_the_official_ones(tiny_xtts):
    _model, config = load_model(tiny_xtts, "cpu", deepspeed=False)
    sampling, conditioning = inference_settings(config, {"temperature": None, "speed": 1.5})
    assert {name: getattr(sampling, name) for name in XTTS_V2_SAMPLING} == {
        name: XTTS_V2_INFERENCE[name] for name in XTTS_V2_SAMPLING
    }
    assert sampling.speed == 1.5
    assert (conditioning.max_ref_len, conditioning.gpt_cond_len, conditioning.gpt_cond_chunk_len) == (30, 30, 4)


def test_cloning_computes_what_coqui_computes_with_the_model_settings(tiny_xtts, tmp_path):
    model, config = load_model(tiny_xtts, "cpu", deepspeed=False)
    _, conditioning = inference_settings(config, {})
    files = [write_wav(tmp_path / "a.wav", 8.0), write_wav(tmp_path / "b.wav", 5.0, pitch=120, rate=44100)]
    ours = conditioning_latents(model, files, conditioning)
    theirs = model.get_conditioning_latents(
        [str(path) for path in files], max_ref_length=30, gpt_cond_len=30, gpt_cond_chunk_len=4
    )
    for mine, coquis in zip(ours, theirs, strict=True):
        assert mine.shape == coquis.shape
        assert torch.allclose(mine, coquis, atol=1e-5)
