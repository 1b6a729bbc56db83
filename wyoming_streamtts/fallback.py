"""The engine chain: the next engine speaks when one fails before speaking.

Every engine's audio is converted to the connection's one format, so Home
Assistant's stream stays valid whichever engine ends up speaking.
"""

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator

from wyoming.audio import AudioChunk

from .engine import Engine, EngineAudio, EngineError
from .voices import DEFAULT_SPEAKER, Speaker

_LOGGER = logging.getLogger(__name__)

# After a failure an engine is skipped until a check in the background finds it back (asked this often),
# so that a missing internet costs no request a timeout before the offline voice speaks.
CHECK_INTERVAL_S = 30.0


class FallbackEngine(Engine):
    """Speaks with the first engine of the chain that works for this request."""

    def __init__(self, chain: list[Engine], check_interval_s: float = CHECK_INTERVAL_S) -> None:
        if not chain:
            raise EngineError("No engine could be started")
        self.chain = chain
        primary = chain[0]
        self.name = primary.name
        others = ", ".join(engine.description for engine in chain[1:])
        self.description = primary.description + (f", falling back to {others}" if others else "")
        self.attribution = primary.attribution
        self.says_sentences_whole = primary.says_sentences_whole
        self.languages = primary.languages
        self.speakers = _speakers(chain)
        self.check_interval_s = check_interval_s
        self._down: dict[str, asyncio.Task[None]] = {}  # engines that failed, each with its check

    async def start(self) -> None:
        for engine in self.chain:
            await engine.start()

    async def synthesize(
        self, text: str, language: str, speaker: str, ahead_s: float = 0.0
    ) -> AsyncGenerator[AudioChunk, None]:
        speaking = [engine for engine in self.chain if language in engine.languages]
        if not speaking:
            raise EngineError(f"No engine speaks {language}")
        candidates = [engine for engine in speaking if engine.name not in self._down] or speaking[-1:]
        for position, engine in enumerate(candidates):
            started = False
            audio = engine.synthesize(text, language, speaker, ahead_s)
            try:
                async with contextlib.aclosing(audio):
                    async for chunk in audio:
                        started = True
                        voice_from = chunk.voice_from if isinstance(chunk, EngineAudio) else ""
                        yield EngineAudio(chunk.rate, chunk.width, chunk.channels, chunk.audio, engine=engine.name,
                                          voice_from=voice_from)  # fmt: skip
                return
            except Exception as err:
                if started or position == len(candidates) - 1:
                    raise  # audio already went out in this engine's voice: end with an error
                self._set_down(engine)
                _LOGGER.warning(
                    "%s failed before speaking (%s); falling back to %s",
                    engine.name,
                    err,
                    candidates[position + 1].name,
                )

    async def update_voices(self, cloned: list[Speaker]) -> None:
        for engine in self.chain:
            await engine.update_voices(cloned)
        self.languages = self.chain[0].languages  # an engine may have read new voice files
        self.speakers = _speakers(self.chain)

    async def prepare_voice(self, speaker: Speaker) -> None:
        for engine in self.chain:
            await engine.prepare_voice(speaker)

    def is_down(self, engine: Engine) -> bool:
        """Whether the engine failed and is skipped until a check finds it back."""
        return engine.name in self._down

    def _set_down(self, engine: Engine) -> None:
        if engine.name not in self._down:
            self._down[engine.name] = asyncio.create_task(self._check(engine))

    async def _check(self, engine: Engine) -> None:
        """Until the engine can be reached again: then requests try it again."""
        while True:
            await asyncio.sleep(self.check_interval_s)
            try:
                if await engine.reachable():
                    break
            except Exception as err:  # noqa: BLE001 - a check that breaks says "not yet", and is asked again
                _LOGGER.debug("Checking %s failed: %s", engine.name, err)
        _LOGGER.info("%s can be reached again: requests try it first again", engine.name)
        del self._down[engine.name]

    async def close(self) -> None:
        for check in self._down.values():
            check.cancel()
        for engine in self.chain:
            await engine.close()


def chain_of(engine: Engine) -> list[Engine]:
    """The engines that speak, in order: a chain's members, or the one engine."""
    return engine.chain if isinstance(engine, FallbackEngine) else [engine]


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
