"""Load: 100 requests from 20 concurrent clients, one-shot and streaming, on loopback.

Nothing may be lost or malformed; `describe` must stay answered meanwhile (its
latency is printed, and measured by `python -m bench`, not asserted here).
"""

import json

import pytest

from tests.load_runner import run_load

CHUNK = "4"  # GPT tokens per chunk: many small chunks from the tiny model


def report(name: str, result) -> None:
    print(f"\nload {name}: {json.dumps(result.summary())}")


async def test_100_requests_from_20_clients_on_espeak(start_server):
    server = start_server("--engine", "espeak")
    result = await run_load(server.port, requests=100, clients=20)
    report("espeak", result)
    assert result.problems == []
    assert len(result.first_chunk_s) == 100
    assert len(result.describe_s) >= 1
    # espeak-ng is deterministic: the same text gives the same audio, to the byte,
    # however many requests ran beside it and whether it was streamed.
    sizes = {text: set() for text, _ in result.audio_bytes}
    for (text, _), counts in result.audio_bytes.items():
        sizes[text].update(counts)
    assert all(len(counts) == 1 for counts in sizes.values()), sizes


@pytest.fixture(scope="module")
def short_xtts(tmp_path_factory):
    """The tiny XTTS, stopping after 8 audio tokens (2 chunks, 0.34 s): 100 requests stay quick."""
    from tests.tiny_xtts import build_tiny_xtts  # noqa: PLC0415 - needs the [xtts] extra

    return build_tiny_xtts(tmp_path_factory.mktemp("short-xtts"), max_audio_tokens=8)


@pytest.mark.timeout(600)
async def test_100_requests_from_20_clients_on_tiny_xtts(start_server, short_xtts, tmp_path):
    server = start_server(
        "--engine", "xtts", "--xtts-model", str(short_xtts), "--device", "cpu",
        "--voices-dir", str(tmp_path / "no-voices"), "--stream-chunk-size", CHUNK,
    )  # fmt: skip
    result = await run_load(server.port, requests=100, clients=20, voice="en/Ana Florence", timeout=500)
    report("tiny xtts", result)
    assert result.problems == []
    assert len(result.first_chunk_s) == 100
    assert len(result.describe_s) >= 1
