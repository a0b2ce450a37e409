"""Reading a collector's socket: `subscribe()` yields each line (hello, event, stats, ...),
decoded by debugger.protocol.

Used by `segdebug tail`, the live TUI and the tests, so they all speak the protocol one way.
"""

from __future__ import annotations

import asyncio
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


async def subscribe(
    path: Path, query: str | None = None, max_rate: float | None = None, *,
    priority: str | None = None, history: int = 0,
) -> AsyncIterator[protocol.Line]:
    """Yield every line from the collector at `path`, hello first (then, with `history`, up
    to that many recent events marked `history`, then the live stream).

    Raises CollectorUnavailable when it cannot connect, CollectorGone when the collector goes
    away, SubscriptionRefused when it refuses the filter: all ConnectionErrors.
    """
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=LINE_LIMIT)
    except (FileNotFoundError, ConnectionRefusedError) as error:
        raise CollectorUnavailable(f"no collector is listening on {path}") from error
    except OSError as error:
        raise CollectorUnavailable(f"cannot connect to {path}: {error.strerror or error}") from error
    try:
        # Always say what we want, so the collector need not wait out its grace period.
        writer.write(protocol.subscribe(query, max_rate, priority=priority, history=history))
        while True:
            try:
                line = await reader.readline()
            except (ConnectionError, ValueError) as error:
                raise CollectorGone(f"connection lost: {error}") from error
            if not line.endswith(b"\n"):
                raise CollectorGone("connection closed")
            item = protocol.decode(line)
            if item["kind"] == protocol.ERROR:
                raise SubscriptionRefused(item)
            yield item
    finally:
        writer.close()
