"""Piper: natural neural voices, offline, fast on a CPU (OHF-Voice's piper-tts)."""

import asyncio
import dataclasses
import json
import logging
import os
import re
import tempfile
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from piper import PiperVoice, SynthesisConfig
from piper.download_voices import download_voice
from wyoming.audio import AudioChunk
from wyoming.info import Attribution

from .engine import Engine, EngineError, iterate_in_executor
from .files import unreadable
from .languages import normalize_language, region_of
from .phonemes import as_ipa, said_and_rest
from .voices import SPEAKER_NAME, Region, Speaker

_LOGGER = logging.getLogger(__name__)

# Piper's own voice names: LANG_REGION-NAME-QUALITY, e.g. de_DE-thorsten-medium.
_VOICE_NAME = re.compile(r"(?P<language>[a-z]{2,3}_[A-Z]{2})-(?P<name>[^-]+)-(?P<quality>[a-z_]+)")


@dataclass(frozen=True)
class PiperSpeaker:
    """One advertised speaker: a voice model, and its speaker id in a multi-speaker model."""

    name: str
    language: str
    model: PiperVoice
    speaker_id: int | None
    description: str
    region: Region | None


class PiperEngine(Engine):
    """Every `NAME.onnx` with its `NAME.onnx.json` in a folder is a voice in its own language."""

    name = "piper"
    says_sentences_whole = True
    description = "Piper (offline neural voices)"
    attribution = Attribution(name="Piper", url="https://github.com/OHF-Voice/piper1-gpl")

    def __init__(self, voices_dir: Path, speed: float | None = None) -> None:
        """`speed`: the speaking rate (--speed), on each voice's own (its length_scale)."""
        if problem := unreadable(voices_dir):
            raise EngineError(f"cannot read the Piper voices: {problem}")
        self._folder = voices_dir
        self._speed = speed or 1.0
        self._by_voice: dict[tuple[str, str], PiperSpeaker] = {}
        self._loaded: dict[tuple[Path, float], list[PiperSpeaker]] = {}  # a reload loads only changed files
        self._scan()
        if not self._by_voice:
            raise EngineError(
                f"no Piper voices in {voices_dir} (put NAME.onnx with NAME.onnx.json there, "
                "or add --download-piper-voice NAME)"
            )
        # One worker: requests take turns sentence by sentence, and a 2-core box stays responsive.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper")

    def _scan(self) -> None:
        """Read the folder's voices: those loaded before and unchanged are kept as they are."""
        by_voice: dict[tuple[str, str], PiperSpeaker] = {}
        loaded = {}
        for model_path in sorted(self._folder.glob("*.onnx")) if self._folder.is_dir() else []:
            key = (model_path, _changed_at(model_path))
            loaded[key] = speakers = self._loaded[key] if key in self._loaded else _load(model_path)
            for speaker in speakers:
                if (speaker.language, speaker.name) in by_voice and speaker.region:
                    # en_GB-alan beside en_US-alan: the second is en/alan-us.
                    speaker = dataclasses.replace(speaker, name=f"{speaker.name}-{speaker.region.code.lower()}")
                if (speaker.language, speaker.name) in by_voice:
                    _LOGGER.warning("Skipping Piper voice %s: %s/%s is already taken", model_path, speaker.language,
                                    speaker.name)  # fmt: skip
                    continue
                by_voice[speaker.language, speaker.name] = speaker
        languages_of: dict[str, set[str]] = {}
        for language, name in by_voice:
            languages_of.setdefault(name, set()).add(language)
        self._loaded, self._by_voice = loaded, by_voice
        self.languages = frozenset(language for language, _ in by_voice)
        self.speakers = tuple(self._speaker(name, languages) for name, languages in languages_of.items())

    def voices_from(self, model_path: Path) -> list[str]:
        """The voices (LANG/NAME) a model file gave when the folder was last read: none when it was skipped."""
        models = {id(speaker.model) for key, speakers in self._loaded.items() if key[0] == model_path
                  for speaker in speakers}  # fmt: skip
        return sorted(f"{language}/{name}" for (language, name), voice in self._by_voice.items()
                      if id(voice.model) in models)  # fmt: skip

    async def update_voices(self, cloned: list[Speaker]) -> None:
        # On the engine's one worker: no sentence is spoken while its voices change.
        await asyncio.get_running_loop().run_in_executor(self._executor, self._scan)

    def _speaker(self, name: str, languages: set[str]) -> Speaker:
        voices = [self._by_voice[language, name] for language in sorted(languages)]
        regions = tuple(voice.region for voice in voices if voice.region)
        return Speaker(name, languages=frozenset(languages), description=voices[0].description, regions=regions)

    def synthesize(
        self, text: str, language: str, speaker: str, ahead_s: float = 0.0
    ) -> AsyncGenerator[AudioChunk, None]:
        return iterate_in_executor(self._executor, lambda: self._chunks(text, language, speaker))

    def _chunks(self, text: str, language: str, speaker: str) -> Iterator[AudioChunk]:
        voice = self._pick(language, speaker)
        length_scale = voice.model.config.length_scale / self._speed if self._speed != 1.0 else None
        config = SynthesisConfig(speaker_id=voice.speaker_id, length_scale=length_scale)
        said, rest = said_and_rest(text)
        try:
            pieces = (
                _after(voice.model, as_ipa(said), as_ipa(rest), config)
                if said
                else _said(voice.model, as_ipa(rest), config)
            )
            for rate, pcm in pieces:
                yield AudioChunk(rate=rate, width=2, channels=1, audio=pcm)
        except Exception as err:  # onnxruntime and the phonemizer raise their own types
            raise EngineError(f"Piper voice {voice.language}/{voice.name} failed: {err}") from err

    def _pick(self, language: str, speaker: str) -> PiperSpeaker:
        if (language, speaker) in self._by_voice:
            return self._by_voice[language, speaker]
        # Another engine's voice (fr/default, a cloned voice) while Piper stands in for it.
        for (voice_language, _), voice in self._by_voice.items():
            if voice_language == language:
                _LOGGER.debug("No Piper voice %s/%s; speaking with %s", language, speaker, voice.name)
                return voice
        raise EngineError(f"no Piper voice speaks {language}")

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _said(model: PiperVoice, text: str, config: SynthesisConfig) -> Iterator[tuple[int, bytes]]:
    """Each of the text's sentences (to piper's phonemizer) as its rate and 16-bit mono PCM."""
    for chunk in model.synthesize(text, config):
        yield chunk.sample_rate, chunk.audio_int16_bytes


def _after(model: PiperVoice, said: str, rest: str, config: SynthesisConfig) -> Iterator[tuple[int, bytes]]:
    """`rest` as it sounds within its sentence after `said` (said apart already): the whole sentence is made
    and cut where piper's alignments say `said` ends. Piper's voice of a phoneme depends on the whole
    sentence's phonemes, so a rest made on its own begins as a new utterance and is heard worse."""
    said_phonemes, whole = model.phonemize(said), f"{said} {rest}"
    chunks = iter(model.synthesize(whole, config, include_alignments=True))  # its first, then the rest
    first = next(chunks, None) if len(said_phonemes) == 1 else None
    count = len(said_phonemes[0]) if first else 0
    if first is None or first.phoneme_alignments is None or first.phonemes[:count] != said_phonemes[0]:
        _LOGGER.debug("No alignment of %r within its sentence: the rest is said on its own", said)
        yield from _said(model, rest, config)
        return
    cut = sum(alignment.num_samples for alignment in first.phoneme_alignments[: 1 + count])  # its start, then `said`
    yield first.sample_rate, first.audio_int16_bytes[cut * first.sample_width :]
    for chunk in chunks:
        yield chunk.sample_rate, chunk.audio_int16_bytes


def _changed_at(model_path: Path) -> float:
    """When the voice or its config last changed (0 when either is gone: then it is read, and skipped, again)."""
    try:
        return max(model_path.stat().st_mtime, model_path.with_name(model_path.name + ".json").stat().st_mtime)
    except OSError:
        return 0.0


def _load(model_path: Path) -> list[PiperSpeaker]:
    """The speakers of one voice file; none, with a warning naming the file, when it cannot be used."""
    config_path = model_path.with_name(model_path.name + ".json")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        _check_config(config)
        language, region = _language(model_path, config)
    except (OSError, ValueError) as err:  # UnknownLanguageError and JSONDecodeError are ValueErrors
        _LOGGER.warning("Skipping Piper voice %s: %s (in %s)", model_path, err, config_path.name)
        return []
    try:
        # With its phonemes' lengths in samples (`_after`): the onnx package patches the model as it loads.
        model = PiperVoice.load(model_path, config_path, include_alignments=True)
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own types for a damaged model
        _LOGGER.warning("Skipping Piper voice %s: it cannot be loaded (%s)", model_path, err)
        return []
    match = _VOICE_NAME.fullmatch(model_path.name.removesuffix(".onnx"))
    name = match["name"] if match else str(config.get("dataset") or model_path.stem)
    quality = (config.get("audio") or {}).get("quality") or (match["quality"] if match else "")
    description = f"{name} (Piper{', ' + quality if quality else ''})"
    speaker_ids = config.get("speaker_id_map") or {}
    if config.get("num_speakers", 1) > 1 and speaker_ids:
        # One voice per speaker: Home Assistant lists voices, never a voice's speakers.
        speakers = [
            PiperSpeaker(f"{name}-{speaker}", language, model, speaker_id, f"{description} speaker {speaker}", region)
            for speaker, speaker_id in speaker_ids.items()
        ]
    else:
        speakers = [PiperSpeaker(name, language, model, None, description, region)]
    usable = [speaker for speaker in speakers if SPEAKER_NAME.fullmatch(speaker.name)]
    if len(usable) < len(speakers):
        _LOGGER.warning("Piper voice %s: speaker names other than letters, digits, '.', '_', '-' skipped", model_path)
    return usable


def _check_config(config: object) -> None:
    """Raise ValueError naming the first field of a voice's config that is there with the wrong type."""
    if not isinstance(config, dict):
        raise ValueError("not a JSON object")
    audio, ids = config.get("audio", {}), config.get("speaker_id_map", {})
    _expect("num_speakers", config, int, "a whole number")
    _expect("speaker_id_map", config, dict, "an object")
    _expect("audio", config, dict, "an object")
    _expect("quality", audio, str, "a string")
    _expect("dataset", config, (str, int), "a name")
    for speaker in ids:
        _expect(speaker, ids, int, "a whole number")


def _expect(key: str, fields: dict, kind: type | tuple[type, ...], what: str) -> None:
    """`fields[key]`, where it is there, has the JSON type asked for (null and true are no numbers)."""
    value = fields.get(key, ...)
    if value is not ... and (isinstance(value, bool) or not isinstance(value, kind)):
        raise ValueError(f"{key} is {json.dumps(value)[:40]}, not {what}")


def _language(model_path: Path, config: dict) -> tuple[str, Region | None]:
    """The voice's language as this server names it (`sv_SE` -> `sv`), and its region (raises
    UnknownLanguageError)."""
    described = config.get("language")
    if not isinstance(described, dict):
        described = {}
    code = described.get("code")
    if not code:
        match = _VOICE_NAME.fullmatch(model_path.name.removesuffix(".onnx"))
        code = match["language"] if match else (config.get("espeak") or {}).get("voice", "")
    language, region = normalize_language(str(code)), region_of(str(code))
    if not region:
        return language, None
    return language, Region(language, region, str(described.get("country_english") or region))


def download(name: str, voices_dir: Path) -> None:
    """Fetch a voice (e.g. `de_DE-thorsten-medium`) into the folder, unless it is there already."""
    target = voices_dir / f"{name}.onnx"
    if target.is_file() and target.with_name(target.name + ".json").is_file():
        return
    voices_dir.mkdir(parents=True, exist_ok=True)
    # Into a scratch folder first: an interrupted download must not leave a half voice behind.
    with tempfile.TemporaryDirectory(dir=voices_dir, prefix=".download-") as scratch:
        # Said once the folder is made and its removal is armed: a stop from here on takes it away.
        _LOGGER.info("Downloading Piper voice %s into %s", name, voices_dir)
        try:
            download_voice(name, Path(scratch))
        except ValueError as err:
            raise EngineError(f"--download-piper-voice {name}: {err}") from err
        except OSError as err:
            raise EngineError(
                f"Cannot download Piper voice {name} (is the internet reachable?): {err}. Without the internet, "
                f"copy {name}.onnx and {name}.onnx.json (from the piper-voices collection, on a machine that "
                f"has them) into {voices_dir.resolve()} (--piper-voices), and start without --download-piper-voice"
            ) from err
        for suffix in (".onnx.json", ".onnx"):  # the model last: it is what marks a voice as present
            os.replace(Path(scratch) / f"{name}{suffix}", voices_dir / f"{name}{suffix}")
