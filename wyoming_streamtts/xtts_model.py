"""The XTTS v2 model on disk: finding it, loading it without writing, and its settings.

Two checkpoint formats exist. coqui-tts saves `{"model": ..., "config": dict}`;
the original download pickles its config as an `XttsConfig` object whose
argument classes lived in `TTS.tts.models.xtts`. coqui-tts reads the original
one through a branch that then rewrites `model.pth` in place: fatal in a
read-only folder, and a kill during the write corrupts the user's model. So the
state dict is read here, with `weights_only`, and the model folder is never
written.
"""

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torchaudio
from torchcodec.decoders import AudioDecoder
from TTS.config.shared_configs import BaseDatasetConfig
from TTS.tts.configs.xtts_config import XttsArgs, XttsAudioConfig, XttsConfig
from TTS.tts.models.xtts import Xtts

from .engine import EngineError
from .files import unreadable

_LOGGER = logging.getLogger(__name__)

MODEL_FILES = ("config.json", "model.pth", "vocab.json")
# Beside them, optional: the 58 studio voices.
MODEL_FOLDER = f"a folder holding {', '.join(MODEL_FILES)}, and speakers_xtts.pth for the studio voices"
LICENSE_URL = "https://coqui.ai/cpml"
REFERENCE_RATE = 22050  # conditioning works on 22.05 kHz audio, as in coqui's get_conditioning_latents
# The classes an original-format model.pth pickles, under the names it pickles them by.
_CHECKPOINT_GLOBALS = [
    (XttsArgs, "TTS.tts.models.xtts.XttsArgs"),
    (XttsAudioConfig, "TTS.tts.models.xtts.XttsAudioConfig"),
    XttsConfig,
    BaseDatasetConfig,
]


@dataclass(frozen=True)
class Sampling:
    """How GPT tokens are drawn, and how fast the voice speaks."""

    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    length_penalty: float
    speed: float = 1.0


@dataclass(frozen=True)
class Conditioning:
    """How a voice's latents are made from its recordings; part of the latent cache key."""

    max_ref_len: float  # seconds of each recording used
    gpt_cond_len: float
    gpt_cond_chunk_len: float
    sound_norm_refs: bool


def inference_settings(config: XttsConfig, overrides: dict[str, float | None]) -> tuple[Sampling, Conditioning]:
    """The checkpoint's own inference settings (fine-tuned models ship theirs), with the flags given."""
    chosen = {name: getattr(config, name) for name in ("temperature", "top_p", "top_k", "repetition_penalty")}
    chosen.update({name: value for name, value in overrides.items() if value is not None})
    sampling = Sampling(length_penalty=config.length_penalty, **chosen)
    conditioning = Conditioning(
        config.max_ref_len, config.gpt_cond_len, config.gpt_cond_chunk_len, config.sound_norm_refs
    )
    return sampling, conditioning


def resolve_model_dir(model: str, data_dir: Path, download: bool, license_agreed: bool) -> Path:
    """A folder holding the XTTS files: `model` itself, or the official model, downloaded."""
    if not model.startswith("tts_models/"):
        path = Path(model).expanduser()
        if problem := unreadable(path):
            raise EngineError(f"cannot read the XTTS model: {problem}")
        if not path.is_dir():
            raise EngineError(f"XTTS model folder {path} does not exist")
        missing = [name for name in MODEL_FILES if not (path / name).is_file()]
        if missing:
            raise EngineError(f"XTTS model folder {path} lacks {', '.join(missing)} ({MODEL_FOLDER})")
        return path
    if not download:
        raise EngineError(
            f"{model} is not downloaded. Add --download to fetch it into the data folder, "
            f"or pass --xtts-model DIR ({MODEL_FOLDER})"
        )
    if not license_agreed:
        raise EngineError(
            f"XTTS v2 is under the Coqui Public Model License ({LICENSE_URL}). To accept it "
            "and download the model, set COQUI_TOS_AGREED=1 or pass --agree-coqui-license"
        )
    return _download(model, data_dir)


def _download(model: str, data_dir: Path) -> Path:
    from TTS.utils.manage import ModelManager  # noqa: PLC0415 - only when downloading

    # coqui reads consent from the environment (else it prompts on stdin, which a service has not).
    os.environ["COQUI_TOS_AGREED"] = "1"
    os.environ.setdefault("HF_HUB_CACHE", str(data_dir / "huggingface"))
    _LOGGER.info("Downloading %s into %s (1.8 GB)", model, data_dir)
    try:
        _, config_path, _ = ModelManager(output_prefix=data_dir, progress_bar=False).download_model(model)
    except Exception as err:  # network, disk and hub errors all end the same way
        raise EngineError(
            f"Could not download {model}: {err}. Check the internet connection, or copy the "
            "model files to a folder and pass --xtts-model DIR"
        ) from err
    return Path(config_path).parent


def fingerprint(model_dir: Path) -> str:
    """Identifies the model cheaply: its config, and size, head and tail of its weights."""
    digest = hashlib.sha256((model_dir / "config.json").read_bytes())
    weights = model_dir / "model.pth"
    size = weights.stat().st_size
    digest.update(str(size).encode())
    with weights.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read())
    return digest.hexdigest()


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a model.pth in either format; nothing but tensors and configs is unpickled."""
    with torch.serialization.safe_globals(_CHECKPOINT_GLOBALS):
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return checkpoint["model"]


class _ReadOnlyXtts(Xtts):
    """coqui's Xtts, reading its checkpoint with `read_checkpoint` (coqui's reader may rewrite it)."""

    def _load_checkpoint(self, model_path: Path) -> dict:
        return read_checkpoint(Path(model_path))


def load_model(model_dir: Path, device: str, deepspeed: bool) -> tuple[Xtts, XttsConfig]:
    """The model on `device`, and its config (raises EngineError naming the folder)."""
    if deepspeed and device != "cuda":
        _LOGGER.warning("DeepSpeed needs CUDA; running without it on %s", device)
        deepspeed = False
    if deepspeed:
        try:
            import deepspeed as _  # noqa: F401, PLC0415
        except ImportError:
            _LOGGER.warning("DeepSpeed is not installed (pip install deepspeed); running without it")
            deepspeed = False
    try:
        config = XttsConfig()
        config.load_json(str(model_dir / "config.json"))
        model = _ReadOnlyXtts(config)
        model.load_checkpoint(config, checkpoint_dir=str(model_dir), eval=True, use_deepspeed=deepspeed)
        model.to(device)
    except Exception as err:  # any broken file ends in one clear message
        raise EngineError(f"Cannot load the XTTS model from {model_dir}: {type(err).__name__}: {err}") from err
    name = torch.cuda.get_device_name() if device == "cuda" else device
    _LOGGER.info("XTTS loaded from %s on %s%s", model_dir, name, " with DeepSpeed" if deepspeed else "")
    return model, config


def read_reference(path: Path, max_seconds: float) -> torch.Tensor:
    """The first `max_seconds` of a recording as mono 22.05 kHz [1, samples], decoding no further.

    The rest of the steps are coqui's `load_audio`; a longer file is trimmed with a WARNING.
    """
    decoder = AudioDecoder(str(path))
    samples = decoder.get_samples_played_in_range(0.0, max_seconds)
    duration = decoder.metadata.duration_seconds or 0.0
    if duration > max_seconds:
        _LOGGER.warning(
            "Voice recording %s is %.0f s long; XTTS clones from its first %g s only", path, duration, max_seconds
        )
    audio = samples.data.mean(dim=0, keepdim=True)
    if samples.sample_rate != REFERENCE_RATE:
        audio = torchaudio.functional.resample(audio, samples.sample_rate, REFERENCE_RATE)
    return audio.clip(-1.0, 1.0)


def conditioning_latents(
    model: Xtts, files: list[Path], conditioning: Conditioning
) -> tuple[torch.Tensor, torch.Tensor]:
    """Xtts.get_conditioning_latents with the model's settings, reading only what it uses of each file."""
    audios, embeddings = [], []
    for path in files:
        audio = read_reference(path, conditioning.max_ref_len).to(model.device)
        if conditioning.sound_norm_refs:
            audio = audio / audio.abs().max() * 0.75
        embeddings.append(model.get_speaker_embedding(audio, REFERENCE_RATE))
        audios.append(audio)
    gpt_cond_latent = model.get_gpt_cond_latents(
        torch.cat(audios, dim=-1),
        REFERENCE_RATE,
        length=conditioning.gpt_cond_len,
        chunk_length=conditioning.gpt_cond_chunk_len,
    )
    return gpt_cond_latent, torch.stack(embeddings).mean(dim=0)
