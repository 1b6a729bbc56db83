"""Raw bytes a LAN client might send, and how to send them and read what comes back.

Shared by the robustness tests and the benchmark that times the answers.
"""

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from io import BytesIO

from wyoming.event import Event, async_read_event, read_event


def header(event: dict, data: bytes = b"", payload: bytes = b"", **lengths: int) -> bytes:
    """An event as raw bytes; lengths given override the true ones."""
    head = dict(event)
    if data:
        head["data_length"] = len(data)
    if payload:
        head["payload_length"] = len(payload)
    head.update(lengths)
    return json.dumps(head).encode() + b"\n" + data + payload


# name -> (bytes sent, error code expected before the close)
BAD_EVENTS: dict[str, tuple[bytes, str]] = {
    "malformed JSON": (b"{this is not json\n", "bad-event"),
    "header is a list": (b'["synthesize", "hello"]\n', "bad-event"),
    "no type": (b'{"data": {"text": "hello"}}\n', "bad-event"),
    "invalid UTF-8 in the header": (b'{"type": "synthesize", "data": {"text": "\xff\xfe caf\xe9"}}\n', "bad-event"),
    "invalid UTF-8 in the data": (header({"type": "synthesize"}, b'{"text": "caf\xe9"}'), "bad-event"),
    "data is not an object": (header({"type": "synthesize"}, b'["hello"]'), "bad-event"),
    "negative data_length": (header({"type": "synthesize"}, data_length=-5), "bad-event"),
    "data_length is text": (b'{"type": "synthesize", "data_length": "12"}\n', "bad-event"),
    "data_length of a terabyte": (
        header({"type": "synthesize"}, b'{"text": "hi"}', data_length=10**12),
        "event-too-large",
    ),
    "payload_length of a terabyte": (
        header({"type": "synthesize"}, payload=b"xx", payload_length=2**40),
        "event-too-large",
    ),
    "deeply nested JSON": (b'{"type": "synthesize", "data": ' + b"[" * 100_000 + b"\n", "bad-event"),
    "text is a number": (header({"type": "synthesize", "data": {"text": 123}}), "bad-event"),
    "text is missing": (header({"type": "synthesize", "data": {}}), "bad-event"),
    "voice is a string": (header({"type": "synthesize", "data": {"text": "Hi.", "voice": "en/default"}}), "bad-event"),
    "voice name is a list": (
        header({"type": "synthesize-start", "data": {"voice": {"name": ["en", "default"]}}}),
        "bad-event",
    ),
}


@dataclass
class Exchange:
    events: list[Event] = field(default_factory=list)
    closed: bool = False
    seconds: float = 0.0  # from the last byte sent to the close (or the timeout)

    @property
    def codes(self) -> list[str]:
        return [e.data.get("code") for e in self.events if e.type == "error"]


def send_raw(port: int, raw: bytes, timeout: float = 5.0, half_close: bool = False) -> Exchange:
    """Send raw bytes; read until the server closes or `timeout` passes."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close before taking everything: what it said is still readable
        sent = time.monotonic()
        closed = False
        try:
            while chunk := sock.recv(65536):
                received += chunk
            closed = True
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
        seconds = time.monotonic() - sent
    stream = BytesIO(bytes(received))
    events = []
    while (event := read_event(stream)) is not None:
        events.append(event)
    return Exchange(events, closed, seconds)


# About 15 s of speech: more audio than a pipe and a stream buffer hold unread.
LONG_SENTENCE = (
    "The kitchen lights are on, the door is locked, the washing machine has finished its long cycle, and the "
    "dryer still needs another forty minutes, so please hang up the laundry before dinner, thank you. "
)


async def abandon(port: int, reset: bool, streaming: bool) -> None:
    """A request, and the client gone 10 ms later without reading a byte (FIN, or RST)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if streaming:
        writer.write(header({"type": "synthesize-start"}) + header({"type": "synthesize-chunk"},
                     json.dumps({"text": LONG_SENTENCE * 4}).encode()))  # fmt: skip
    else:
        writer.write(header({"type": "synthesize"}, json.dumps({"text": LONG_SENTENCE * 4}).encode()))
    await writer.drain()
    await asyncio.sleep(0.01)
    if reset:
        writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    writer.close()


async def start_unread_request(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that asks for minutes of audio, reads up to its first chunk, then stops reading."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    text = "The kitchen lights are on and the front door is locked. " * 100
    writer.write(header({"type": "synthesize"}, json.dumps({"text": text, "voice": {"name": "en/default"}}).encode()))
    while (event := await async_read_event(reader)) is not None and event.type != "audio-chunk":
        pass
    return reader, writer
