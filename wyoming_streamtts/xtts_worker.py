"""The XTTS model's one worker thread, and the rule that lets requests share the model."""

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any, TypeVar

import torch

from .chunk_planner import Pace
from .engine import iterate_in_executor
from .xtts_model import Sampling
from .xtts_stream import stream_sentence

T = TypeVar("T")


class XttsWorker:
    """Owns the model and the one thread that runs all its work, in turn.

    The rule: XTTS keeps the prefix of generation (a sentence's conditioning and text) on
    the model, one for all. Sentences of concurrent requests take turns here a chunk at a
    time, so each sentence puts its own prefix back whenever it resumes (`stream_sentence`
    does), and nothing touches the model outside this thread. The GPU is one resource
    anyway; a client that leaves stops its sentence at the next chunk.
    """

    def __init__(
        self,
        model: Any,
        sampling: Sampling,
        stream_chunk_size: int,
        first_chunk_size: int,
        gpt_step: Callable[[], AbstractContextManager] = nullcontext,
    ) -> None:
        self.model = model
        self.sampling = sampling
        self.gpt_step = gpt_step
        self.stream_chunk_size = stream_chunk_size
        self.first_chunk_size = first_chunk_size
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xtts")
        self._pace = Pace()  # measured here, where one sentence runs at a time

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Other model work (conditioning latents, tokenizing), in turn with the sentences."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    def stream(self, text: str, language: str, voice: tuple[torch.Tensor, torch.Tensor]) -> AsyncGenerator[bytes, None]:
        """One sentence's audio as 16-bit PCM, a chunk per turn of this thread."""
        sentence = partial(
            stream_sentence,
            self.model,
            text,
            language,
            *voice,
            self.sampling,
            self.stream_chunk_size,
            self.first_chunk_size,
            self._pace,
            self.gpt_step,
        )
        return iterate_in_executor(self.executor, lambda: _pcm(sentence()))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _pcm(chunks: Iterator[torch.Tensor]) -> Iterator[bytes]:
    """Each chunk as 16-bit PCM, made on the model's thread: `.cpu()` waits for the GPU, and the
    event loop must not."""
    for wav in chunks:
        yield (wav.clamp(-1.0, 1.0) * 32767).to(torch.int16).cpu().numpy().tobytes()
