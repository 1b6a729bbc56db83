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

from wyoming.client import AsyncTcpClient
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeVoice

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The repository's own Wyoming client helpers and recognizer, as the tests use them.
from tests.conftest import assert_well_formed, one_shot, read_reply, stream_request
from tests.recognizer import Listener, word_error_rate

# With the comma Piper pauses after "on"; without it Whisper tiny.en heard "on in the front door's locked"
# (3 of 11 words) once in 15 syntheses here and in CI. With it: at most 1 word wrong in 15.
SENTENCE = "The kitchen lights are on, and the front door is locked."


async def check(port: int, open_stream: bool) -> None:
    if open_stream:  # no synthesize-stop: the stream stays open until the server stops
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="en/joe")).event())
            await client.write_event(SynthesizeChunk(text=SENTENCE + " ").event())
            reply = await read_reply(client, streaming=True, timeout=120)
        assert [error.code for error in reply.errors] == ["server-stopping"], reply.types
        assert reply.types[0] == "audio-start" and "audio-stop" in reply.types, reply.types
        return
    spoken = await one_shot(port, SENTENCE, "en/joe", timeout=120)
    assert_well_formed(spoken, streaming=False)
    heard = Listener().hear(spoken.samples)
    assert word_error_rate(SENTENCE, heard) <= 0.25, f"one-shot: heard {heard!r}"
    streamed = await stream_request(port, SENTENCE, "en/joe", piece=7, timeout=120)
    assert_well_formed(streamed, streaming=True)
    assert len(streamed.samples) > 24000, f"streamed: {len(streamed.samples)} samples"
    french = await one_shot(port, SENTENCE, "fr/default", timeout=120)
    assert_well_formed(french, streaming=False)
    assert len(french.samples) > 2400, f"fr/default: {len(french.samples)} samples"


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
