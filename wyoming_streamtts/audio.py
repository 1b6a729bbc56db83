"""The one PCM format a connection carries, and framing into fixed-size chunks.

Home Assistant builds its WAV header from the first audio event of a stream, so
every chunk of a connection is 24 kHz, 16-bit mono, whichever engine made it.
Engines at another rate (Piper and espeak-ng speak at 22,050 Hz) are resampled
with libsoxr as one stream: linear interpolation (wyoming's AudioChunkConverter)
dulls 4-8 kHz by up to 2.3 dB and leaves images near 10-11 kHz.
"""

import numpy as np
import soxr
from wyoming.audio import AudioChunk

RATE = 24000
WIDTH = 2
CHANNELS = 1


class Resampler:
    """One input rate to RATE, chunk by chunk with no seams.

    It works in float32, where libsoxr's output does not depend on how the input was
    cut (its int16 output does, by a rounding step or two); int16 comes back rounded.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._stream = None if rate == RATE else soxr.ResampleStream(rate, RATE, 1, dtype="float32", quality="HQ")

    def convert(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        """int16 samples at `rate` in, int16 samples at RATE out; `last` drains what the filter holds."""
        if self._stream is None:
            return samples
        resampled = self._stream.resample_chunk(samples.astype(np.float32) / 32768.0, last=last)
        return np.clip(np.rint(resampled * 32768.0), -32768, 32767).astype(np.int16)


class PcmFramer:
    """Converts engine audio to the connection's format and cuts it into chunks."""

    def __init__(self, samples_per_chunk: int) -> None:
        self._chunk_bytes = samples_per_chunk * WIDTH * CHANNELS
        self._resampler: Resampler | None = None
        self._source: tuple[int, int] | None = None
        self._unaligned = b""  # an incomplete input frame, kept for the next read
        self._pending = bytearray()

    def add(self, chunk: AudioChunk) -> list[AudioChunk]:
        """Take engine audio; return the full chunks it completes."""
        if chunk.width != WIDTH:
            raise ValueError(f"Engines must give 16-bit audio, not {chunk.width * 8}-bit")
        source = (chunk.rate, chunk.channels)
        if source != self._source:
            # The resampler's state belongs to one input format: what the old one holds is audio too.
            self._drain()
            self._resampler = Resampler(chunk.rate)
            self._source = source
            self._unaligned = b""
        data = self._unaligned + chunk.audio
        frame = WIDTH * chunk.channels
        usable = len(data) - len(data) % frame
        self._unaligned = data[usable:]
        if usable and self._resampler is not None:
            mono = _downmix(data[:usable], chunk.channels)
            self._pending += self._resampler.convert(mono).tobytes()
        return self._take(self._chunk_bytes)

    def flush(self) -> list[AudioChunk]:
        """Return whatever audio is left as a last, shorter chunk."""
        self._drain()
        return self._take(WIDTH * CHANNELS)

    def _drain(self) -> None:
        if self._resampler is not None:
            self._pending += self._resampler.convert(np.zeros(0, np.int16), last=True).tobytes()
            self._resampler = None
            self._source = None

    def _take(self, minimum: int) -> list[AudioChunk]:
        chunks = []
        while len(self._pending) >= minimum and self._pending:
            size = min(self._chunk_bytes, len(self._pending) - len(self._pending) % (WIDTH * CHANNELS))
            chunks.append(AudioChunk(rate=RATE, width=WIDTH, channels=CHANNELS, audio=bytes(self._pending[:size])))
            del self._pending[:size]
        return chunks


def _downmix(audio: bytes, channels: int) -> np.ndarray:
    """Average the channels (summing them clips loud audio)."""
    frames = np.frombuffer(audio, dtype=np.int16)
    if channels == 1:
        return frames
    return frames.reshape(-1, channels).mean(axis=1).astype(np.int16)
