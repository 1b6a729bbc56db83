"""A cloned voice added on the web page with the real XTTS loading and cloning code (a random-weight checkpoint):
its latents are computed before it is advertised, and deleting it takes them from the cache."""

import pytest

from tests.conftest import assert_well_formed, describe, free_port, one_shot, wait_for_figures
from tests.web_client import WebPage, spoken_recording, wait_http

pytestmark = pytest.mark.timeout(400)


async def test_a_recorded_voice_is_ready_when_advertised_and_deleted_with_its_latents(start_server, tiny_xtts,
                                                                                      tmp_path):  # fmt: skip
    http_port, cache = free_port(), tmp_path / "latents"
    server = start_server(
        "--engine", "xtts", "--xtts-model", str(tiny_xtts), "--device", "cpu", "--top-k", "1",
        "--voices-dir", str(tmp_path / "voices"), "--cache-dir", str(cache), "--http-port", str(http_port),
    )  # fmt: skip
    wait_http(http_port, server)
    page = WebPage(server, http_port)
    assert page.get("api/status").json()["clones"] is True
    added = page.add_cloned(spoken_recording(tmp_path / "ana.m4a"), "ana", languages="en de")
    assert added.status_code == 202, added.text
    job = page.wait_job(added.json()["id"], timeout=300)
    assert job["state"] == "ready", job
    assert [path.name.split(".")[0] for path in cache.glob("*/*.pt")] == ["ana"]
    names = {voice.name for voice in (await describe(server.port)).tts[0].voices}
    assert {"en/ana", "de/ana"} <= names
    reply = await one_shot(server.port, "Hello there.", "en/ana", timeout=300)
    assert_well_formed(reply, streaming=False)
    figures = await wait_for_figures(server, voice="en/ana")
    assert figures["engines"] == ["xtts"]
    assert [sentence["voice_from"] for sentence in figures["sentences"]] == ["memory"]  # computed before advertised
    assert page.change("DELETE", "api/cloned/ana").status_code == 200
    assert not list(cache.glob("*/*.pt"))
    assert not (tmp_path / "voices" / "ana.wav").exists()
    names = {voice.name for voice in (await describe(server.port)).tts[0].voices}
    assert "en/ana" not in names
    answer = await one_shot(server.port, "Hello.", "en/ana", timeout=60)
    assert answer.errors and answer.errors[0].code == "voice-not-found"
