"""Bad input and bad clients against the real server: an answer or a clean close, never a hang."""

import asyncio
import socket

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import async_read_event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.bad_input import BAD_EVENTS, header, send_raw
from tests.conftest import (
    ServerProcess,
    assert_well_formed,
    describe,
    espeak_children,
    messages,
    one_shot,
    read_reply,
    threads,
    wait_for_figures,
    wait_for_log,
)

SENTENCE = "The quick brown fox jumps over the lazy dog. "
HANG_S = 5.0  # an answer later than this is a hang (HA itself waits 1 s for describe)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(["--engine", "espeak", "--read-timeout", "0.5"], None, tmp_path_factory.mktemp("srv"))
    yield process.wait_ready()
    process.stop()


async def assert_still_serving(port: int) -> None:
    await describe(port, timeout=HANG_S)
    assert_well_formed(await one_shot(port, "Still here.", timeout=HANG_S), streaming=False)


@pytest.mark.parametrize("name", BAD_EVENTS)
async def test_bad_event_gets_an_error_then_a_close(server, name):
    raw, code = BAD_EVENTS[name]
    reply = await asyncio.to_thread(send_raw, server.port, raw, HANG_S)
    assert reply.closed, f"no close within {HANG_S} s"
    assert reply.codes == [code]
    assert [e.type for e in reply.events] == ["error"]
    await assert_still_serving(server.port)
    assert "Traceback" not in server.log()


async def test_header_line_over_the_limit_is_refused_without_reading_it_all(start_server):
    server = start_server("--engine", "espeak", "--max-event-bytes", "4096")
    before = server.rss_mb()
    endless = b'{"type": "synthesize", "data": {"text": "' + b"a" * 50_000_000  # 50 MB, no end of line
    reply = await asyncio.to_thread(send_raw, server.port, endless, HANG_S)
    assert reply.closed
    assert reply.codes == ["event-too-large"]
    assert "limit of 4096 bytes" in reply.events[0].data["text"]
    assert server.rss_mb() - before < 20
    await assert_still_serving(server.port)


async def test_an_event_left_unfinished_times_out(server):
    # The header promises 1000 bytes of data; 10 come and the client waits.
    raw = header({"type": "synthesize"}, data_length=1000) + b'{"text": "'
    reply = await asyncio.to_thread(send_raw, server.port, raw, HANG_S)
    assert reply.closed and reply.codes == ["read-timeout"]
    assert "not completed within 0.5 s" in reply.events[0].data["text"]


async def test_an_event_cut_off_by_the_client_closing_is_a_clean_close(server):
    raw = header({"type": "synthesize"}, data_length=1000) + b'{"text": "'
    reply = await asyncio.to_thread(send_raw, server.port, raw, HANG_S, half_close=True)
    assert reply.closed
    assert "audio-chunk" not in [e.type for e in reply.events]
    await assert_still_serving(server.port)


async def test_unknown_event_types_are_ignored(server):
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        writer = client._writer  # noqa: SLF001 - raw bytes, as a newer client would send them
        writer.write(header({"type": "future-feature", "data": {"x": 1}}, payload=b"\x00\x01"))
        writer.write(header({"type": "ping"}))
        await client.write_event(Describe().event())
        event = await asyncio.wait_for(client.read_event(), HANG_S)
    assert Info.is_type(event.type)  # the first answer is the describe's: nothing else was said


async def test_control_characters_are_not_spoken(server):
    clean = await one_shot(server.port, "Turn the lights on. Then off.", timeout=HANG_S)
    noisy = await one_shot(server.port, "Turn\x00 the lig\x07hts on.\x1b Then\x0b of\x7ff.\x00", timeout=HANG_S)
    assert_well_formed(noisy, streaming=False)
    # NUL would have cut espeak short; the others would be read out or cut words.
    assert noisy.seconds == pytest.approx(clean.seconds, abs=0.05)


@pytest.mark.parametrize(
    ("voice", "message"),
    [("tlh/default", "Language 'tlh' is not supported"), ("en/nobody", "not found")],
)
async def test_unsupported_language_or_speaker_gets_an_error(server, voice, message):
    reply = await one_shot(server.port, "Hello.", voice, timeout=HANG_S)
    assert [e.code for e in reply.errors] == ["voice-not-found"]
    assert message in reply.errors[0].text


@pytest.mark.parametrize(
    ("voice", "says"),
    [
        ("en/defualt", "Voice 'en/defualt' not found; the closest: en/default"),
        ("xx/default", "Voice 'xx/default' not found: Language 'xx' is not supported; this server speaks"),
        (
            "en/nobody",
            "Voice 'en/nobody' not found; voices are LANGUAGE/SPEAKER, such as en/default (describe lists all",
        ),
    ],
)
async def test_an_unknown_voice_is_named_with_the_voices_meant(server, voice, says):
    # It listed 108 language codes and every speaker: one 670-character ERROR line in Home Assistant's log.
    reply = await one_shot(server.port, "Hello.", voice, timeout=HANG_S)
    [error] = reply.errors
    assert error.code == "voice-not-found" and error.text.startswith(says) and len(error.text) < 160


async def test_language_only_request_in_an_unsupported_language(server):
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(Synthesize(text="Hello.", voice=SynthesizeVoice(language="tlh")).event())
        reply = await read_reply(client, streaming=False, timeout=HANG_S)
    assert [e.code for e in reply.errors] == ["voice-not-found"]
    assert "'tlh' is not supported" in reply.errors[0].text


async def test_chunk_and_stop_without_start_get_errors_and_the_connection_serves_on(server):
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeChunk(text="Orphan text.").event())
        await client.write_event(SynthesizeStop().event())
        errors = [await asyncio.wait_for(client.read_event(), HANG_S) for _ in range(2)]
        assert [e.data["code"] for e in errors] == ["no-stream", "no-stream"]
        await client.write_event(Synthesize(text="This one is fine.").event())
        assert_well_formed(await read_reply(client, streaming=False, timeout=HANG_S), streaming=False)


async def test_second_start_mid_stream_is_refused_and_the_first_stream_completes(server):
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text="First stream.").event())
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="de/default")).event())
        await client.write_event(SynthesizeChunk(text=" Still the first.").event())
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client, streaming=True, timeout=HANG_S)
    assert [e.code for e in reply.errors] == ["stream-in-progress"]
    reply.events = [e for e in reply.events if e.type != "error"]
    assert_well_formed(reply, streaming=True)
    assert reply.seconds > 1.0  # both sentences


async def test_100_kb_of_text_is_refused_and_the_server_serves_on(start_server):
    server = start_server("--engine", "espeak")
    reply = await one_shot(server.port, "x" * 100_000, timeout=HANG_S)
    assert [e.code for e in reply.errors] == ["text-too-long"]
    assert "100000 characters, at most 20000" in reply.errors[0].text
    await assert_still_serving(server.port)


async def test_streaming_past_the_cap_ends_the_stream_as_a_stream_ends(start_server):
    # It was cut off inside synthesize-stopped, as a failure that a retry may mend is (Home Assistant must not
    # cache it): Home Assistant 2026.2 logged that as two more ERROR lines. Too long stays too long, so the
    # stream ends after its error as streams end, and the rest of its text is dropped quietly.
    server = start_server("--engine", "espeak", "--max-text-chars", "200")
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart().event())
        for _ in range(10):
            await client.write_event(SynthesizeChunk(text=SENTENCE).event())
        await client.write_event(Synthesize(text=SENTENCE * 10).event())  # Home Assistant's copy for old servers
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client, streaming=True, timeout=10)
        assert [e.code for e in reply.errors] == ["text-too-long"]
        assert not reply.cut_off and reply.types[-2:] == ["error", "synthesize-stopped"]
        await client.write_event(Synthesize(text="Still here.").event())  # the connection serves on
        assert_well_formed(await read_reply(client, streaming=False, timeout=10), streaming=False)
    # The client's doing, not a failure of the server: a warning, not an error; the dropped text is no refusal.
    warnings = messages(server.log(), "WARNING")
    refused = [text for text in warnings if text.startswith("Request refused")]
    assert len(refused) == 1 and refused[0].startswith("Request refused (text-too-long): The text is too long")
    assert "no-stream" not in server.log() and "ERROR" not in server.log()


async def test_connections_over_the_cap_are_refused_until_one_closes(start_server):
    server = start_server("--engine", "espeak", "--max-connections", "2")
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
    for reader, writer in held:  # both admitted: each is answered
        writer.write(header({"type": "describe"}))
        assert Info.is_type((await asyncio.wait_for(async_read_event(reader), HANG_S)).type)
    reply = await asyncio.to_thread(send_raw, server.port, b"", HANG_S)
    assert reply.closed and reply.codes == ["too-many-connections"]
    held[0][1].close()
    for _ in range(50):  # until the server has seen it close
        freed = await asyncio.to_thread(send_raw, server.port, header({"type": "describe"}), 2.0, True)
        if freed.codes != ["too-many-connections"]:
            break
        await asyncio.sleep(0.1)
    await assert_still_serving(server.port)  # the freed place is taken again
    held[1][1].close()


async def test_a_silent_connection_is_closed_and_its_place_freed(start_server):
    server = start_server("--engine", "espeak", "--max-connections", "1", "--idle-timeout", "2")
    reply = await asyncio.to_thread(send_raw, server.port, b"", HANG_S)  # connects, asks nothing
    assert reply.closed and reply.codes == ["idle-timeout"]
    assert reply.seconds > 1.9  # not before the 2 s of silence it was allowed
    await assert_still_serving(server.port)  # the one place under --max-connections is free again
    # The clock counts silence, not age: a client asking every 0.6 s keeps its connection.
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        for _ in range(6):
            await client.write_event(Describe().event())
            assert Info.is_type((await asyncio.wait_for(client.read_event(), HANG_S)).type)
            await asyncio.sleep(0.6)


async def test_an_open_stream_waiting_for_text_is_not_idle(start_server):
    server = start_server("--engine", "espeak", "--idle-timeout", "1")
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart().event())
        await asyncio.sleep(2.5)  # an LLM thinking for longer than --idle-timeout
        await client.write_event(SynthesizeChunk(text=SENTENCE).event())
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client, streaming=True, timeout=10)
    assert_well_formed(reply, streaming=True)
    assert not reply.errors


async def test_a_client_that_stops_reading_is_dropped_with_bounded_memory(start_server):
    server = start_server("--engine", "espeak", "--write-timeout", "2", "--debug")
    before = server.rss_mb()
    with socket.create_connection(("127.0.0.1", server.port)) as silent:
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        text = SENTENCE * 400  # about 20 minutes of speech, never read
        silent.sendall(header({"type": "synthesize", "data": {"text": text}}))
        for _ in range(100):
            if "Client stopped reading for 2 s; dropping it" in server.log():
                break
            await asyncio.sleep(0.1)
        assert "Client stopped reading for 2 s; dropping it" in server.log()
    assert server.rss_mb() - before < 20
    await assert_still_serving(server.port)


async def test_disconnect_mid_stream_leaves_no_process_thread_or_traceback(server):
    # The threads a normal request starts once (language detection, --figures-file) are there before counting.
    assert_well_formed(await one_shot(server.port, "Warm up.", timeout=HANG_S), streaming=False)
    await wait_for_figures(server, chars=len("Warm up."), timeout=HANG_S)  # its figures are written
    baseline = threads(server.process.pid)
    for _ in range(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(header({"type": "synthesize", "data": {"text": SENTENCE * 200}}))  # minutes of speech
        await reader.readline()  # audio-start: espeak-ng is running
        writer.transport.abort()  # gone without a word
    for _ in range(50):  # each espeak-ng is killed, and the thread that waited for it ends
        # (The "went away" line is written just after espeak-ng is reaped: wait for it too.)
        gone = server.log().count("went away; synthesis stopped") >= 5
        if gone and not espeak_children(server.process.pid) and threads(server.process.pid) <= baseline:
            break
        await asyncio.sleep(0.1)
    assert espeak_children(server.process.pid) == []
    assert threads(server.process.pid) <= baseline
    assert server.log().count("went away; synthesis stopped") >= 5
    assert "Traceback" not in server.log() and "Task exception" not in server.log()
    await assert_still_serving(server.port)


async def test_info_log_has_one_line_per_request_without_the_text(start_server):
    quiet = start_server("--engine", "espeak")
    await one_shot(quiet.port, "My secret shopping list.", "de/default", timeout=HANG_S)
    await wait_for_log(quiet, "Spoke voice=", timeout=10)  # written just after the audio-stop
    lines = [line for line in quiet.log().splitlines() if "Spoke voice=" in line]
    assert len(lines) == 1
    assert lines[0].startswith("INFO:") and "voice=de/default language=de engine=espeak chars=24 " in lines[0]
    record = await wait_for_figures(quiet, voice="de/default")  # the line's figures are the request's
    assert f"first_chunk={record['first_chunk_s'] * 1000:.1f} ms" in lines[0] and record["wall_s"] > 0
    assert lines[0].endswith(f"wall={record['wall_s']:.2f} s")
    assert "secret" not in quiet.log()
    verbose = start_server("--engine", "espeak", "--debug")
    await one_shot(verbose.port, "My secret shopping list.", timeout=HANG_S)
    assert "My secret shopping list." in verbose.log()  # --debug shows the text


async def test_a_request_refused_before_it_starts_gets_its_figures_line(start_server):
    # Before, only requests that started were recorded: refusals left no trace in --figures-file.
    server = start_server("--engine", "espeak", "--max-text-chars", "100")
    refusals = [("x" * 101, "en/default", "text-too-long"), ("  ...  ", "en/default", "empty-text"),
                ("Hello.", "xx/nobody", "voice-not-found")]  # fmt: skip
    for text, voice, code in refusals:
        reply = await one_shot(server.port, text, voice)
        assert [error.code for error in reply.errors] == [code]
    await wait_for_figures(server, count=3, outcome="failed")
    recorded = server.figures(outcome="failed")
    # Each counts the characters it carried, also the one whose voice is unknown.
    assert [(r["voice"], r["chars"]) for r in recorded] == [("en/default", 101), ("en/default", 7), ("xx/nobody", 6)]
