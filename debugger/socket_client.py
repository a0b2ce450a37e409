"""Reading a collector's socket: `subscribe()` yields each line (hello, event, stats, ...),
decoded by debugger.protocol; `connect()` gives the open `Connection` for a viewer that
changes its subscription as it goes (the live TUI's search).

Used by `segdebug tail`, the live TUI and the tests, so they all speak the protocol one way.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import AsyncIterator

from debugger import protocol

# Event lines carry the raw text of refused calls, which may be large.
LINE_LIMIT = 64 * 1024 * 1024


class CollectorUnavailable(ConnectionError):
    """Nothing is listening on the socket (no collector running there)."""


class CollectorGone(ConnectionError):
    """The collector closed the connection or stopped."""


class SubscriptionRefused(ConnectionError):
    """The collector refused the subscribe line (e.g. a bad filter); `line` is its answer."""

    def __init__(self, line: protocol.ErrorLine) -> None:
        super().__init__(str(line.get("message", "subscription refused")))
        self.line = line


def read_hello(path: Path, timeout: float = 5.0) -> protocol.Hello:
    """The first line of the collector at `path`, its hello, read with a blocking socket: for
    code that asks once (`segdebug delivery` finding the HTTP URL, `live` probing for a running
    collector, tests waiting for one to start). Raises OSError when nothing answers there,
    protocol.ProtocolError when what answers is not a collector."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(str(path))
        data = b""
        while b"\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                raise CollectorGone("the connection closed before the collector's hello")
            data += chunk
    line = protocol.decode(data.split(b"\n", 1)[0])
    if line["kind"] != protocol.HELLO or not isinstance(line.get("http"), str):
        raise protocol.ProtocolError("the first line is not a collector's hello")
    return line


class Connection:
    """An open connection to a collector's socket: its lines, and a way to say a new subscribe
    line on it later (a viewer changing its search keeps the stream and its history instead
    of reconnecting). Made by `connect`; closed by `close` or leaving `async with`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    def subscribe(
        self, query: str | None = None, max_rate: float | None = None, *,
        priority: str | None = None, history: int = 0,
    ) -> None:
        """Say what to send: the first line sets the subscription (history only counts
        there); a later one replaces it on the open connection. Nothing when closed."""
        if not self._writer.is_closing():
            self._writer.write(protocol.subscribe(query, max_rate, priority=priority, history=history))

    async def lines(self) -> AsyncIterator[protocol.Line]:
        """Every line the collector sends, hello first. Raises CollectorGone when it goes
        away, SubscriptionRefused when it refuses a subscribe line."""
        while True:
            try:
                data = await self._reader.readline()
            except (ConnectionError, ValueError) as error:
                raise CollectorGone(f"connection lost: {error}") from error
            if not data.endswith(b"\n"):
                raise CollectorGone("connection closed")
            line = protocol.decode(data)
            if line["kind"] == protocol.ERROR:
                raise SubscriptionRefused(line)
            yield line

    def close(self) -> None:
        self._writer.close()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


async def connect(path: Path) -> Connection:
    """Connect to the collector at `path`; raises CollectorUnavailable when nothing listens."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=LINE_LIMIT)
    except (FileNotFoundError, ConnectionRefusedError) as error:
        raise CollectorUnavailable(f"no collector is listening on {path}") from error
    except OSError as error:
        raise CollectorUnavailable(f"cannot connect to {path}: {error.strerror or error}") from error
    return Connection(reader, writer)


async def subscribe(
    path: Path, query: str | None = None, max_rate: float | None = None, *,
    priority: str | None = None, history: int = 0,
) -> AsyncIterator[protocol.Line]:
    """Yield every line from the collector at `path`, hello first (then, with `history`, up
    to that many recent events marked `history`, then the live stream).

    Raises CollectorUnavailable when it cannot connect, CollectorGone when the collector goes
    away, SubscriptionRefused when it refuses the filter: all ConnectionErrors.
    """
    async with await connect(path) as connection:
        # Always say what we want, so the collector need not wait out its grace period.
        connection.subscribe(query, max_rate, priority=priority, history=history)
        async for line in connection.lines():
            yield line
