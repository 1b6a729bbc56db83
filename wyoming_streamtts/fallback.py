"""The engine chain: the next engine speaks when one fails before speaking.

Every engine's audio is converted to the connection's one format, so Home
Assistant's stream stays valid whichever engine ends up speaking.
"""

import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator

from wyoming.audio import AudioChunk

from .engine import Engine, EngineAudio, EngineError
from .voices import DEFAULT_SPEAKER, Speaker

_LOGGER = logging.getLogger(__name__)

# After a failure an engine is skipped for a while, so that a missing internet
# does not cost every request a timeout before the offline voice speaks.
RETRY_AFTER_S = 30.0


class FallbackEngine(Engine):
    """Speaks with the first engine of the chain that works for this request."""

    def __init__(self, chain: list[Engine], retry_after_s: float = RETRY_AFTER_S) -> None:
        if not chain:
            raise EngineError("No engine could be started")
        self.chain = chain
        primary = chain[0]
        self.name = primary.name
        others = ", ".join(engine.description for engine in chain[1:])
        self.description = primary.description + (f", falling back to {others}" if others else "")
        self.attribution = primary.attribution
        self.languages = primary.languages
        self.speakers = _speakers(chain)
        self.retry_after_s = retry_after_s
        self._failed_at: dict[str, float] = {}

    async def start(self) -> None:
        for engine in self.chain:
            await engine.start()

    async def synthesize(self, text: str, language: str, speaker: str) -> AsyncGenerator[AudioChunk, None]:
        speaking = [engine for engine in self.chain if language in engine.languages]
        if not speaking:
            raise EngineError(f"No engine speaks {language}")
        candidates = [engine for engine in speaking if self._available(engine)] or speaking[-1:]
        for position, engine in enumerate(candidates):
            started = False
            audio = engine.synthesize(text, language, speaker)
            try:
                async with contextlib.aclosing(audio):
                    async for chunk in audio:
                        started = True
                        yield EngineAudio(chunk.rate, chunk.width, chunk.channels, chunk.audio, engine=engine.name)
                self._failed_at.pop(engine.name, None)
                return
            except Exception as err:
                if started or position == len(candidates) - 1:
                    raise  # audio already went out in this engine's voice: end with an error
                self._failed_at[engine.name] = time.monotonic()
                _LOGGER.warning(
                    "%s failed before speaking (%s); falling back to %s",
                    engine.name,
                    err,
                    candidates[position + 1].name,
                )

    async def update_voices(self, cloned: list[Speaker]) -> None:
        for engine in self.chain:
            await engine.update_voices(cloned)

    def _available(self, engine: Engine) -> bool:
        failed_at = self._failed_at.get(engine.name)
        return failed_at is None or time.monotonic() - failed_at > self.retry_after_s

    async def close(self) -> None:
        for engine in self.chain:
            await engine.close()


def _speakers(chain: list[Engine]) -> tuple[Speaker, ...]:
    """The primary's voices, and the default voice in every language of the chain: spoken by
    whichever engine speaks the language. A primary without a default voice (XTTS, Piper) keeps
    its voices; the default voice then speaks the languages that only the engines after it speak."""
    primary = chain[0]
    spoken = frozenset().union(*(engine.languages for engine in chain))
    if any(speaker.name == DEFAULT_SPEAKER for speaker in primary.speakers):
        return tuple(
            dataclasses.replace(speaker, languages=spoken) if speaker.name == DEFAULT_SPEAKER else speaker
            for speaker in primary.speakers
        )
    others = spoken - primary.languages
    return primary.speakers + ((Speaker(DEFAULT_SPEAKER, languages=others),) if others else ())
