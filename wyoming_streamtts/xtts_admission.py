"""How many XTTS sentences decode at once: a cap on the batch's rows, and the wait beyond it in arrival order.

Every row is padded to the longest in the shared key/value cache, and at full size a row's fp32 cache costs
~240 KB per position (~250 MB for a long sentence): 32 sentences from one client could ask for gigabytes. And a
step makes one token for every row, so past some number of rows each of them gets its audio slower than it
plays. A sentence beyond the cap waits on the event loop (describe and the other engines go on) until a row
leaves. Torch-free: the command line reads its default from here.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .chunk_planner import ChunkShape, Pace

_LOGGER = logging.getLogger(__name__)

# Before a step has been measured, at most this many sentences start at once.
UNMEASURED_ROWS = 4
# The share of the memory available at start that the batch's caches may take.
_MEMORY_SHARE = 0.5
# Admitted rows keep this much slack on real time, as the chunk planner plans with.
_MARGIN = 1.25
# A request's next sentence comes this soon after its last ends (it is ready, translated one ahead): its place
# is kept for it meanwhile, so that two requests do not take turns sentence by sentence, each waiting out the
# other's sentences in the middle of its own audio. A request's last sentence keeps it for nothing this long.
KEEP_PLACE_S = 0.25


def cache_bytes_per_row(layers: int, width: int, positions: int, element_bytes: int) -> int:
    """A row's key/value cache at its longest: keys and values of every layer at every position."""
    return 2 * layers * width * positions * element_bytes


def available_memory() -> int | None:
    """The host's available memory (/proc/meminfo), or None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def rows_for_memory(available: int | None, per_row: int) -> int | None:
    """How many rows' caches fit in the share of `available` the batch may take (None: unknown)."""
    return None if available is None else max(1, int(available * _MEMORY_SHARE) // per_row)


class Admission:
    """At most `max_rows` sentences in the batch; when `paced` (the cap was not asked for), also no more than
    stay faster than real time at the measured pace (one sentence always speaks, however slow the host).
    `pace`: the worker's measured GPT step and vocoder speeds."""

    def __init__(self, max_rows: int, pace: Pace, paced: bool = True) -> None:
        self.max_rows = max_rows
        self.paced = paced
        self.admitted = 0
        self._pace = pace
        self._shape: ChunkShape | None = None  # a token's audio and vocoder frames, from the first sentence
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._kept: dict[
            asyncio.Task[Any] | None, asyncio.TimerHandle
        ] = {}  # places kept for requests between sentences

    @property
    def waiting(self) -> int:
        """Sentences waiting for a place."""
        return len(self._waiting)

    @contextlib.asynccontextmanager
    async def row(self, shape: ChunkShape) -> AsyncIterator[None]:
        """A place in the batch for one sentence, waited for in arrival order, held until the sentence ends."""
        self._shape = shape
        request = asyncio.current_task()
        if (kept := self._kept.pop(request, None)) is not None:
            kept.cancel()  # its own place, still counted as taken
        else:
            self._admit_waiting()  # the pace may have made room since a row last left
            if self._waiting or not self._room():
                await self._wait_in_line()
            else:
                self.admitted += 1
        try:
            yield
        finally:
            self._leave(request)

    async def _wait_in_line(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.done() or waiter.cancelled():  # its client left while it waited
                with contextlib.suppress(ValueError):  # already taken out, passed over as done
                    self._waiting.remove(waiter)
            else:  # admitted as it was cancelled: the place goes on
                self._leave(None)
            raise

    def _leave(self, request: "asyncio.Task[Any] | None") -> None:
        if request is not None and self._waiting and not request.cancelling():
            self._kept[request] = asyncio.get_running_loop().call_later(KEEP_PLACE_S, self._release, request)
            return
        self.admitted -= 1
        self._admit_waiting()

    def _release(self, request: "asyncio.Task[Any]") -> None:
        """A kept place its request did not come back for: the next in line has it."""
        if self._kept.pop(request, None) is not None:
            self.admitted -= 1
            self._admit_waiting()

    def _admit_waiting(self) -> None:
        while self._waiting and self._room():
            waiter = self._waiting.popleft()
            if not waiter.done():
                self.admitted += 1
                waiter.set_result(None)

    def _room(self) -> bool:
        rows = self.admitted
        if rows == 0:
            return True
        if rows >= self.max_rows:
            return False
        if not self.paced:
            return True
        gpt_s, vocoder_s, shape = self._pace.gpt_s_per_token, self._pace.vocoder_s_per_frame, self._shape
        if gpt_s is None or vocoder_s is None or shape is None:
            return rows < UNMEASURED_ROWS
        # A step draws a token for every row (costing about the same for one row as for a few), and each row's
        # token is then decoded: with one more row, all that must take less than the audio of a token.
        step_s = gpt_s + (rows + 1) * shape.frames_per_token * vocoder_s
        return step_s * _MARGIN < shape.audio_per_token_s
