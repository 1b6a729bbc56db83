"""Framing engine audio into the connection's one format."""

import numpy as np
from wyoming.audio import AudioChunk

from wyoming_streamtts.audio import PcmFramer


def tone(rate: int, seconds: float, channels: int = 1) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    mono = (10000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    return np.repeat(mono, channels).tobytes()


def frame_all(framer: PcmFramer, rate: int, channels: int, data: bytes, piece: int) -> list[AudioChunk]:
    chunks = []
    for start in range(0, len(data), piece):
        chunks += framer.add(AudioChunk(rate=rate, width=2, channels=channels, audio=data[start : start + piece]))
    return chunks + framer.flush()


def test_any_rate_and_layout_becomes_24khz_mono_chunks_of_fixed_size():
    # Pieces of odd byte counts split samples in two: nothing may be lost or garbled.
    for rate, channels in [(22050, 1), (16000, 2), (24000, 1), (44100, 1)]:
        chunks = frame_all(PcmFramer(1024), rate, channels, tone(rate, 1.0, channels), piece=777)
        assert {(c.rate, c.width, c.channels) for c in chunks} == {(24000, 2, 1)}
        assert all(c.samples == 1024 for c in chunks[:-1])
        total = sum(c.samples for c in chunks)
        assert abs(total - 24000) < 30, (rate, channels, total)
        samples = np.frombuffer(b"".join(c.audio for c in chunks), dtype=np.int16)
        # The tone keeps its loudness (a garbled byte order would not).
        assert 6000 < np.sqrt(np.mean(samples.astype(float) ** 2)) < 8000


def test_flush_of_nothing_is_nothing():
    assert PcmFramer(1024).flush() == []
