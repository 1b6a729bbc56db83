"""How many GPT tokens go into each XTTS audio chunk: small first, then as large as keeps up.

Torch-free: the command line takes its defaults from here.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_STREAM_CHUNK_SIZE = 20
# The first chunk's size that `python -m bench` showed best (docs/performance.md).
DEFAULT_FIRST_CHUNK_SIZE = 4
# Chunks are planned with this much slack on the measured speeds: the machine may slow down.
_MARGIN = 1.25


@dataclass
class Pace:
    """What the engine's last sentence measured, one per engine: it plans the next sentence."""

    gpt_s_per_token: float | None = None
    vocoder_s_per_frame: float | None = None
    prompt_s: float = 0.0  # the first token's GPT time: the prompt's


class Playout:
    """When a listener who plays chunks as they come runs out of audio, on `clock`'s time."""

    def __init__(self, ahead_s: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        """`ahead_s`: audio the listener has yet to hear now."""
        self._clock = clock
        self._until = clock() + ahead_s

    def add(self, audio_s: float) -> None:
        """A chunk of `audio_s` went out now (after a gap, it plays from now)."""
        self._until = max(self._until, self._clock()) + audio_s

    def ahead(self) -> float:
        """Audio the listener has yet to hear."""
        return max(0.0, self._until - self._clock())


@dataclass(frozen=True)
class ChunkShape:
    """What a chunk of n tokens is made of: n × frames_per_token new vocoder frames, plus
    context_frames decoded again, for n × audio_per_token_s of audio, less held_back_s that
    waits to be cross-faded with the next chunk."""

    audio_per_token_s: float
    frames_per_token: float
    context_frames: int
    held_back_s: float


class ChunkPlanner:
    """The chunk sizes of one sentence.

    The first chunk is small (`first` tokens), so the sentence starts sounding early. Each later
    chunk is the largest, up to `steady`, that can be made before the listener plays out the
    audio already sent, at the speeds measured (GPT seconds per token, vocoder seconds per frame:
    a chunk re-decodes `context_frames`, so small chunks cost more per token). So the listener
    does not run out where a fixed `steady` would not have. When the last sentence's speeds say a
    second chunk could not follow a `first`-token one in time, the first is made larger (up to
    `steady`; `steady` too for the first sentence after start-up, when nothing is measured).
    Slower than real time, gaps come whatever the sizes: the first chunk stays small, later ones
    are `steady`, the fewest gaps and the least silence. `first=0` is a fixed schedule of
    `steady` tokens. A sentence that begins while the listener still plays the answer's earlier
    ones (`ahead_s`) starts with the largest chunk that is ready before that audio runs out:
    small chunks cost more (each decodes context frames again), and nobody waits for it.
    """

    def __init__(
        self,
        first: int,
        steady: int,
        shape: ChunkShape,
        pace: Pace,
        clock: Callable[[], float] = time.monotonic,
        ahead_s: float = 0.0,
    ) -> None:
        self.first = min(first, steady)
        self.steady = steady
        self.shape = shape
        self.pace = pace
        self._prompt_done = False  # the first token, which carries the prompt, has come
        self._prompt_s = 0.0
        self._gpt_s = 0.0
        self._gpt_tokens = 0
        self._vocoder_s = 0.0
        self._frames = 0
        self._playout = Playout(ahead_s, clock)

    def first_size(self) -> int:
        cost = self._cost_model()
        if not self.first or cost is None:
            return self.steady  # nothing measured yet (the first sentence after start-up): no risk
        per_token, per_chunk = cost
        # Audio still playing covers the prompt and a chunk as large as it fits.
        margin = (self.pace.prompt_s + per_chunk) * _MARGIN
        fits = math.floor((self._playout.ahead() - margin) / (per_token * _MARGIN))
        return max(self._first_for_a_listener_waiting(per_token, per_chunk), min(self.steady, fits))

    def _first_for_a_listener_waiting(self, per_token: float, per_chunk: float) -> int:
        spare = self.shape.audio_per_token_s - per_token * _MARGIN
        if spare <= 0:
            # Slower than real time, gaps come anyway: the first audio need not wait. Only just
            # keeping up, a fixed schedule has no gaps: nor will this one.
            return self.first if self._slower_than_real_time(per_token, per_chunk) else self.steady
        # The first chunk's audio (less what it holds back) must cover making a second as large.
        needed = math.ceil((self.shape.held_back_s + per_chunk * _MARGIN) / spare)
        return max(self.first, min(self.steady, needed))

    def token(self, gpt_s: float) -> None:
        """A token came after `gpt_s` of GPT work (its step's time: not the vocoder's, nor a client's)."""
        if self._prompt_done:  # the first token's time is the prompt's, paid once per sentence
            self._gpt_s += gpt_s
            self._gpt_tokens += 1
        else:
            self._prompt_s = gpt_s
        self._prompt_done = True

    def sent(self, audio_s: float, vocoder_s: float, frames: int) -> int:
        """A chunk of `audio_s` went out after `vocoder_s` decoding `frames`: the next chunk's size."""
        self._vocoder_s += vocoder_s
        self._frames += frames
        self._playout.add(audio_s)
        cost = self._cost_model()
        if not self.first or cost is None:
            return self.steady
        per_token, per_chunk = cost[0] * _MARGIN, cost[1] * _MARGIN
        if self._slower_than_real_time(per_token, per_chunk):
            return self.steady
        fits = math.floor((self._playout.ahead() - per_chunk) / per_token)
        return max(self.first, min(self.steady, fits))

    def finish(self) -> None:
        """The sentence is generated: its speeds plan the next sentence."""
        if self._gpt_tokens:
            self.pace.gpt_s_per_token = self._gpt_s / self._gpt_tokens
        if self._frames:
            self.pace.vocoder_s_per_frame = self._vocoder_s / self._frames
        if self._prompt_done:
            self.pace.prompt_s = self._prompt_s

    def _slower_than_real_time(self, per_token: float, per_chunk: float) -> bool:
        """Whether steady chunks, at these costs, take longer to make than to play."""
        return per_chunk + self.steady * per_token >= self.steady * self.shape.audio_per_token_s

    def _cost_model(self) -> tuple[float, float] | None:
        """(seconds per token, seconds per chunk) to make a chunk, as measured; None before any measure."""
        gpt = self._gpt_s / self._gpt_tokens if self._gpt_tokens else self.pace.gpt_s_per_token
        vocoder = self._vocoder_s / self._frames if self._frames else self.pace.vocoder_s_per_frame
        if gpt is None or vocoder is None:
            return None
        return gpt + self.shape.frames_per_token * vocoder, self.shape.context_frames * vocoder
