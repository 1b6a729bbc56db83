"""The latent cache as users' disks have it: damaged entries, a full disk, one folder for two models."""

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import torch

from tests.conftest import ServerProcess, assert_well_formed, messages, one_shot, wait_for_log, write_wav
from tests.tiny_xtts import build_tiny_xtts
from wyoming_streamtts.latents import LatentCache
from wyoming_streamtts.voices import Speaker, find_speakers
from wyoming_streamtts.xtts_engine import XttsEngine

VOICES = ("empty", "garbage", "not_tensors", "a_list", "wrong_shape")


@pytest.fixture
def voices(tmp_path):
    folder = tmp_path / "voices"
    for number, name in enumerate(VOICES):
        write_wav(folder / f"{name}.wav", 3.0, pitch=120 + 20 * number)
    return folder


def xtts_args(model, voices, cache) -> list[str]:
    return ["--engine", "xtts", "--fallback", "none", "--xtts-model", str(model), "--device", "cpu",
            "--voices-dir", str(voices), "--cache-dir", str(cache), "--stream-chunk-size", "8"]  # fmt: skip


def entries(cache) -> dict[str, str]:
    return {path.name.split(".")[0]: str(path.relative_to(cache)) for path in cache.glob("*/*.pt")}


@asynccontextmanager
async def warmed(model, voices, cache) -> AsyncIterator[XttsEngine]:
    """The XTTS engine as the server builds it, with every cloned voice warmed: its cache counts what it did."""
    speakers = find_speakers(voices)
    engine = XttsEngine(model, "cpu", speakers, cache, stream_chunk_size=8, first_chunk_size=0)
    try:
        await engine.latents.warm_up(speakers)
        yield engine
    finally:
        await engine.close()


async def speaks(engine: XttsEngine, speaker: str) -> bool:
    audio = [chunk async for chunk in engine.synthesize("Hello.", "en", speaker)]
    return sum(len(chunk.audio) for chunk in audio) > 0


async def test_damaged_entries_are_recomputed_and_replaced_with_one_warning_each(tiny_xtts, voices, tmp_path, caplog):
    cache = tmp_path / "latents"
    async with warmed(tiny_xtts, voices, cache) as engine:
        assert (engine.latents.computed, engine.latents.loaded) == (5, 0)
    paths = {name: cache / relative for name, relative in entries(cache).items()}
    paths["empty"].write_bytes(b"")
    paths["garbage"].write_bytes(b"\x00not a pickle at all" * 10)
    torch.save({"gpt_cond_latent": "text", "speaker_embedding": 3}, paths["not_tensors"])
    torch.save([torch.zeros(1, 32, 64), torch.zeros(1, 512, 1)], paths["a_list"])
    torch.save(
        {"gpt_cond_latent": torch.zeros(1, 32, 1024), "speaker_embedding": torch.zeros(512)}, paths["wrong_shape"]
    )

    caplog.clear()
    async with warmed(tiny_xtts, voices, cache) as restarted:
        assert (restarted.latents.computed, restarted.latents.loaded) == (5, 0)
        for name in VOICES:  # each voice speaks, and every request after it too
            assert await speaks(restarted, name) and await speaks(restarted, name)
        assert restarted.latents.computed == 5  # kept in memory
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert sum("is damaged" in text for text in warnings) == 5
    assert "cannot be cloned" not in caplog.text

    caplog.clear()
    async with warmed(tiny_xtts, voices, cache) as again:  # the entries were replaced by good ones
        assert (again.latents.computed, again.latents.loaded) == (0, 5)
    assert "is damaged" not in caplog.text


async def test_two_models_sharing_a_cache_folder_keep_each_others_entries(tiny_xtts, voices, tmp_path):
    other = build_tiny_xtts(tmp_path / "other-model", seed=1)
    cache = tmp_path / "latents"

    async def counts(model) -> tuple[int, int]:
        async with warmed(model, voices, cache) as engine:
            return engine.latents.computed, engine.latents.loaded

    assert await counts(tiny_xtts) == (5, 0)
    assert await counts(other) == (5, 0)
    assert len(list(cache.glob("*/*.pt"))) == 10 and len(list(cache.iterdir())) == 2  # one folder per model
    assert await counts(tiny_xtts) == (0, 5)  # nothing of the first model was deleted
    assert await counts(other) == (0, 5)


async def test_a_full_disk_keeps_latents_in_memory_with_one_warning(voices, tiny_xtts, tmp_path):
    # The cache folder is a 4 KiB tmpfs in the server's own mount namespace: every save fails with ENOSPC.
    cache = tmp_path / "latents"
    cache.mkdir()
    mount = f"mount -t tmpfs -o size=4k tmpfs {cache}"
    assert subprocess.run(["unshare", "-m", "sh", "-c", mount], check=False).returncode == 0, "needs root for a tmpfs"
    program = ("unshare", "-m", "sh", "-c", f'{mount} && exec "$0" -m wyoming_streamtts "$@"', sys.executable)
    server = ServerProcess([*xtts_args(tiny_xtts, voices, cache), "--debug"], None, tmp_path, program=program)
    try:
        server.wait_ready()
        await wait_for_log(server, r"Voices warm: 5 computed, 0 loaded")
        for name in VOICES:
            for _ in range(2):
                assert_well_formed(await one_shot(server.port, "Hello.", f"en/{name}", timeout=300), streaming=False)
            assert server.log().count(f"Latents of voice {name} computed") == 1  # kept in memory
        log = server.log()
        assert sum(text.startswith("Cannot write latent cache") for text in messages(log, "WARNING")) == 1
        assert "bytes free there" in log
    finally:
        server.stop()


def test_entries_are_keyed_by_the_cloning_settings_too(tmp_path):
    # Latents computed with other settings (coqui's 6 s defaults before the model's own) are not these.
    speaker = Speaker("ana", (write_wav(tmp_path / "ana.wav", 3.0),))
    keys = {
        settings: LatentCache(lambda _files: None, None, "model", tmp_path, settings=settings).key(speaker)
        for settings in (
            "Conditioning(max_ref_len=30, gpt_cond_len=30)",
            "Conditioning(max_ref_len=30, gpt_cond_len=6)",
        )
    }
    assert len(set(keys.values())) == 2


@pytest.mark.parametrize("vocoder", ["onnx", "torch"])
async def test_a_cache_folder_the_service_cannot_enter_keeps_latents_in_memory(voices, tiny_xtts, tmp_path, vocoder):
    # As systemd's ProtectHome=yes leaves /root, or another user's folder: the server runs as root without the
    # capabilities that let root into any folder. Start ended in a PermissionError traceback (onnx), or every
    # cloned voice failed (torch).
    cache = tmp_path / "latents"
    cache.mkdir(mode=0)
    program = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "wyoming_streamtts")
    args = [*xtts_args(tiny_xtts, voices, cache), "--xtts-vocoder", vocoder]
    server = ServerProcess(args, None, tmp_path, program=program)
    try:
        server.wait_ready()
        for name in VOICES[:2]:
            reply = await one_shot(server.port, "Hello.", f"en/{name}", timeout=300)
            assert_well_formed(reply, streaming=False)
            assert not reply.errors and reply.seconds > 0
        warnings = messages(server.log(), "WARNING")
        assert [m for m in warnings if str(cache) in m] == [next(m for m in warnings if "Cannot enter" in m)]
        assert "permission denied" in server.log().lower() and "Traceback" not in server.log()
    finally:
        server.stop()
        cache.chmod(0o755)


async def test_a_server_the_suite_starts_keeps_its_files_out_of_the_users_home(
    start_server, voices, tiny_xtts, tmp_path
):
    # Every test and benchmark server wrote ~/.local/share/wyoming-streamtts/latents/…/vocoder.onnx (58 MB at full
    # size) into the home of whoever ran the suite.
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_DATA_HOME": ""}
    server = start_server("--engine", "xtts", "--fallback", "none", "--xtts-model", str(tiny_xtts), "--device", "cpu",
                          "--voices-dir", str(voices), env=env)  # fmt: skip
    assert_well_formed(await one_shot(server.port, "Hello.", f"en/{VOICES[0]}", timeout=300), streaming=False)
    assert not list(home.rglob("*"))
    own = tmp_path / f"server-{server.port}.data"
    assert list(own.glob("latents/*/vocoder.onnx")) and list(own.glob(f"latents/*/{VOICES[0]}.*.pt"))
