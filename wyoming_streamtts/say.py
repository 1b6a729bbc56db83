"""`wyoming-streamtts-say "text"`: speak through a wyoming-streamtts server.

Plays the answer through pyaudio as it arrives (the [playback] extra), or
writes it to a WAV file with --output.
"""

import argparse
import asyncio
import logging
import queue
import sys
import threading
import time
import wave
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeVoice

_LOGGER = logging.getLogger(__name__)


class SayError(Exception):
    """What went wrong, in words for the person at the terminal."""


class Player:
    """Plays PCM through pyaudio on its own thread, so reading never waits for the speaker."""

    def __init__(self, start: AudioStart) -> None:
        try:
            import pyaudio  # noqa: PLC0415 - only needed to play
        except ImportError as err:
            raise SayError("Playing needs pyaudio: pip install 'wyoming-streamtts[playback]', or use --output") from err
        self._audio = pyaudio.PyAudio()
        try:
            self._stream = self._audio.open(
                format=self._audio.get_format_from_width(start.width),
                channels=start.channels,
                rate=start.rate,
                output=True,
            )
        except OSError as err:
            self._audio.terminate()
            raise SayError(f"Cannot open the audio output: {err}") from err
        self.device = self._audio.get_default_output_device_info()["name"]
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def write(self, audio: bytes) -> None:
        self._queue.put(audio)

    def close(self) -> None:
        """Wait until everything queued has been played."""
        self._queue.put(None)
        self._thread.join()
        self._stream.stop_stream()
        self._stream.close()
        self._audio.terminate()

    def _play(self) -> None:
        while (audio := self._queue.get()) is not None:
            self._stream.write(audio)


async def say(uri: str, text: str, voice: str | None, output: Path | None, verbose: bool) -> float:
    """Speak `text`; return the seconds of audio received."""
    began = time.monotonic()
    seconds = 0.0
    try:
        client = AsyncClient.from_uri(uri)
        await client.connect()
    except (OSError, ValueError) as err:
        raise SayError(f"Cannot reach the server at {uri}: {err}") from err
    with ExitStack() as cleanup:
        write = None
        try:
            await client.write_event(
                Synthesize(text=text, voice=SynthesizeVoice(name=voice) if voice else None).event()
            )
            while True:
                event = await client.read_event()
                if event is None:
                    raise SayError("The server closed the connection before the audio ended")
                if Error.is_type(event.type):
                    error = Error.from_event(event)
                    raise SayError(f"The server answered with an error ({error.code}): {error.text}")
                if AudioStart.is_type(event.type):
                    write, where = _open_sink(AudioStart.from_event(event), output, cleanup)
                    if verbose:
                        print(f"Audio to {where}", file=sys.stderr)
                elif AudioChunk.is_type(event.type) and write is not None:
                    chunk = AudioChunk.from_event(event)
                    if seconds == 0 and verbose:
                        print(f"First audio after {(time.monotonic() - began) * 1000:.0f} ms", file=sys.stderr)
                    seconds += chunk.seconds
                    write(chunk.audio)
                elif AudioStop.is_type(event.type):
                    break
        finally:
            await client.disconnect()
    return seconds


def _open_sink(start: AudioStart, output: Path | None, cleanup: ExitStack) -> tuple[Callable[[bytes], None], str]:
    """Where the audio goes: a writer function, and its name."""
    if output is None:
        player = Player(start)
        cleanup.callback(player.close)
        return player.write, player.device
    try:
        wav = wave.open(str(output), "wb")  # noqa: SIM115 - closed by the ExitStack
    except OSError as err:
        raise SayError(f"Cannot write {output}: {err}") from err
    cleanup.callback(wav.close)
    wav.setframerate(start.rate)
    wav.setsampwidth(start.width)
    wav.setnchannels(start.channels)
    return wav.writeframes, str(output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wyoming-streamtts-say", description=__doc__)
    parser.add_argument("text", help="what to say; - reads it from standard input")
    parser.add_argument("--uri", default="tcp://127.0.0.1:10200", help="the server (default: %(default)s)")
    parser.add_argument("--voice", help="voice as LANG/SPEAKER, e.g. fr/default (default: the server's)")
    parser.add_argument("--output", "-o", type=Path, help="write a WAV file instead of playing")
    parser.add_argument("--verbose", "-v", action="store_true", help="print time to first audio and more")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        print("Nothing to say: the text is empty", file=sys.stderr)
        return 2
    try:
        seconds = asyncio.run(say(args.uri, text, args.voice, args.output, args.verbose))
    except SayError as err:
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.verbose:
        where = f"written to {args.output}" if args.output else "played"
        print(f"{seconds:.2f} s of audio {where}", file=sys.stderr)
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
