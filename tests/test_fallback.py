"""The engine chain through the real server: XTTS missing -> gTTS -> espeak-ng."""

import asyncio

from wyoming.client import AsyncTcpClient
from wyoming.tts import (
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.conftest import assert_well_formed, describe, one_shot, read_reply, rms, wait_for_figures, wait_for_log
from tests.fake_google import FakeGoogle

TEXT = "Good evening. The alarm is armed."


async def test_auto_without_gpu_speaks_with_gtts(start_server):
    google = FakeGoogle()
    try:
        server = start_server("--engine", "auto", env=google.trusted_env)
        assert "Engine xtts unavailable: no GPU" in server.log()
        info = await describe(server.port)
        assert info.tts[0].description.startswith("Streaming TTS with Google")
        assert "falling back to eSpeak NG" in info.tts[0].description
        reply = await one_shot(server.port, TEXT, "en/default")
        assert_well_formed(reply, streaming=False)
        assert len(google.requests) == 2  # Google spoke both sentences
        # The request's log line (written just after its audio-stop) names the engine that spoke.
        await wait_for_figures(server, voice="en/default", language="en", engines=["gtts"])
    finally:
        google.close()


async def test_failing_xtts_load_is_reported_and_gtts_speaks(start_server, tmp_path):
    google = FakeGoogle()
    try:
        server = start_server("--engine", "auto", "--device", "cpu", "--xtts-model", str(tmp_path / "none"),
                              env=google.trusted_env)  # fmt: skip
        assert "Engine xtts unavailable: XTTS model folder" in server.log()
        assert_well_formed(await one_shot(server.port, TEXT, "en/default"), streaming=False)
        assert google.requests
    finally:
        google.close()


async def test_google_down_falls_back_to_espeak_in_the_same_format(start_server):
    google = FakeGoogle(mode="error")
    try:
        server = start_server("--engine", "gtts", env=google.trusted_env)
        reply = await one_shot(server.port, TEXT, "fr/default")
        assert_well_formed(reply, streaming=False)  # one format: HA's stream stays valid
        assert not reply.errors and rms(reply.samples) > 300
        assert "gtts failed before speaking" in server.log()
        assert "falling back to espeak" in server.log()
        # The request's log line names the engine that spoke, not the chain's first.
        await wait_for_figures(server, voice="fr/default", language="fr", engines=["espeak"])
        # Google is not asked again for a while: the next request goes straight to espeak.
        asked = len(google.requests)
        async with AsyncTcpClient("127.0.0.1", server.port) as client:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="de/default")).event())
            await client.write_event(SynthesizeChunk(text="Hallo. Wie geht's?").event())
            await client.write_event(SynthesizeStop().event())
            streamed = await read_reply(client, streaming=True)
        assert_well_formed(streamed, streaming=True)
        assert len(google.requests) == asked
    finally:
        google.close()


async def test_a_firewalled_google_costs_one_request_a_moment_and_is_checked_in_the_background(start_server):
    # A proxy that takes connections and never answers: the first request waited the 10 s read timeout before
    # eSpeak spoke, and every 30 s a request waited again.
    google = FakeGoogle()
    google.silent = True
    try:
        server = start_server("--engine", "gtts", "--fallback", "espeak", "--engine-check-interval", "1",
                              env=google.trusted_env)  # fmt: skip
        first = await one_shot(server.port, "The front door is locked.", "en/default")
        assert_well_formed(first, streaming=False)
        record = await wait_for_figures(server, engines=["espeak"])
        assert record["first_chunk_s"] < 4  # 1.5 s to give up on Google, then eSpeak (10.x s before)
        for _ in range(3):  # checked in the background meanwhile, never on a request's time
            await asyncio.sleep(1.2)
            await one_shot(server.port, "Still locked.", "en/default")
        await wait_for_figures(server, count=4, engines=["espeak"])  # the last line is written after the audio
        records = server.figures(engines=["espeak"])
        assert len(records) == 4 and max(record["first_chunk_s"] for record in records[1:]) < 1
        assert server.log().count("gtts failed before speaking") == 1
        google.silent = False  # the firewall lets it through again
        await wait_for_log(server, "gtts can be reached again", timeout=10)
        assert_well_formed(await one_shot(server.port, "Open now.", "en/default"), streaming=False)
        await wait_for_figures(server, engines=["gtts"])
        assert not [text for text, _ in google.requests if text != "Open now."]  # the checks sent no text
    finally:
        google.close()


async def test_no_network_at_all_still_speaks(start_server):
    # The default engine on a box with no GPU and no internet (all requests refused locally).
    server = start_server()
    reply = await one_shot(server.port, TEXT, "en/default")
    assert_well_formed(reply, streaming=False)
    assert rms(reply.samples) > 300


def test_unknown_fallback_engine_is_a_start_error(start_server):
    server = start_server("--fallback", "xtts,festival", ready=False)
    assert server.process.wait(timeout=60) == 2
    assert "--fallback names unknown engines: festival" in server.log()


# One sentence of about 150 characters: gTTS asks Google for it in two pieces.
LONG_SENTENCE = (
    "The washing machine in the basement has finished its cycle and the laundry can be hung up, "
    "while the dryer still needs another forty minutes to finish"
)


async def test_engine_failing_mid_stream_ends_it_with_an_error_and_the_next_request_is_fine(start_server):
    google = FakeGoogle(fail_after=1)  # the first piece comes, the second fails
    try:
        # One unit of speech failing within (its first clause would be spoken, and fall back, on its own).
        server = start_server("--engine", "gtts", "--first-clause-chars", "0", env=google.trusted_env)
        async with AsyncTcpClient("127.0.0.1", server.port) as client:
            await client.write_event(SynthesizeStart().event())
            await client.write_event(SynthesizeChunk(text=LONG_SENTENCE).event())
            await client.write_event(SynthesizeStop().event())
            streamed = await read_reply(client, streaming=True)
        # Audio had gone out in Google's voice: no switch to espeak mid-sentence, an error instead.
        assert len(google.requests) == 2
        assert streamed.types[:2] == ["audio-start", "audio-chunk"]
        assert [e.code for e in streamed.errors] == ["engine-failed"]
        assert streamed.types[-2:] == ["error", "audio-stop"] and streamed.cut_off  # a failed stream's end
        assert "failed before speaking" not in server.log()

        following = await one_shot(server.port, TEXT, "en/default")
        assert_well_formed(following, streaming=False)  # Google fails from its start now: espeak speaks
        assert "gtts failed before speaking" in server.log()
    finally:
        google.close()
