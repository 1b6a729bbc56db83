"""Fuzzing the event reader: whatever arrives, events or a ProtocolError, within the limits.

The reader alone, fed from memory (thousands of cases), and the real server, fed over TCP.
Inputs that once failed are kept as explicit examples.
"""

import asyncio
import io
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from wyoming.event import Event, write_event
from wyoming.info import Describe

from tests.bad_input import BAD_EVENTS, send_raw
from tests.conftest import ServerProcess
from wyoming_streamtts.wire import EventLimits, ProtocolError, read_event

LIMITS = EventLimits(max_bytes=4096, read_timeout_s=5.0)
KNOWN_CODES = {"bad-event", "event-too-large", "read-timeout"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
events = st.builds(
    Event,
    type=st.text(min_size=1, max_size=20),
    data=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    payload=st.none() | st.binary(min_size=1, max_size=300),
)


def read_all(raw: bytes, limits: EventLimits = LIMITS) -> tuple[list[Event], ProtocolError | None]:
    """Every event the reader finds in `raw` (then the end), and the error that stopped it, if any."""

    async def run() -> tuple[list[Event], ProtocolError | None]:
        reader = asyncio.StreamReader(limit=512)  # smaller than the event limit: lines longer than it still work
        reader.feed_data(raw)
        reader.feed_eof()
        found = []
        try:
            while (event := await read_event(reader, limits)) is not None:
                found.append(event)
        except ProtocolError as err:
            return found, err
        return found, None

    return asyncio.run(run())


def wire_bytes(items: list[Event]) -> bytes:
    buffer = io.BytesIO()
    for item in items:
        write_event(item, buffer)
    return buffer.getvalue()


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=5))
def test_what_wyoming_writes_is_read_back_unchanged(items):
    raw = wire_bytes(items)
    found, error = read_all(raw, EventLimits(max_bytes=1 << 20))
    assert error is None
    assert [(e.type, e.data, e.payload) for e in found] == [(e.type, e.data, e.payload) for e in items]


@settings(max_examples=1000, deadline=None)
@given(st.lists(events, min_size=1, max_size=4), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255))),
       st.integers(0, 10**6))  # fmt: skip
def test_damaged_streams_give_events_or_a_protocol_error(items, flips, cut):
    raw = bytearray(wire_bytes(items))
    for position, value in flips:
        raw[position % len(raw)] = value
    raw = bytes(raw[: cut % (len(raw) + 1)])
    found, error = read_all(raw)
    for event in found:
        assert isinstance(event.type, str) and event.type
        assert isinstance(event.data, dict)
        assert len(event.payload or b"") <= LIMITS.max_bytes
    assert error is None or error.code in KNOWN_CODES


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=6000))
@example(b"\n")
@example(b'{"type": "x", "data_length": 1e3}\n')
@example(b'{"type": "x", "payload_length": true}\n')
@example(b'{"type": "x", "data": [1]}\n')
@example(b'{"type": "' + b"a" * 5000 + b'"}\n')
@example(b'{"type": "x", "data_length": 2}\n[]')
@example(b'{"type": "x"}' + b"[" * 3000)
@example(b'{"type": 1}\n')
def test_arbitrary_bytes_give_events_or_a_protocol_error(raw):
    found, error = read_all(raw)
    assert all(isinstance(event.type, str) and event.type for event in found)
    assert error is None or error.code in KNOWN_CODES


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(["--engine", "espeak", "--read-timeout", "0.5"], None, tmp_path_factory.mktemp("srv"))
    yield process.wait_ready()
    process.stop()


def fragments() -> st.SearchStrategy[bytes]:
    """Bytes that look like the protocol often enough to get past the first check."""
    pieces = [
        st.binary(max_size=200),
        st.sampled_from([raw for raw, _ in BAD_EVENTS.values()]),
        st.builds(lambda e: wire_bytes([e]), events),
        st.builds(
            lambda kind, data: (json.dumps({"type": kind, "data": data}) + "\n").encode(),
            st.sampled_from(["synthesize", "synthesize-start", "synthesize-chunk", "synthesize-stop", "describe"]),
            st.dictionaries(st.sampled_from(["text", "voice", "name", "language"]), json_values, max_size=3),
        ),
    ]
    return st.lists(st.one_of(pieces), min_size=1, max_size=4).map(b"".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=fragments())
@example(raw=b'{"type": "synthesize", "data": {"text": "Hi.", "voice": "en/default"}}\n')
@example(raw=b'{"type": "synthesize-chunk", "data": {"text": null}}\n')
def test_the_server_answers_anything_with_events_or_a_clean_close(server, raw):
    reply = send_raw(server.port, raw, timeout=10.0, half_close=True)
    assert reply.closed, "the server neither answered nor closed"
    assert set(reply.codes) <= KNOWN_CODES | {
        "voice-not-found",
        "empty-text",
        "no-stream",
        "stream-in-progress",
        "text-too-long",
    }


def test_after_the_fuzzing_the_server_serves_and_logged_no_crash(server):
    reply = send_raw(server.port, wire_bytes([Describe().event()]), timeout=5.0, half_close=True)
    assert [e.type for e in reply.events] == ["info"]
    assert "Traceback" not in server.log()
    assert "exception" not in server.log().lower()
