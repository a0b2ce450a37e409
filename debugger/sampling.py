"""Uniform rate sampling: about `max_rate` events per second, spread evenly over any burst.

Pure logic (the clock is passed in), so the hub and its tests agree on what "sampled" means.

Why it works this way. Deciding each event the moment it arrives cannot be uniform over a
burst shorter than the time it takes to measure it: a sampler that admits until its budget
is spent keeps the *first* events of every burst (a 300-item batch showed items 0-49 and its
refusals vanished). So decisions wait for a short window (`WINDOW`, a quarter second): the
events offered during it are kept in a pool, and when the window closes the sampler picks
evenly spaced events over the window's whole span, as many as the budget allows.

- Memory stays bounded by adaptive decimation: the pool keeps every k-th offer; when it is
  full, every other pooled event is dropped and k doubles. What is left is still evenly
  spread over the window, so the final pick is too.
- The budget is a credit that refills at `max_rate` per second of *elapsed* time and holds at
  most one second's worth (`BURST`), so a lone burst may show up to `max_rate` events and a
  steady flood gets `max_rate` a second.
- Low-rate traffic is not delayed: an event that arrives while no window is open is sent at
  once (and opens one); a window that closes empty lets the next event through at once.
- Events offered with `keep=True` (refused calls, the viewer's priority matches) are never
  sampled away; they wait for their window like the rest so a viewer receives events in the
  order they were offered.
- `every(now)`: "1 in N" over the windows closed in the last second, rounded up (keeping 50 of
  310 is "1 in 7": a viewer sees at most one in N); back to 1 about a second after calm.

No randomness: the same offers at the same times always give the same picks.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Generic, Protocol, Sequence, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

WINDOW = 0.25  # seconds a decision may wait
BURST = 1.0  # seconds of budget a quiet viewer may spend at once
POOL = 1024  # events pooled per window before decimation
POOL_MAX = 65_536  # a high max_rate pools up to a burst's credit before decimating, at most this
REPORT_SPAN = 1.0  # seconds of closed windows `every` looks back over


class Run(Protocol[T_co]):
    """A run of offers that only materialises what is sliced out (`run[a::k]`): the hub's
    view of one HTTP call's messages, so a decimated flood builds nothing for the rest."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice) -> Sequence[T_co]: ...


class RateSampler(Generic[T]):
    """Keeps about `max_rate` of the offered events a second, chosen evenly per window."""

    def __init__(
        self, max_rate: float, window: float = WINDOW, pool_size: int = POOL, burst: float = BURST
    ) -> None:
        if not max_rate > 0:
            raise ValueError("max_rate must be a positive number")
        self.max_rate = float(max_rate)
        self.window = window
        self.cap = max(1.0, self.max_rate * burst)  # the most credit a quiet viewer holds
        # Decimating a pool the credit could send whole would lose events for nothing.
        self.pool_size = max(2, pool_size, min(math.ceil(self.cap) + 1, POOL_MAX))
        self.credit = self.cap
        self._refilled: float | None = None  # when credit was last brought up to date
        self._deadline: float | None = None  # the open window's end; None: idle
        self._ordinal = 0  # numbers every offer, to merge kept and sampled events in order
        self._pool: list[tuple[int, T]] = []  # (ordinal, event), every `_step`-th offer
        self._step = 1
        self._offered = 0  # sampleable offers in the open window (immediate one included)
        self._kept = 0  # of those, already sent
        self._must: list[tuple[int, T]] = []
        self._closed: deque[tuple[float, int, int]] = deque()  # (when, offered, kept)

    # -- offering ----------------------------------------------------------------------------

    def offer(self, item: T, now: float, keep: bool = False) -> list[T]:
        """Offer one event; returns what is ready to send now, in order (often nothing)."""
        ready = self.due(now)
        ordinal = self._ordinal
        self._ordinal += 1
        if keep:
            if self._deadline is None:
                self._deadline = now + self.window
                ready.append(item)
            else:
                self._must.append((ordinal, item))
            return ready
        if self._deadline is None:
            return ready + self._open(item, now)
        index = self._offered
        self._offered += 1
        if index % self._step == 0:
            self._pool_add([(ordinal, item)])
        return ready

    def offer_run(self, run: Run[T], now: float) -> list[T]:
        """Offer every event of `run` in order, none kept: the same picks as offering each one,
        at C speed for the part that is decimated away."""
        total = len(run)
        if not total:
            return []
        ready = self.due(now)
        start = 0
        if self._deadline is None:
            ready += self._open(run[0:1][0], now)
            self._ordinal += 1
            start = 1
        while start < total:
            base = self._offered
            first = start + (-base) % self._step  # the next index the step keeps
            room = self.pool_size - len(self._pool)
            stop = min(total, first + room * self._step)
            if first < stop:
                picked = run[first:stop:self._step]
                ordinals = range(self._ordinal + first - start, self._ordinal + stop - start, self._step)
                self._pool_add(list(zip(ordinals, picked, strict=True)))
            else:
                stop = total
            self._offered += stop - start
            self._ordinal += stop - start
            start = stop
        return ready

    def _open(self, item: T, now: float) -> list[T]:
        """No window open: send `item` at once if there is credit, and open a window."""
        self._refill(now)
        self._deadline = now + self.window
        self._offered += 1
        if self.credit >= 1:
            self.credit -= 1
            self._kept += 1
            return [item]
        self._pool.append((self._ordinal, item))
        return []

    def _pool_add(self, entries: list[tuple[int, T]]) -> None:
        pool = self._pool
        pool.extend(entries)
        while len(pool) >= self.pool_size:
            del pool[1::2]  # entries are every step-th offer: this keeps every (2*step)-th
            self._step *= 2

    # -- deciding ----------------------------------------------------------------------------

    def due(self, now: float) -> list[T]:
        """Close the window if its time has come: the events chosen from it, in order."""
        deadline = self._deadline
        if deadline is None or now < deadline:
            return []
        self._refill(now)
        pool, must = self._pool, self._must
        count = min(len(pool), math.floor(self.credit))
        chosen = evenly_spaced(pool, count)
        self.credit -= count
        offered, kept = self._offered, self._kept + count
        self._closed.append((deadline, offered, kept))
        more = offered > 1 or bool(must)
        self._pool, self._must = [], []
        self._step, self._offered, self._kept = 1, 0, 0
        # A window that saw more than its opening event is followed by another at once (the
        # flood goes on); one that saw nothing more lets the next event through immediately.
        following = deadline + self.window
        self._deadline = (following if now < following else now + self.window) if more else None
        if must:
            chosen = sorted(chosen + must, key=_first) if chosen else must
        return [item for _, item in chosen]

    def take_waiting(self) -> list[T]:
        """Everything the open window holds, in order (the sampled pool and the events it must
        keep), and the window closed: a subscriber whose subscription changes hands them on
        to its new one instead of losing them (the events decimated away stay away)."""
        waiting = sorted(self._pool + self._must, key=_first)
        self._pool, self._must = [], []
        self._step, self._offered, self._kept = 1, 0, 0
        self._deadline = None
        return [item for _, item in waiting]

    def _refill(self, now: float) -> None:
        """Credit grows with the time that really passed, never beyond one burst."""
        if self._refilled is not None and now > self._refilled:
            self.credit = min(self.cap, self.credit + (now - self._refilled) * self.max_rate)
        if self._refilled is None or now > self._refilled:
            self._refilled = now

    @property
    def waiting(self) -> bool:
        """Whether a window is open (the hub then polls `due`)."""
        return self._deadline is not None

    def every(self, now: float) -> int:
        """N of "1 in N" over the windows closed in the last second (1: nothing sampled away)."""
        closed = self._closed
        while closed and closed[0][0] < now - REPORT_SPAN:
            closed.popleft()
        offered = sum(entry[1] for entry in closed)
        kept = sum(entry[2] for entry in closed)
        if offered <= kept:
            return 1
        return max(1, math.ceil(offered / max(kept, 1)))


def evenly_spaced(items: Sequence[T], count: int) -> list[T]:
    """`count` items spread evenly over `items`, each taken from the middle of its share, so
    the first and the last share are both represented."""
    total = len(items)
    if count >= total:
        return list(items)
    if count <= 0:
        return []
    return [items[(2 * j + 1) * total // (2 * count)] for j in range(count)]


def _first(entry: tuple[int, object]) -> int:
    return entry[0]
