"""The live view's state, without any Textual: the bounded buffer, LIVE/PAUSED, the filter,
row text and cursor following. Pure so it is tested without a terminal.

Arrivals only append to a bounded `pending` deque (O(1), whatever the burst); the UI calls
`flush()` on a timer, so a burst costs one table update, and a pause simply stops flushing.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol

from debugger.message import call_type, mask_key, name_of, parse_time, user_of

CAPACITY = 500

# C0 controls, DEL and C1 controls become visible symbols: a payload can never move the cursor,
# change colours or set the window title of the terminal that shows it.
_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_CONTROL_PICTURES[0x7F] = "\u2421"
_CONTROL_PICTURES.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
# Bidirectional overrides would let a payload reorder what is shown around it.
_CONTROL_PICTURES.update(
    {code: f"\\u{code:04x}" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
)


def visible(text: str) -> str:
    """`text` with control characters shown as symbols (ESC -> "␛", newline -> "␊") and
    C1 controls and bidi overrides as escapes."""
    return text.translate(_CONTROL_PICTURES)


class Matcher(Protocol):
    """What the model needs of a query (debugger.query.Query)."""

    text: str

    def matches(self, envelope: Mapping[str, Any]) -> bool: ...


class _MatchAll:
    text = ""

    def matches(self, envelope: Mapping[str, Any]) -> bool:
        return True


MATCH_ALL: Matcher = _MatchAll()


@dataclass(frozen=True, slots=True)
class Row:
    """The text of one table row, control characters already made visible."""

    time: str
    mark: str
    type: str
    name: str
    user: str
    source: str
    problem: str  # the first problem not already shown as the name ("" when none)


COLUMNS: tuple[str, ...] = ("Time", "", "Type", "Name", "User", "Source", "Problem")

MARK_ACCEPTED = "✓"
MARK_WARNING = "!"
MARK_REFUSED = "✗"


def mark_of(envelope: Mapping[str, Any]) -> str:
    """✓ accepted, ! accepted with warnings, ✗ refused."""
    if envelope.get("status") == "rejected":
        return MARK_REFUSED
    return MARK_WARNING if envelope.get("problems") else MARK_ACCEPTED


def row_of(envelope: Mapping[str, Any]) -> Row:
    """The row for an event envelope; a refused call without a message shows its first reason."""
    message = envelope.get("message")
    received = parse_time(envelope.get("receivedAt"))
    time = received.astimezone().strftime("%H:%M:%S") if received else ""
    problems = [str(p.get("message", "")) for p in envelope.get("problems") or () if isinstance(p, Mapping)]
    if isinstance(message, Mapping):
        kind, name, user = call_type(message).upper() or "?", name_of(message), user_of(message)
    else:
        kind, name, user = "—", problems[0] if problems else "", ""
        problems = problems[1:]
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return Row(
        time=time,
        mark=mark_of(envelope),
        type=visible(kind),
        name=visible(_clip(name)),
        user=visible(_clip(user)),
        source=visible(mask_key(_as_text(envelope.get("writeKey")))),
        problem=visible(_clip(problems[0]) + more) if problems else "",
    )


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(slots=True)
class Item:
    """One event in the buffer: a local id (row key; collector seqs restart) and its envelope."""

    id: int
    envelope: dict[str, Any]


@dataclass(slots=True)
class Flush:
    """What changed on screen: items that left the buffer and items that joined it."""

    evicted: list[Item]
    added: list[Item]


@dataclass
class Stats:
    """The collector's last stats line, plus what this viewer was told about it."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0
    rate: float | None = None  # None: not known (an archive file has no arrival rate)
    dropped: int = 0
    sampled: int = 1


@dataclass
class LiveModel:
    """Bounded buffer (500 shown + at most 500 waiting), pause state and the current filter."""

    capacity: int = CAPACITY
    query: Matcher = MATCH_ALL
    paused: bool = False
    new_while_paused: int = 0
    stats: Stats = field(default_factory=Stats)
    connection: str = "connecting"
    http: str = ""
    archive: str = ""

    def __post_init__(self) -> None:
        self.shown: deque[Item] = deque(maxlen=self.capacity)
        self.pending: deque[Item] = deque(maxlen=self.capacity)
        self._ids = itertools.count(1)
        self.arrived = 0  # events this viewer was sent
        self.displayed = 0  # of those, how many reached the list (a pause skips the overflow)

    def arrive(self, envelope: dict[str, Any]) -> None:
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
        self.stats = Stats(
            received=int(line.get("received", 0)),
            accepted=int(line.get("accepted", 0)),
            rejected=int(line.get("rejected", 0)),
            rate=float(line["rate"]) if line.get("rate") is not None else None,
            dropped=int(line.get("dropped", 0)),
            sampled=max(1, int(line.get("sampled", 1) or 1)),
        )


def follows(cursor: int, row_count: int) -> bool:
    """Follow new events only when the cursor is on the newest row (or there are no rows)."""
    return row_count == 0 or cursor >= row_count - 1


def counters_text(stats: Stats) -> str:
    """Exact counts, the sampling this viewer gets, the rate; most important first, since a
    narrow terminal cuts the end of the line."""
    parts = [f"received {stats.received:,}  accepted {stats.accepted:,}  refused {stats.rejected:,}"]
    if stats.sampled > 1:
        parts.append(f"sampled: 1 in {stats.sampled:,}")
    if stats.rate is not None:
        parts.append(f"{stats.rate:,.0f}/s" if stats.rate >= 10 else f"{stats.rate:.1f}/s")
    if stats.dropped:
        parts.append(f"dropped {stats.dropped:,}")
    return " · ".join(parts)


def mode_text(model: LiveModel) -> str:
    """"LIVE", or "PAUSED +1,234 new" while paused."""
    return f"PAUSED +{model.new_while_paused:,} new" if model.paused else "LIVE"


def skew_seconds(message: Mapping[str, Any]) -> float | None:
    """Client clock minus server clock: sentAt - receivedAt (network time ignored)."""
    sent, received = parse_time(message.get("sentAt")), parse_time(message.get("receivedAt"))
    if sent is None or received is None:
        return None
    return (sent - received).total_seconds()



STATUSES: tuple[str, ...] = ("accepted", "refused")


def compose_query(text: str, types: Iterable[str], statuses: Iterable[str]) -> str:
    """The search text plus the quick toggles as query terms; a full or empty set adds nothing."""
    from debugger.message import CALL_TYPES

    toggles = []
    chosen = [kind for kind in CALL_TYPES if kind in set(types)]
    if chosen and len(chosen) < len(CALL_TYPES):
        toggles.append("type:" + ",".join(chosen))
    wanted = set(statuses)
    if wanted == {"accepted"}:
        toggles.append("-is:rejected")
    elif wanted == {"refused"}:
        toggles.append("is:rejected")
    text = text.strip()
    if not toggles:
        return text
    return " ".join([f"({text})", *toggles] if text else toggles)
