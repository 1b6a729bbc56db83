"""The latent cache as users' disks have it: damaged entries, a full disk, one folder for two models."""

import subprocess
import sys

import pytest
import torch

from tests.conftest import ServerProcess, assert_well_formed, one_shot, wait_for_log, write_wav
from tests.tiny_xtts import build_tiny_xtts
from wyoming_streamtts.latents import LatentCache
from wyoming_streamtts.voices import Speaker

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


async def test_damaged_entries_are_recomputed_and_replaced_with_one_warning_each(
    start_server, tiny_xtts, voices, tmp_path
):
    cache = tmp_path / "latents"
    server = start_server(*xtts_args(tiny_xtts, voices, cache))
    await wait_for_log(server, r"Voices warm: 5 computed, 0 loaded")
    server.stop()
    paths = {name: cache / relative for name, relative in entries(cache).items()}
    paths["empty"].write_bytes(b"")
    paths["garbage"].write_bytes(b"\x00not a pickle at all" * 10)
    torch.save({"gpt_cond_latent": "text", "speaker_embedding": 3}, paths["not_tensors"])
    torch.save([torch.zeros(1, 32, 64), torch.zeros(1, 512, 1)], paths["a_list"])
    torch.save(
        {"gpt_cond_latent": torch.zeros(1, 32, 1024), "speaker_embedding": torch.zeros(512)}, paths["wrong_shape"]
    )

    restarted = start_server(*xtts_args(tiny_xtts, voices, cache))
    await wait_for_log(restarted, r"Voices warm: 5 computed, 0 loaded")
    for name in VOICES:  # each voice speaks, and every request after it too
        for _ in range(2):
            assert_well_formed(await one_shot(restarted.port, "Hello.", f"en/{name}", timeout=300), streaming=False)
    log = restarted.log()
    assert log.count("is damaged") == 5
    assert "cannot be cloned" not in log
    restarted.stop()

    again = start_server(*xtts_args(tiny_xtts, voices, cache))  # the entries were replaced by good ones
    await wait_for_log(again, r"Voices warm: 0 computed, 5 loaded")
    assert "is damaged" not in again.log()


async def test_two_models_sharing_a_cache_folder_keep_each_others_entries(start_server, tiny_xtts, voices, tmp_path):
    other = build_tiny_xtts(tmp_path / "other-model", seed=1)
    cache = tmp_path / "latents"

    async def warm(model, expected: str) -> None:
        server = start_server(*xtts_args(model, voices, cache))
        await wait_for_log(server, expected)
        server.stop()

    await warm(tiny_xtts, r"Voices warm: 5 computed, 0 loaded")
    await warm(other, r"Voices warm: 5 computed, 0 loaded")
    assert len(list(cache.glob("*/*.pt"))) == 10 and len(list(cache.iterdir())) == 2  # one folder per model
    await warm(tiny_xtts, r"Voices warm: 0 computed, 5 loaded")  # nothing of the first model was deleted
    await warm(other, r"Voices warm: 0 computed, 5 loaded")


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
        assert log.count("WARNING:wyoming_streamtts.latents:Cannot write latent cache") == 1
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
