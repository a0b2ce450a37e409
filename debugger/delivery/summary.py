"""What reached a destination, as Segment's Event Delivery shows it (pure, clock passed in).

Key metrics: Delivered, Not delivered, Filtered, retries, in flight and P95 latency (end to
end: from `receivedAt` to the destination's answer); an error table grouped by status and
reason, each row with its count, when it was last seen and one example (You sent / Request to
destination / Response from destination); per-minute buckets for the last hour, from which the
10-minute and 1-hour windows and the trend sparklines are made. Memory is fixed: one histogram
per minute, at most MAX_ERROR_GROUPS rows.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from debugger.delivery.exchange import Exchange
from debugger.delivery.latency import LatencyHistogram

MAX_ERROR_GROUPS = 50
MINUTES_KEPT = 60
WINDOWS = {"10m": 10, "1h": 60}
OTHER_REASON = "(other errors: more distinct reasons than the table keeps)"
ErrorKey = tuple[int | None, str]


@dataclass
class Example:
    """One failed attempt, shown in full: You sent, Request to destination, Response from it."""

    sent: str
    request: dict[str, Any]
    response: dict[str, Any]

    @classmethod
    def of(cls, sent: str, exchange: Exchange) -> "Example":
        """The example of a failed attempt, the write keys the request carried masked in all
        three (debugger.delivery.exchange says which keys, and why always)."""
        keys = exchange.keys()
        return cls(exchange.hide(sent, keys), exchange.request(keys), exchange.response(keys))

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "request": self.request, "response": self.response}


@dataclass
class ErrorGroup:
    """One row of the error table: failed attempts (in messages) with one status and reason."""

    status: int | None
    reason: str
    count: int = 0  # messages in failed attempts, retried ones included
    not_delivered: int = 0  # messages that ended not delivered with this error
    last_seen: float = 0.0  # epoch seconds
    example: Example | None = None

    def as_dict(self, count: int | None = None) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason,
                "count": self.count if count is None else count, "not_delivered": self.not_delivered,
                "last_seen": _iso(self.last_seen),
                "example": self.example.as_dict() if self.example else None}


class ErrorTable:
    """Errors grouped by (status, reason); past MAX_ERROR_GROUPS rows, new reasons share one."""

    def __init__(self, limit: int = MAX_ERROR_GROUPS) -> None:
        self.groups: dict[ErrorKey, ErrorGroup] = {}
        self.limit = limit

    def add(self, status: int | None, reason: str, messages: int, *, final: bool, now: float,
            example: Example | None = None) -> ErrorKey:
        """Count one failed attempt of `messages` messages; the newest example is kept."""
        key: ErrorKey = (status, reason)
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= self.limit:
                key = (None, OTHER_REASON)
                group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = ErrorGroup(*key)
        group.count += messages
        if final:
            group.not_delivered += messages
        group.last_seen = now
        if example is not None:
            group.example = example
        return key

    def rows(self, counts: Counter[ErrorKey] | None = None) -> list[dict[str, Any]]:
        """Rows, most frequent first; with `counts`, only those keys with those counts (a window)."""
        if counts is None:
            ordered = sorted(self.groups.values(), key=lambda g: (-g.count, -g.last_seen))
            return [group.as_dict() for group in ordered]
        return [self.groups[key].as_dict(count) for key, count in counts.most_common() if key in self.groups]


@dataclass
class Tally:
    """Counts over some span (the session, or one minute)."""

    delivered: int = 0
    not_delivered: int = 0
    filtered: int = 0
    retries: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    errors: Counter[ErrorKey] = field(default_factory=Counter)

    def merge(self, other: Tally) -> None:
        self.delivered += other.delivered
        self.not_delivered += other.not_delivered
        self.filtered += other.filtered
        self.retries += other.retries
        self.latency.merge(other.latency)
        self.errors.update(other.errors)

    def figures(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "not_delivered": self.not_delivered,
                "filtered": self.filtered, "retries": self.retries,
                "p95_ms": self.latency.milliseconds(0.95)}


class DestinationSummary:
    """Everything Event Delivery shows for one destination; `as_dict` is its JSON."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.session = Tally()
        self.errors = ErrorTable()
        self.in_flight = 0
        self.backlog_bytes = 0
        self.paused_until: float | None = None
        self.minutes: deque[tuple[int, Tally]] = deque()

    def delivered(self, messages: int, latencies: Iterable[tuple[float, int]], now: float) -> None:
        """Messages the destination acknowledged, and their end-to-end latencies as (seconds,
        how many messages took them); a message without a known latency still counts."""
        latencies = list(latencies)
        for tally in (self.session, self._minute(now)):
            tally.delivered += messages
            for seconds, times in latencies:
                tally.latency.add(seconds, times)

    def failed_attempt(self, status: int | None, reason: str, messages: int, *, final: bool,
                       now: float, example: Example | None = None) -> None:
        """An attempt that failed for `messages` messages: retried, or final (not delivered)."""
        key = self.errors.add(status, reason, messages, final=final, now=now, example=example)
        for tally in (self.session, self._minute(now)):
            tally.errors[key] += messages
            if final:
                tally.not_delivered += messages
            else:
                tally.retries += messages

    def not_delivered(self, reason: str, messages: int, now: float, sent: str = "") -> None:
        """Messages that never reached a request (not JSON, too big): not delivered, no answer."""
        example = Example(sent, {}, {"status": None, "error": reason}) if sent else None
        self.failed_attempt(None, reason, messages, final=True, now=now, example=example)

    def filtered(self, messages: int, now: float) -> None:
        """Messages the integrations object keeps from this destination."""
        self.session.filtered += messages
        self._minute(now).filtered += messages

    def as_dict(self, now: float) -> dict[str, Any]:
        current = int(now // 60)
        windows = {}
        for label, span in WINDOWS.items():
            window = Tally()
            for minute, tally in self.minutes:
                if minute > current - span:
                    window.merge(tally)
            windows[label] = {**window.figures(), "errors": self.errors.rows(window.errors)}
        trend = [{"minute": _iso(minute * 60), "delivered": t.delivered, "not_delivered": t.not_delivered,
                  "p95_ms": t.latency.milliseconds(0.95)}
                 for minute, t in self.minutes if minute > current - MINUTES_KEPT]
        paused = self.paused_until is not None and self.paused_until > now
        return {"name": self.name, "url": self.url, **self.session.figures(),
                "in_flight": self.in_flight, "backlog_bytes": self.backlog_bytes, "paused": paused,
                "errors": self.errors.rows(), "windows": windows, "minutes": trend}

    def _minute(self, now: float) -> Tally:
        minute = int(now // 60)
        if self.minutes and self.minutes[-1][0] == minute:
            return self.minutes[-1][1]
        tally = Tally()
        self.minutes.append((minute, tally))
        while self.minutes and self.minutes[0][0] <= minute - MINUTES_KEPT:
            self.minutes.popleft()
        return tally


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
