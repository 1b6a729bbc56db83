"""A local fake of Google Translate's TTS endpoint, reached through HTTPS_PROXY.

The server process is started with HTTPS_PROXY pointing here, so its real gTTS
code makes real HTTPS requests: this proxy accepts the CONNECT, terminates TLS
with a test certificate for the Google host, and answers the batchexecute RPC
with MP3 audio it encodes itself. Nothing leaves the machine.
"""

import base64
import json
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field

import lameenc
import numpy as np
import trustme

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


@dataclass
class FakeGoogle:
    """mode: "ok" answers with audio, "error" with HTTP 500, "hang" never answers.

    With fail_after=n, requests after the n-th are answered with HTTP 500.
    """

    mode: str = "ok"
    fail_after: int | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)  # (text, lang)
    seconds_sent: float = 0.0

    def __post_init__(self) -> None:
        cert = trustme.CA().issue_cert("translate.google.com")
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self._tls)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def proxy_env(self) -> dict[str, str]:
        url = f"http://127.0.0.1:{self.port}"
        return {"HTTPS_PROXY": url, "https_proxy": url, "NO_PROXY": "", "no_proxy": ""}

    def close(self) -> None:
        self._listener.close()
        for conn in self._connections:
            conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            reader = conn.makefile("rb")
            request_line = reader.readline().decode()
            assert request_line.startswith("CONNECT translate.google."), request_line
            while reader.readline() not in (b"\r\n", b""):
                pass
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            tls = self._tls.wrap_socket(conn, server_side=True)
            self._connections.append(tls)
            self._answer(tls)
        except (OSError, ssl.SSLError):
            pass

    def _answer(self, tls: ssl.SSLSocket) -> None:
        reader = tls.makefile("rb")
        reader.readline()  # POST /_/TranslateWebserverUi/data/batchexecute
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = urllib.parse.parse_qs(reader.read(length).decode())
        text, lang = json.loads(json.loads(body["f.req"][0])[0][0][1])[:2]
        self.requests.append((text, lang))
        if self.mode == "hang":
            threading.Event().wait(60)
            return
        if self.mode == "error" or (self.fail_after is not None and len(self.requests) > self.fail_after):
            tls.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
            return
        seconds = SECONDS_PER_CHAR * len(text)
        self.seconds_sent += seconds
        audio = base64.b64encode(tone_mp3(seconds)).decode()
        rpc = json.dumps(
            [["wrb.fr", "jQ1olc", json.dumps([audio]), None, None, None, "generic"]],
            separators=(",", ":"),
        )
        payload = f")]}}'\n\n{len(rpc)}\n{rpc}\n".encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        tls.sendall(head.encode() + payload)
