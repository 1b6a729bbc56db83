"""A request's answer when it is stopped at the very moment it is ending by itself."""

import asyncio
import errno
import os

import pytest
from wyoming.audio import AudioStop
from wyoming.event import Event
from wyoming.tts import SynthesizeVoice

from wyoming_streamtts.espeak_engine import EspeakEngine
from wyoming_streamtts.reply import SERVER_STOPPING, Outcome
from wyoming_streamtts.reply import Outbox as RealOutbox
from wyoming_streamtts.request import Request
from wyoming_streamtts.service import Service
from wyoming_streamtts.settings import ServerSettings
from wyoming_streamtts.translation import Translator
from wyoming_streamtts.voices import VoiceCatalog


class Outbox:
    """A connection's writing side that records what the request's reply writes, and how it ends the answer."""

    def __init__(self, write, end_failed) -> None:
        self.write = write
        self.cut_off_failed_stream = end_failed

    def close(self) -> None:
        pass


def request(voice: str, write, end_failed, streaming: bool, text: str, translator=None) -> Request:
    engine = EspeakEngine()
    catalog = VoiceCatalog(engine.speakers, engine.languages, engine.attribution)
    service = Service(engine, catalog, ServerSettings(first_clause_chars=0), translator=translator)
    started = Request(service, Outbox(write, end_failed), SynthesizeVoice(name=voice), streaming)
    asyncio.get_running_loop().create_task(started.feed(text))  # one-shot or streamed: the same intake
    asyncio.get_running_loop().call_soon(started.end_text)
    return started


async def stopped_while_ending(streaming: bool, stop) -> list[str]:
    """Event types a client gets when `stop` hits the stream while its audio-stop is still being written."""
    written: list[str] = []
    ending = asyncio.Event()

    async def write(event: Event) -> None:
        written.append(event.type)
        if AudioStop.is_type(event.type):
            ending.set()
            await asyncio.sleep(0.2)  # a client slow to take it: the write is still under way

    async def end_failed() -> None:
        written.append("(failed end)")

    synthesis = request("en/default", write, end_failed, streaming, "Good night.")
    await asyncio.wait_for(ending.wait(), 30)
    await stop(synthesis)
    await synthesis.wait()
    return written


async def cancel(synthesis: Request) -> None:  # a new request on the connection
    await synthesis.finish(Outcome.REPLACED)


async def abort(synthesis: Request) -> None:  # the server stopping
    await synthesis.finish(Outcome.SERVER_STOPPING, SERVER_STOPPING)


@pytest.mark.parametrize("stop", [cancel, abort])
@pytest.mark.parametrize("streaming", [False, True])
async def test_a_stream_stopped_while_ending_ends_once(streaming, stop):
    written = await stopped_while_ending(streaming, stop)
    assert written[0] == "audio-start" and "audio-chunk" in written
    tail = ["audio-stop", "synthesize-stopped"] if streaming else ["audio-stop"]
    assert written[-len(tail) :] == tail
    assert written.count("audio-stop") == 1
    assert "error" not in written  # it had been spoken in full


class EmptyTranslation:
    """A translation backend whose output is empty, as a runaway or broken model's can be."""

    def translate(self, text: str, source: str, target: str) -> str:
        return "  "


async def test_an_empty_translation_is_spoken_untranslated(caplog):
    written: list[Event] = []

    async def write(event: Event) -> None:
        written.append(event)

    async def end_failed() -> None:
        written.append(Event(type="(failed end)"))

    translator = Translator(EmptyTranslation(), source="en")
    try:
        synthesis = request("de/default", write, end_failed, False, "Good night.", translator)
        await asyncio.wait_for(synthesis.wait(), 30)
    finally:
        translator.close()
    types = [event.type for event in written]
    assert types[0] == "audio-start" and types[-1] == "audio-stop" and "error" not in types  # espeak had failed
    assert "Translation of sentence 1 came out empty; speaking it untranslated" in caplog.text


async def test_a_request_stopped_twice_at_once_ends_once():
    # A new request on the connection and the server's drain can stop the same request together.
    written: list[str] = []
    speaking = asyncio.Event()

    async def write(event: Event) -> None:
        written.append(event.type)
        if event.type == "audio-chunk":
            speaking.set()

    async def end_failed() -> None:
        written.append("(failed end)")

    stopped = request("en/default", write, end_failed, True, "A long sentence to stop. " * 20)
    await asyncio.wait_for(speaking.wait(), 30)
    await asyncio.gather(stopped.finish(Outcome.REPLACED), stopped.finish(Outcome.SERVER_STOPPING, SERVER_STOPPING))
    assert written.count("audio-stop") == 1 and "error" not in written and "(failed end)" not in written
    assert stopped.outcome is Outcome.REPLACED


async def test_a_reset_as_a_failed_stream_half_closes_still_closes_the_connection():
    # A client's reset that lands between the last write and the half-close makes shutdown() fail with
    # ENOTCONN, an OSError that is no ConnectionError: it escaped as "Task exception was never retrieved".
    accepted: asyncio.Future = asyncio.get_running_loop().create_future()
    server = await asyncio.start_server(lambda r, w: accepted.set_result((r, w)), "127.0.0.1", 0)
    client_reader, client_writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    reader, writer = await accepted

    def not_connected() -> None:
        raise OSError(errno.ENOTCONN, os.strerror(errno.ENOTCONN))

    writer.transport.write_eof = not_connected  # what the kernel answers then, at this one call
    outbox = RealOutbox(reader, writer, write_timeout_s=5)
    await outbox.cut_off_failed_stream()
    assert writer.is_closing() and reader.at_eof()
    assert (await asyncio.wait_for(client_reader.read(), 5)).startswith(b'{"type": "synthesize-stopped"')
    client_writer.close()
    server.close()
