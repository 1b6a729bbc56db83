"""The one interface every speech engine implements."""

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TypeVar

from wyoming.audio import AudioChunk
from wyoming.info import Attribution

from .voices import DEFAULT_SPEAKER, Speaker

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
_DONE = object()


@dataclass
class EngineAudio(AudioChunk):
    """Audio with the name of the engine whose voice it is: an engine that hands sentences to
    others (the fallback chain) says so with each chunk."""

    engine: str = ""
    voice_from: str = ""  # where the engine had the voice from: for XTTS, studio, or a cloned voice's latents
    # from memory, disk or computed now; "" for an engine that has its voices at hand


class EngineError(Exception):
    """Synthesis failed; the message is fit to show to the user."""


class Engine(ABC):
    """Speaks one sentence at a time as a stream of PCM chunks."""

    name: str
    description: str
    attribution: Attribution
    languages: frozenset[str]
    """Language codes of `languages.LANGUAGES` that this engine speaks."""

    speakers: tuple[Speaker, ...] = (Speaker(DEFAULT_SPEAKER),)
    """Speakers the engine brings itself (cloned voices come from the voices folder)."""

    says_sentences_whole: bool = False
    """Its first audio of a sentence comes when all of the sentence is made (Piper, gTTS): a request's long
    first sentence is given to it as its first clause and the rest, so that speech starts sooner."""

    async def start(self) -> None:
        """Begin background work (such as warming voices) once the event loop runs."""

    @abstractmethod
    def synthesize(
        self, text: str, language: str, speaker: str, ahead_s: float = 0.0
    ) -> AsyncGenerator[AudioChunk, None]:
        """Yield 16-bit PCM for one sentence as it is produced, at the engine's own rate.

        Work happens off the event loop. Raises EngineError on failure. Closing the
        iterator early stops the work at the next chunk. `ahead_s`: audio of the same answer
        that the listener has yet to hear; an engine that sizes its chunks by the listener
        (XTTS) may take that long over its first.
        """

    async def update_voices(self, cloned: list["Speaker"]) -> None:
        """The voices were read again (a reload, or an edit on the web page): these are the cloned speakers now,
        and an engine with voice files of its own reads them again."""

    async def prepare_voice(self, speaker: Speaker) -> None:
        """Make a new cloned voice ready to speak before it is advertised (XTTS: its latents); raises
        EngineError when it cannot be. Engines that need nothing of a recording do nothing."""

    async def reachable(self) -> bool:
        """Whether the engine can be reached now: asked in the background after it failed, so that no request
        waits on it meanwhile. A local engine is always there."""
        return True

    async def close(self) -> None:
        """Release what the engine holds (models, processes, threads)."""


async def iterate_in_executor(executor: Executor, make_iterator: Callable[[], Iterator[T]]) -> AsyncGenerator[T, None]:
    """Run a blocking iterator in an executor, one item per hop, off the event loop.

    Items are pulled only as fast as the consumer takes them, so nothing piles up
    for a slow client, and a consumer that stops stops the work after one item.
    """
    step: Future = executor.submit(lambda: iter(make_iterator()))
    iterator = await asyncio.wrap_future(step)
    try:
        while True:
            step = executor.submit(next, iterator, _DONE)
            item = await asyncio.wrap_future(step)
            if item is _DONE:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            # A generator cannot be closed while a next() still runs in a worker.
            step.add_done_callback(lambda _: _submit_quietly(executor, close))


def _submit_quietly(executor: Executor, function: Callable[[], object]) -> None:
    try:
        executor.submit(function)
    except RuntimeError:
        _LOGGER.debug("Executor already shut down; %s not run", function)
