"""Coqui XTTS v2: cloned and studio voices, streamed while they are generated."""

import asyncio
import logging
from collections.abc import AsyncGenerator
from functools import partial
from pathlib import Path
from typing import Any

from TTS.tts.configs.xtts_config import XttsConfig
from wyoming.audio import AudioChunk
from wyoming.info import Attribution

from .chunk_planner import Playout
from .engine import Engine, EngineAudio, EngineError
from .languages import engine_codes
from .latents import LatentCache, Latents
from .phonemes import as_words
from .splitter import split_sentences
from .voices import Speaker
from .xtts_model import conditioning_latents, fingerprint, inference_settings, load_model
from .xtts_precision import GptStep, apply_precision
from .xtts_stream import fit_sentence
from .xtts_vocoder import use_onnx_vocoder
from .xtts_worker import XttsWorker, model_thread

_LOGGER = logging.getLogger(__name__)


class XttsEngine(Engine):
    """One model on one device; a single worker thread serves every request in turn."""

    name = "xtts"
    description = "Coqui XTTS v2"
    attribution = Attribution(name="Coqui", url="https://github.com/idiap/coqui-ai-TTS")

    def __init__(
        self,
        model_dir: Path,
        device: str,
        cloned: list[Speaker],
        cache_dir: Path | None,
        stream_chunk_size: int,
        first_chunk_size: int,
        max_rows: int = 0,
        sampling: dict[str, float | None] | None = None,
        deepspeed: bool = False,
        precision: str = "fp32",
        vocoder: str = "torch",
    ) -> None:
        """`sampling`: flags that override the checkpoint's own settings (None: the checkpoint's);
        `precision`: the GPT's, as xtts_precision.decide_precision chose it; `vocoder`: what runs the
        vocoder, as xtts_vocoder.decide_vocoder chose it; `max_rows`: --xtts-max-rows."""
        # All of the model's PyTorch work, its loading too, runs on the worker's one thread: once another
        # thread has run PyTorch's multi-threaded kernels, each thread keeps its own OpenMP team, and an
        # int8 GPT step on the worker took 41-44 ms instead of 25-26 ms (docs/performance.md).
        executor = model_thread()
        try:
            self.model, config, gpt_step = executor.submit(self._load, model_dir, device, deepspeed, precision).result()
        except BaseException:
            executor.shutdown(wait=False)  # the next engine of the chain speaks instead: no thread left behind
            raise
        self.description = f"Coqui XTTS v2 on {device} ({precision})"  # the web page's status shows both
        self.rate: int = config.audio.output_sample_rate  # 24 kHz for XTTS v2
        self._codes = engine_codes(config.languages)  # the checkpoint's own list: 17 for XTTS v2
        self.languages = frozenset(self._codes)
        self.sampling, self.conditioning = inference_settings(config, sampling or {})
        _LOGGER.info("XTTS sampling: %s; cloning: %s", self.sampling, self.conditioning)
        self.worker = XttsWorker(
            self.model, self.sampling, stream_chunk_size, first_chunk_size, gpt_step, executor, max_rows
        )
        studio = self.model.speaker_manager.speakers if self.model.speaker_manager else {}
        self._studio: dict[str, Latents] = {
            name: (data["gpt_cond_latent"], data["speaker_embedding"]) for name, data in studio.items()
        }
        self.speakers = tuple(Speaker(name, description=f"{name}, XTTS studio") for name in self._studio)
        self._cloned = {speaker.name: speaker for speaker in cloned if speaker.name not in self._studio}
        self.latents = LatentCache(
            self._compute_latents,
            self.worker.executor,
            fingerprint(model_dir),
            cache_dir,
            usable=self._fits_model,
            settings=repr(self.conditioning),
        )
        if vocoder == "onnx" and executor.submit(use_onnx_vocoder, self.model, self.latents.folder).result():
            _LOGGER.info("XTTS vocoder in ONNX Runtime on the CPU")
        self._warm_up: asyncio.Task | None = None
        self._rewarm: asyncio.Task | None = None  # recordings added by a reload

    @staticmethod
    def _load(model_dir: Path, device: str, deepspeed: bool, precision: str) -> tuple[Any, XttsConfig, GptStep]:
        model, config = load_model(model_dir, device, deepspeed)
        return model, config, apply_precision(model, precision, device)

    async def start(self) -> None:
        self._warm_up = asyncio.create_task(self.latents.warm_up(list(self._cloned.values())))

    async def update_voices(self, cloned: list[Speaker]) -> None:
        before = self._cloned
        self._cloned = {speaker.name: speaker for speaker in cloned if speaker.name not in self._studio}
        # A voice deleted, or one whose recordings changed: its latents go, from memory and disk.
        known = {
            name for name, speaker in self._cloned.items() if name in before and speaker.files == before[name].files
        }
        for name in set(before) - known:
            self.latents.forget(name)
        # New recordings are warmed in the background, as at start-up; the rest stay cached.
        fresh = [speaker for name, speaker in self._cloned.items() if name not in known]
        self._rewarm = asyncio.create_task(self.latents.warm_up(fresh))

    async def prepare_voice(self, speaker: Speaker) -> None:
        try:
            await self.latents.get(speaker)
        except Exception as err:
            raise EngineError(f"XTTS cannot clone a voice from this recording: {err}") from err

    async def synthesize(
        self, text: str, language: str, speaker: str, ahead_s: float = 0.0
    ) -> AsyncGenerator[AudioChunk, None]:
        if language not in self._codes:
            raise EngineError(f"XTTS does not speak {language}")
        text = as_words(text)
        language = self._codes[language]
        voice, voice_from = await self._voice(speaker)
        limit = self.model.tokenizer.char_limits.get(language.split("-")[0], 250)
        too_long = partial(self._too_long, language=language, limit=limit)
        playout = Playout(ahead_s)
        # XTTS asserts on over-long input: cut by sentences, then clauses, first.
        for sentence in split_sentences(text, limit):
            for piece in await self.worker.call(fit_sentence, sentence, too_long):
                async for pcm in self.worker.stream(piece, language, voice, playout.ahead()):
                    _LOGGER.debug("XTTS chunk for %s/%s: %d samples", language, speaker, len(pcm) // 2)
                    chunk = EngineAudio(self.rate, 2, 1, pcm, engine=self.name, voice_from=voice_from)
                    playout.add(chunk.seconds)
                    yield chunk

    def _too_long(self, text: str, language: str, limit: int) -> bool:
        """Whether XTTS would refuse `text` (its token limit), or cut its speech short: spelled out,
        a sentence of numbers is far longer than the character limit allowed for."""
        tokenizer, lang = self.model.tokenizer, language.split("-")[0]
        text = text.strip().lower()
        # The normaliser romanises Chinese, Japanese and Korean: only the token limit applies to them.
        if lang not in ("zh", "ja", "ko") and len(tokenizer.preprocess_text(text, lang)) > 2 * limit:
            return True
        return len(tokenizer.encode(text, lang)) >= self.model.args.gpt_max_text_tokens

    async def _voice(self, speaker: str) -> tuple[Latents, str]:
        """The speaker's latents, and where they came from (studio, memory, disk, computed)."""
        if speaker in self._studio:
            return self._studio[speaker], "studio"
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
        return conditioning_latents(self.model, files, self.conditioning)

    async def close(self) -> None:
        for warming in (self._warm_up, self._rewarm):
            if warming is not None:
                warming.cancel()
        self.worker.close()
