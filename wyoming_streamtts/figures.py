"""What one request cost: filled in as it is spoken, logged once at INFO, and written as
one JSON line to --figures-file for monitoring and benchmarks. Never the request's text."""

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

_LOGGER = logging.getLogger(__name__)


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

    def describe(self, default_engine: str) -> str:
        def ms(seconds: float | None) -> str:
            return "-" if seconds is None else f"{seconds * 1000:.1f} ms"

        return (
            f"voice={self.voice} language={self.language} engine={','.join(self.engines) or default_engine} "
            f"chars={self.chars} first_chunk={ms(self.first_chunk_s)} engine_first={ms(self.engine_first_s)} "
            f"audio={self.audio_s:.2f} s wall={self.wall_s:.2f} s"
        )


class FiguresFile:
    """--figures-file: each request's figures appended as one JSON line, however the request ended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("a", encoding="utf-8"):
            pass  # a path that cannot be written stops the start (OSError), not every request
        # One thread of its own: lines go out in the order requests end, and many requests
        # ending at once do not grow the loop's default pool.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="figures-file")

    async def write(self, figures: RequestFigures) -> None:
        line = json.dumps(asdict(figures), ensure_ascii=False) + "\n"
        try:
            await asyncio.get_running_loop().run_in_executor(self._writer, self._append, line)
        except OSError as err:
            _LOGGER.warning("Cannot write a request's figures to %s: %s", self.path, err)

    def _append(self, line: str) -> None:
        # Opened per line, so that the file can be rotated or removed while the server runs.
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line)
