"""The running service: what every connection shares, built once from the settings, and its voices reloaded."""

import asyncio
import dataclasses
import io
import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from wyoming.event import write_event
from wyoming.info import Attribution, Info, TtsProgram

from . import __version__
from .detection import LanguageDetector, create_detector, detected_languages
from .devices import decide_device, gpus_present
from .echo import counted
from .engine import Engine, EngineError
from .engine_chain import create_engine
from .figures import FiguresFile, RequestFigures
from .languages import LANGUAGES, XTTS_V2_LANGUAGES, known_language, normalize_language, region_of
from .lexicon import Lexicon
from .normalise import Normaliser
from .settings import EngineSettings, ServerSettings, Settings, TranslatorSettings
from .speech import Reading
from .translation import TranslationError, Translator
from .voices import Speaker, Voice, VoiceCatalog, find_speakers

_LOGGER = logging.getLogger(__name__)

RECENT_REQUESTS = 50

ATTRIBUTION = Attribution(name="wyoming-streamtts", url="https://github.com/wyoming-streamtts/wyoming-streamtts")


@dataclass
class Service:
    """What every connection shares: the engine, the voices (reloadable), the translator and the settings."""

    engine: Engine
    catalog: VoiceCatalog
    settings: ServerSettings = field(default_factory=ServerSettings)
    translator: Translator | None = None
    detector: LanguageDetector | None = None
    """Picks the voice for requests that name none, from the text's language."""
    figures_file: FiguresFile | None = None
    normaliser: Normaliser | None = None
    """Numbers, units, dates and money in words (off: --keep-numbers)."""
    lexicon: Lexicon | None = None
    """The pronunciation lexicons (None: no data folder to keep them in)."""
    device: str = "cpu"
    """Where XTTS and NLLB run."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Engines of the order that did not start, and why."""
    recent: deque[RequestFigures] = field(default_factory=lambda: deque(maxlen=RECENT_REQUESTS))
    """The last requests' figures, for the web page's status."""

    describe_answer: bytes = field(init=False, repr=False)
    """The `info` event as it goes on the wire: built once per voice list, since with
    thousands of recordings it is megabytes (serialising it per `describe` took 210 ms
    with 3,000 recordings here, and the loop waited meanwhile)."""

    def __post_init__(self) -> None:
        self.describe_answer = self.answer_for(self.catalog)

    @property
    def reading(self) -> Reading:
        """How a request's sentences are read, with the voices as they are now."""
        return Reading(self.normaliser, self.lexicon, self.voice_in)

    def voice_in(self, tag: str, current: Voice) -> Voice | None:
        """SSML's `xml:lang`: the request's speaker in that language, else that language's default voice; None
        where no engine of the chain speaks it."""
        code = known_language(tag)
        if code is None:
            return None
        same_speaker = Voice(code, current.speaker)
        if same_speaker in self.catalog.voices:
            return same_speaker
        return self.catalog.default_for(code, region_of(tag))

    def record(self, figures: RequestFigures) -> None:
        """An ended request's figures: kept among the recent ones, and written to --figures-file."""
        self.recent.append(figures)
        if self.figures_file is not None:
            self.figures_file.record(figures)

    def answer_for(self, catalog: VoiceCatalog) -> bytes:
        """The describe answer with these voices (slow for many voices: run it off the loop)."""
        event = self.info(catalog).event()
        for voice in event.data["tts"][0]["voices"]:
            for unset in ("version", "speakers"):  # null: wyoming's parser reads a missing one as null too
                del voice[unset]
        wire = io.BytesIO()
        write_event(event, wire)
        return wire.getvalue()

    def info(self, catalog: VoiceCatalog) -> Info:
        """The answer to `describe`: one TTS program (Home Assistant uses only the first)."""
        program = TtsProgram(
            name=self.settings.name,
            description=f"Streaming TTS with {self.engine.description}",
            attribution=ATTRIBUTION,
            installed=True,
            version=__version__,
            voices=catalog.tts_voices(),
            supports_synthesize_streaming=self.settings.streaming,
        )
        return Info(tts=[program])

    async def voice_for_text(self, text: str) -> Voice:
        """The default voice of the text's language (Home Assistant keeps an automation's language to itself)."""
        assert self.detector is not None
        detected = await self.detector.detect_off_loop(text)
        voice = (self.catalog.default_for(detected) if detected else None) or self.catalog.default
        _LOGGER.debug("Request names no voice; text detected as %s: speaking with %s", detected, voice.name)
        return voice

    async def reload_voices(self) -> None:
        """SIGHUP or an edit on the web page: read the voices again. Running requests keep the voice they have."""
        voices_dir = self.settings.voices_dir
        cloned = await asyncio.to_thread(find_speakers, voices_dir)
        await self.engine.update_voices(cloned)  # first: an engine may have new voice files of its own
        try:
            catalog = build_catalog(self.settings, self.engine, cloned)
        except ValueError as err:
            _LOGGER.error("Voices not reloaded, the old ones stay: %s", err)
            return
        answer = await asyncio.to_thread(self.answer_for, catalog)
        before, after = set(self.catalog.speakers), set(catalog.speakers)
        self.catalog, self.describe_answer = catalog, answer
        _LOGGER.info(
            "Voices reloaded from %s: %s; added %s; removed %s",
            voices_dir, counted(len(catalog.voices), "voice"), ", ".join(sorted(after - before)) or "none",
            ", ".join(sorted(before - after)) or "none",
        )  # fmt: skip

    async def close(self) -> None:
        """Release the engine and the translator; the figures file is closed by whoever bounds the stop."""
        await self.engine.close()
        if self.translator is not None:
            self.translator.close()


def create_translator(settings: TranslatorSettings, engines: EngineSettings, device: str) -> Translator | None:
    """The translation stage, on `device` (raises TranslationError)."""
    if settings.backend == "none":
        return None
    try:
        from .translation import create_backend  # noqa: PLC0415
    except ImportError as err:
        raise TranslationError(f"Translation needs the [translate] extra: {err}") from err
    try:
        folder = engines.data_folder()
    except EngineError as err:
        raise TranslationError(str(err)) from err
    backend = create_backend(settings.backend, settings.model, device, engines.download, folder)
    _LOGGER.info("Translating from %s with %s on %s", settings.source_language, settings.backend, backend.device)
    return Translator(backend, settings.source_language, settings.cache)


def download_piper_voice(name: str, voices_dir: Path) -> None:
    """Fetch a Piper voice asked for on the command line (raises EngineError)."""
    try:
        from .piper_engine import download  # noqa: PLC0415
    except ImportError as err:
        raise EngineError(f"--download-piper-voice needs the [piper] extra: {err}") from err
    download(name, voices_dir)


def create_service(settings: Settings) -> Service:
    """Engine, voices and translator from the settings (raises ValueError, EngineError, TranslationError)."""
    source = settings.translator.source_language
    code = None if source == "auto" else normalize_language(source)
    if code is not None and LANGUAGES[code].flores is None and settings.translator.backend != "none":
        raise ValueError(f"--source-language {source}: NLLB does not translate from {LANGUAGES[code].name}")
    for name in settings.engines.download_piper_voices:
        download_piper_voice(name, settings.engines.piper_folder())
    # Only XTTS and NLLB run on a device; the light engines need not load PyTorch to find one.
    torch_model = settings.translator.backend == "transformers" or "xtts" in settings.engines.engine_order()
    models = torch_model or settings.translator.backend != "none"
    device = decide_device(settings.engines.device, *gpus_present(torch_model)) if models else "cpu"
    voices_dir = settings.server.voices_dir
    if voices_dir != ServerSettings.voices_dir and not voices_dir.is_dir():  # named, so meant to hold voices
        _LOGGER.warning("--voices-dir %s is not a folder: no cloned voices until it is made and has recordings",
                        voices_dir)  # fmt: skip
    cloned = find_speakers(voices_dir)
    engine, unavailable = create_engine(settings.engines, cloned, device)
    catalog = build_catalog(settings.server, engine, cloned)
    return Service(
        engine=engine,
        catalog=catalog,
        settings=settings.server,
        translator=create_translator(settings.translator, settings.engines, device),
        detector=create_detector(detected_languages(catalog, bool(settings.server.languages))),
        figures_file=create_figures_file(settings.server.figures_file),
        normaliser=Normaliser() if settings.server.normalise else None,
        lexicon=create_lexicon(settings.engines),
        device=device,
        unavailable=unavailable,
    )


def create_lexicon(settings: EngineSettings) -> Lexicon | None:
    """The lexicons in DATA_DIR/lexicon; none where there is no data folder (a service user without a home)."""
    try:
        return Lexicon(settings.data_folder() / "lexicon")
    except EngineError as err:
        _LOGGER.info("No pronunciation lexicons: %s", err)
        return None


def create_figures_file(path: Path | None) -> FiguresFile | None:
    """--figures-file, checked at start (raises ValueError naming the flag)."""
    try:
        return None if path is None else FiguresFile(path)
    except OSError as err:
        raise ValueError(f"--figures-file {path}: {err.strerror or err}") from err


def build_catalog(settings: ServerSettings, engine: Engine, cloned: list[Speaker]) -> VoiceCatalog:
    """The voices: the cloned speakers and the engine's own, in the languages asked for (raises ValueError).

    Cloned voices speak XTTS v2's languages, XTTS studio voices the engine's, Piper voices their
    own, the default voice every language of the engine chain."""
    allowed = {normalize_language(tag) for tag in settings.languages} if settings.languages else None

    def within(languages: frozenset[str]) -> frozenset[str]:
        return languages if allowed is None else languages & allowed

    speakers = [_in_engine_languages(speaker, engine) for speaker in cloned] + list(engine.speakers)
    speakers = [
        speaker if speaker.languages is None else dataclasses.replace(speaker, languages=within(speaker.languages))
        for speaker in speakers
    ]
    return VoiceCatalog(speakers, within(engine.languages), engine.attribution, settings.default_voice)


def _in_engine_languages(speaker: Speaker, engine: Engine) -> Speaker:
    """A cloned speaker in XTTS v2's languages that the engine speaks (or those its sidecar names)."""
    spoken = engine.languages & XTTS_V2_LANGUAGES
    if speaker.languages is None:
        return dataclasses.replace(speaker, languages=spoken)
    if unspoken := speaker.languages - spoken:
        _LOGGER.warning(
            "Voice %s: %s cannot speak %s as a cloned voice; not advertised in it",
            speaker.name, engine.name, ", ".join(sorted(unspoken)),
        )  # fmt: skip
    return dataclasses.replace(speaker, languages=speaker.languages & spoken)
