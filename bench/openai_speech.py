"""`python -m bench.openai_speech`: time to first byte on /v1/audio/speech against a Wyoming client's first audio,
for the same text and voice (Piper's Joe), each format in turn, on one server process at its defaults."""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import requests

from bench.first_audio import timeline
from bench.server import piper_voices
from tests.conftest import ServerProcess, free_port
from tests.web_client import wait_http

TEXT = "The living room lights are on, and the kitchen is at twenty one degrees. The front door is locked."


def first_byte(port: int, response_format: str) -> tuple[float, float]:
    """Seconds to the first body bytes and to the end of an OpenAI speech request."""
    began = time.perf_counter()
    first = None
    body = {"model": "tts-1", "voice": "en/joe", "input": TEXT, "response_format": response_format}
    with requests.post(f"http://127.0.0.1:{port}/v1/audio/speech", json=body, stream=True, timeout=60) as answer:
        for _ in answer.iter_content(chunk_size=None):
            first = first if first is not None else time.perf_counter() - began
    return first or 0.0, time.perf_counter() - began


def run(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        http = free_port()
        args = [
            "--engine",
            "piper",
            "--fallback",
            "none",
            "--piper-voices",
            str(piper_voices()),
            "--http-port",
            str(http),
        ]
        server = ServerProcess(args, None, Path(scratch)).wait_ready()
        try:
            wait_http(http, server)
            first_byte(http, "wav")  # warm-up: the first request loads the phonemizer
            asyncio.run(timeline(server.port, "en/joe", TEXT))
            figures: dict[str, list[float]] = {"wyoming first audio": []}
            for _ in range(runs):
                figures["wyoming first audio"].append(asyncio.run(timeline(server.port, "en/joe", TEXT))[0][0])
                for response_format in ("pcm", "wav", "mp3", "opus", "aac", "flac"):
                    figures.setdefault(f"openai {response_format} first byte", []).append(
                        first_byte(http, response_format)[0]
                    )
        finally:
            server.stop()
    return {name: statistics.median(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    for name, seconds in run(parser.parse_args().runs).items():
        print(f"{name:28} p50 {seconds * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
