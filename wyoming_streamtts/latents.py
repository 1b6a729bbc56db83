"""XTTS conditioning latents per cloned voice: computed once, kept in memory and on disk.

A voice's latents are keyed by a hash of its reference audio and of the model,
so a restart loads them from disk, and an edited recording (or another model)
recomputes exactly that voice. Each model has its own folder in the cache, so
servers with different models can share one `--cache-dir`.
"""

import asyncio
import hashlib
import logging
import re
import shutil
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import torch

from .voices import Speaker

_LOGGER = logging.getLogger(__name__)

Latents = tuple[torch.Tensor, torch.Tensor]  # (gpt_cond_latent, speaker_embedding)


class LatentCache:
    """Memory, then disk, then compute; each voice at most once at a time."""

    def __init__(
        self,
        compute: Callable[[list[Path]], Latents],
        executor: Executor,
        model_fingerprint: str,
        cache_dir: Path | None,
        usable: Callable[[Latents], bool] = lambda _latents: True,
        settings: str = "",
    ) -> None:
        """`usable` says whether latents have shapes that fit the model; `settings` how they are
        computed (other settings, other latents)."""
        self._compute = compute
        self._executor = executor
        self._model_fingerprint = model_fingerprint
        # Only this model's entries live (and go stale) here: another model's server may share cache_dir.
        self.folder = None if cache_dir is None else _enterable(cache_dir / model_fingerprint[:16])
        self._usable = usable
        self._settings = settings
        self._unwritable_reported = False
        self._tasks: dict[str, asyncio.Future[tuple[Latents, str]]] = {}
        self.computed = 0
        self.loaded = 0

    async def get(self, speaker: Speaker) -> tuple[Latents, str]:
        """The voice's latents, and where they came from for this call: memory, disk or computed. Waits only
        for this voice if they are not ready."""
        task = self._tasks.get(speaker.name)
        ready = task is not None and task.done() and task.exception() is None
        if task is None or (task.done() and task.exception() is not None):
            loop = asyncio.get_running_loop()
            task = asyncio.ensure_future(loop.run_in_executor(self._executor, self._load_or_compute, speaker))
            self._tasks[speaker.name] = task
        latents, source = await asyncio.shield(task)
        return latents, "memory" if ready else source

    async def warm_up(self, speakers: list[Speaker]) -> None:
        """Prepare every voice in turn, so first requests need not wait.

        One voice at a time: a request for a cold voice queues behind at most one.
        """
        for speaker in speakers:
            try:
                await self.get(speaker)
            except Exception as err:  # noqa: BLE001 - one bad recording must not stop the rest
                _LOGGER.error("Voice %s cannot be cloned: %s", speaker.name, err)
        _LOGGER.info("Voices warm: %d computed, %d loaded from disk", self.computed, self.loaded)

    def forget(self, name: str) -> None:
        """Drop a voice's latents (deleted, renamed or recorded again): from memory, and its entries on disk."""
        task = self._tasks.pop(name, None)
        if task is not None and not task.done():
            task.cancel()
        if self.folder is not None:
            for entry in _entries_of(self.folder, name):
                entry.unlink(missing_ok=True)

    def key(self, speaker: Speaker) -> str:
        digest = hashlib.sha256(self._model_fingerprint.encode())
        digest.update(self._settings.encode())
        for path in speaker.files:
            digest.update(path.name.encode())
            with path.open("rb") as handle:  # by blocks: a recording may be larger than memory
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        return digest.hexdigest()[:24]

    def _load_or_compute(self, speaker: Speaker) -> tuple[Latents, str]:
        path = None
        if self.folder is not None:
            path = self.folder / f"{speaker.name}.{self.key(speaker)}.pt"
            if path.is_file():
                saved = self._load(path)
                if saved is not None:
                    self.loaded += 1
                    _LOGGER.debug("Latents of voice %s loaded from %s", speaker.name, path)
                    return saved, "disk"
        latents = self._compute(list(speaker.files))
        self.computed += 1
        _LOGGER.debug("Latents of voice %s computed (%d computed since start)", speaker.name, self.computed)
        if path is not None:
            self._save(path, speaker.name, latents)
        return latents, "computed"

    def _load(self, path: Path) -> Latents | None:
        """The entry's latents, or None (with a WARNING) when it is damaged: it is then recomputed and replaced."""
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            latents = (saved["gpt_cond_latent"], saved["speaker_embedding"])
            if all(isinstance(tensor, torch.Tensor) for tensor in latents) and self._usable(latents):
                return latents
            problem = "its tensors do not fit this model"
        except Exception as err:  # noqa: BLE001 - empty, truncated, garbage, not a dict: all damaged
            problem = f"{type(err).__name__}: {err}"
        _LOGGER.warning("Latent cache %s is damaged (%s); recomputing it", path, problem)
        return None

    def _save(self, path: Path, name: str, latents: Latents) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".tmp")
            torch.save({"gpt_cond_latent": latents[0].cpu(), "speaker_embedding": latents[1].cpu()}, partial)
            partial.replace(path)
            # Older entries of this voice belong to recordings or models no longer there.
            for stale in _entries_of(path.parent, name):
                if stale != path:
                    stale.unlink(missing_ok=True)
        except (OSError, RuntimeError) as err:  # torch.save reports a full disk as RuntimeError
            path.with_suffix(".tmp").unlink(missing_ok=True)
            # The voice is served from memory all the same; a full disk is said once, not per voice.
            level = logging.DEBUG if self._unwritable_reported else logging.WARNING
            self._unwritable_reported = True
            _LOGGER.log(
                level, "Cannot write latent cache %s (%s%s); voices stay cached in memory only", path, err, _free(path)
            )


def _entries_of(folder: Path, name: str) -> list[Path]:
    """The cache entries of one voice, whatever its recordings were."""
    own = re.compile(re.escape(name) + r"\.[0-9a-f]{24}\.pt")
    return [entry for entry in folder.glob("*.pt") if own.fullmatch(entry.name)]


def _enterable(folder: Path) -> Path | None:
    """The folder, or None (with one WARNING) when this user may not enter it or a folder above it
    (systemd's ProtectHome, another user's folder): its voices are then kept in memory only."""
    try:
        (folder / "entry").exists()  # a stat inside it: fails where the folder is there but closed
    except OSError as err:
        _LOGGER.warning(
            "Cannot enter the cache folder %s (%s); XTTS keeps voices' latents (and its vocoder export) in "
            "memory only: give the service's user access to it, or pass --cache-dir",
            folder, err.strerror or err,
        )  # fmt: skip
        return None
    return folder


def _free(path: Path) -> str:
    """How much room is left where `path` goes: torch.save says only "unexpected pos" on a full disk."""
    try:
        return f"; {shutil.disk_usage(path.parent).free} bytes free there"
    except OSError:
        return ""
