"""Recordings decoded, and a reference recording for a cloned voice checked before it is accepted: judged
in plain words, trimmed of leading and trailing silence, and stored as a mono WAV the voices folder reads.

Decoding is FFmpeg's, through PyAV: WAV, FLAC, MP3, OGG (Vorbis, Opus), M4A (AAC) and the WebM a
browser records all decode the same way (and Google's MP3 for gTTS).
"""

import logging
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

_LOGGER = logging.getLogger(__name__)

MIN_SPEECH_S = 6.0  # XTTS clones poorly from less
USED_S = 30.0  # XTTS reads at most this much of a recording (its conditioning length)
MAX_DECODED_S = 600.0  # a longer file is refused before it fills memory
_FRAME_S = 0.02  # the speech detector's frame
_SILENCE_BELOW_DB = -45.0  # a frame this far under full scale, and 30 dB under the loudest frames, is silence
_TOO_QUIET_DB = -35.0  # speech whose loud frames stay under this is too quiet to clone well
_CLIPPED_SHARE = 0.001  # samples at full scale beyond this share: the microphone clipped
_KEPT_PAUSE_S = 0.25  # silence kept at each end after trimming
_LOW_RATE = 16000


class RecordingError(ValueError):
    """The recording cannot make a cloned voice; the message says why in plain words."""


@dataclass
class Recording:
    """Mono float samples in [-1, 1] at `rate`, and what the check found worth saying."""

    samples: np.ndarray
    rate: int
    speech_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def decode(source: Path | BinaryIO) -> Recording:
    """The file's audio as mono float samples (raises RecordingError for anything that is not audio)."""
    try:
        with av.open(str(source) if isinstance(source, Path) else source, mode="r") as container:
            if not container.streams.audio:
                raise RecordingError("The file holds no audio")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or stream.rate
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            pieces, total = [], 0
            for frame in container.decode(stream):
                for mono in resampler.resample(frame):
                    piece = mono.to_ndarray().reshape(-1)
                    pieces.append(piece)
                    total += len(piece)
                if total > MAX_DECODED_S * rate:
                    raise RecordingError(f"The recording is longer than {MAX_DECODED_S / 60:.0f} minutes")
            for mono in resampler.resample(None):
                pieces.append(mono.to_ndarray().reshape(-1))
    except RecordingError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError) as err:
        raise RecordingError(f"This file is not audio that can be read (WAV, FLAC, MP3, OGG, M4A): {err}") from err
    samples = np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)
    if not len(samples) or not rate:
        raise RecordingError("The file holds no audio")
    return Recording(np.clip(samples, -1.0, 1.0), int(rate))


def duration_s(path: Path) -> float:
    """How long a recording is, from its header where it says (raises RecordingError when it is not audio)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise RecordingError("The file holds no audio")
            if container.duration:
                return container.duration / av.time_base
            return decode(path).seconds
    except (av.FFmpegError, OSError, ValueError, IndexError) as err:
        raise RecordingError(str(err)) from err


def pcm16(recording: Recording) -> bytes:
    """16-bit little-endian samples of a recording."""
    return np.clip(np.rint(recording.samples * 32767.0), -32768, 32767).astype("<i2").tobytes()


def check(recording: Recording) -> Recording:
    """The recording trimmed of silence at both ends, with notes; raises RecordingError when it cannot clone."""
    samples, rate = recording.samples, recording.rate
    if rate < 8000:
        raise RecordingError(f"Recorded at {rate} Hz: at least 16,000 Hz is needed for a voice")
    frame = max(1, int(rate * _FRAME_S))
    frames = len(samples) // frame
    if frames == 0:
        raise RecordingError(f"The recording is {recording.seconds:.1f} s long: at least {MIN_SPEECH_S:g} s of speech "
                             "is needed")  # fmt: skip
    levels = 20 * np.log10(np.sqrt(np.mean(samples[: frames * frame].reshape(frames, frame) ** 2, axis=1)) + 1e-9)
    loud = float(np.percentile(levels, 95))
    voiced = levels > max(_SILENCE_BELOW_DB, loud - 30.0)
    speech_s = float(voiced.sum()) * _FRAME_S
    if loud < -60.0:
        raise RecordingError("The recording is silent: nothing was heard. Check that the right microphone is on")
    if loud < _TOO_QUIET_DB:
        raise RecordingError(
            f"The recording is too quiet (its loudest speech is {loud:.0f} dB below full scale): speak closer to the "
            "microphone or raise its gain"
        )
    if speech_s < MIN_SPEECH_S:
        raise RecordingError(
            f"Only {speech_s:.1f} s of speech: at least {MIN_SPEECH_S:g} s of clear speech is needed (10 to 20 s "
            "clone best)"
        )
    notes = []
    if rate < _LOW_RATE:
        notes.append(f"Recorded at {rate:,} Hz (telephone quality): the cloned voice will sound muffled")
    clipped = float(np.mean(np.abs(samples) >= 0.99))
    if clipped > _CLIPPED_SHARE:
        notes.append(
            f"Clipping: {clipped:.1%} of the samples are at full scale, which the clone will copy as distortion. "
            "Record further from the microphone or lower its gain"
        )
    first, last = np.flatnonzero(voiced)[[0, -1]]
    pad = int(_KEPT_PAUSE_S / _FRAME_S)
    start, end = max(0, first - pad) * frame, min(len(samples), (last + 1 + pad) * frame)
    trimmed = samples[start:end]
    if (len(samples) - len(trimmed)) / rate >= 0.5:
        notes.append(f"Silence trimmed: {recording.seconds:.1f} s became {len(trimmed) / rate:.1f} s")
    if speech_s < 0.5 * len(trimmed) / rate:
        notes.append(f"Mostly silence: {speech_s:.1f} s of speech in {len(trimmed) / rate:.1f} s; long pauses clone "
                     "less well")  # fmt: skip
    if len(trimmed) / rate > USED_S:
        notes.append(f"Only the first {USED_S:g} s are used for the voice ({len(trimmed) / rate:.0f} s recorded)")
    return Recording(trimmed, rate, speech_s, notes)


def write_wav(recording: Recording, path: Path) -> None:
    """16-bit mono WAV at the recording's rate, written whole under a temporary name, then renamed into place."""
    partial = path.with_name(f".{path.name}.part")
    try:
        with wave.open(str(partial), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(recording.rate)
            out.writeframes(pcm16(recording))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
