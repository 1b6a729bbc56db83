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


def pure_tone(rate: int, hz: float, seconds: float = 2.0, amplitude: float = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16).tobytes()


def level_db(samples: np.ndarray, reference: float) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(samples.astype(float) ** 2)) / reference))


def test_resampled_tones_keep_their_level_and_leave_no_images():
    # Piper and espeak-ng speak at 22,050 Hz: their 5-9 kHz (the voice's brightness) must not be dulled.
    for hz in (1000, 5000, 9000):
        chunks = frame_all(PcmFramer(1024), 22050, 1, pure_tone(22050, hz), piece=2000)
        samples = np.frombuffer(b"".join(c.audio for c in chunks), dtype=np.int16)[4800:-4800]  # no edges
        assert abs(level_db(samples, 16000 / np.sqrt(2))) < 0.2, hz
        window = np.hanning(len(samples))
        spectrum = np.abs(np.fft.rfft(samples * window))
        freqs = np.fft.rfftfreq(len(samples), 1 / 24000)
        peak = spectrum.max()
        elsewhere = spectrum[np.abs(freqs - hz) > 200]
        # Linear interpolation left an image of 9 kHz at 10.95 kHz at -57 dB.
        assert 20 * np.log10(elsewhere.max() / peak) < -80, hz


def test_audio_resampled_in_pieces_of_any_size_equals_the_audio_resampled_whole():
    rng = np.random.default_rng(7)
    noise = np.rint(rng.standard_normal(40000) * 4000).astype(np.int16).tobytes()
    whole = b"".join(c.audio for c in frame_all(PcmFramer(1024), 22050, 1, noise, piece=len(noise)))
    for _ in range(5):
        framer = PcmFramer(1024)
        cuts = sorted(int(cut) for cut in rng.integers(0, len(noise), 30))
        chunks = []
        for start, end in zip([0, *cuts], [*cuts, len(noise)], strict=True):
            chunks += framer.add(AudioChunk(rate=22050, width=2, channels=1, audio=noise[start:end]))
        chunks += framer.flush()
        assert b"".join(c.audio for c in chunks) == whole
