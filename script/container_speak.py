"""Speaks to a server over Wyoming as Home Assistant does, for script/container-test.

`python script/container_speak.py PORT`: a one-shot request to en/joe (Piper) that a recognizer must hear,
a streamed one, and a one-shot to fr/default (English text translated by NLLB, spoken by espeak-ng).
`--open`: one stream that is never stopped, for a server stop while it runs: it must end with the
server's `server-stopping` error. Exit 0 when every answer is right.
"""

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np
from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.recognizer import Listener, word_error_rate  # the repository's own recognizer

SENTENCE = "The kitchen lights are on and the front door is locked."


async def exchange(port: int, requests: list[Event], streaming: bool, error: str | None = None) -> np.ndarray:
    """The audio of one answer; raises AssertionError when the events are not a complete answer
    (or, with `error`, one that ends with that error)."""
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    try:
        for event in requests:
            await client.write_event(event)
        types: list[str] = []
        codes: list[str | None] = []
        pcm = bytearray()
        async with asyncio.timeout(120):
            while (event := await client.read_event()) is not None:
                types.append(event.type)
                if AudioChunk.is_type(event.type):
                    pcm += AudioChunk.from_event(event).audio
                if event.type == "error":
                    codes.append(Error.from_event(event).code)
                if event.type == ("synthesize-stopped" if streaming else "audio-stop"):
                    break
    except asyncio.IncompleteReadError:
        # A failed stream's end, as Home Assistant needs it: synthesize-stopped cut off after its header.
        if not (streaming and codes):
            raise
    finally:
        await client.disconnect()
    assert codes == ([] if error is None else [error]), (types, codes)
    assert types[0] == "audio-start" and "audio-stop" in types, types
    return np.frombuffer(bytes(pcm), dtype=np.int16)


def stream(voice: str, text: str) -> list[Event]:
    start = SynthesizeStart(voice=SynthesizeVoice(name=voice)).event()
    chunks = [SynthesizeChunk(text=word + " ").event() for word in text.split()]
    return [start, *chunks, SynthesizeStop().event()]


async def check(port: int, open_stream: bool) -> None:
    if open_stream:
        requests = stream("en/joe", SENTENCE)[:-1]  # no synthesize-stop: the stream stays open
        await exchange(port, requests, streaming=True, error="server-stopping")
        return
    one_shot = await exchange(port, [Synthesize(text=SENTENCE, voice=SynthesizeVoice(name="en/joe")).event()], False)
    heard = Listener().hear(one_shot)
    assert word_error_rate(SENTENCE, heard) <= 0.25, f"one-shot: heard {heard!r}"
    streamed = await exchange(port, stream("en/joe", SENTENCE), streaming=True)
    assert len(streamed) > 24000, f"streamed: {len(streamed)} samples"
    french = await exchange(port, [Synthesize(text=SENTENCE, voice=SynthesizeVoice(name="fr/default")).event()], False)
    assert len(french) > 2400, f"fr/default: {len(french)} samples"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("--open", action="store_true", help="one stream, never stopped, for a server stop")
    args = parser.parse_args()
    try:
        asyncio.run(check(args.port, args.open))
    except (AssertionError, OSError, TimeoutError) as err:
        print(f"wrong answer: {err!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
