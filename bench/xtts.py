"""XTTS figures: vocoder cost per chunk and the latent cache (client-side figures: bench/server.py).

Random-weight checkpoints of the real architecture (tiny, and full size) are
built into a cache folder and loaded through the product's XttsEngine.
"""

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import torch

from tests.conftest import ServerProcess, process_io, wait_for_log, write_huge_wav, write_wav
from tests.tiny_xtts import build_tiny_xtts
from wyoming_streamtts.chunk_planner import DEFAULT_FIRST_CHUNK_SIZE, DEFAULT_STREAM_CHUNK_SIZE
from wyoming_streamtts.latents import LatentCache
from wyoming_streamtts.voices import Speaker
from wyoming_streamtts.xtts_engine import XttsEngine
from wyoming_streamtts.xtts_stream import WindowedVocoder

CACHE = Path(tempfile.gettempdir()) / "wyoming-streamtts-bench"


def checkpoint(full_size: bool, max_audio_tokens: int) -> Path:
    # "v2config": built with XTTS v2's own config.json values (folders without it have coqui's defaults).
    folder = CACHE / f"xtts-v2config-{'full' if full_size else 'tiny'}-{max_audio_tokens}"
    if not (folder / "model.pth").is_file():
        build_tiny_xtts(folder, full_size=full_size, max_audio_tokens=max_audio_tokens)
    return folder


@torch.inference_mode()
def vocoder_cost(folder: Path, chunks: int = 12, per_chunk: int = 20) -> dict:
    """Seconds of vocoder work per chunk by its position: coqui's re-decode vs the window."""
    from TTS.tts.configs.xtts_config import XttsConfig  # noqa: PLC0415
    from TTS.tts.models.xtts import Xtts  # noqa: PLC0415

    config = XttsConfig()
    config.load_json(str(folder / "config.json"))
    model = Xtts(config)
    model.load_checkpoint(config, checkpoint_dir=str(folder), eval=True)
    torch.manual_seed(0)
    latents = torch.randn(chunks * per_chunk, model.args.gpt_n_model_channels)
    g = torch.nn.functional.normalize(torch.randn(1, 512, 1), dim=1)
    stock, ours = [], []
    prev = overlap = None
    vocoder = WindowedVocoder(model.hifigan_decoder, g)
    for index in range(1, chunks + 1):
        n, final = index * per_chunk, index == chunks
        began = time.perf_counter()
        wav = model.hifigan_decoder(latents[None, :n], g=g).squeeze()
        _, prev, overlap = model.handle_chunks(wav, prev, overlap, 1024, is_final=final)
        stock.append(time.perf_counter() - began)
        began = time.perf_counter()
        vocoder.decode(latents[:n], final=final)
        ours.append(time.perf_counter() - began)
    return {"chunk_tokens": per_chunk, "stock_s": stock, "windowed_s": ours}


def fresh_cache(engine: XttsEngine, cache_dir: Path) -> LatentCache:
    """A cache in `cache_dir` around the engine's own latent computation, on its worker thread."""
    return LatentCache(engine._compute_latents, engine.worker.executor, "bench", cache_dir)  # noqa: SLF001


def latent_cache_figures(folder: Path, runs: int = 3) -> dict:
    """Cold compute vs warm memory vs warm disk for one 10 s reference."""

    async def run() -> dict:
        reference = write_wav(CACHE / "voices" / "cache.wav", 10.0)
        speaker = Speaker("cache", (reference,))
        engine = XttsEngine(folder, "cpu", [], None, DEFAULT_STREAM_CHUNK_SIZE, DEFAULT_FIRST_CHUNK_SIZE)
        cold, memory, disk = [], [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as cache_dir:
                fresh = fresh_cache(engine, Path(cache_dir))
                began = time.perf_counter()
                await fresh.get(speaker)
                cold.append(time.perf_counter() - began)
                began = time.perf_counter()
                await fresh.get(speaker)
                memory.append(time.perf_counter() - began)
                reloaded = fresh_cache(engine, Path(cache_dir))
                began = time.perf_counter()
                await reloaded.get(speaker)
                disk.append(time.perf_counter() - began)
        await engine.close()
        return {
            "cold_compute_s": statistics.median(cold),
            "warm_memory_s": statistics.median(memory),
            "warm_disk_s": statistics.median(disk),
        }

    return asyncio.run(run())


def huge_reference_figures(folder: Path) -> dict:
    """A server warming one voice whose recording is 1 GiB (6.8 hours): bytes read, peak RSS, seconds."""
    voices = CACHE / "huge-voices"
    write_huge_wav(voices / "huge.wav", 40.0, 1 << 30)

    async def warm(server: ServerProcess) -> None:
        await wait_for_log(server, r"Voices warm: 1 computed", timeout=600)

    with tempfile.TemporaryDirectory() as cache_dir:
        args = ["--engine", "xtts", "--fallback", "none", "--xtts-model", str(folder), "--device", "cpu",
                "--voices-dir", str(voices), "--cache-dir", cache_dir]  # fmt: skip
        server = ServerProcess(args, None, Path(cache_dir)).wait_ready(timeout=300)
        try:
            ready, peak_before = time.perf_counter(), process_io(server.process.pid)[1]
            asyncio.run(warm(server))
            seconds = time.perf_counter() - ready
            read, peak = process_io(server.process.pid)
        finally:
            server.stop()
    return {"file_bytes": 1 << 30, "read_bytes": read, "peak_rss_mb": peak / 2**20,
            "peak_rss_before_warm_up_mb": peak_before / 2**20, "warm_up_s": seconds}  # fmt: skip
