"""One device decision for XTTS and NLLB, with the GPUs a machine may have injected (none is attached here)."""

import importlib.util
import subprocess
import sys

import pytest

from wyoming_streamtts.devices import decide_device
from wyoming_streamtts.engine_chain import auto_engines

GPUS = {"none": (False, False), "cuda": (True, False), "apple": (False, True), "both": (True, True)}


@pytest.mark.parametrize(
    ("requested", "gpus", "device"),
    [
        ("auto", "none", "cpu"),
        ("auto", "cuda", "cuda"),
        ("auto", "apple", "mps"),  # Apple GPUs are GPUs: XTTS and NLLB both go there
        ("auto", "both", "cuda"),
        ("cpu", "both", "cpu"),
        ("cuda", "cuda", "cuda"),
        ("mps", "apple", "mps"),
    ],
)
def test_auto_takes_a_cuda_gpu_then_an_apple_gpu_then_the_cpu(requested, gpus, device):
    assert decide_device(requested, *GPUS[gpus]) == device


@pytest.mark.parametrize(
    ("requested", "gpus", "message"),
    [
        ("cuda", "none", "--device cuda was asked for, but no CUDA GPU was found"),
        ("cuda", "apple", "--device cuda was asked for, but no CUDA GPU was found"),
        ("mps", "cuda", "--device mps was asked for, but no Apple GPU (MPS) was found"),
    ],
)
def test_a_gpu_asked_for_and_absent_is_an_error_naming_the_flag(requested, gpus, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decide_device(requested, *GPUS[gpus])


@pytest.mark.parametrize(
    ("requested", "device", "engines"),
    [
        ("auto", "cpu", ["gtts", "piper", "espeak"]),  # XTTS on a CPU is far slower than real time
        ("auto", "cuda", ["xtts", "gtts", "piper", "espeak"]),
        ("auto", "mps", ["xtts", "gtts", "piper", "espeak"]),  # was dropped: only CUDA counted
        ("cpu", "cpu", ["xtts", "gtts", "piper", "espeak"]),  # asked for by name
    ],
)
def test_engine_auto_keeps_xtts_on_any_gpu(requested, device, engines):
    assert auto_engines(["xtts", "gtts", "piper", "espeak"], requested, device) == engines


@pytest.mark.parametrize(
    ("extras", "says"),
    [
        (None, "it needs the [xtts] extra (script/setup xtts, or pip install 'wyoming-streamtts[xtts]')"),
        (
            "translate,piper",
            "which this image was built without (EXTRAS=translate,piper): build it again with "
            "--build-arg EXTRAS=xtts,translate,piper or use the GPU image",
        ),
    ],
)
def test_without_the_xtts_extra_auto_says_so_before_the_gpu(monkeypatch, caplog, extras, says):
    # It said "no GPU (--device cpu runs it on the CPU, slowly)", and following that gave "needs the [xtts] extra".
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "TTS" else real(name, *a))
    if extras is None:
        monkeypatch.delenv("WYOMING_STREAMTTS_EXTRAS", raising=False)
    else:
        monkeypatch.setenv("WYOMING_STREAMTTS_EXTRAS", extras)  # as the Dockerfile sets it
    assert auto_engines(["xtts", "piper", "espeak"], "auto", "cpu") == ["piper", "espeak"]
    warned = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warned) == 1 and warned[0].startswith("Engine xtts unavailable: ") and says in warned[0]
    assert "GPU" not in warned[0].replace("GPU image", "")


@pytest.mark.parametrize(
    "args",
    [
        ["--engine", "xtts", "--xtts-model", "/nowhere"],
        ["--engine", "espeak", "--translator", "ctranslate2"],  # NLLB alone: was a silent CPU fallback
        ["--engine", "auto", "--fallback", "xtts,espeak"],
    ],
    ids=["xtts", "nllb", "auto"],
)
@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_a_missing_gpu_stops_the_server_at_start_whichever_model_wants_it(args, device):
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_streamtts", *args, "--device", device],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"--device {device} was asked for, but no" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("translator", ["none", "ctranslate2"])
def test_light_engines_and_ctranslate2_do_not_load_pytorch(translator, tiny_nllb_ct2):
    # espeak needs no device: a --device cuda that no model uses is no error, and costs no PyTorch.
    # NLLB in CTranslate2 asks CTranslate2 for a GPU and tokenizes without transformers (which imports
    # PyTorch wherever it is installed): seconds at every start of the CPU image.
    args = ["--engine", "espeak", "--translator", translator, "--nllb-model", str(tiny_nllb_ct2)]
    if translator == "none":
        args += ["--device", "cuda"]
    code = (
        "import sys; from wyoming_streamtts.service import create_service;"
        "from wyoming_streamtts.cli import build_parser, settings_from;"
        f"service = create_service(settings_from(build_parser().parse_args({args!r})));"
        "print(service.translator is not None, sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == f"{translator != 'none'} []"
