"""The connection's 24 kHz 16-bit mono PCM as the file formats HTTP clients ask for, encoded as it comes.

MP3, AAC, Opus and FLAC are FFmpeg's encoders and muxers through PyAV, in process (the wheels carry
libmp3lame and libopus): no ffmpeg process per request, and the first bytes leave with the first chunk.
A speed other than 1 is FFmpeg's `atempo` filter, which keeps the pitch.
"""

import base64
import io
import json
from typing import Protocol, cast

import av
import numpy as np
from av.audio.stream import AudioStream

from ..audio import RATE
from ..prosody import Stretch

# response_format: (FFmpeg muxer, encoder, sample rate, Content-Type); wav and pcm need no encoder.
CONTAINERS = {
    "mp3": ("mp3", "libmp3lame", RATE, "audio/mpeg"),
    "aac": ("adts", "aac", RATE, "audio/aac"),
    "opus": ("ogg", "libopus", 48000, "audio/ogg"),  # Opus encodes at 48 kHz only
    "flac": ("flac", "flac", RATE, "audio/flac"),
}
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")


class Encoder(Protocol):
    """A format for 24 kHz 16-bit mono PCM, written as the PCM comes."""

    content_type: str

    def start(self) -> bytes:
        """What goes before the first samples (a header)."""

    def add(self, pcm: bytes) -> bytes:
        """Encoded bytes for these samples (may be empty while the encoder holds a frame)."""

    def finish(self) -> bytes:
        """The rest, once the audio has ended."""


class WavStream:
    """A WAV whose length is not known when it starts: the header says "as long as the file"
    (0xFFFFFFFF), which browsers and players read to the end of the stream."""

    content_type = "audio/wav"

    def start(self) -> bytes:
        unknown = 0xFFFFFFFF
        return (
            b"RIFF" + unknown.to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
            + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + RATE.to_bytes(4, "little")
            + (RATE * 2).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
            + b"data" + unknown.to_bytes(4, "little")
        )  # fmt: skip

    def add(self, pcm: bytes) -> bytes:
        return pcm

    def finish(self) -> bytes:
        return b""


class PcmStream(WavStream):
    """Raw samples, as OpenAI's `pcm`: 24 kHz, 16-bit, mono, little-endian, no header."""

    content_type = "audio/pcm"

    def start(self) -> bytes:
        return b""


class _Collected(io.RawIOBase):
    """Where the muxer writes: collected until taken, never seekable (a stream cannot go back to a header)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.data += data
        return len(data)

    def take(self) -> bytes:
        data, self.data = bytes(self.data), bytearray()
        return data


class ContainerStream:
    """MP3, AAC (ADTS), Opus (in Ogg) or FLAC through PyAV."""

    def __init__(self, response_format: str) -> None:
        muxer, codec, rate, self.content_type = CONTAINERS[response_format]
        self._out = _Collected()
        self._container = av.open(self._out, "w", format=muxer)
        self._stream = cast(AudioStream, self._container.add_stream(codec, rate=rate, layout="mono"))
        context = self._stream.codec_context
        self._resampler = av.AudioResampler(format=context.format, layout="mono", rate=rate,
                                            frame_size=context.frame_size or None)  # fmt: skip

    def start(self) -> bytes:
        return b""  # the muxer writes its header with the first packet

    def add(self, pcm: bytes) -> bytes:
        return self._encode(_frame(pcm)) if pcm else b""

    def finish(self) -> bytes:
        data = self._encode(None)
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return data + self._out.take()

    def _encode(self, frame: av.AudioFrame | None) -> bytes:
        for resampled in self._resampler.resample(frame):
            for packet in self._stream.encode(resampled):
                self._container.mux(packet)
        return self._out.take()


class Tempo:
    """Another encoder's audio spoken faster or slower, at the same pitch."""

    def __init__(self, encoder: Encoder, speed: float) -> None:
        self.encoder = encoder
        self.content_type = encoder.content_type
        self._stretch = Stretch(RATE, speed)

    def start(self) -> bytes:
        return self.encoder.start()

    def add(self, pcm: bytes) -> bytes:
        return self.encoder.add(self._stretch.add(pcm)) if pcm else b""

    def finish(self) -> bytes:
        return self.encoder.add(self._stretch.finish()) + self.encoder.finish()


class SseStream:
    """OpenAI's `stream_format: sse`: each piece of the encoded audio as a `speech.audio.delta` event (base64),
    then `speech.audio.done`."""

    content_type = "text/event-stream"

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def start(self) -> bytes:
        return self._delta(self.encoder.start())

    def add(self, pcm: bytes) -> bytes:
        return self._delta(self.encoder.add(pcm))

    def finish(self) -> bytes:
        done = {"type": "speech.audio.done", "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}}
        return self._delta(self.encoder.finish()) + _event(done)

    @staticmethod
    def _delta(data: bytes) -> bytes:
        return _event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}) if data else b""


def encoder_for(response_format: str, speed: float = 1.0, sse: bool = False) -> Encoder:
    """The encoder of an OpenAI `response_format` (one of FORMATS)."""
    encoder: Encoder
    if response_format == "wav":
        encoder = WavStream()
    elif response_format == "pcm":
        encoder = PcmStream()
    else:
        encoder = ContainerStream(response_format)
    if speed != 1.0:
        encoder = Tempo(encoder, speed)
    return SseStream(encoder) if sse else encoder


def _frame(pcm: bytes) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.frombuffer(pcm, dtype="<i2").reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = RATE
    return frame


def _event(data: dict) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()
