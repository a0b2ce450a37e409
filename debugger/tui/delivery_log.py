"""What the viewer heard about each event's delivery, from the collector's `delivery` lines (pure).

A `delivery` line says what happened to some messages at one forwarding destination (a parcel
delivered, retried or failed; filtered messages). This log keeps, per messageId and
destination, the latest outcome, so the Delivery tab can show it and the list can mark events
that failed. It is bounded (the newest CAPACITY messageIds; the list keeps 500 events) and
remembers which messageIds changed since the screen last looked, so the screen redraws only
those rows, and only when their mark changed (a delivered parcel of 500 redraws nothing).

It only knows what happened while this viewer was connected: the collector sends delivery
lines to the viewers it has, not a history. The Delivery screen's figures therefore come from
the collector's own summary (GET /segdebug/delivery), not from this log.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

CAPACITY = 5000  # messageIds remembered (the list keeps 500 events, a search 500 more)
FAILED = "failed"
RETRYING = "retrying"
DELIVERED = "delivered"
FILTERED = "filtered"


@dataclass(slots=True)
class Outcome:
    """The latest news of one message at one destination. `request` and `response` are the
    exchange of that attempt (none for filtered messages); `retried` counts the failed
    attempts heard of before it, `last_error` says how the latest of them failed."""

    destination: str
    status: str
    attempts: int
    latency_ms: float | None
    reason: str
    request: Mapping[str, Any] | None
    response: Mapping[str, Any] | None
    retried: int = 0
    last_error: str = ""


def error_text(line: Mapping[str, Any]) -> str:
    """One line: `HTTP 500: reason`, or the network reason, as the summary's error table says."""
    response = line.get("response")
    status = response.get("status") if isinstance(response, Mapping) else None
    reason = str(line.get("reason") or "")
    if status is None:
        return reason or "no answer"
    return f"HTTP {status}" + (f": {reason}" if reason else "")


class DeliveryLog:
    """Outcomes by messageId and destination, the newest CAPACITY messageIds."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.destinations: dict[str, str] = {}  # name -> url ("" until the summary says)
        self._by_id: OrderedDict[str, dict[str, Outcome]] = OrderedDict()
        self._changed: set[str] = set()  # any news since `drain`
        self._marked: set[str] = set()  # of those, the ones whose failure text changed

    def know(self, destinations: Iterable[tuple[str, str]]) -> None:
        """Destinations the collector forwards to (name, url), from its summary: an event
        with no news from one of them is pending there."""
        for name, url in destinations:
            self.destinations[name] = url

    def take(self, line: Mapping[str, Any]) -> None:
        """One `delivery` line: each of its records' messageIds gets the line's outcome."""
        destination = str(line.get("destination") or "")
        status = str(line.get("status") or "")
        self.destinations.setdefault(destination, "")
        request = line.get("request") if isinstance(line.get("request"), Mapping) else None
        response = line.get("response") if isinstance(line.get("response"), Mapping) else None
        reason = error_text(line) if status in (FAILED, RETRYING) else ""
        attempts = int(line.get("attempts") or 0)
        for record in line.get("records") or ():
            message_id = record.get("messageId") if isinstance(record, Mapping) else None
            if not isinstance(message_id, str):
                continue
            outcomes = self._by_id.get(message_id)
            if outcomes is None:
                outcomes = self._by_id[message_id] = {}
                if len(self._by_id) > self.capacity:
                    gone, _ = self._by_id.popitem(last=False)
                    self._changed.discard(gone)
                    self._marked.discard(gone)
            else:
                self._by_id.move_to_end(message_id)
            before = outcomes.get(destination)
            was_failed = any(o.status == FAILED for o in outcomes.values())
            retried = before.retried if before is not None else 0
            last_error = before.last_error if before is not None else ""
            tried = attempts
            if status == RETRYING:
                retried, last_error = retried + 1, reason
            else:  # a narrowed-down part counts only its own attempts: the batch's failed one too
                tried = max(attempts, retried + 1)
            latency = record.get("latency_ms")
            outcomes[destination] = Outcome(
                destination, status, tried, float(latency) if isinstance(latency, (int, float)) else None,
                reason, request, response, retried, last_error)
            self._changed.add(message_id)
            if was_failed != any(o.status == FAILED for o in outcomes.values()):
                self._marked.add(message_id)

    def outcomes(self, message_id: str | None) -> dict[str, Outcome]:
        """The latest outcome per destination that reported on this message."""
        if message_id is None:
            return {}
        return self._by_id.get(message_id, {})

    def failure(self, message_id: str | None) -> str:
        """"" unless some destination failed this message: then `not delivered to a, b: HTTP
        400: reason` (the destinations by name, the first one's reason)."""
        failed = sorted((o for o in self.outcomes(message_id).values() if o.status == FAILED),
                        key=lambda o: o.destination)
        if not failed:
            return ""
        names = ", ".join(o.destination for o in failed)
        return f"not delivered to {names}: {failed[0].reason}"

    def drain(self) -> tuple[set[str], set[str]]:
        """(messageIds with news, those whose failure mark changed) since the last drain."""
        changed, marked = self._changed, self._marked
        self._changed, self._marked = set(), set()
        return changed, marked
