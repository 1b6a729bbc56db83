"""Every way a request ends, one-shot and streaming, in-process with a fake engine, asserted on events.

The server's handler, request and fallback chain run in this process on a real
loopback socket; only the engine is fake, so each ending can be commanded exactly.
"""

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.conftest import Answer, read_reply
from tests.fake_engine import FakeEngine, Plan
from wyoming_streamtts.connections import Connections
from wyoming_streamtts.engine import Engine
from wyoming_streamtts.fallback import FallbackEngine
from wyoming_streamtts.figures import FiguresFile
from wyoming_streamtts.handler import StreamTtsEventHandler
from wyoming_streamtts.service import Service
from wyoming_streamtts.settings import ServerSettings
from wyoming_streamtts.voices import VoiceCatalog

TEXT = "Hello there."
SAMPLES_PER_CHUNK = 1024


def audio(*samples: int) -> list[str]:
    """The audio-chunk events of sentences with these many samples: full chunks, then the rest."""
    return ["audio-chunk"] * -(-sum(samples) // SAMPLES_PER_CHUNK)


ONE_SHOT_END = ["audio-stop"]
STREAM_END = ["audio-stop", "synthesize-stopped"]


class Server:
    """The handler on a loopback port of this process; each request's figures go to `figures_path`."""

    def __init__(self, engine: Engine, figures_path: Path) -> None:
        catalog = VoiceCatalog(engine.speakers, engine.languages, engine.attribution)
        self.figures_path = figures_path
        self.figures_file = FiguresFile(figures_path)
        settings = ServerSettings(first_clause_chars=0)
        self.service = Service(engine, catalog, settings, figures_file=self.figures_file)
        self.connections = Connections()
        self.port = 0

    async def figures(self, count: int) -> list[dict]:
        """The figures of the first `count` requests to end (each is written just after its last event)."""
        for _ in range(500):
            records = [json.loads(line) for line in self.figures_path.read_text().splitlines()]
            if len(records) >= count:
                return records
            await asyncio.sleep(0.01)
        raise AssertionError(f"fewer than {count} requests ended: {records}")

    async def outcomes(self, count: int) -> list[str]:
        return [record["outcome"] for record in await self.figures(count)]

    def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        return StreamTtsEventHandler(self.service, self.connections, reader, writer).run()


@asynccontextmanager
async def serving(engine: Engine) -> AsyncIterator[Server]:
    with tempfile.TemporaryDirectory() as folder:
        server = Server(engine, Path(folder) / "figures.jsonl")
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        server.port = listener.sockets[0].getsockname()[1]
        try:
            yield server
        finally:
            listener.close()
            await server.figures_file.close()


async def send(client: AsyncTcpClient, streaming: bool, text: str = TEXT, stop: bool = True) -> None:
    """A request as Home Assistant sends it."""
    if not streaming:
        await client.write_event(Synthesize(text=text).event())
        return
    await client.write_event(SynthesizeStart().event())
    await client.write_event(SynthesizeChunk(text=text + " ").event())
    if stop:
        await client.write_event(Synthesize(text=text).event())  # the copy for old servers: ignored
        await client.write_event(SynthesizeStop().event())


async def first_audio(client: AsyncTcpClient) -> list[str]:
    """Events up to and including the first audio chunk."""
    types = []
    while not types or types[-1] != "audio-chunk":
        event = await asyncio.wait_for(client.read_event(), 10)
        assert event is not None, types
        types.append(event.type)
    return types


async def rest(client: AsyncTcpClient, streaming: bool) -> Answer:
    return await read_reply(client, streaming, timeout=10)


STREAMING = pytest.mark.parametrize("streaming", [False, True], ids=["one-shot", "streaming"])


@STREAMING
async def test_finished(streaming):
    engine = FakeEngine(Plan(chunks=3))
    async with serving(engine) as server, AsyncTcpClient("127.0.0.1", server.port) as client:
        await send(client, streaming)
        reply = await rest(client, streaming)
        assert reply.types == ["audio-start", *audio(3 * 2400), *(STREAM_END if streaming else ONE_SHOT_END)]
        assert len(reply.samples) == 3 * 2400
        # The connection stays open for the next request.
        await send(client, streaming)
        assert (await rest(client, streaming)).types[-1] == ("synthesize-stopped" if streaming else "audio-stop")
        figures = await server.figures(2)
    assert engine.texts == [TEXT, TEXT] and engine.closed == 2
    assert [record["outcome"] for record in figures] == ["finished", "finished"]
    assert figures[0]["engines"] == ["fake"] and figures[0]["engine_chunks"] == [2400, 2400, 2400]
    assert figures[0]["chars"] == len(TEXT) and figures[0]["audio_s"] == pytest.approx(0.3)


@STREAMING
async def test_the_engine_hears_how_much_of_the_answer_its_listener_has_yet_to_hear(streaming):
    engine = FakeEngine(Plan(chunks=3, samples=24000))  # 3 s a sentence, made at once
    async with serving(engine) as server, AsyncTcpClient("127.0.0.1", server.port) as client:
        await send(client, streaming, "One sentence. And another one.")
        assert not (await rest(client, streaming)).errors
    # XTTS sizes the second sentence's first chunk by it: nobody waits while the first plays.
    assert engine.aheads[0] == 0.0 and 2.5 < engine.aheads[1] <= 3.0


@STREAMING
async def test_failed_before_audio(streaming):
    engine = FakeEngine(Plan(fail_at=0))
    async with serving(engine) as server, AsyncTcpClient("127.0.0.1", server.port) as client:
        await send(client, streaming)
        reply = await rest(client, streaming)
        outcomes = await server.outcomes(1)
    assert reply.types == ["error"]
    assert reply.errors[0].code == "engine-failed" and "failed on command" in reply.errors[0].text
    assert outcomes == ["failed"]
    # One-shot: the connection is closed. Streaming: synthesize-stopped is cut off after its
    # header, so that no Home Assistant caches the empty answer.
    assert reply.cut_off is streaming
    assert engine.closed == 1


@STREAMING
async def test_failed_after_audio(streaming):
    engine = FakeEngine(Plan(chunks=3, fail_at=1))
    async with serving(engine) as server, AsyncTcpClient("127.0.0.1", server.port) as client:
        await send(client, streaming)
        reply = await rest(client, streaming)
        outcomes = await server.outcomes(1)
    tail = ["error", "audio-stop"] if streaming else ["error"]
    assert reply.types == ["audio-start", "audio-chunk", "audio-chunk", *tail]
    assert outcomes == ["failed"]
    assert reply.cut_off is streaming
    assert engine.closed == 1


@STREAMING
async def test_cancelled_by_a_new_request(streaming):
    engine = FakeEngine(Plan(chunks=50, hold_at=1), Plan(chunks=2))
    async with serving(engine) as server, AsyncTcpClient("127.0.0.1", server.port) as client:
        await send(client, streaming, "First request.")
        assert await first_audio(client) == ["audio-start", "audio-chunk"]
        await send(client, streaming, "Second request.")
        replaced = await rest(client, streaming=False)  # the first ends with its audio-stop
        second = await rest(client, streaming)
        outcomes = await server.outcomes(2)
    assert outcomes == ["replaced", "finished"]
    assert replaced.types == ["audio-chunk", "audio-stop"]  # the rest of its first 2400 samples, then its end
    assert second.types == ["audio-start", *audio(2 * 2400), *(STREAM_END if streaming else ONE_SHOT_END)]
    assert engine.texts == ["First request.", "Second request."]
    assert engine.closed == 2 and engine.yielded == 1 + 2  # the first stopped at once, never released


@STREAMING
async def test_client_gone(streaming):
    engine = FakeEngine(Plan(chunks=500, hold_at=1), Plan(chunks=2))
    async with serving(engine) as server:
        async with AsyncTcpClient("127.0.0.1", server.port) as client:
            await send(client, streaming, stop=False)
            await first_audio(client)
        if not streaming:
            # The client may only have half-closed: a one-shot request is finished until a write fails.
            engine.release()
        for _ in range(500):
            if engine.closed:
                break
            await asyncio.sleep(0.01)
        assert engine.closed == 1 and engine.yielded < 500  # stopped long before its end
        assert streaming or engine.yielded > 1  # a one-shot request is spoken on until a write fails
        # The server serves the next client as ever.
        async with AsyncTcpClient("127.0.0.1", server.port) as client:
            await send(client, streaming)
            assert (await rest(client, streaming)).types[0] == "audio-start"
        assert await server.outcomes(2) == ["client gone", "finished"]


@STREAMING
async def test_server_stopping(streaming):
    engine = FakeEngine(Plan(chunks=50, hold_at=1))
    async with serving(engine) as server, AsyncTcpClient("127.0.0.1", server.port) as client:
        await send(client, streaming)
        await first_audio(client)
        await server.connections.drain(grace_s=0.1)
        reply = await rest(client, streaming)
        # A new connection is refused while the server stops.
        async with AsyncTcpClient("127.0.0.1", server.port) as late:
            refused = Error.from_event(await asyncio.wait_for(late.read_event(), 10))
        outcomes = await server.outcomes(1)
    assert outcomes == ["server stopping"]
    assert reply.types == (["audio-chunk", "error", "audio-stop"] if streaming else ["audio-chunk", "error"])
    assert reply.errors[0].code == "server-stopping"
    assert reply.cut_off is streaming
    assert refused.code == "server-stopping"
    assert engine.closed == 1


async def test_the_fallback_chain_speaks_with_the_next_engine_only_before_audio():
    broken, spare = FakeEngine(Plan(fail_at=0), name="broken"), FakeEngine(Plan(chunks=2), name="spare")
    async with serving(FallbackEngine([broken, spare])) as server:
        for _ in range(2):
            async with AsyncTcpClient("127.0.0.1", server.port) as client:
                await send(client, streaming=False)
                assert (await rest(client, streaming=False)).types == ["audio-start", *audio(2 * 2400), "audio-stop"]
    assert broken.texts == [TEXT]  # skipped for a while after failing: no timeout for every request
    assert spare.texts == [TEXT, TEXT]

    halfway, unused = FakeEngine(Plan(chunks=3, fail_at=1), name="halfway"), FakeEngine(name="unused")
    async with serving(FallbackEngine([halfway, unused])) as server, AsyncTcpClient("127.0.0.1", server.port) as client:
        await send(client, streaming=False)
        # Audio went out in the first voice: another voice must not finish the sentence.
        assert (await rest(client, streaming=False)).types == ["audio-start", "audio-chunk", "audio-chunk", "error"]
    assert unused.texts == []


REFUSALS = {  # what the client sends: (voice, text), and the error it gets
    "unknown voice": (("xx/nobody", TEXT), "voice-not-found"),
    "too long": ((None, "x" * 20_001), "text-too-long"),
    "empty": ((None, " *** "), "empty-text"),
}


@STREAMING
@pytest.mark.parametrize("refusal", REFUSALS)
async def test_refused_before_speaking_is_a_request_too(streaming, refusal):
    (voice, text), code = REFUSALS[refusal]
    asked = SynthesizeVoice(name=voice) if voice else None
    engine = FakeEngine(Plan(chunks=2))
    async with serving(engine) as server, AsyncTcpClient("127.0.0.1", server.port) as client:
        if streaming:
            await client.write_event(SynthesizeStart(voice=asked).event())
            await client.write_event(SynthesizeChunk(text=text).event())
            await client.write_event(SynthesizeStop().event())
        else:
            await client.write_event(Synthesize(text=text, voice=asked).event())
        reply = await rest(client, streaming)
        figures = await server.figures(1)
    assert reply.errors[0].code == code
    if streaming and refusal != "unknown voice":
        # The same text fails the same way again: the stream ends as streams end, since a cached answer does no harm
        assert reply.types == ["error", "synthesize-stopped"] and not reply.cut_off
    else:  # a failed stream's ending (a voice may be added yet); one-shot, the connection closed
        assert reply.types == ["error"] and reply.cut_off is streaming
    assert [record["outcome"] for record in figures] == ["failed"]  # its one figures line
    assert figures[0]["voice"] == (voice or "en/default") and engine.texts == []


async def test_the_figures_hold_each_spoken_sentence_once_with_its_chunks():
    # The first sentence makes no audio (an engine may make none of a sentence); the second makes three chunks.
    engine = FakeEngine(Plan(chunks=0), Plan(chunks=3, samples=2400))
    async with serving(engine) as server, AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(Synthesize(text="Silent one. Spoken two.").event())
        await rest(client, streaming=False)
        [record] = await server.figures(1)
    [sentence] = record["sentences"]
    assert sentence["chunks"] == [2400, 2400, 2400] and sentence["chars"] == len("Spoken two.")
    assert 0 <= sentence["ready_s"] <= sentence["first_s"] <= sentence["done_s"] <= record["wall_s"]
