"""Changes the web page makes to the voices: a cloned voice added from a recording (checked, made ready in the
background, then advertised), renamed, described or deleted; a Piper voice added or deleted.

Every change holds one lock and ends with the voices read again (`Service.reload_voices`), so `describe`
has it at once and two edits at once cannot interleave. Nothing is written or deleted outside the voices
folders: names are checked before they become paths.
"""

import asyncio
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

from ..engine import EngineError
from ..fallback import chain_of
from ..languages import UnknownLanguageError, normalize_language
from ..recordings import Recording, check, decode, write_wav
from ..service import Service
from ..voices import SPEAKER_NAME, Speaker

_LOGGER = logging.getLogger(__name__)

MAX_NAME_CHARS = 64
PENDING = ".pending"  # inside the voices folder (so a rename is atomic), hidden from its readers
_PIPER_FILE = re.compile(r"[A-Za-z0-9][\w.-]{0,99}\.onnx")
_KEPT_JOBS = 20


class PiperFiles(Protocol):
    def voices_from(self, model_path: Path) -> list[str]:
        """The voices (LANG/NAME) a model file gave when the folder was last read."""


class EditError(ValueError):
    """A change that cannot be made, said in plain words; `status` is the HTTP status that fits."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.status = status


@dataclass
class Job:
    """A cloned voice being added: checked, then made ready (XTTS: its latents), then advertised."""

    name: str
    notes: list[str]
    state: str = "preparing"  # preparing, ready, failed
    message: str = ""
    started: float = field(default_factory=time.monotonic)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def shown(self) -> dict:
        return {"id": self.id, "name": self.name, "state": self.state, "message": self.message, "notes": self.notes,
                "seconds": round(time.monotonic() - self.started, 1)}  # fmt: skip


class VoiceEditor:
    def __init__(self, service: Service, piper_folder: Path | None) -> None:
        self.service = service
        self.piper_folder = piper_folder
        self.jobs: dict[str, Job] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def voices_dir(self) -> Path:
        return self.service.settings.voices_dir

    @property
    def clones(self) -> bool:
        """Whether an engine of the chain speaks cloned voices (XTTS)."""
        return any(engine.name == "xtts" for engine in chain_of(self.service.engine))

    def cloned(self) -> list[dict]:
        """The cloned voices as the page lists them, and those being added."""
        voices = [
            {"name": speaker.name, "files": [path.name for path in speaker.files], "description": speaker.description,
             "languages": sorted(speaker.languages or ()), "state": "ready"}
            for speaker in self.service.catalog.speakers.values() if speaker.files
        ]  # fmt: skip
        busy: list[dict] = [{"name": job.name, "files": [], "description": None, "languages": [], "state": job.state,
                 "job": job.id} for job in self.jobs.values() if job.state == "preparing"]  # fmt: skip
        return voices + busy

    def piper_files(self) -> list[dict]:
        """The Piper voice files the page can delete, with the voices each gives."""
        piper = self._piper_or_none()
        if piper is None or self.piper_folder is None or not self.piper_folder.is_dir():
            return []
        return [
            {"file": path.name, "voices": piper.voices_from(path)} for path in sorted(self.piper_folder.glob("*.onnx"))
        ]

    async def add_cloned(self, upload: Path, name: str, languages: list[str], description: str) -> Job:
        """Check the recording, store it, and make the voice ready in the background (raises EditError)."""
        self._check_name(name)
        sidecar = _sidecar(languages, description)
        recording = await asyncio.to_thread(_checked, upload)
        async with self._lock:
            self._check_free(name)
            pending = self.voices_dir / PENDING / f"{name}.wav"
            await asyncio.to_thread(_store, recording, pending)
            job = Job(name, recording.notes)
            self._keep(job)
        speaker = Speaker(name, (pending,), sidecar.get("languages") and frozenset(sidecar["languages"]))
        task = asyncio.create_task(self._prepare(job, speaker, sidecar))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _prepare(self, job: Job, speaker: Speaker, sidecar: dict) -> None:
        pending = speaker.files[0]
        try:
            await self.service.engine.prepare_voice(speaker)
        except EngineError as err:
            job.state, job.message = "failed", str(err)
            pending.unlink(missing_ok=True)  # no half voice left behind
            _LOGGER.warning("Voice %s not added: %s", job.name, err)
            return
        async with self._lock:
            if sidecar:
                _write_json(self.voices_dir / f"{job.name}.json", sidecar)
            pending.replace(self.voices_dir / pending.name)
            await self.service.reload_voices()
        job.state = "ready"
        job.message = f"{job.name} is ready: reload the Wyoming integration in Home Assistant to see it"
        _LOGGER.info("Voice %s added from the web page", job.name)

    async def rename(self, old: str, new: str) -> None:
        self._check_name(new)
        async with self._lock:
            speaker = self._cloned_speaker(old)
            self._check_free(new)
            beside = [path for path in speaker.files if path.parent == self.voices_dir]
            moves = {path: path.with_name(new + path.suffix) for path in beside}
            if (folder := self.voices_dir / old).is_dir():
                moves[folder] = self.voices_dir / new
            if (sidecar := self.voices_dir / f"{old}.json").is_file():
                moves[sidecar] = self.voices_dir / f"{new}.json"
            for source, target in moves.items():
                source.rename(target)
            await self.service.reload_voices()

    async def describe(self, name: str, languages: list[str], description: str) -> None:
        sidecar = _sidecar(languages, description)
        async with self._lock:
            self._cloned_speaker(name)
            path = self.voices_dir / f"{name}.json"
            if sidecar:
                _write_json(path, sidecar)
            else:
                path.unlink(missing_ok=True)
            await self.service.reload_voices()

    async def delete(self, name: str) -> None:
        """The recordings, the sidecar and (by the reload) the cached latents, together."""
        async with self._lock:
            speaker = self._cloned_speaker(name)
            for path in speaker.files:
                path.unlink(missing_ok=True)
            if (folder := self.voices_dir / name).is_dir() and not any(folder.iterdir()):
                folder.rmdir()
            (self.voices_dir / f"{name}.json").unlink(missing_ok=True)
            await self.service.reload_voices()

    async def add_piper(self, model: Path, config: Path, filename: str) -> list[str]:
        """A Piper voice from its two files (uploaded next to the folder); returns the voices it adds."""
        piper = self._piper()
        if not _PIPER_FILE.fullmatch(filename):
            raise EditError("A Piper voice is NAME.onnx (letters, digits, '.', '_', '-'), with its NAME.onnx.json")
        try:
            json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise EditError(f"{filename}.json is not a Piper voice's JSON: {err}") from err
        folder = self._piper_folder()
        target = folder / filename
        async with self._lock:
            if target.exists():
                raise EditError(f"A Piper voice {filename} is there already: delete it first", 409)
            config.replace(target.with_name(filename + ".json"))
            model.replace(target)
            await self.service.reload_voices()
            added = piper.voices_from(target)
            if not added:
                _remove_piper(target)
                await self.service.reload_voices()
                raise EditError(f"{filename} cannot be loaded as a Piper voice (the server's log says why)", 422)
        return added

    async def delete_piper(self, filename: str) -> None:
        self._piper()
        target = self._piper_folder() / filename
        async with self._lock:
            if not _PIPER_FILE.fullmatch(filename) or not target.is_file():
                raise EditError(f"No Piper voice {filename}", 404)
            _remove_piper(target)
            await self.service.reload_voices()

    def upload_folder(self, piper: bool) -> Path:
        """Where an upload is written while it comes: beside its final place, so that it moves there whole."""
        folder = (self._piper_folder() if piper else self.voices_dir) / PENDING
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _piper(self) -> PiperFiles:
        piper = self._piper_or_none()
        if piper is None:
            raise EditError("Piper is not among this server's engines (--engine, --fallback)", 409)
        return piper

    def _piper_or_none(self) -> PiperFiles | None:
        piper = next((engine for engine in chain_of(self.service.engine) if engine.name == "piper"), None)
        return None if piper is None else cast(PiperFiles, piper)

    def _piper_folder(self) -> Path:
        if self.piper_folder is None:
            raise EditError("This server has no Piper voices folder (--piper-voices)", 409)
        self.piper_folder.mkdir(parents=True, exist_ok=True)
        return self.piper_folder

    def _check_name(self, name: str) -> None:
        if not SPEAKER_NAME.fullmatch(name) or len(name) > MAX_NAME_CHARS:
            raise EditError(f"A voice name is 1 to {MAX_NAME_CHARS} letters, digits, '.', '_' or '-', starting with "
                            "a letter or digit")  # fmt: skip

    def _check_free(self, name: str) -> None:
        taken = {path.stem for path in self.voices_dir.iterdir()} if self.voices_dir.is_dir() else set()
        busy = {job.name for job in self.jobs.values() if job.state == "preparing"}
        if name in taken | busy | set(self.service.catalog.speakers):
            raise EditError(f"There is a voice named {name} already: pick another name, or delete that one", 409)

    def _cloned_speaker(self, name: str) -> Speaker:
        speaker = self.service.catalog.speakers.get(name)
        if speaker is None or not speaker.files:
            raise EditError(f"No cloned voice named {name}", 404)
        return speaker

    def _keep(self, job: Job) -> None:
        self.jobs[job.id] = job
        for old in list(self.jobs)[:-_KEPT_JOBS]:
            if self.jobs[old].state != "preparing":
                del self.jobs[old]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _checked(upload: Path) -> Recording:
    try:
        return check(decode(upload))
    except ValueError as err:  # RecordingError
        raise EditError(str(err), 422) from err


def _store(recording: Recording, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(recording, path)


def _sidecar(languages: list[str], description: str) -> dict:
    """The sidecar's content (raises EditError for an unknown language)."""
    sidecar: dict = {}
    try:
        if codes := [normalize_language(tag) for tag in languages if tag.strip()]:
            sidecar["languages"] = codes
    except UnknownLanguageError as err:
        raise EditError(str(err)) from err
    if description := description.strip()[:200]:
        sidecar["description"] = description
    return sidecar


def _write_json(path: Path, data: dict) -> None:
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


def _remove_piper(model: Path) -> None:
    model.unlink(missing_ok=True)
    model.with_name(model.name + ".json").unlink(missing_ok=True)
