"""Speech faster or slower at the same pitch, louder or softer: SSML's `prosody` on any engine's audio, and the
OpenAI endpoint's `speed`. Speed is FFmpeg's `atempo` filter through PyAV, fed and drained chunk by chunk, so a
stretched sentence still streams."""

from fractions import Fraction

import av
import numpy as np


class Stretch:
    """16-bit mono PCM at `rate` made `speed` times as fast (0.25 to 4), its pitch kept."""

    def __init__(self, rate: int, speed: float) -> None:
        self._rate = rate
        self._graph = av.filter.Graph()
        source = self._graph.add_abuffer(format="s16", sample_rate=rate, layout="mono", time_base=Fraction(1, rate))
        # atempo takes 0.5 to 100 per instance: slower than half speed is two of them.
        steps = [0.5, speed / 0.5] if speed < 0.5 else [speed]
        chain = [source, *(self._graph.add("atempo", str(step)) for step in steps), self._graph.add("abuffersink")]
        self._graph.link_nodes(*chain).configure()
        self._pts = 0

    def add(self, pcm: bytes) -> bytes:
        """Take PCM; return what the filter has made of it so far."""
        if not pcm:
            return b""
        frame = av.AudioFrame.from_ndarray(np.frombuffer(pcm, dtype="<i2").reshape(1, -1), format="s16",
                                           layout="mono")  # fmt: skip
        frame.sample_rate = self._rate
        frame.pts = self._pts
        self._pts += frame.samples
        self._graph.push(frame)
        return self._pulled()

    def finish(self) -> bytes:
        """The input has ended: the rest the filter holds."""
        self._graph.push(None)
        return self._pulled()

    def _pulled(self) -> bytes:
        out = []
        while True:
            try:
                frame = self._graph.pull()
            except (av.BlockingIOError, av.EOFError):
                break
            out.append(frame.to_ndarray().astype("<i2").tobytes())
        return b"".join(out)


def louder(pcm: bytes, gain: float) -> bytes:
    """16-bit PCM times `gain`, clipped (SSML volume: +6 dB is 2.0, silent 0); as it was at 1.0."""
    if gain == 1.0:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) * gain
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()
