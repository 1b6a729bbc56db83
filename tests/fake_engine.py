"""An engine for in-process tests: chunks on a schedule, failures on command, closes counted."""

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from wyoming.audio import AudioChunk
from wyoming.info import Attribution

from wyoming_streamtts.engine import Engine, EngineError


@dataclass(frozen=True)
class Plan:
    """What one sentence does: `chunks` chunks of `samples` (24 kHz), failing before chunk
    `fail_at` (0: before any audio), waiting before chunk `hold_at` until `release()`."""

    chunks: int = 3
    samples: int = 2400
    fail_at: int | None = None
    hold_at: int | None = None


class FakeEngine(Engine):
    """Speaks each sentence by the next of its plans (the last one repeats)."""

    description = "a fake engine"
    attribution = Attribution(name="tests", url="https://example.invalid")
    languages = frozenset({"en", "de"})

    def __init__(self, *plans: Plan, name: str = "fake") -> None:
        self.name = name
        self.plans = list(plans) or [Plan()]
        self.texts: list[str] = []  # every sentence asked for, in order
        self.aheads: list[float] = []  # with the audio its listener had yet to hear then
        self.yielded = 0  # chunks handed out, over all sentences
        self.closed = 0  # sentences whose audio was closed (finished, failed or stopped)
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    async def synthesize(
        self, text: str, language: str, speaker: str, ahead_s: float = 0.0
    ) -> AsyncGenerator[AudioChunk, None]:
        plan = self.plans[min(len(self.texts), len(self.plans) - 1)]
        self.texts.append(text)
        self.aheads.append(ahead_s)
        try:
            for index in range(plan.chunks):
                if index == plan.hold_at:
                    await self._released.wait()
                if index == plan.fail_at:
                    raise EngineError(f"{self.name} failed on command")
                await asyncio.sleep(0.001)
                self.yielded += 1
                yield AudioChunk(rate=24000, width=2, channels=1, audio=b"\x01\x00" * plan.samples)
        finally:
            self.closed += 1
