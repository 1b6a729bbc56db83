"""A request's stream when it is stopped at the very moment it is ending by itself."""

import asyncio

import pytest
from wyoming.audio import AudioStop
from wyoming.event import Event

from wyoming_streamtts.espeak_engine import EspeakEngine
from wyoming_streamtts.synthesis import Synthesis
from wyoming_streamtts.translation import Translator
from wyoming_streamtts.voices import Voice


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

    synthesis = Synthesis(EspeakEngine(), Voice("en", "default"), 1024, write, streaming, end_failed)
    synthesis.add("Good night.")
    synthesis.finish()
    await asyncio.wait_for(ending.wait(), 30)
    await stop(synthesis)
    await synthesis.wait()
    return written


async def cancel(synthesis: Synthesis) -> None:  # a new request on the connection
    await synthesis.cancel()


async def abort(synthesis: Synthesis) -> None:  # the server stopping
    await synthesis.abort("The server is shutting down", "server-stopping")


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
        synthesis = Synthesis(EspeakEngine(), Voice("de", "default"), 1024, write, False, end_failed, translator)
        synthesis.add("Good night.")
        synthesis.finish()
        await asyncio.wait_for(synthesis.wait(), 30)
    finally:
        translator.close()
    types = [event.type for event in written]
    assert types[0] == "audio-start" and types[-1] == "audio-stop" and "error" not in types  # espeak had failed
    assert "Translation of sentence 1 came out empty; speaking it untranslated" in caplog.text
