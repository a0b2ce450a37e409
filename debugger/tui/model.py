"""The live view's state, without any Textual: the bounded buffer, LIVE/PAUSED, the list
filter, following the newest, and what the collector last said about itself. Pure, so it is
tested without a terminal; how a row or the header reads lives in `rows` and the status bar.

Arrivals only append to a bounded `pending` deque (O(1), whatever the burst); the events
screen calls `flush()` on a timer, so a burst costs one table update, and a pause simply stops
flushing.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol

from debugger import protocol
from debugger.query import MATCH_ALL

CAPACITY = 500


class ListFilter(Protocol):
    """What the buffer needs of the search: a debugger.query.Query (or a test's stand-in)."""

    text: str

    def matches(self, envelope: Mapping[str, Any]) -> bool: ...


@dataclass(slots=True)
class Item:
    """One event in the buffer: a local id (row key; collector seqs restart) and its envelope."""

    id: int
    envelope: protocol.EventEnvelope


@dataclass(slots=True)
class Flush:
    """What changed on screen: items that left the buffer and items that joined it."""

    evicted: list[Item]
    added: list[Item]


@dataclass
class Counts:
    """The collector's last `stats` line as this viewer shows it."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0
    rate: float | None = None  # None: not known (an archive file has no arrival rate)
    dropped: int = 0
    sampled: int = 1

    @classmethod
    def of(cls, line: Mapping[str, Any]) -> Counts:
        rate = line.get("rate")
        return cls(
            received=int(line.get("received", 0)),
            accepted=int(line.get("accepted", 0)),
            rejected=int(line.get("rejected", 0)),
            rate=float(rate) if rate is not None and math.isfinite(float(rate)) else None,
            dropped=int(line.get("dropped", 0)),
            sampled=max(1, int(line.get("sampled", 1) or 1)),
        )


@dataclass
class LiveModel:
    """Bounded buffer (500 shown + at most 500 waiting), pause state and the current filter,
    plus the connection facts the header shows."""

    capacity: int = CAPACITY
    query: ListFilter = MATCH_ALL
    paused: bool = False
    new_while_paused: int = 0
    stats: Counts = field(default_factory=Counts)
    connection: str = "connecting"
    http: str = ""
    archive: str = ""

    def __post_init__(self) -> None:
        self.shown: deque[Item] = deque(maxlen=self.capacity)
        self.pending: deque[Item] = deque(maxlen=self.capacity)
        self._ids = itertools.count(1)
        self.arrived = 0  # events this viewer was sent
        self.displayed = 0  # of those, how many reached the list (a pause skips the overflow)

    def arrive(self, envelope: protocol.EventEnvelope) -> None:
        """An event arrived: queue it for the next flush (counted when paused)."""
        self.pending.append(Item(next(self._ids), envelope))
        self.arrived += 1
        if self.paused:
            self.new_while_paused += 1

    def flush(self) -> Flush:
        """Move waiting events into the shown buffer (nothing while paused)."""
        if self.paused or not self.pending:
            return Flush([], [])
        added = list(self.pending)
        self.pending.clear()
        overflow = max(0, len(self.shown) + len(added) - self.capacity)
        evicted = [self.shown[i] for i in range(min(overflow, len(self.shown)))]
        self.shown.extend(added)
        self.displayed += len(added)
        return Flush(evicted, added)

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        self.new_while_paused = 0

    def clear(self) -> None:
        self.shown.clear()
        self.pending.clear()
        self.new_while_paused = 0

    def listed(self) -> list[Item]:
        """The shown events that match the filter, oldest first."""
        return [item for item in self.shown if self.query.matches(item.envelope)]

    def matching(self, items: Iterable[Item]) -> list[Item]:
        return [item for item in items if self.query.matches(item.envelope)]

    def take_stats(self, line: Mapping[str, Any]) -> None:
        self.stats = Counts.of(line)

    def take_hello(self, line: Mapping[str, Any]) -> None:
        self.http = str(line.get("http") or "")
        self.archive = str(line.get("archive") or "")
        self.connection = "connected"

    def lost(self, reason: str) -> None:
        self.connection = f"disconnected ({reason}), reconnecting…"


def follows(cursor: int, row_count: int) -> bool:
    """Follow new events only when the cursor is on the newest row (or there are no rows)."""
    return row_count == 0 or cursor >= row_count - 1
