"""Strings for log lines: what a client sent, echoed short and unable to forge a line; counts, in words."""

import json

from wyoming.event import Event


def clip(text: str, limit: int = 200) -> str:
    """A string that may come from a client, as it may be echoed in a reply or a log line: short, and
    with line breaks, escape sequences and other unprintable characters escaped (`\\n`, `\\x1b`), so
    that no client can write a line of its own into the log or colour the terminal that shows it."""
    cut = text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"
    if cut.isprintable():
        return cut
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in cut)


def counted(count: int, noun: str) -> str:
    """`1 voice`, `2 voices`: a count and its noun, for log lines a person reads."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_event(event: Event) -> str:
    """An event for the debug log: its type and sizes, and the text of text-carrying events (never audio)."""
    parts = [clip(event.type)]
    if event.data:
        parts.append(f"data={len(json.dumps(event.data, ensure_ascii=False).encode())} bytes")
    if event.payload:
        parts.append(f"payload={len(event.payload)} bytes")
    if event.type in _TEXT_EVENTS:
        for key in ("voice", "text", "code"):
            if key in event.data:
                parts.append(f"{key}={event.data[key]!r}")
    return " ".join(parts)


_TEXT_EVENTS = {"synthesize", "synthesize-start", "synthesize-chunk", "error"}
