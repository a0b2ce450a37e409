"""Where the live view's lines come from: a collector's socket, or an archive being written.

Both yield protocol lines (hello, event, stats; built with debugger.protocol's builders when
made here) and, between them, a `Disconnected` when the far side went away; a file says what it
reads (`Reading`) right after its hello, since a file is not a live stream. They never end: a
source reconnects or keeps watching.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Iterable, Iterator, Protocol, Union


from debugger import protocol
from debugger.archive import GZIP_MAGIC, event_of_line, open_archive
from debugger.checks import Checker, make_checker
from debugger.query import MATCH_ALL, Query, QueryError, parse
from debugger.socket_client import Connection, SubscriptionRefused, connect

TAIL_EVENTS = 500
HISTORY = 500  # recent events a viewer asks the collector for when it connects
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Disconnected:
    """Not a line: the source lost its collector and is about to try again, and why."""

    reason: str

    @classmethod
    def of(cls, error: object) -> Disconnected:
        return cls(str(error) or type(error).__name__)


@dataclass(frozen=True)
class Reading:
    """Not a line: what a source that is no collector reads, as the header names it instead of
    LIVE: a plain archive is followed (appends show up), a gzip archive is read once (nothing
    is appended to a compressed file), and a developer must not wait on a stream that is over."""

    what: str


FOLLOWED = "FILE · FOLLOWING"
NOT_FOLLOWED = "FILE · GZIP, NOT FOLLOWED"


Received = Union[protocol.Line, Disconnected, Reading]


class LineSource(Protocol):
    """A stream of protocol lines. `query` is the hard filter (`live --filter`): nothing else
    is sent. `prioritise` tells the far side what the search looks for, so those events are
    never sampled away (a no-op where nothing is sampled)."""

    def lines(self, query: str | None) -> AsyncIterator[Received]: ...

    def prioritise(self, query: str | None) -> None: ...


class SocketSource:
    """A collector's Unix socket, reconnecting forever. It asks for the collector's recent
    events first (`history`), and while a search is active sends it as the subscription's
    `priority` on the open connection: the unfiltered stream keeps arriving underneath."""

    def __init__(self, path: Path, max_rate: float | None = None, history: int = HISTORY) -> None:
        self.path = path
        self.max_rate = max_rate
        self.history = history
        self.priority: str | None = None
        self._query: str | None = None
        self._connection: Connection | None = None

    async def lines(self, query: str | None) -> AsyncIterator[Received]:
        failures = 0
        self._query = query or None
        local = MATCH_ALL  # the filter, applied here if the collector could not
        while True:
            try:
                async for line in self._subscribed():
                    failures = 0
                    if line["kind"] != protocol.EVENT or local.matches(line):
                        yield line
                error: object = "the collector closed the connection"
            except SubscriptionRefused as refused:
                error = refused
                if self.priority:  # an older collector: search locally, sampled
                    error, self.priority = f"the collector refused the search ({refused}); searching what arrives", None
                elif self._query:  # retrying the same filter would loop: take everything, filter here
                    local = _local_filter(self._query)
                    error, self._query = f"the collector refused the filter ({refused}); filtering locally", None
            except (ConnectionError, OSError, EOFError, ValueError) as problem:  # ValueError: a bad line
                error = problem
            yield Disconnected.of(error)
            await asyncio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            failures += 1

    def prioritise(self, query: str | None) -> None:
        """Search for `query` (None: no search): said at once on the open connection, and on
        every reconnection."""
        self.priority = query or None
        if self._connection is not None:
            self._connection.subscribe(self._query, self.max_rate, priority=self.priority)

    async def _subscribed(self) -> AsyncIterator[protocol.Line]:
        """One connection's lines; while it is open, `prioritise` says new searches on it."""
        async with await connect(self.path) as connection:
            self._connection = connection
            try:
                connection.subscribe(self._query, self.max_rate, priority=self.priority, history=self.history)
                async for line in connection.lines():
                    yield line
            finally:
                self._connection = None


def _local_filter(text: str) -> Query:
    try:
        return parse(text)
    except QueryError:  # nothing sensible to filter by: everything
        return MATCH_ALL


class FileSource:
    """An NDJSON archive: its last 500 events, then whatever is appended (watchfiles)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def prioritise(self, query: str | None) -> None:
        """Nothing to do: an archive is never sampled."""

    async def lines(self, query: str | None) -> AsyncIterator[Received]:
        from watchfiles import awatch

        yield protocol.hello(version="", http="", archive=str(self.path.resolve()))
        gzipped = _is_gzip(self.path)
        yield Reading(NOT_FOLLOWED if gzipped else FOLLOWED)
        tally = Tally(only=parse(query) if query else MATCH_ALL)
        if gzipped:  # a finished, compressed archive: its last 500, nothing to tail
            for envelope in tally.envelopes(_last_gzip_lines(self.path, TAIL_EVENTS)):
                yield envelope
            yield tally.stats()
            await asyncio.Event().wait()
        tail, offset = last_lines(self.path, TAIL_EVENTS)
        for envelope in tally.envelopes(tail):
            yield envelope
        yield tally.stats()
        rest = b""
        async for _changes in awatch(self.path, debounce=50, step=20, rust_timeout=1000):
            size = os.path.getsize(self.path) if self.path.exists() else 0
            if size < offset:  # truncated or replaced: start again from its top
                offset, rest = 0, b""
            with open(self.path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
            offset += len(data)
            *complete, rest = (rest + data).split(b"\n")
            for envelope in tally.envelopes(complete):
                yield envelope
            yield tally.stats()


@dataclass
class Tally:
    """A file source's own counters: an archive has no collector to send stats lines."""

    check: Checker = field(default_factory=make_checker)
    only: Query = MATCH_ALL  # `live --filter`: the hard filter a collector would apply
    received: int = 0
    rejected: int = 0

    def envelopes(self, lines: Iterable[bytes]) -> Iterator[protocol.EventEnvelope]:
        """The lines as event envelopes (blank ones skipped), counted; those the filter keeps."""
        for raw in lines:
            if (envelope := file_event(raw, self.check, self.received + 1)) is not None:
                self.received += 1
                self.rejected += envelope["status"] == protocol.REFUSED
                if self.only.matches(envelope):
                    yield envelope

    def stats(self) -> protocol.Stats:
        # NaN: an archive has no arrival rate, and the viewer shows none (see LiveModel).
        return protocol.stats(self.received, self.received - self.rejected, self.rejected,
                              rate=math.nan, dropped=0)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _last_gzip_lines(path: Path, count: int) -> list[bytes]:
    with open_archive(str(path)) as handle:
        return list(deque((line.rstrip(b"\r\n") for line in handle if line.strip()), maxlen=count))


def last_lines(path: Path, count: int, block: int = 65536) -> tuple[list[bytes], int]:
    """The last `count` complete lines of a file, read backwards (the archive may be huge),
    and the offset just after the last complete line."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        data = b""
        position = end
        while position > 0 and data.count(b"\n") <= count:
            step = min(block, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    complete_end = data.rfind(b"\n") + 1
    lines = data[:complete_end].split(b"\n")[:-1]
    if position > 0:
        lines = lines[1:]  # the first one may be cut
    kept: deque[bytes] = deque((line for line in lines if line.strip()), maxlen=count)
    return list(kept), position + complete_end


def file_event(raw: bytes, check: Checker | None = None, seq: int = 0) -> protocol.EventEnvelope | None:
    """An archive line as the live view shows it, checked as the collector checks (the full
    checker unless one is given); None for a blank line."""
    if not raw.strip():
        return None
    return event_of_line(raw, seq, check or make_checker())
