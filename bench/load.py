"""Figures for reliability: many clients at once, bad input, a client that stops reading.

The same scenarios as tests/test_load.py and tests/test_robustness.py, timed here
instead of asserted there.
"""

import asyncio
import socket
import statistics
import tempfile
import time
from pathlib import Path

from bench.xtts import checkpoint
from tests.bad_input import BAD_EVENTS, header, send_raw
from tests.conftest import ServerProcess
from tests.load_runner import run_load

SLOW_READER_TEXT = "The quick brown fox jumps over the lazy dog. " * 400  # about 20 minutes of speech


def _server(args: list[str], folder: Path) -> ServerProcess:
    return ServerProcess(args, None, folder).wait_ready(timeout=300)


def under_load(label: str, args: list[str], voice: str | None, folder: Path) -> dict:
    server = _server(args, folder)
    try:
        result = asyncio.run(run_load(server.port, requests=100, clients=20, voice=voice, timeout=600))
        return {"engine": label, **result.summary(), "peak_rss_mb": server.rss_mb()}
    finally:
        server.stop()


def bad_input_answers(folder: Path) -> dict:
    """Seconds from the last byte of each bad event to the server's close."""
    server = _server(["--engine", "espeak"], folder)
    try:
        seconds = {name: send_raw(server.port, raw, timeout=5.0).seconds for name, (raw, _) in BAD_EVENTS.items()}
    finally:
        server.stop()
    return {"cases": len(seconds), "p50_s": statistics.median(seconds.values()), "max_s": max(seconds.values())}


def slow_reader_memory(folder: Path, write_timeout_s: float = 5.0) -> dict:
    """Server RSS while a client asks for 20 minutes of speech and never reads, until it is dropped."""
    server = _server(["--engine", "espeak", "--write-timeout", str(write_timeout_s)], folder)
    try:
        before = peak = server.rss_mb()
        with socket.create_connection(("127.0.0.1", server.port)) as silent:
            silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            silent.sendall(header({"type": "synthesize", "data": {"text": SLOW_READER_TEXT}}))
            deadline = time.monotonic() + write_timeout_s + 30
            while "dropping it" not in server.log() and time.monotonic() < deadline:
                peak = max(peak, server.rss_mb())
                time.sleep(0.1)
        return {"rss_before_mb": before, "rss_peak_mb": peak, "dropped": "dropping it" in server.log()}
    finally:
        server.stop()


def reliability_figures(quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        loads = [under_load("espeak", ["--engine", "espeak"], None, folder)]
        if not quick:
            # Random weights rarely stop: 8 audio tokens (2 chunks of 4) keep 100 requests to a minute or two.
            short = checkpoint(full_size=False, max_audio_tokens=8)
            args = ["--engine", "xtts", "--xtts-model", str(short), "--device", "cpu", "--stream-chunk-size", "4",
                    "--voices-dir", str(folder / "no-voices")]  # fmt: skip
            loads.append(under_load("xtts tiny, 8 tokens (cpu)", args, "en/Ana Florence", folder))
        return {"load": loads, "bad_input": bad_input_answers(folder), "slow_reader": slow_reader_memory(folder)}
