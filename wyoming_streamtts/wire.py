"""Reading Wyoming events from a client, within limits.

wyoming's own reader trusts the lengths a client announces and ends the
connection silently on bad input. Here every event is checked before anything
is read for it, so a client on the LAN can neither make the server hold more
than `max_bytes` for one event, nor keep it waiting on half an event, nor
hold a connection it does not use, and it is told what was wrong.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event

DEFAULT_MAX_EVENT_BYTES = 1 << 20
DEFAULT_READ_TIMEOUT_S = 10.0
# Well above an LLM's pause between deltas, so that only an abandoned stream is ended.
DEFAULT_STREAM_IDLE_TIMEOUT_S = 120.0
# A stream's whole text, however it drips in: an LLM writes a long answer in well under a minute.
DEFAULT_STREAM_TIMEOUT_S = 300.0
DEFAULT_IDLE_TIMEOUT_S = 60.0


class ProtocolError(Exception):
    """The client sent something that is not a Wyoming event we accept."""

    def __init__(self, message: str, code: str = "bad-event") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class EventLimits:
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES
    """Header line, data and payload of one event together."""
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    """Time to send the rest of an event once its first byte has arrived."""
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    """Time a connection with nothing running may stay silent (0: for ever)."""
    stream_idle_timeout_s: float = DEFAULT_STREAM_IDLE_TIMEOUT_S
    """Time an open stream may go without text (0: for ever)."""
    stream_timeout_s: float = DEFAULT_STREAM_TIMEOUT_S
    """Time from a stream's start to the end of its text (0: for ever)."""


@dataclass(frozen=True)
class Deadline:
    """When a silent client is refused, and what it is told."""

    at: float
    """time.monotonic() by which the client must have begun its next event."""
    message: str
    code: str


# With no deadline now, how often to ask again (a request that ends starts the idle clock).
_RECHECK_S = 1.0


async def read_event(
    reader: asyncio.StreamReader, limits: EventLimits, deadline: Callable[[], Deadline | None] = lambda: None
) -> Event | None:
    """The next event, or None when the client has closed the connection between events.

    `deadline` says by when the next event must begin (None: no limit now); a client
    silent past it gets the deadline's error. Raises ProtocolError for that and for
    anything else: bad JSON or UTF-8, a missing type, announced lengths over the
    limit, or an event cut off or left unfinished.
    """
    first = await _first_byte(reader, deadline)
    if not first:
        return None
    try:
        async with asyncio.timeout(limits.read_timeout_s):
            return await _read_rest(reader, first, limits)
    except TimeoutError:
        raise ProtocolError(f"Event not completed within {limits.read_timeout_s:g} s", "read-timeout") from None
    except asyncio.IncompleteReadError:
        raise ProtocolError("Connection closed in the middle of an event") from None


async def _first_byte(reader: asyncio.StreamReader, deadline: Callable[[], Deadline | None]) -> bytes:
    while True:
        due = deadline()
        left = _RECHECK_S if due is None else due.at - time.monotonic()
        if left <= 0 and due is not None:
            raise ProtocolError(due.message, due.code)
        # A cancelled read loses nothing: bytes that arrive stay in the reader's buffer.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(left):
                return await reader.read(1)


async def _read_rest(reader: asyncio.StreamReader, first: bytes, limits: EventLimits) -> Event:
    line = await _read_line(reader, first, limits.max_bytes)
    header = _json_object(line, "header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ProtocolError("Event header has no type")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise ProtocolError("Event data is not a JSON object")
    data_length = _length(header, "data_length")
    payload_length = _length(header, "payload_length")
    size = len(line) + data_length + payload_length
    if size > limits.max_bytes:
        raise ProtocolError(
            f"Event of {size} bytes is over the limit of {limits.max_bytes} (--max-event-bytes)", "event-too-large"
        )
    if data_length:
        data = {**data, **_json_object(await reader.readexactly(data_length), "data")}
    payload = await reader.readexactly(payload_length) if payload_length else None
    return Event(type=event_type, data=data, payload=payload)


async def _read_line(reader: asyncio.StreamReader, first: bytes, max_bytes: int) -> bytes:
    """The line that starts with `first`, at most max_bytes long whatever the stream's own limit."""
    line = bytearray(first)
    while not line.endswith(b"\n"):
        try:
            line += await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as err:
            line += await reader.readexactly(err.consumed)
        if len(line) > max_bytes:
            raise ProtocolError(
                f"Event header longer than the limit of {max_bytes} bytes (--max-event-bytes)", "event-too-large"
            )
    return bytes(line)


def _json_object(raw: bytes, part: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ProtocolError(f"Event {part} is not valid UTF-8: {err}") from None
    except (ValueError, RecursionError) as err:  # RecursionError: "[[[[..." nested too deep
        raise ProtocolError(f"Event {part} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"Event {part} is not a JSON object")
    return value


def _length(header: dict[str, Any], key: str) -> int:
    value = header.get(key) or 0
    # bool is an int in Python; a length of `true` is still nonsense.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"Event {key} is not a length: {value!r}")
    return value
