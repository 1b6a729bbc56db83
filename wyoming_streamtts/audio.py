"""The one PCM format a connection carries, and framing into fixed-size chunks.

Home Assistant builds its WAV header from the first audio event of a stream, so
every chunk of a connection is 24 kHz, 16-bit mono, whichever engine made it.
"""

import numpy as np
from wyoming.audio import AudioChunk, AudioChunkConverter

RATE = 24000
WIDTH = 2
CHANNELS = 1


class PcmFramer:
    """Converts engine audio to the connection's format and cuts it into chunks."""

    def __init__(self, samples_per_chunk: int) -> None:
        self._chunk_bytes = samples_per_chunk * WIDTH * CHANNELS
        self._converter = AudioChunkConverter(rate=RATE, width=WIDTH, channels=CHANNELS)
        self._source: tuple[int, int, int] | None = None
        self._unaligned = b""  # an incomplete input frame, kept for the next read
        self._pending = bytearray()

    def add(self, chunk: AudioChunk) -> list[AudioChunk]:
        """Take engine audio; return the full chunks it completes."""
        source = (chunk.rate, chunk.width, chunk.channels)
        if source != self._source:
            # The resampler's state belongs to one input format.
            self._converter = AudioChunkConverter(rate=RATE, width=WIDTH, channels=CHANNELS)
            self._source = source
            self._unaligned = b""
        data = self._unaligned + chunk.audio
        frame = chunk.width * chunk.channels
        usable = len(data) - len(data) % frame
        self._unaligned = data[usable:]
        if usable:
            mono = _downmix(data[:usable], chunk.width, chunk.channels)
            converted = self._converter.convert(AudioChunk(rate=chunk.rate, width=chunk.width, channels=1, audio=mono))
            self._pending += converted.audio
        return self._take(self._chunk_bytes)

    def flush(self) -> list[AudioChunk]:
        """Return whatever audio is left as a last, shorter chunk."""
        return self._take(WIDTH * CHANNELS)

    def _take(self, minimum: int) -> list[AudioChunk]:
        chunks = []
        while len(self._pending) >= minimum and self._pending:
            size = min(self._chunk_bytes, len(self._pending) - len(self._pending) % (WIDTH * CHANNELS))
            chunks.append(AudioChunk(rate=RATE, width=WIDTH, channels=CHANNELS, audio=bytes(self._pending[:size])))
            del self._pending[:size]
        return chunks


def _downmix(audio: bytes, width: int, channels: int) -> bytes:
    """Average the channels (the converter sums them, which clips loud audio)."""
    if channels == 1:
        return audio
    if width != 2:
        raise ValueError(f"Engines must give 16-bit audio, not {width * 8}-bit")
    frames = np.frombuffer(audio, dtype=np.int16).reshape(-1, channels)
    return frames.mean(axis=1).astype(np.int16).tobytes()
