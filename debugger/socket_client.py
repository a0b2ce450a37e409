"""Reading a collector's socket: `subscribe()` yields each line (hello, event, stats) as a dict.

Used by `segdebug tail`, the live TUI and the tests, so they all speak the protocol one way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator

import orjson

# Event lines carry the raw text of refused calls, which may be large.
LINE_LIMIT = 64 * 1024 * 1024


class CollectorUnavailable(ConnectionError):
    """Nothing is listening on the socket (no collector running there)."""


class CollectorGone(ConnectionError):
    """The collector closed the connection or stopped."""


class SubscriptionRefused(ConnectionError):
    """The collector refused the subscribe line (e.g. a bad filter); `line` is its answer."""

    def __init__(self, line: dict[str, Any]) -> None:
        super().__init__(str(line.get("message", "subscription refused")))
        self.line = line


def subscribe_line(query: str | None, max_rate: float | None) -> bytes:
    """The optional first line a viewer sends."""
    body: dict[str, Any] = {}
    if query:
        body["filter"] = query
    if max_rate is not None:
        body["max_rate"] = max_rate
    return orjson.dumps({"subscribe": body}, option=orjson.OPT_APPEND_NEWLINE)


async def subscribe(
    path: Path, query: str | None = None, max_rate: float | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Yield every line from the collector at `path`, hello first.

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
        writer.write(subscribe_line(query, max_rate))
        while True:
            try:
                line = await reader.readline()
            except (ConnectionError, ValueError) as error:
                raise CollectorGone(f"connection lost: {error}") from error
            if not line.endswith(b"\n"):
                raise CollectorGone("connection closed")
            item = orjson.loads(line)
            if item.get("kind") == "error":
                raise SubscriptionRefused(item)
            yield item
    finally:
        writer.close()
