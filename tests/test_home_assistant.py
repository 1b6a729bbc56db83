"""What Home Assistant's Wyoming TTS client makes of our answers, failures above all.

`read_like_home_assistant` follows `WyomingTtsProvider._read_tts_audio` of Home
Assistant 2026.2.3 (homeassistant/components/wyoming/tts.py): it skips `error`
events, stops at `synthesize-stopped`, and swallows OSError and WyomingError, so
a stream that ends "properly" after an error is cached as a (0-byte) answer. Only
an exception it does not catch makes HA's TTS cache drop the answer
(tts/__init__.py, `_load_data_into_cache`). 2026.11 raises on `error` itself.
"""

import asyncio
import contextlib
import json

import pytest
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import async_write_event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

TEXT = "The washing machine is done."


class WyomingError(Exception):
    """Stands for wyoming's own error class, which HA catches along with OSError."""


async def read_like_home_assistant(client: AsyncTcpClient, raise_on_error: bool) -> bytes:
    """HA 2026.2.3's reading loop (raise_on_error=False) or 2026.11's (True); returns what HA would cache."""
    audio = b""
    header_sent = False
    try:
        while event := await client.read_event():
            if raise_on_error and Error.is_type(event.type):
                raise RuntimeError(f"HomeAssistantError: {Error.from_event(event).text}")
            if header_sent and AudioChunk.is_type(event.type):
                audio += AudioChunk.from_event(event).audio
            elif not header_sent and AudioStart.is_type(event.type):
                AudioStart.from_event(event)
                audio += b"RIFF....WAVE"  # the WAV header HA writes
                header_sent = True
            elif SynthesizeStopped.is_type(event.type):
                break
    except (OSError, WyomingError):
        pass  # HA: "Unexpected disconnection from TTS client", and the answer is kept
    return audio


async def home_assistant_request(port: int, voice: str, raise_on_error: bool) -> bytes:
    """A streaming request exactly as HA sends it (even for tts_get_url)."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        synthesize_voice = SynthesizeVoice(name=voice)

        async def write() -> None:  # HA writes in a task of its own, and logs a failed write only
            with contextlib.suppress(OSError):
                await client.write_event(SynthesizeStart(voice=synthesize_voice).event())
                for word in TEXT.split(" "):
                    await client.write_event(SynthesizeChunk(text=word + " ").event())
                await client.write_event(Synthesize(text=TEXT, voice=synthesize_voice).event())
                await client.write_event(SynthesizeStop().event())

        writing = asyncio.create_task(write())
        try:
            return await asyncio.wait_for(read_like_home_assistant(client, raise_on_error), 30)
        finally:
            await writing


@pytest.mark.parametrize("raise_on_error", [False, True], ids=["HA 2026.2.3", "HA 2026.11"])
async def test_a_failed_stream_is_not_cached_by_home_assistant(start_server, raise_on_error):
    server = start_server("--engine", "espeak")
    # The answer raises out of HA's reader: HA reports the failure and keeps nothing.
    with pytest.raises(asyncio.IncompleteReadError if not raise_on_error else RuntimeError):
        await home_assistant_request(server.port, "xx/nobody", raise_on_error)
    # A good answer is read to its end, as before.
    audio = await home_assistant_request(server.port, "en/default", raise_on_error)
    assert audio.startswith(b"RIFF") and len(audio) > 24000


async def test_the_exact_bytes_of_a_failed_stream(start_server):
    server = start_server("--engine", "espeak")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    await async_write_event(SynthesizeStart(voice=SynthesizeVoice(name="xx/nobody")).event(), writer)
    raw = await asyncio.wait_for(reader.read(), 10)  # everything until the server closes
    writer.close()
    header_line, _, rest = raw.partition(b"\n")
    header = json.loads(header_line)
    assert header["type"] == "error"
    data = json.loads(rest[: header["data_length"]])
    assert data["code"] == "voice-not-found" and "xx/nobody" in data["text"]
    # Then the header of a synthesize-stopped whose 2 bytes of data never come, and the close.
    assert rest[header["data_length"] :] == b'{"type": "synthesize-stopped", "data_length": 2}\n'
