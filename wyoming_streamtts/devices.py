"""Where the models run: one decision at start-up, for XTTS and NLLB alike."""

import logging

_LOGGER = logging.getLogger(__name__)

DEVICES = ("auto", "cuda", "mps", "cpu")


def gpus_present(torch_model: bool) -> tuple[bool, bool]:
    """Whether there is a CUDA GPU, and an Apple GPU (MPS).

    Asked of PyTorch only when a torch model will run (`torch_model`): importing it costs seconds
    at every start. Otherwise CTranslate2 answers, which cannot use an Apple GPU anyway.
    """
    if not torch_model:
        try:
            import ctranslate2  # noqa: PLC0415 - not installed for the light engines
        except ImportError:
            return False, False
        return ctranslate2.get_cuda_device_count() > 0, False
    try:
        import torch  # noqa: PLC0415 - heavy, and not installed for the light engines
    except ImportError:
        return False, False
    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available(), bool(mps and mps.is_available())


def decide_device(requested: str, cuda: bool, mps: bool) -> str:
    """The --device asked for, checked; `auto` is a CUDA GPU, else an Apple GPU, else the CPU.

    Raises ValueError naming the flag when the GPU asked for is not there.
    """
    if requested == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if requested == "cuda" and not cuda:
        raise ValueError("--device cuda was asked for, but no CUDA GPU was found")
    if requested == "mps" and not mps:
        raise ValueError("--device mps was asked for, but no Apple GPU (MPS) was found")
    return requested
