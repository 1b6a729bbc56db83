"""Coqui XTTS v2: cloned and studio voices, streamed while they are generated."""

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from wyoming.audio import AudioChunk
from wyoming.info import Attribution

from .chunk_planner import Pace
from .engine import Engine, EngineError, iterate_in_executor
from .languages import LANGUAGES
from .latents import LatentCache, Latents
from .splitter import split_sentences
from .voices import Speaker
from .xtts_stream import stream_sentence

_LOGGER = logging.getLogger(__name__)

MODEL_FILES = ("config.json", "model.pth", "vocab.json")
LICENSE_URL = "https://coqui.ai/cpml"
SAMPLE_RATE = 24000


def pick_device(requested: str) -> str:
    """`auto` is CUDA when there is a GPU, else Apple's MPS, else the CPU."""
    if requested != "auto":
        if requested == "cuda" and not torch.cuda.is_available():
            raise EngineError("--device cuda was asked for, but PyTorch sees no CUDA GPU")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_model_dir(model: str, data_dir: Path, download: bool, license_agreed: bool) -> Path:
    """A folder holding the XTTS files: `model` itself, or the official model, downloaded."""
    if not model.startswith("tts_models/"):
        path = Path(model).expanduser()
        if not path.is_dir():
            raise EngineError(f"XTTS model folder {path} does not exist")
        missing = [name for name in MODEL_FILES if not (path / name).is_file()]
        if missing:
            raise EngineError(f"XTTS model folder {path} lacks {', '.join(missing)}")
        return path
    if not download:
        raise EngineError(
            f"{model} is not downloaded. Add --download to fetch it into the data folder, "
            f"or pass --xtts-model DIR (a folder holding {', '.join(MODEL_FILES)})"
        )
    if not license_agreed:
        raise EngineError(
            f"XTTS v2 is under the Coqui Public Model License ({LICENSE_URL}). To accept it "
            "and download the model, set COQUI_TOS_AGREED=1 or pass --agree-coqui-license"
        )
    return _download(model, data_dir)


def _download(model: str, data_dir: Path) -> Path:
    from TTS.utils.manage import ModelManager  # noqa: PLC0415 - heavy, only when downloading

    # coqui reads consent from the environment (else it prompts on stdin, which a service has not).
    os.environ["COQUI_TOS_AGREED"] = "1"
    os.environ.setdefault("HF_HUB_CACHE", str(data_dir / "huggingface"))
    _LOGGER.info("Downloading %s into %s (1.8 GB)", model, data_dir)
    try:
        _, config_path, _ = ModelManager(output_prefix=data_dir, progress_bar=False).download_model(model)
    except Exception as err:  # noqa: BLE001 - network, disk and hub errors all end the same way
        raise EngineError(
            f"Could not download {model}: {err}. Check the internet connection, or copy the "
            "model files to a folder and pass --xtts-model DIR"
        ) from err
    return Path(config_path).parent


def _fingerprint(model_dir: Path) -> str:
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


class XttsEngine(Engine):
    """One model on one device; a single worker thread serves every request in turn."""

    name = "xtts"
    description = "Coqui XTTS v2"
    attribution = Attribution(name="Coqui", url="https://github.com/idiap/coqui-ai-TTS")
    languages = frozenset(LANGUAGES)

    def __init__(
        self,
        model_dir: Path,
        device: str,
        cloned: list[Speaker],
        cache_dir: Path | None,
        stream_chunk_size: int,
        first_chunk_size: int,
        deepspeed: bool = False,
    ) -> None:
        self.device = device
        self.stream_chunk_size = stream_chunk_size
        self.first_chunk_size = first_chunk_size
        self._pace = Pace()  # measured on the worker thread, which runs one sentence at a time
        self.model = _load(model_dir, device, deepspeed)
        studio = self.model.speaker_manager.speakers if self.model.speaker_manager else {}
        self._studio: dict[str, Latents] = {
            name: (data["gpt_cond_latent"], data["speaker_embedding"]) for name, data in studio.items()
        }
        self.speakers = tuple(Speaker(name, description=f"{name}, XTTS studio") for name in self._studio)
        self._cloned = {speaker.name: speaker for speaker in cloned if speaker.name not in self._studio}
        # The GPU is one resource: one thread runs all model work, and requests
        # take turns at each chunk (see iterate_in_executor).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xtts")
        self.latents = LatentCache(
            self._compute_latents, self._executor, _fingerprint(model_dir), cache_dir, self._fits_model
        )
        self._warm_up: asyncio.Task | None = None
        self._rewarm: asyncio.Task | None = None  # recordings added by a reload

    async def start(self) -> None:
        self._warm_up = asyncio.create_task(self.latents.warm_up(list(self._cloned.values())))

    async def update_voices(self, cloned: list[Speaker]) -> None:
        known = set(self._cloned)
        self._cloned = {speaker.name: speaker for speaker in cloned if speaker.name not in self._studio}
        # New recordings are warmed in the background, as at start-up; the rest stay cached.
        fresh = [speaker for name, speaker in self._cloned.items() if name not in known]
        self._rewarm = asyncio.create_task(self.latents.warm_up(fresh))

    async def synthesize(self, text: str, language: str, speaker: str) -> AsyncIterator[AudioChunk]:
        gpt_cond_latent, speaker_embedding = await self._voice(speaker)
        limit = self.model.tokenizer.char_limits.get(language.split("-")[0], 250)
        # XTTS asserts on over-long input: cut by sentences, then clauses, first.
        for piece in split_sentences(text, limit):
            frames = iterate_in_executor(
                self._executor,
                lambda piece=piece: stream_sentence(
                    self.model,
                    piece,
                    language,
                    gpt_cond_latent,
                    speaker_embedding,
                    self.stream_chunk_size,
                    self.first_chunk_size,
                    self._pace,
                ),
            )
            async for wav in frames:
                pcm = (wav.clamp(-1.0, 1.0) * 32767).to(torch.int16).cpu().numpy().tobytes()
                _LOGGER.debug("XTTS chunk for %s/%s: %d samples", language, speaker, len(wav))
                yield AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=pcm)

    async def _voice(self, speaker: str) -> Latents:
        if speaker in self._studio:
            return self._studio[speaker]
        if speaker not in self._cloned:
            raise EngineError(f"XTTS has no speaker {speaker!r}")
        try:
            return await self.latents.get(self._cloned[speaker])
        except Exception as err:
            raise EngineError(f"Voice {speaker!r} cannot be cloned from its recordings: {err}") from err

    def _fits_model(self, latents: Latents) -> bool:
        """Whether cached latents have the shapes this model computes: [1, T, channels] and [1, d, 1]."""
        gpt_cond_latent, speaker_embedding = latents
        channels, d_vector = self.model.args.gpt_n_model_channels, self.model.args.d_vector_dim
        return (
            gpt_cond_latent.dim() == 3
            and gpt_cond_latent.shape[0] == 1
            and gpt_cond_latent.shape[2] == channels
            and tuple(speaker_embedding.shape) == (1, d_vector, 1)
        )

    def _compute_latents(self, files: list[Path]) -> Latents:
        return self.model.get_conditioning_latents(audio_path=[str(path) for path in files])

    async def close(self) -> None:
        if self._warm_up is not None:
            self._warm_up.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _load(model_dir: Path, device: str, deepspeed: bool):
    from TTS.tts.configs.xtts_config import XttsConfig  # noqa: PLC0415 - heavy
    from TTS.tts.models.xtts import Xtts  # noqa: PLC0415

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
        model = Xtts(config)
        model.load_checkpoint(config, checkpoint_dir=str(model_dir), eval=True, use_deepspeed=deepspeed)
        model.to(device)
    except Exception as err:  # noqa: BLE001 - any broken file ends in one clear message
        raise EngineError(f"Cannot load the XTTS model from {model_dir}: {type(err).__name__}: {err}") from err
    name = torch.cuda.get_device_name() if device == "cuda" else device
    _LOGGER.info("XTTS loaded from %s on %s%s", model_dir, name, " with DeepSpeed" if deepspeed else "")
    return model
