"""No client can freeze, starve or leak the server (issue: hardening), through the real server process."""

import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event, async_read_event, read_event
from wyoming.info import Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.bad_input import LONG_SENTENCE, abandon, header
from tests.conftest import (
    assert_well_formed,
    describe,
    espeak_children,
    messages,
    one_shot,
    read_reply,
    threads,
    wait_for_figures,
    wait_for_log,
    write_wav,
)


async def test_describe_is_answered_while_a_worst_case_text_is_split(start_server):
    server = start_server("--engine", "espeak")
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        # Every period an initial, no sentence end: the splitter re-scanned the whole text at every one.
        await client.write_event(Synthesize(text="J. " * 4000).event())
        began = time.monotonic()
        await describe(server.port, timeout=5)
        assert time.monotonic() - began < 1.0  # Home Assistant's limit; 14 s before the fix
        reply = await read_reply(client, streaming=False, timeout=120)
    assert_well_formed(reply, streaming=False)


async def test_abandoned_requests_leave_nothing_behind(start_server):
    server = start_server("--engine", "espeak")
    pid = server.process.pid
    for _ in range(5):  # pools and caches that a normal request creates
        assert_well_formed(await one_shot(server.port, LONG_SENTENCE), streaming=False)
    await wait_for_figures(server, count=5)  # their figures written: the requests have ended
    fds, rss, thread_count = server.open_fds(), server.rss_mb(), threads(pid)
    before = server.fd_targets()
    for number in range(200):  # one-shot and streaming, FIN and RST
        await abandon(server.port, reset=number % 2 == 1, streaming=number % 4 >= 2)
    for _ in range(300):  # a busy 2-core machine may take a while to see 200 clients gone
        if server.open_fds() <= fds and not espeak_children(pid) and threads(pid) <= thread_count:
            break
        await asyncio.sleep(0.1)
    # Before: espeak-ng's stdout pipe (paused, holding unread audio) stayed open for each (7 -> 76 fds per 100).
    assert server.open_fds() <= fds, (before, server.fd_targets())
    assert espeak_children(pid) == [] and threads(pid) <= thread_count
    assert server.rss_mb() - rss < 10
    assert_well_formed(await one_shot(server.port, "Still here."), streaming=False)


async def test_a_stream_that_goes_silent_is_ended(start_server):
    server = start_server("--engine", "espeak", "--stream-idle-timeout", "1.5", "--idle-timeout", "60")
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text="Hello there. ").event())
        began = time.monotonic()
        reply = await read_reply(client, streaming=True, timeout=10)  # and then nothing more is sent
    assert time.monotonic() - began > 1.3
    assert [e.code for e in reply.errors] == ["stream-idle-timeout"]
    assert reply.types[0] == "audio-start" and reply.types[-2:] == ["error", "audio-stop"] and reply.cut_off
    await wait_for_figures(server, outcome="failed", timeout=10)  # a failed request, not a server stopping
    # A stream that keeps receiving text stays open however long it lasts.
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart().event())
        for word in ["one", "two", "three", "four", "five", "six"]:
            await client.write_event(SynthesizeChunk(text=word + ", ").event())
            await asyncio.sleep(0.5)
        await client.write_event(SynthesizeStop().event())
        kept = await read_reply(client, streaming=True, timeout=10)
    assert_well_formed(kept, streaming=True)
    assert not kept.errors


class RawClient:
    """Sends events as raw bytes (JSON's ASCII escapes can carry lone surrogates); reads like a wyoming client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def send(self, event_type: str, data: dict | None = None) -> None:
        self.writer.write(header({"type": event_type}, json.dumps(data).encode() if data else b""))

    async def read_event(self):
        return await async_read_event(self.reader)


async def raw_request(port: int, events: list[tuple[str, dict | None]], streaming: bool):
    client = RawClient(*await asyncio.open_connection("127.0.0.1", port))
    for event_type, data in events:
        client.send(event_type, data)
    try:
        return await read_reply(client, streaming=streaming, timeout=10)
    finally:
        client.writer.close()


async def test_text_that_is_not_valid_unicode_is_cleaned_not_failed(start_server):
    server = start_server("--engine", "espeak")
    # A lone surrogate is valid JSON ("\\ud800") but no character: it used to fail the request with a traceback.
    lone = await raw_request(server.port, [("synthesize", {"text": "Good \ud800 morning."})], streaming=False)
    assert_well_formed(lone, streaming=False)
    # An emoji whose two JSON halves come in two deltas.
    split = [("synthesize-start", None), ("synthesize-chunk", {"text": "Well done \ud83d"}),
             ("synthesize-chunk", {"text": "\ude00 everyone."}), ("synthesize-stop", None)]  # fmt: skip
    reply = await raw_request(server.port, split, streaming=True)
    assert_well_formed(reply, streaming=True)
    assert not reply.errors
    # Nothing speakable at all: empty-text, in a stream too.
    nothing = [("synthesize-start", None), ("synthesize-chunk", {"text": "\U0001f600 !!! \ud800"}),
               ("synthesize-stop", None)]  # fmt: skip
    refused = await raw_request(server.port, nothing, streaming=True)
    assert [e.code for e in refused.errors] == ["empty-text"]
    assert "audio-chunk" not in refused.types
    assert "Traceback" not in server.log()


async def test_describe_follows_the_voices_folder_on_sighup(start_server, tmp_path):
    voices = tmp_path / "voices"
    write_wav(voices / "ana.wav", 8.0)
    server = start_server("--engine", "espeak", "--voices-dir", str(voices), "--language", "en")
    assert {v.name for v in (await describe(server.port)).tts[0].voices} == {"en/ana", "en/default"}
    async with AsyncTcpClient("127.0.0.1", server.port) as client:  # a stream running across the reload
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="en/ana")).event())
        await client.write_event(SynthesizeChunk(text="Before the reload. ").event())
        write_wav(voices / "bob.wav", 8.0)
        (voices / "ana.wav").unlink()
        server.process.send_signal(signal.SIGHUP)
        await wait_for_log(server, "Voices reloaded from .*: 2 voices; added bob; removed ana", timeout=10)
        await client.write_event(SynthesizeChunk(text="After it. ").event())
        await client.write_event(SynthesizeStop().event())
        reply = await read_reply(client, streaming=True, timeout=10)
    assert_well_formed(reply, streaming=True)  # untouched by the reload
    assert {v.name for v in (await describe(server.port)).tts[0].voices} == {"en/bob", "en/default"}
    assert server.process.poll() is None  # SIGHUP used to kill it


async def test_bad_voice_files_are_skipped_at_start(start_server, tmp_path):
    voices = tmp_path / "voices"
    write_wav(voices / "ana.wav", 8.0)
    (voices / "ana.json").write_text("[" * 100_000)  # nested deeper than Python's recursion limit
    write_wav(voices / "bob\n.wav", 8.0)  # a newline in the name: it could never be requested
    write_wav(voices / "carl.wav", 8.0)
    server = start_server("--engine", "espeak", "--voices-dir", str(voices), "--language", "en")
    names = {v.name for v in (await describe(server.port)).tts[0].voices}
    assert names == {"en/carl", "en/default"}
    assert "Skipping voice ana:" in server.log() and "Skipping " in server.log()


async def test_a_voices_folder_or_recording_that_cannot_be_a_voice_is_said(start_server, tmp_path):
    # --voices-dir /missing started with no word, and a phone's recording (.m4a) was passed over silently.
    missing = tmp_path / "missing"
    server = start_server("--engine", "espeak", "--voices-dir", str(missing))
    assert f"--voices-dir {missing} is not a folder: no cloned voices" in server.log()
    voices = tmp_path / "voices"
    write_wav(voices / "carl.wav", 8.0)
    (voices / "dora.m4a").write_bytes(b"\0" * 1000)
    (voices / "README.md").write_text("notes")
    server = start_server("--engine", "espeak", "--voices-dir", str(voices), "--language", "en")
    assert {v.name for v in (await describe(server.port)).tts[0].voices} == {"en/carl", "en/default"}
    warnings = [m for m in messages(server.log(), "WARNING") if m.startswith("Skipping")]
    assert warnings == [f"Skipping {voices / 'dora.m4a'}: voices are WAV, MP3 or FLAC recordings (convert it, e.g. "
                        "with ffmpeg)"]  # fmt: skip


async def test_client_strings_are_cut_in_replies_and_logs(start_server):
    server = start_server("--engine", "espeak")
    reply = await one_shot(server.port, "Hello.", "en/" + "x" * 900_000)
    assert [e.code for e in reply.errors] == ["voice-not-found"]
    text = reply.errors[0].text
    assert len(text) < 1000 and "(900003 characters)" in text and "x" * 201 not in text
    assert max(len(line) for line in server.log().splitlines()) < 1000


def test_no_home_directory_is_needed_for_version_or_with_data_dir(tmp_path):
    nobody = ["setpriv", "--reuid", "4242", "--regid", "4242", "--clear-groups"]  # a uid with no passwd entry
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_DATA_HOME")}
    version = subprocess.run([*nobody, sys.executable, "-m", "wyoming_streamtts", "--version"], env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert version.returncode == 0, version.stderr
    tmp_path.chmod(0o777)
    described = subprocess.run(
        [*nobody, sys.executable, "-m", "wyoming_streamtts", "--uri", "stdio://", "--engine", "espeak",
         "--data-dir", str(tmp_path / "data")],
        input=header({"type": "describe"}), env=env, capture_output=True, timeout=60,
    )  # fmt: skip
    assert described.returncode == 0, described.stderr
    assert read_event(io.BytesIO(described.stdout)).type == "info"


def stdio(*args: str, sent: bytes) -> tuple[list, str]:
    result = subprocess.run([sys.executable, "-m", "wyoming_streamtts", "--uri", "stdio://", *args], input=sent,
                            capture_output=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    stream, events = io.BytesIO(result.stdout), []
    while (event := read_event(stream)) is not None:
        events.append(event)
    return events, result.stderr.decode()


def test_stdio_answers_like_tcp():
    # stdin closes right after the request, as `printf ... | wyoming-streamtts --uri stdio://` does.
    synthesize = header({"type": "synthesize"}, json.dumps({"text": "Hello there. Goodbye."}).encode())
    events, log = stdio("--engine", "espeak", sent=header({"type": "describe"}) + synthesize)
    types = [event.type for event in events]
    assert types[:2] == ["info", "audio-start"] and types[-1] == "audio-stop" and types.count("audio-chunk") > 5
    # Bad input gets an error, not a traceback; the limits apply as on a socket.
    events, log = stdio("--engine", "espeak", sent=header({"type": "synthesize", "data": {"text": 123}}))
    assert [(e.type, e.data["code"]) for e in events] == [("error", "bad-event")]
    assert "Traceback" not in log
    events, _ = stdio(
        "--engine", "espeak", "--max-event-bytes", "2048", sent=header({"type": "synthesize"}, b"x" * 4096)
    )
    assert [(e.type, e.data["code"]) for e in events] == [("error", "event-too-large")]


@pytest.mark.parametrize("text", ["", "   "])
def test_stdio_empty_text(text):
    events, _ = stdio("--engine", "espeak", sent=header({"type": "synthesize", "data": {"text": text}}))
    assert [e.data.get("code") for e in events] == ["empty-text"]


async def test_a_stream_whose_text_drips_in_is_ended_at_its_time_limit(start_server):
    # One character every second reset --stream-idle-timeout each time: the stream was never ended.
    server = start_server("--engine", "espeak", "--stream-idle-timeout", "2", "--stream-timeout", "3")
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(SynthesizeStart().event())
        began = time.monotonic()

        async def drip() -> None:
            with contextlib.suppress(ConnectionError):  # until the server ends the stream
                for char in "Hello there, it is a slow one. " * 2:
                    await client.write_event(SynthesizeChunk(text=char).event())
                    await asyncio.sleep(0.5)

        dripping = asyncio.create_task(drip())
        reply = await read_reply(client, streaming=True, timeout=10)
        ended = time.monotonic() - began
        dripping.cancel()
    assert 2.8 < ended < 6
    assert [e.code for e in reply.errors] == ["stream-timeout"]
    assert reply.types == ["error"] and reply.cut_off  # a failed stream's end, before any sentence was complete
    await wait_for_figures(server, outcome="failed", timeout=10)


async def test_describe_with_a_large_voice_library_is_what_home_assistant_reads(start_server, tmp_path):
    # 3,000 recordings made an 11.4 MB info (225 bytes a voice: a version, a null speakers list and the
    # engine's URL in every voice), and four describes at once took up to 1.6 s on a busy 2-core box.
    voices = tmp_path / "voices"
    voices.mkdir()
    for number in range(300):
        write_wav(voices / f"speaker{number:04}.wav", 0.1)
    server = start_server("--engine", "espeak", "--voices-dir", str(voices))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(header({"type": "describe"}))
    head = json.loads(await reader.readline())
    data = json.loads(await reader.readexactly(head["data_length"]))
    writer.close()
    listed = data["tts"][0]["voices"]
    assert len(listed) > 300 * 17
    assert head["data_length"] / len(listed) < 160  # 157 here, 233 before
    # Home Assistant's reading of it (wyoming's parser): every voice's name, description, languages, installed.
    info = Info.from_event(Event(type="info", data=data))
    cloned = next(voice for voice in info.tts[0].voices if voice.name == "fr/speaker0042")
    assert cloned.installed and cloned.languages == ["fr"] and cloned.description.startswith("speaker0042")
    assert info.tts[0].attribution.url and info.tts[0].version  # the program's own
