"""The open client connections: how many may be open, how they end at shutdown, and stdio."""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Protocol, cast

from wyoming.event import async_get_stdin, async_get_stdout
from wyoming.server import HandlerFactory

from .echo import counted

_LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 64
# Half the places: one device (or one attacker) cannot lock Home Assistant out, and Home
# Assistant itself (a connection per request) can still run 20 requests at once.
DEFAULT_MAX_CONNECTIONS_PER_PEER = 32
DEFAULT_SHUTDOWN_GRACE_S = 5.0
# After the grace period, how long the closing events (`error`, the stream's end) may take to go
# out before the connections still writing are dropped: the stop's bound beyond the grace period.
CLOSING_BOUND_S = 2.0


class Connection(Protocol):
    """What the registry and wyoming's servers need of a connection's handler."""

    async def run(self) -> None:
        """Serve the connection until the client leaves."""

    async def stop(self) -> None:
        """Close the connection."""

    @property
    def busy(self) -> bool:
        """A request is being answered (or a stream is still open)."""

    @property
    def waiting_since(self) -> float | None:
        """time.monotonic() since when it has waited on its client (idle, or a stream waiting for text);
        None while it answers a request whose text is all in."""

    @property
    def last_active(self) -> float:
        """time.monotonic() of the last event read or written."""

    async def until_answered(self) -> None:
        """Wait until the running request has been answered."""

    async def abort(self, text: str, code: str) -> None:
        """End the running request now with an `error` event."""

    def drop(self) -> None:
        """Close the connection now, unsent data and all."""


class Connections:
    """Admits connections up to a cap (and a cap per client address) and, at shutdown, lets running requests finish.

    When every place is taken, a newcomer from another address gets in by closing the
    longest-idle connection of the address that holds the most: connections a device keeps
    open without using them, or streams it feeds a character now and then, cannot keep Home
    Assistant out.
    """

    def __init__(self, limit: int = DEFAULT_MAX_CONNECTIONS, per_peer: int = DEFAULT_MAX_CONNECTIONS_PER_PEER) -> None:
        self.limit = limit
        self.per_peer = per_peer
        self._open: dict[Connection, str | None] = {}  # each connection's client address (None: stdio, unix)
        self._closing = False

    def admit(self, connection: Connection, peer: str | None = None) -> tuple[str, str] | None:
        """Register a new connection from `peer`, or say why it is refused: (message, error code)."""
        if self._closing:
            return "The server is shutting down", "server-stopping"
        held = Counter(self._open.values())
        if peer is not None and self.per_peer and held[peer] >= self.per_peer:
            text = f"Too many connections from {peer}: {held[peer]} are open (--max-connections-per-peer)"
            return text, "too-many-connections"
        if len(self._open) >= self.limit and not self._make_room(peer, held):
            return f"Too many connections: {len(self._open)} are open (--max-connections)", "too-many-connections"
        self._open[connection] = peer
        return None

    def _make_room(self, newcomer: str | None, held: Counter) -> bool:
        """Close the longest-idle connection of the address that holds the most, if that is another's: one
        with nothing running first, else the open stream whose text came longest ago."""
        holder, count = max(((peer, n) for peer, n in held.items() if peer is not None), key=lambda item: item[1],
                            default=(None, 0))  # fmt: skip
        if holder is None or holder == newcomer or count <= held[newcomer]:
            return False
        waiting = [(c.busy, since, c) for c, peer in self._open.items() if peer == holder
                   and (since := c.waiting_since) is not None]  # fmt: skip
        if not waiting:
            return False
        *_, victim = min(waiting, key=lambda item: item[:2])
        _LOGGER.info("All %d connections taken: closing the longest idle of %s's %d to admit %s",
                     self.limit, holder, count, newcomer)  # fmt: skip
        del self._open[victim]
        victim.drop()
        return True

    @property
    def count(self) -> int:
        """Connections open now (the web page's status)."""
        return len(self._open)

    @property
    def closing(self) -> bool:
        """The server is stopping: no new request starts."""
        return self._closing

    def remove(self, connection: Connection) -> None:
        self._open.pop(connection, None)

    async def drain(self, grace_s: float) -> None:
        """Refuse new connections; give running requests grace_s to finish, then end them with an error."""
        self._closing = True
        busy = [connection for connection in self._open if connection.busy]
        if not busy:
            return
        _LOGGER.info("Waiting up to %g s for %s", grace_s, counted(len(busy), "running request"))
        _, late = await asyncio.wait([asyncio.create_task(c.until_answered()) for c in busy], timeout=grace_s)
        for task in late:
            task.cancel()
        unfinished = [connection for connection in busy if connection.busy]
        if not unfinished:
            return
        _LOGGER.warning("Ending %s that did not finish in %g s", counted(len(unfinished), "request"), grace_s)
        ending = {asyncio.create_task(c.abort("The server is shutting down", "server-stopping")): c for c in unfinished}
        _, stuck = await asyncio.wait(ending, timeout=CLOSING_BOUND_S)
        if stuck:
            # Their clients do not read: a write would wait --write-timeout, longer than service managers wait.
            _LOGGER.warning("Dropping %s that did not take their closing events in %g s",
                            counted(len(stuck), "client"), CLOSING_BOUND_S)  # fmt: skip
            for task in stuck:
                task.cancel()
                ending[task].drop()
            await asyncio.wait(stuck)


ConnectionFactory = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Connection]


def for_wyoming(factory: ConnectionFactory) -> HandlerFactory:
    """Our connections, as wyoming's servers take them.

    wyoming's AsyncServer calls only `run()` and `stop()` on what a handler factory
    returns (wyoming 1.x, server.py). Its AsyncEventHandler's own `run` reads events
    with no limits, so ours is a plain class, and only its type is cast, here.
    """
    return cast(HandlerFactory, factory)


async def serve_stdio(handler_factory: ConnectionFactory) -> None:
    """stdio://: one connection on stdin and stdout, run as a socket's is.

    wyoming's AsyncStdioServer calls handle_event itself, never the handler's run: none of
    the limits applied, and a request was dropped unanswered as soon as stdin ended.
    """
    handler = handler_factory(await async_get_stdin(), await async_get_stdout())
    await handler.run()
