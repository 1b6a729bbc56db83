"""Voices: each speaker advertised once per language, named `LANG/SPEAKER`.

Home Assistant never sends a language, and the wyoming library drops it when a
voice name is set, so the language the voice speaks is part of its name.
"""

import difflib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wyoming.info import Attribution, TtsVoice
from wyoming.tts import SynthesizeVoice

from .echo import clip
from .languages import LANGUAGES, UnknownLanguageError, normalize_language, ordered, region_of
from .recordings import RecordingError, duration_s

_LOGGER = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".mp3", ".flac")
# Recordings a phone or a browser makes, which this folder does not read: said, not skipped silently.
_OTHER_AUDIO = (".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm", ".wma", ".amr", ".3gp")
SPEAKER_NAME = re.compile(r"\w[\w.-]*")  # used with fullmatch: `$` would let a newline end a name
_REFERENCE_SECONDS = (6.0, 30.0)
DEFAULT_SPEAKER = "default"  # the speaker of engines with one voice per language (gTTS, eSpeak NG)


class VoiceNotFoundError(ValueError):
    """The requested voice is not one this server advertises."""


@dataclass(frozen=True)
class Region:
    """Where a speaker's way of speaking a language is from (a Piper voice's `pt_BR`)."""

    language: str
    code: str
    """ISO 3166 code, as in a tag: `BR`."""
    name: str
    """For voice descriptions: `Brazil`."""


@dataclass(frozen=True)
class Speaker:
    """A speaker: built into an engine, or cloned from reference recordings."""

    name: str
    files: tuple[Path, ...] = ()
    languages: frozenset[str] | None = None
    """The languages it may speak; None: all of the engine's."""
    description: str | None = None
    regions: tuple[Region, ...] = ()

    def region(self, language: str) -> Region | None:
        return next((region for region in self.regions if region.language == language), None)


@dataclass(frozen=True)
class Voice:
    """A speaker speaking one language."""

    language: str
    speaker: str

    @property
    def name(self) -> str:
        return f"{self.language}/{self.speaker}"


def find_speakers(voices_dir: Path | None) -> list[Speaker]:
    """Speakers with reference audio: `NAME.wav|mp3|flac`, or a folder `NAME/` of them,
    with an optional `NAME.json` sidecar: {"languages": [...], "description": "..."}.

    Recordings that cannot be decoded are reported and skipped.
    """
    if voices_dir is None or not voices_dir.is_dir():
        return []
    speakers = []
    for path in sorted(voices_dir.iterdir()):
        if path.name.startswith("."):
            continue  # hidden: a recording the web page has not finished adding, an editor's swap file
        candidates = sorted(path.iterdir()) if path.is_dir() else [path]
        for other in (p for p in candidates if p.suffix.lower() in _OTHER_AUDIO):
            _LOGGER.warning("Skipping %s: voices are WAV, MP3 or FLAC recordings (convert it, e.g. with ffmpeg)", other)
        files = tuple(p for p in candidates if p.suffix.lower() in AUDIO_SUFFIXES and _decodes(p))
        if not files:
            continue
        if not SPEAKER_NAME.fullmatch(path.stem):
            _LOGGER.warning("Skipping %s: a voice name may hold letters, digits, '.', '_', '-'", path)
            continue
        try:
            languages, description = _read_sidecar(voices_dir / f"{path.stem}.json")
        except ValueError as err:
            _LOGGER.warning("Skipping voice %s: %s", path.stem, err)
            continue
        speakers.append(Speaker(path.stem, files, languages, description))
    return speakers


def _decodes(path: Path) -> bool:
    """True for a recording that decodes; warns about a length unfit for cloning."""
    try:
        seconds = duration_s(path)
    except RecordingError as err:
        _LOGGER.warning("Skipping voice recording %s: it cannot be decoded (%s)", path, err)
        return False
    if not _REFERENCE_SECONDS[0] <= seconds <= _REFERENCE_SECONDS[1]:
        _LOGGER.warning("Voice recording %s is %.1f s long; 6 to 30 s of clean speech clone best", path, seconds)
    return True


def _read_sidecar(path: Path) -> tuple[frozenset[str] | None, str | None]:
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        languages = data.get("languages")
        if languages is not None:
            languages = frozenset(normalize_language(tag) for tag in languages)
        description = data.get("description")
    except (OSError, ValueError, AttributeError, TypeError, RecursionError) as err:  # RecursionError: [[[[...
        raise ValueError(f"{path} is not valid: {err}") from err
    return languages, description


class VoiceCatalog:
    """The voices a server advertises, and resolution of requested ones."""

    def __init__(
        self,
        speakers: Iterable[Speaker],
        languages: Iterable[str],
        attribution: Attribution,
        default_voice: str | None = None,
    ) -> None:
        """`languages`: those of speakers that name none of their own (the engine's)."""
        self.speakers = {speaker.name: speaker for speaker in speakers}
        shared = frozenset(languages)
        spoken = {
            name: shared if speaker.languages is None else speaker.languages for name, speaker in self.speakers.items()
        }
        self.attribution = attribution
        self.voices = [
            Voice(lang, name)
            for lang in ordered(shared.union(*spoken.values()))
            for name in self.speakers
            if lang in spoken[name]
        ]
        self.languages = ordered(voice.language for voice in self.voices)
        if not self.voices:
            raise ValueError("No voices: no speaker speaks any of the languages")
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
                raise VoiceNotFoundError(f"Voice {clip(name)!r} not found: {self._unknown(language)}") from err
            if voice.name in self._by_name:
                return voice
            # The voices meant, not every language and speaker: that was one 670-character line in
            # Home Assistant's log.
            if closest := self._closest(voice):
                raise VoiceNotFoundError(f"Voice {clip(name)!r} not found; the closest: {', '.join(closest)}")
            raise VoiceNotFoundError(
                f"Voice {clip(name)!r} not found; voices are LANGUAGE/SPEAKER, such as {self.default.name} "
                f"(describe lists all {len(self.voices)})"
            )
        try:
            language = normalize_language(requested.language or "")
        except UnknownLanguageError as err:
            raise VoiceNotFoundError(self._unknown(requested.language or "")) from err
        spoken = self.default_for(language, region_of(requested.language or ""))
        if spoken is None:
            raise VoiceNotFoundError(f"No voice speaks language {clip(requested.language or '')!r}")
        return spoken

    def _unknown(self, language: str) -> str:
        return (
            f"Language {clip(language)!r} is not supported; this server speaks {len(self.languages)} "
            f"languages (describe lists them)"
        )

    def _closest(self, wanted: Voice) -> list[str]:
        """Up to three voices a person may have meant: speakers named alike in that language, then the
        speaker asked for in the languages it speaks."""
        alike = difflib.get_close_matches(wanted.speaker, self.speakers, n=3, cutoff=0.6)
        names = [name for speaker in alike if (name := f"{wanted.language}/{speaker}") in self._by_name]
        names += [voice.name for voice in self.voices if voice.speaker == wanted.speaker]
        return names[:3]

    def default_for(self, language: str, region: str = "") -> Voice | None:
        """A voice of the region asked for (`pt-BR`), else the default speaker in this language,
        else the first voice that speaks it."""
        in_language = [voice for voice in self.voices if voice.language == language]
        regional = [voice for voice in in_language if self._region_code(voice) == region] if region else []
        preferred = Voice(language, self.default.speaker)
        if regional:
            return preferred if preferred in regional else regional[0]
        return preferred if preferred in in_language else next(iter(in_language), None)

    def _region_code(self, voice: Voice) -> str:
        region = self.speakers[voice.speaker].region(voice.language)
        return region.code if region else ""

    def _description(self, voice: Voice) -> str:
        """`joe (Piper, medium) (English, United States)`: the region tells apart voices of one language."""
        speaker = self.speakers[voice.speaker]
        region = speaker.region(voice.language)
        where = f", {region.name}" if region else ""
        return f"{speaker.description or voice.speaker} ({LANGUAGES[voice.language].name}{where})"

    def tts_voices(self) -> list[TtsVoice]:
        """The voices as the `info` event lists them: what Home Assistant reads of a voice (name, description,
        languages, installed) and the attribution wyoming's parser needs; the program has the rest (its URL,
        version). Thousands of recordings are tens of thousands of voices: each byte counts many times."""
        attribution = Attribution(name=self.attribution.name, url="")
        return [
            TtsVoice(
                name=voice.name,
                description=self._description(voice),
                attribution=attribution,
                installed=True,
                version=None,
                languages=[voice.language],
            )
            for voice in self.voices
        ]
