"""What one request cost: filled in as it is spoken, logged once at INFO, and written as
one JSON line to --figures-file for monitoring and benchmarks. Never the request's text."""

import asyncio
import errno
import json
import logging
import os
import queue
import stat
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .echo import counted

_LOGGER = logging.getLogger(__name__)

MAX_WAITING_LINES = 1000
"""Lines held while the file takes none (a pipe nobody reads, a hung mount): memory stays bounded."""

CLOSE_TIMEOUT_S = 2.0
"""How long the server's stop waits for the lines still held: a file that takes none must not hold the exit
(with the grace period and the closing events' 2 s, the stop stays inside Docker's 10 s)."""


@dataclass
class SentenceFigures:
    """One spoken sentence of a request (never its text); times are from the request's start."""

    chars: int  # as it came, before translation
    translation: str = ""  # translated, cached, same language, no words, not in NLLB, came out empty; "" without one
    voice_from: str = ""  # XTTS: studio, or a cloned voice's latents from memory, disk or computed now
    ready_s: float = 0.0  # ready for the engine (translated)
    first_s: float = 0.0  # its first audio
    done_s: float = 0.0  # its last audio
    chunks: list[int] = field(default_factory=list)  # samples of each chunk the engine made of it


@dataclass
class RequestFigures:
    voice: str
    language: str
    outcome: str = ""  # how the request ended: finished, failed, replaced, client gone, server stopping
    chars: int = 0
    first_chunk_s: float | None = None  # from the request to its first audio chunk
    engine_first_s: float | None = None  # the engine's own share of that
    audio_s: float = 0.0
    wall_s: float = 0.0
    engines: list[str] = field(default_factory=list)  # in the order they spoke (more than one after a fallback)
    engine_chunks: list[int] = field(default_factory=list)  # samples of each chunk the engine made
    started_at: float = field(default_factory=time.time)  # wall-clock seconds (epoch) when the request came
    sentences: list[SentenceFigures] = field(default_factory=list)  # those that were spoken, in order

    def describe(self) -> str:
        def ms(seconds: float | None) -> str:
            return "-" if seconds is None else f"{seconds * 1000:.1f} ms"

        return (
            f"voice={self.voice} language={self.language} engine={','.join(self.engines) or '-'} "
            f"chars={self.chars} first_chunk={ms(self.first_chunk_s)} engine_first={ms(self.engine_first_s)} "
            f"audio={self.audio_s:.2f} s wall={self.wall_s:.2f} s"
        )


class FiguresFile:
    """--figures-file: each request's figures appended as one JSON line, however the request ended.

    A request hands its line over and goes on: the lines are written, in the order
    requests end, by one daemon thread of its own, so a file that blocks (a pipe whose
    reader is slow or not there yet, a hung network mount) holds neither a request's end
    nor the server's stop.
    """

    def __init__(self, path: Path, max_waiting: int = MAX_WAITING_LINES) -> None:
        self.path = path
        check_writable(path)
        self._max_waiting = max_waiting
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._dropping = False
        self._writer = threading.Thread(target=self._write_lines, name="figures-file", daemon=True)
        self._writer.start()

    def record(self, figures: RequestFigures) -> None:
        """Queue one request's line (from the event loop; never waits for the file)."""
        if self._lines.qsize() >= self._max_waiting:
            if not self._dropping:
                _LOGGER.warning(
                    "%s has taken no line for a while (%d wait): dropping requests' figures until it does",
                    self.path, self._max_waiting,
                )  # fmt: skip
            self._dropping = True  # until the writer has written a line again: one warning per stall
            return
        self._lines.put(json.dumps(asdict(figures), ensure_ascii=False) + "\n")

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Write the lines still held, waiting at most `timeout_s`; those left are reported and dropped."""
        self._lines.put(None)
        await asyncio.to_thread(self._writer.join, timeout_s)
        if self._writer.is_alive():
            # Held: the queue less its end marker, plus the line the writer is stuck on.
            _LOGGER.warning(
                "%s took no line for %g s: the figures of %s were not written",
                self.path, timeout_s, counted(self._lines.qsize(), "request"),
            )  # fmt: skip

    def _write_lines(self) -> None:
        while (line := self._lines.get()) is not None:
            try:
                # Opened per line, so that the file can be rotated or removed while the server runs.
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(line)
                self._dropping = False
            except OSError as err:
                _LOGGER.warning("Cannot write a request's figures to %s: %s", self.path, err)


def check_writable(path: Path) -> None:
    """Raise OSError for a path that cannot be appended to; never wait for a pipe's reader."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o666))
    except OSError as err:
        # A named pipe with no reader yet: its lines wait for one.
        if err.errno != errno.ENXIO or not stat.S_ISFIFO(path.stat().st_mode):
            raise
