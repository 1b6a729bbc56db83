"""The real server process with the offline espeak-ng engine, spoken to over TCP."""

import asyncio

import pytest
from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.conftest import (
    assert_well_formed,
    describe,
    one_shot,
    read_reply,
    rms,
    stream_request,
    wait_for_figures,
    wait_for_log,
    write_wav,
)

SENTENCES = [
    "The kitchen lights are now on.",
    "It is 3.5 degrees outside, so take a coat!",
    "Dr. Smith arrives at noon",
]
TEXT = " ".join(SENTENCES)


@pytest.fixture
def server(start_server, tmp_path):
    voices = tmp_path / "voices"
    write_wav(voices / "ana.wav", 8.0)  # a cloned voice: espeak speaks it in its own voice
    return start_server("--engine", "espeak", "--voices-dir", str(voices))


async def test_describe_lists_one_streaming_program_with_voice_per_language(server):
    info = await describe(server.port)
    assert len(info.tts) == 1
    program = info.tts[0]
    assert program.installed and program.supports_synthesize_streaming
    assert program.attribution.name and program.version
    names = {voice.name for voice in program.voices}
    assert {"en/default", "fr/default", "zh-cn/default", "en/ana", "de/ana", "sv/default", "uk/default"} <= names
    # The default voice in every espeak-ng language; the cloned voice in XTTS's 17.
    assert len({name for name in names if name.endswith("/default")}) > 90
    assert len({name for name in names if name.endswith("/ana")}) == 17
    for voice in program.voices:
        # The language is in the name, since Home Assistant never sends one.
        assert voice.languages == [voice.name.split("/")[0]]
        assert voice.description


async def test_one_shot_synthesize_streams_audible_speech(server):
    reply = await one_shot(server.port, TEXT, "en/default")
    assert_well_formed(reply, streaming=False)
    assert all(chunk.samples == 1024 for chunk in reply.chunks[:-1])
    assert 1 <= reply.chunks[-1].samples <= 1024
    assert rms(reply.samples) > 300  # speech, not silence
    # espeak speaks about 12-18 characters a second; allow a wide band.
    assert len(TEXT) / 40 < reply.seconds < len(TEXT) / 5


async def test_each_language_voice_speaks(server):
    for voice, text in [("fr/default", "Bonjour à tous."), ("zh-cn/default", "你好。今天很好。")]:
        reply = await one_shot(server.port, text, voice)
        assert_well_formed(reply, streaming=False)
        assert rms(reply.samples) > 300


async def test_longer_text_gives_longer_audio(server):
    short = await one_shot(server.port, SENTENCES[0])
    long = await one_shot(server.port, TEXT)
    assert long.seconds > 2 * short.seconds


async def test_streaming_deltas_cut_mid_word_speak_every_sentence(server):
    # Home Assistant repeats the whole text for old servers; it must not be spoken twice.
    reply = await stream_request(server.port, TEXT, "en/ana", piece=7)
    assert_well_formed(reply, streaming=True)
    one = await one_shot(server.port, TEXT, "en/ana")
    # Same sentences, same engine: the same amount of audio (not twice as much).
    assert abs(reply.seconds - one.seconds) < 0.2


async def test_streaming_speaks_a_sentence_as_soon_as_it_is_complete(server):
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text="First sentence is here. Sec").event())
        # No synthesize-stop yet: audio for the first sentence must arrive anyway.
        event = await asyncio.wait_for(client.read_event(), 30)
        assert event.type == "audio-start"
        event = await asyncio.wait_for(client.read_event(), 30)
        assert AudioChunk.is_type(event.type)
        await client.write_event(SynthesizeChunk(text="ond one.").event())
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client, streaming=True)
    assert reply.types[-2:] == ["audio-stop", "synthesize-stopped"]


LLM_START = "Good evening, the living room is at twenty one degrees, and the hea"


async def test_streaming_speaks_a_long_first_sentence_from_its_first_clause(server):
    # An LLM is still writing its first sentence; the clause it has finished is spoken already.
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="en/ana")).event())
        for start in range(0, len(LLM_START), 7):
            await client.write_event(SynthesizeChunk(text=LLM_START[start : start + 7]).event())
        assert (await asyncio.wait_for(client.read_event(), 30)).type == "audio-start"
        assert AudioChunk.is_type((await asyncio.wait_for(client.read_event(), 30)).type)
        await client.write_event(SynthesizeChunk(text="ting is off. Bye now.").event())
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client, streaming=True)
    assert reply.types[-2:] == ["audio-stop", "synthesize-stopped"]
    assert not reply.errors


async def test_first_clause_rule_can_be_turned_off(start_server):
    server = start_server("--engine", "espeak", "--first-clause-chars", "0")
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text=LLM_START).event())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.read_event(), 3)  # the sentence is not complete
        await client.write_event(SynthesizeChunk(text="ting is off.").event())
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client, streaming=True)
    assert_well_formed(reply, streaming=True)


async def test_describe_is_answered_while_a_long_synthesis_is_in_flight(server):
    long_text = " ".join(SENTENCES * 60)
    async with AsyncTcpClient("127.0.0.1", server.port) as busy:
        await busy.write_event(Synthesize(text=long_text).event())
        first = await asyncio.wait_for(busy.read_event(), 30)
        assert first.type == "audio-start"
        # The busy client is not reading: its synthesis is still in flight.
        info = await asyncio.wait_for(describe(server.port), 5)
        assert info.tts[0].voices
        reply = await read_reply(busy, streaming=False)
    assert reply.types[-1] == "audio-stop"
    assert reply.seconds > 60


async def test_unknown_voice_gives_error_and_server_keeps_serving(server):
    reply = await one_shot(server.port, "Hello.", "xx/nobody")
    assert [e.code for e in reply.errors] == ["voice-not-found"]
    assert "xx/nobody" in reply.errors[0].text
    assert "audio-chunk" not in reply.types
    assert_well_formed(await one_shot(server.port, "Still here."), streaming=False)


@pytest.mark.parametrize("text", ["", "   \n ", "...!?"])
async def test_empty_text_gives_error(server, text):
    reply = await one_shot(server.port, text)
    assert [e.code for e in reply.errors] == ["empty-text"]
    assert "audio-chunk" not in reply.types


async def test_unknown_voice_in_streaming_ends_the_stream(server):
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="en/nobody")).event())
        await client.write_event(SynthesizeChunk(text="Hello there.").event())
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client, streaming=True)
    assert reply.types == ["error"] and reply.cut_off  # see test_home_assistant_failures


async def test_language_only_request_uses_that_language(server):
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(Synthesize(text="Hallo.", voice=SynthesizeVoice(language="de-DE")).event())
        reply = await read_reply(client, streaming=False)
    assert_well_formed(reply, streaming=False)
    await wait_for_figures(server, language="de", chars=6)


async def test_no_streaming_flag(start_server):
    server = start_server("--no-streaming", "--language", "en")
    info = await describe(server.port)
    assert not info.tts[0].supports_synthesize_streaming
    assert [v.name for v in info.tts[0].voices] == ["en/default"]
    assert_well_formed(await one_shot(server.port, "One shot still works."), streaming=False)


async def test_a_new_request_on_the_connection_cuts_the_running_one_short(server):
    long_text = " ".join(SENTENCES * 60)  # minutes of speech
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(Synthesize(text=long_text).event())
        assert (await asyncio.wait_for(client.read_event(), 30)).type == "audio-start"
        await client.write_event(Synthesize(text="Never mind.").event())
        cut = await read_reply(client, streaming=False)
        second = await read_reply(client, streaming=False)
    assert cut.types[-1] == "audio-stop" and "error" not in cut.types
    assert cut.seconds < 30  # not played on to its end
    assert_well_formed(second, streaming=False)
    await wait_for_figures(server, language="en", engines=["espeak"], chars=11)
    assert [record["outcome"] for record in server.figures()] == ["replaced", "finished"]


async def test_name_titles_the_program(start_server):
    kitchen = start_server("--engine", "espeak", "--name", "kitchen")
    unnamed = start_server("--engine", "espeak")
    assert (await describe(kitchen.port)).tts[0].name == "kitchen"
    assert (await describe(unnamed.port)).tts[0].name == "streamtts"


async def test_debug_logs_every_event_in_and_out_without_audio(start_server):
    server = start_server("--engine", "espeak", "--debug")
    await describe(server.port)
    reply = await stream_request(server.port, "Hello there. Bye.", "en/default", piece=7)
    assert_well_formed(reply, streaming=True)
    await wait_for_log(server, "Event out: synthesize-stopped", timeout=10)
    log = server.log()
    for line in ("Event in: describe", "Event out: info data=", "Event in: synthesize-start data=",
                 "Event in: synthesize-chunk data=19 bytes text='Hello t'", "Event in: synthesize data=",
                 "Event in: synthesize-stop", "Event out: audio-start data=",
                 "Event out: audio-chunk data=", "Event out: audio-stop"):  # fmt: skip
        assert line in log, line
    chunk_lines = [line for line in log.splitlines() if "Event out: audio-chunk" in line]
    assert len(chunk_lines) == len(reply.chunks)
    assert all(
        line.endswith(f"payload={len(chunk.audio)} bytes")
        for line, chunk in zip(chunk_lines, reply.chunks, strict=True)
    )


async def test_a_request_naming_no_voice_is_spoken_in_the_language_of_its_text(server):
    # An automation's tts.speak with `language: de` and no voice reaches the server with neither.
    reply = await stream_request(server.port, "Die Waschmaschine ist fertig. Bitte die Wäsche aufhängen.", None, 7)
    assert_well_formed(reply, streaming=True)
    await wait_for_figures(server, voice="de/ana", language="de", engines=["espeak"])
    assert_well_formed(await one_shot(server.port, "Le dîner est prêt, venez manger."), streaming=False)
    await wait_for_figures(server, voice="fr/ana", language="fr", engines=["espeak"])
    # A voice named is a voice obeyed, whatever the text's language.
    assert_well_formed(await one_shot(server.port, "Die Waschmaschine ist fertig.", "en/default"), streaming=False)
    await wait_for_figures(server, voice="en/default", language="en", engines=["espeak"])
