"""When each selected event is due, as seconds after the start of sending (pure).

`--rate` is open loop: event i is due at i / rate, anchored at the start, so a slow moment is
caught up instead of drifting. `--speed` keeps the original gaps divided by the factor, each gap
capped by `--max-wait`.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Protocol, Sequence


class Dues(Protocol):
    """When each event of a run is due (non-decreasing); all `HoldWindow.admit_run` reads."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> float: ...


class Schedule(Protocol):
    def due(self, event_time: float | None) -> float: ...

    def dues(self, event_times: Sequence[float | None], offset: float = 0.0) -> Dues:
        """`due` of each event in turn, plus `offset` (a run of lines at once: the fast path's)."""
        ...


class Unpaced:
    """As fast as the endpoint accepts."""

    def due(self, event_time: float | None) -> float:
        return 0.0

    def dues(self, event_times: Sequence[float | None], offset: float = 0.0) -> Dues:
        return [offset] * len(event_times)


class Arithmetic:
    """`start`, `start + step`, ... (`count` of them), computed when read: a paced run far
    faster than the endpoint reads only a few (see `HoldWindow.admit_run`), not one per event."""

    def __init__(self, start: float, step: float, count: int) -> None:
        self.start, self.step, self.count = start, step, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> float:
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self.start + index * self.step


class RateSchedule:
    """Event i is due at i / rate."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.index = 0

    def due(self, event_time: float | None) -> float:
        due = self.index * self.interval
        self.index += 1
        return due

    def dues(self, event_times: Sequence[float | None], offset: float = 0.0) -> Dues:
        """Only the count matters: no event time is read (the lines need not be parsed)."""
        first = self.index
        self.index += len(event_times)
        return Arithmetic(offset + first * self.interval, self.interval, len(event_times))


class SpeedSchedule:
    """Original gaps (event times in seconds) divided by `speed`, each capped at `max_wait`.

    Events without a time, or earlier than the previous one, follow with no gap.
    """

    def __init__(self, speed: float, max_wait: float | None = None) -> None:
        self.speed = speed
        self.max_wait = max_wait
        self.previous: float | None = None
        self.offset = 0.0

    def due(self, event_time: float | None) -> float:
        if event_time is not None:
            if self.previous is not None and event_time > self.previous:
                gap = (event_time - self.previous) / self.speed
                if self.max_wait is not None:
                    gap = min(gap, self.max_wait)
                self.offset += gap
            if self.previous is None or event_time > self.previous:
                self.previous = event_time
        return self.offset

    def dues(self, event_times: Sequence[float | None], offset: float = 0.0) -> Dues:
        return [offset + self.due(moment) for moment in event_times]


class HoldWindow:
    """Paced events due within `hold` seconds of the first one held share a request, which
    goes when the newest is due: never early, at most `hold` late, few requests a second."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.first: float | None = None  # when the first event held is due
        self.last = 0.0  # when the newest event is due

    def admit(self, due: float) -> float | None:
        """Hold an event due at `due`; when it closes the window, the moment the events held
        before it must go (they are sent first), else None."""
        closing = None
        if self.first is not None and due - self.first > self.hold:
            closing, self.first = self.last, None
        if self.first is None:
            self.first = due
        self.last = due
        return closing

    def admit_run(self, dues: Dues, start: int) -> tuple[int, float | None]:
        """`admit` for the events due at `dues[start:]` (non-decreasing, as every schedule's
        are) in one step: (end, None) when `dues[start:end]` join the window, or (start, the
        moment the events held must go) when `dues[start]` closes it (then call again)."""
        if self.first is not None and dues[start] - self.first > self.hold:
            closing, self.first = self.last, None
            return start, closing
        if self.first is None:
            self.first = dues[start]
        first = self.first  # the same test as `admit`'s, float for float
        end = bisect_right(dues, self.hold, start, key=lambda due: due - first)
        self.last = dues[end - 1]
        return end, None

    def emptied(self) -> None:
        """Every held event was sent (a full batch took them)."""
        self.first = None


def describe(events: int, span_seconds: float, rate: float | None, speed: float | None,
             max_wait: float | None) -> str:
    """How long a run would take at the chosen pace, for --dry-run."""
    if rate:
        return f"about {_duration(max(events - 1, 0) / rate)} at {rate:g} events/s"
    if speed:
        capped = " (at most; --max-wait shortens long gaps)" if max_wait is not None else ""
        return f"about {_duration(span_seconds / speed)} at speed x{speed:g}{capped}"
    return "as fast as the endpoint accepts"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
