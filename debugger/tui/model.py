"""The live view's state, without any Textual: the bounded buffer, LIVE/PAUSED, the search,
following the newest, and what the collector last said about itself. Pure, so it is tested
without a terminal; how a row or the header reads lives in `rows` and the status bar.

Arrivals only append to a bounded `pending` deque (O(1), whatever the burst); the events
screen calls `flush()` on a timer, so a burst costs one table update, and a pause simply stops
flushing.

The search filters what is *shown*, never what is kept: `kept` holds the newest 500 events of
the whole stream, and while a search is active `found` holds its newest 500 matches as well
(the collector sends matches as priority events, so they are never sampled away; without their
own ring a busy stream of non-matching events would push them out of `kept`). Clearing the
search shows `kept` again, with everything that arrived meanwhile.
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
CONNECTING, CONNECTED, RECONNECTING = "connecting", "connected", "reconnecting"


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
    """What changed in the list: items that left it and items that joined it (matches of the
    search only, when one is active)."""

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
    refused_dropped: int = 0  # refused calls this viewer was not sent (over its refused budget)

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
            refused_dropped=int(line.get("refused_dropped", 0) or 0),
        )


def identity(envelope: Mapping[str, Any]) -> tuple[Any, Any]:
    """What tells one collector event from another across reconnects: (seq, receivedAt)."""
    return envelope.get("seq"), envelope.get("receivedAt")


@dataclass
class LiveModel:
    """Bounded buffer (500 kept + at most 500 waiting), pause state and the current search,
    plus the connection facts the header shows."""

    capacity: int = CAPACITY
    query: ListFilter = MATCH_ALL
    paused: bool = False
    new_while_paused: int = 0
    stats: Counts = field(default_factory=Counts)
    connection: str = CONNECTING  # CONNECTING (no hello yet), CONNECTED, or RECONNECTING
    lost_reason: str = ""  # why the last connection (or attempt) failed, while not connected
    http: str = ""
    archive: str = ""
    archive_start: protocol.ArchiveStart | None = None  # where this collector's session starts
    hard_filter: str = ""  # `live --filter`: the collector sends nothing else
    reading: str = ""  # what a source that is no collector reads ("FILE · FOLLOWING"), see sources.Reading

    def __post_init__(self) -> None:
        self.kept: deque[Item] = deque(maxlen=self.capacity)
        self.pending: deque[Item] = deque(maxlen=self.capacity)
        self.found: deque[Item] | None = None  # the search's matches, None without a search
        # Matches waiting for the next flush: a burst that overflows `pending` (or a pause)
        # must not push the search's matches out with the rest.
        self.pending_found: deque[Item] = deque(maxlen=self.capacity)
        self.cleared: list[Item] = []  # what `c` took away, until `u` brings it back
        self._ids = itertools.count(1)
        self._known: set[tuple[Any, Any]] | None = None  # identities, while history arrives
        self.arrived = 0  # events this viewer was sent (history repeats not counted)
        self.displayed = 0  # of those, how many reached the buffer (a pause skips the overflow)
        self.refused_arrived = 0
        self.refused_displayed = 0
        self.set_query(self.query)

    # --- arrivals ------------------------------------------------------------------------

    def arrive(self, envelope: protocol.EventEnvelope) -> None:
        """An event arrived: queue it for the next flush (counted when paused). A history
        event this viewer already holds (sent again after a reconnect) is skipped."""
        if envelope.get("history"):
            if self._known is None:
                self._known = {identity(item.envelope) for item in itertools.chain(self.kept, self.pending)}
            if identity(envelope) in self._known:
                return
            self._known.add(identity(envelope))
        else:
            self._known = None
        item = Item(next(self._ids), envelope)
        self.pending.append(item)
        if self.found is not None and self.query.matches(envelope):
            self.pending_found.append(item)
        self.arrived += 1
        self.refused_arrived += envelope.get("status") == protocol.REFUSED
        if self.paused:
            self.new_while_paused += 1

    def flush(self) -> Flush:
        """Move waiting events into the buffer (nothing while paused); what the list gains
        and loses."""
        if self.paused or not (self.pending or self.pending_found):
            return Flush([], [])
        added = list(self.pending)
        self.pending.clear()
        self.displayed += len(added)
        self.refused_displayed += sum(item.envelope.get("status") == protocol.REFUSED for item in added)
        listed_before = self.kept
        if self.found is not None:
            self.kept.extend(added)
            added = list(self.pending_found)
            listed_before = self.found
        self.pending_found.clear()
        overflow = max(0, len(listed_before) + len(added) - self.capacity)
        evicted = [listed_before[i] for i in range(min(overflow, len(listed_before)))]
        listed_before.extend(added)
        return Flush(evicted, added)

    # --- the search ----------------------------------------------------------------------

    def set_query(self, query: ListFilter) -> None:
        """A new search: the list shows the kept events it matches (all of them for none)."""
        self.query = query
        self.found = deque(self.matching(self.kept), maxlen=self.capacity) if query.text.strip() else None
        self.pending_found = deque(self.matching(self.pending) if self.found is not None else (),
                                   maxlen=self.capacity)

    @property
    def searching(self) -> bool:
        return self.found is not None

    def listed(self) -> list[Item]:
        """What the list shows, oldest first: the search's matches, or everything kept."""
        return list(self.found if self.found is not None else self.kept)

    def matching(self, items: Iterable[Item]) -> list[Item]:
        return [item for item in items if self.query.matches(item.envelope)]

    # --- keys ----------------------------------------------------------------------------

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        self.new_while_paused = 0

    def clear(self) -> int:
        """Empty the list; `restore` undoes it. Returns how many events were cleared."""
        self.cleared = [*self.kept, *self.pending]  # disjoint: a flush moves pending into kept
        self.kept.clear()
        self.pending.clear()
        self.pending_found.clear()
        if self.found is not None:
            self.found.clear()
        self.new_while_paused = 0
        return len(self.cleared)

    def restore(self) -> int:
        """Bring back what the last `clear` removed, before what arrived since (still at most
        `capacity`); how many came back."""
        back, self.cleared = self.cleared, []
        if not back:
            return 0
        since = list(self.kept)
        self.kept.clear()
        self.kept.extend(back + since)
        self.set_query(self.query)
        return len(back)

    # --- news from the collector ---------------------------------------------------------

    def take_stats(self, line: Mapping[str, Any]) -> None:
        self.stats = Counts.of(line)

    def take_hello(self, line: Mapping[str, Any]) -> None:
        self.http = str(line.get("http") or "")
        self.archive = str(line.get("archive") or "")
        self.archive_start = _archive_start(line.get("archive_start"))
        self.connection, self.lost_reason = CONNECTED, ""
        self._known = None  # a new connection: its history is checked against what is held now

    def lost(self, reason: str) -> None:
        """The source lost its collector (or could not reach one) and is trying again: once
        connected, the viewer is RECONNECTING; before its first hello, still CONNECTING."""
        if self.connection == CONNECTED:
            self.connection = RECONNECTING
        self.lost_reason = reason


def _archive_start(value: Any) -> protocol.ArchiveStart | None:
    """The hello's `archive_start` (None from a collector that does not say, or a file)."""
    if not isinstance(value, Mapping):
        return None
    return {"archive": int(value.get("archive") or 0), "rejected": int(value.get("rejected") or 0)}


def follows(cursor: int, row_count: int) -> bool:
    """Follow new events only when the cursor is on the newest row (or there are no rows)."""
    return row_count == 0 or cursor >= row_count - 1
