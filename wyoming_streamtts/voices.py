"""Voices: each speaker advertised once per language, named `LANG/SPEAKER`.

Home Assistant never sends a language, and the wyoming library drops it when a
voice name is set, so the language the voice speaks is part of its name.
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wyoming.info import Attribution, TtsVoice
from wyoming.tts import SynthesizeVoice

from .languages import LANGUAGES, UnknownLanguageError, normalize_language

_LOGGER = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".mp3", ".flac")
_SPEAKER_NAME = re.compile(r"^[\w][\w.-]*$")


class VoiceNotFoundError(ValueError):
    """The requested voice is not one this server advertises."""


@dataclass(frozen=True)
class Voice:
    """A speaker speaking one language."""

    language: str
    speaker: str

    @property
    def name(self) -> str:
        return f"{self.language}/{self.speaker}"


def find_speakers(voices_dir: Path | None) -> list[str]:
    """Speakers with reference audio: `NAME.wav|mp3|flac` or a folder `NAME/` of them."""
    if voices_dir is None or not voices_dir.is_dir():
        return []
    speakers = set()
    for path in voices_dir.iterdir():
        if path.is_dir():
            has_audio = any(p.suffix.lower() in AUDIO_SUFFIXES for p in path.iterdir())
        else:
            has_audio = path.suffix.lower() in AUDIO_SUFFIXES
        if not has_audio:
            continue
        if _SPEAKER_NAME.match(path.stem):
            speakers.add(path.stem)
        else:
            _LOGGER.warning("Skipping %s: a voice name may hold letters, digits, '.', '_', '-'", path)
    return sorted(speakers)


class VoiceCatalog:
    """The voices a server advertises, and resolution of requested ones."""

    def __init__(
        self,
        speakers: Iterable[str],
        languages: Iterable[str],
        attribution: Attribution,
        default_voice: str | None = None,
    ) -> None:
        self.speakers = list(dict.fromkeys(speakers))
        self.languages = [code for code in LANGUAGES if code in set(languages)]
        if not self.speakers or not self.languages:
            raise ValueError("No voices: need at least one speaker and one language")
        self.attribution = attribution
        self.voices = [Voice(lang, speaker) for lang in self.languages for speaker in self.speakers]
        self._by_name = {voice.name: voice for voice in self.voices}
        self.default = self.voices[0]
        if default_voice:
            self.default = self.resolve(SynthesizeVoice(name=default_voice))

    def resolve(self, requested: SynthesizeVoice | None) -> Voice:
        """The voice to speak a request with; the default when none is named."""
        if requested is None or (not requested.name and not requested.language):
            return self.default
        if requested.name:
            name = requested.name.strip()
            if name in self._by_name:
                return self._by_name[name]
            language, _, speaker = name.rpartition("/")
            try:
                voice = Voice(normalize_language(language) if language else self.default.language, speaker)
            except UnknownLanguageError as err:
                raise VoiceNotFoundError(f"Voice {name!r} not found: {err}") from err
            if voice.name in self._by_name:
                return voice
            raise VoiceNotFoundError(
                f"Voice {name!r} not found; voices are LANGUAGE/SPEAKER with language in "
                f"{', '.join(self.languages)} and speaker in {', '.join(self.speakers)}"
            )
        try:
            language = normalize_language(requested.language or "")
        except UnknownLanguageError as err:
            raise VoiceNotFoundError(str(err)) from err
        voice = Voice(language, self.default.speaker)
        if voice.name not in self._by_name:
            raise VoiceNotFoundError(f"No voice speaks language {requested.language!r}")
        return voice

    def tts_voices(self, version: str) -> list[TtsVoice]:
        """The voices as the `info` event lists them."""
        return [
            TtsVoice(
                name=voice.name,
                description=f"{voice.speaker} ({LANGUAGES[voice.language].name})",
                attribution=self.attribution,
                installed=True,
                version=version,
                languages=[voice.language],
            )
            for voice in self.voices
        ]
