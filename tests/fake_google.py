"""A local fake of Google Translate's TTS endpoint (see fake_https): it answers
the batchexecute RPC with MP3 audio it encodes itself."""

import base64
import json
import ssl
import threading
import urllib.parse

import lameenc
import numpy as np

from tests.fake_https import FakeHttpsSite, http_response

MP3_RATE = 22050  # not the server's 24 kHz: the server must read the rate from the stream
SECONDS_PER_CHAR = 0.04


def tone_mp3(seconds: float) -> bytes:
    """A 440 Hz tone, MP3-encoded."""
    t = np.arange(int(seconds * MP3_RATE)) / MP3_RATE
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(MP3_RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm.tobytes()) + encoder.flush())


class FakeGoogle(FakeHttpsSite):
    """mode: "ok" answers with audio, "error" with HTTP 500, "hang" never answers.

    With fail_after=n, requests after the n-th are answered with HTTP 500.
    """

    def __init__(self, mode: str = "ok", fail_after: int | None = None) -> None:
        super().__init__("translate.google.com")
        self.mode = mode
        self.fail_after = fail_after
        self.requests: list[tuple[str, str]] = []  # (text, lang)
        self.seconds_sent = 0.0

    def answer(self, tls: ssl.SSLSocket, method: str, path: str, body: bytes) -> None:
        # POST /_/TranslateWebserverUi/data/batchexecute; anything else (a HEAD of the home page) is answered too
        if method != "POST":
            tls.sendall(http_response("200 OK"))
            return
        form = urllib.parse.parse_qs(body.decode())
        text, lang = json.loads(json.loads(form["f.req"][0])[0][0][1])[:2]
        self.requests.append((text, lang))
        if self.mode == "hang":
            threading.Event().wait(60)
            return
        if self.mode == "error" or (self.fail_after is not None and len(self.requests) > self.fail_after):
            tls.sendall(http_response("500 Internal Server Error"))
            return
        seconds = SECONDS_PER_CHAR * len(text)
        self.seconds_sent += seconds
        audio = base64.b64encode(tone_mp3(seconds)).decode()
        rpc = json.dumps(
            [["wrb.fr", "jQ1olc", json.dumps([audio]), None, None, None, "generic"]],
            separators=(",", ":"),
        )
        tls.sendall(http_response("200 OK", f")]}}'\n\n{len(rpc)}\n{rpc}\n".encode(), "application/json"))
