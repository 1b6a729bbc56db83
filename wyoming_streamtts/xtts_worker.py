"""The XTTS model's one worker thread, where concurrent sentences share batched GPT steps."""

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from .chunk_planner import Pace
from .xtts_admission import Admission, available_memory, cache_bytes_per_row, rows_for_memory
from .xtts_batch import GptBatch, Row
from .xtts_model import Sampling
from .xtts_precision import GptStep
from .xtts_stream import SentenceAudio, text_tokens

T = TypeVar("T")

_LOGGER = logging.getLogger(__name__)

# Rows when the memory cannot be read.
_ROWS_UNKNOWN_MEMORY = 8


def row_cap(model: Any, asked: int) -> int:
    """--xtts-max-rows, or (0) as many rows as half the memory available now holds at their longest."""
    if asked:
        return int(asked)
    gpt = model.gpt
    config = gpt.gpt.config
    per_row = cache_bytes_per_row(
        config.n_layer, config.n_embd, config.n_positions, gpt.mel_embedding.weight.element_size()
    )
    device = gpt.mel_embedding.weight.device
    available = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else available_memory()
    rows = rows_for_memory(available, per_row) or _ROWS_UNKNOWN_MEMORY
    _LOGGER.info("XTTS batch: at most %d sentences at once (a row's cache at its longest: %d MB; --xtts-max-rows)",
                 rows, per_row // 2**20)  # fmt: skip
    return rows


def model_thread() -> ThreadPoolExecutor:
    """The one thread all of a model's work runs on, its loading too (xtts_engine says why)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="xtts")


@dataclass(eq=False)
class _Sentence:
    """A sentence in the batch, as the worker thread sees it."""

    audio: SentenceAudio
    deliver: Callable[[bytes | BaseException | None], object]  # to its stream on the event loop; None: ended
    gone: bool = False  # its client left: the row leaves before the next step


class XttsWorker:
    """Owns the model and the one thread that runs all its work.

    Sentences that speak at the same time are rows of one `GptBatch`: each step draws a token for all of
    them, and each row's audio is decoded when its chunk is due. A step is one job on the thread, so other
    model work (conditioning latents, tokenizing, a new sentence's prompt) runs between steps, and a new
    sentence waits one step, not for others' chunks. A client that leaves takes its row out before the next step.
    """

    def __init__(
        self,
        model: Any,
        sampling: Sampling,
        stream_chunk_size: int,
        first_chunk_size: int,
        gpt_step: GptStep = nullcontext,
        executor: ThreadPoolExecutor | None = None,
        max_rows: int = 0,
    ) -> None:
        """`executor`: the `model_thread()` the model was loaded on, if it was; `max_rows`: --xtts-max-rows (0: from
        the memory available)."""
        self.model = model
        self.sampling = sampling
        self.stream_chunk_size = stream_chunk_size
        self.first_chunk_size = first_chunk_size
        self.executor = executor or model_thread()
        self._pace = Pace()  # measured on this thread
        self.admission = Admission(row_cap(model, max_rows), self._pace, paced=not max_rows)
        self._batch = GptBatch(model.gpt, gpt_step)  # this thread's only
        self._sentences: dict[Row, _Sentence] = {}  # this thread's only
        self._joining = 0  # sentences whose prompt is queued or running, on the event loop
        self._driver: asyncio.Task | None = None

    @property
    def rows(self) -> int:
        """Sentences in the batch now."""
        return len(self._batch.rows)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Other model work (conditioning latents, tokenizing), between the batch's steps."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def stream(
        self, text: str, language: str, voice: tuple[torch.Tensor, torch.Tensor], ahead_s: float = 0.0
    ) -> AsyncGenerator[bytes]:
        """One sentence's audio as 16-bit PCM, a chunk at a time as the batch makes it (`ahead_s`: the answer's
        audio the listener has yet to hear, which the first chunk may take the time of)."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        audio = SentenceAudio(
            self.model, voice[1], self.sampling, self.stream_chunk_size, self.first_chunk_size, self._pace, ahead_s
        )
        sentence = _Sentence(audio, lambda item: loop.call_soon_threadsafe(chunks.put_nowait, item))
        async with self.admission.row(audio.planner.shape):  # beyond the cap, the sentence waits its turn
            try:
                self._joining += 1
                try:
                    await self.call(self._join, sentence, text, language, voice[0])
                finally:
                    self._joining -= 1
                self._start_driver()
                while (chunk := await chunks.get()) is not None:
                    if isinstance(chunk, BaseException):
                        raise chunk
                    yield chunk
            finally:
                sentence.gone = True  # read on the thread before its next step
                self._start_driver()  # which takes its row out, if no step is coming

    def close(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _start_driver(self) -> None:
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())

    async def _drive(self) -> None:
        """Steps while there are rows, or a sentence's prompt is on its way to being one (its step comes after it)."""
        while await self.call(self._step) or self._joining:
            pass

    @torch.inference_mode()
    def _join(self, sentence: _Sentence, text: str, language: str, cond_latent: torch.Tensor) -> None:
        began = time.monotonic()
        row, latent = self._batch.join(
            cond_latent.to(self.model.device), text_tokens(self.model, text, language), self.sampling
        )
        self._sentences[row] = sentence
        self._take(row, latent, time.monotonic() - began)

    @torch.inference_mode()
    def _step(self) -> bool:
        """One token for every row; whether rows remain."""
        self._leave([row for row, sentence in self._sentences.items() if sentence.gone])
        if not self._batch.rows:
            return False
        try:
            began = time.monotonic()
            drawn = self._batch.step()
            gpt_s = time.monotonic() - began  # every row's token cost the whole step
            for row, latent in drawn:
                self._take(row, latent, gpt_s)
        except Exception as err:  # noqa: BLE001 - the model failed: every sentence of the step hears it
            failed = list(self._sentences.values())
            self._leave(list(self._sentences))  # before they hear it: a stream that has ended holds no row
            for sentence in failed:
                sentence.deliver(err)
            return False
        return bool(self._batch.rows)

    def _take(self, row: Row, latent: torch.Tensor, gpt_s: float) -> None:
        """A row's token; its chunk's audio to its stream when one is due, and its end after its last."""
        sentence = self._sentences[row]
        latents = sentence.audio.take(latent, row.done, gpt_s)
        if row.done:
            self._leave([row])  # before its stream hears the end: a stream that has ended holds no row
        if latents is None or sentence.gone:  # gone: its client left, nobody would hear it
            return
        try:
            wav = sentence.audio.decode(latents, row.done)
        except Exception as err:  # noqa: BLE001 - the vocoder failed: only this sentence hears it
            self._leave([row])  # before it hears it, as above
            sentence.deliver(err)
            return
        # 16-bit PCM made here: `.cpu()` waits for the GPU, and the event loop must not.
        sentence.deliver((wav.clamp(-1.0, 1.0) * 32767).to(torch.int16).cpu().numpy().tobytes())
        if row.done:
            sentence.deliver(None)

    def _leave(self, rows: list[Row]) -> None:
        self._batch.leave(rows)
        for row in rows:
            self._sentences.pop(row, None)
