"""The hub: counts what the collector takes in and fans it out to the viewers' queues.

Pure in-memory logic, no I/O: the socket server (debugger.socket_server) owns the connections
and writes each subscriber's queue to its viewer; serve.py wires collector -> hub -> server.
Ingest must never wait on a viewer: `publish_call()` is synchronous and only appends to
bounded per-subscriber queues; a subscriber that reads slowly loses the oldest lines in *its*
queue, counted as `dropped`.

Per subscriber, in this order: the `filter` (only matching events); refused calls are never
sampled away (up to `REFUSED_PER_SECOND` a second each, beyond that counted as
`refused_dropped`); events matching `priority` are never sampled away; the rest goes through
the sampler (debugger.sampling), whose windows the server's ticker closes via `flush(now)`.
Messages arrive as `Run`s of `Pending`s (debugger.pending): the full spec problems, the
envelope and its encoded line are built only for what some viewer is sent (issue 16).

The hub also keeps the last `HISTORY` messages, so a viewer that asks for `history: N` gets
the most recent N (its filter applied, marked `history`) before the live stream.
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

import asyncio

from debugger import protocol
from debugger.ingest import Accepted, Refused
from debugger.pending import CallContext, Pending, Run
from debugger.query import Query
from debugger.sampling import BURST, POOL, RateSampler

QUEUE_SIZE = 2048
HISTORY = 500  # the most a viewer may ask for on open
REFUSED_PER_SECOND = 100.0  # refused calls sent to a sampled viewer at most, per second


HISTORY_SCAN = 20_000  # messages looked through, newest first, for a filtered history
VIEWER_POOL_MIN = 128  # the least a viewer's sampler pools per window (see `viewer_pool`)


def viewer_pool(max_rate: float) -> int:
    """How many messages a viewer's sampler pools per window before decimating.

    Every pooled message becomes a `Pending` (issue 16), and sampling.POOL (1024) is far more
    than a live viewer's 50 a second can use: in a flood the pool refills at each halving, so
    its size sets how many Pendings each window builds. Twice a burst's credit is enough:
    after a halving the pool still holds more than the sampler may send, evenly spread. Fast
    viewers keep the sampler's own sizes (POOL, or its burst credit)."""
    return min(POOL, max(VIEWER_POOL_MIN, 2 * (math.ceil(max_rate * BURST) + 1)))


class RecentSource(Protocol):
    """Where history comes from when the collector keeps a store (debugger.store)."""

    @property
    def oldest_seq(self) -> int: ...

    next_seq: int

    def envelopes(self, start_seq: int, stop_seq: int | None = None) -> list[protocol.EventEnvelope]: ...


class _Budget:
    """A token bucket: at most `rate` a second, one second's worth at once (pure)."""

    __slots__ = ("rate", "tokens", "last")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.last: float | None = None

    def take(self, now: float) -> bool:
        if self.last is not None and now > self.last:
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now if self.last is None else max(self.last, now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Subscriber:
    """One viewer's share of the stream: its subscription, its sampler, its bounded queue.

    Until the viewer has said what it wants (`settle`), runs are held and then offered all at
    once, so a subscribing viewer never sees events its filter excludes.
    """

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue: deque[bytes] = deque()
        self.queue_size = queue_size
        self.query: Query | None = None
        self.priority: Query | None = None
        self.sampler: RateSampler[Pending] | None = None
        self.refused_budget: _Budget | None = None
        self.pending = True
        self._held: deque[Run] = deque()
        self._held_count = 0
        self.matched = 0
        self.dropped = 0
        self.refused_dropped = 0
        self.stats_line: bytes | None = None
        self.error_line: bytes | None = None
        self.wake = asyncio.Event()

    # -- what comes in ---------------------------------------------------------------------

    def offer_run(self, run: Run, now: float) -> None:
        """Offer one call's messages (never raises for a bad filter: it does not match)."""
        if self.pending:
            self._hold(run)
            return
        if self.query is None and self.priority is None and not run.refusals:
            self.matched += len(run)
            if self.sampler is None:
                self._put_all(run.all())
            else:
                self._put_all(self.sampler.offer_run(run, now))
            return
        for pending in run.all():
            self.offer(pending, now)

    def offer(self, pending: Pending, now: float) -> None:
        if self.query is not None and not _matches(self.query, pending):
            return
        self.matched += 1
        keep = False
        if pending.refused and self.refused_budget is not None:
            if not self.refused_budget.take(now):
                self.refused_dropped += 1
                return
            keep = True
        elif self.priority is not None and _matches(self.priority, pending):
            keep = True
        if self.sampler is None:
            self._send(pending)
        else:
            self._put_all(self.sampler.offer(pending, now, keep))

    def poll(self, now: float) -> None:
        """Close the sampler's window if its time has come and queue what it chose."""
        if self.sampler is not None and self.sampler.waiting:
            self._put_all(self.sampler.due(now))

    def _hold(self, run: Run) -> None:
        self._held.append(run)
        self._held_count += len(run)
        while self._held_count - len(self._held[0]) >= self.queue_size:
            self._held_count -= len(self._held[0])
            self.dropped += len(self._held.popleft())

    def _put_all(self, chosen: Iterable[Pending]) -> None:
        for pending in chosen:
            self._send(pending)

    def _send(self, pending: Pending) -> None:
        try:
            line = pending.line()
        except Exception as error:  # one event that cannot be encoded is lost, not the stream
            print(f"segdebug: hub: dropped an envelope: {error!r}", file=sys.stderr)
            return
        self.put(line)

    def put(self, line: bytes) -> None:
        """Queue one line; a full queue loses its oldest line."""
        queue = self.queue
        if len(queue) >= self.queue_size:
            queue.popleft()
            self.dropped += 1
        queue.append(line)
        if not self.pending and not self.wake.is_set():
            self.wake.set()

    # -- what the viewer asked for ---------------------------------------------------------

    def settle(
        self, query: Query | None, max_rate: float | None, now: float, *,
        priority: Query | None = None, history: Sequence[Pending] = (),
    ) -> None:
        """Apply the viewer's subscription: its history first (marked), then held runs (those
        the history does not already cover), then the live stream. A subscription replacing
        another (`live` sends one per search change) first takes what the old sampler's open
        window held, refused calls among them, and offers it to the new one (QA found 1-2
        events lost for good at every search change)."""
        waiting = self.sampler.take_waiting() if self.sampler is not None else []
        self.query = None if query is None or query.matches_all else query
        self.priority = None if priority is None or priority.matches_all else priority
        self.sampler = RateSampler(max_rate, pool_size=viewer_pool(max_rate)) if max_rate is not None else None
        self.refused_budget = _Budget(REFUSED_PER_SECOND) if max_rate is not None else None
        self.pending = False
        self.matched = 0
        held, self._held, self._held_count = self._held, deque(), 0
        newest_shown = -1
        for pending in history:
            try:
                self.put(pending.history_line())
            except Exception as error:
                print(f"segdebug: hub: dropped an envelope: {error!r}", file=sys.stderr)
            newest_shown = pending.seq
        for pending in waiting:
            if pending.seq > newest_shown:
                self.offer(pending, now)
        for run in held:
            if history:
                built = [p for p in run.all() if p.seq > newest_shown]
                if not built:
                    continue
                run = Run(built[0].seq, [None] * len(built), None, sum(p.refused for p in built), built)
            self.offer_run(run, now)
        self.wake.set()

    def refuse(self, error: protocol.ErrorLine) -> None:
        """End this subscription with one `error` line instead of events."""
        self.queue.clear()
        self._held.clear()
        self.error_line = protocol.encode(error)
        self.pending = False
        self.wake.set()

    def post_stats(self, line: protocol.Stats, now: float) -> None:
        """Replace the unsent stats line, if any: only the newest figures matter."""
        if self.pending:
            return
        mine: protocol.Stats = {
            **line, "dropped": self.dropped, "matched": self.matched,
            "sampled": self.sampler.every(now) if self.sampler else 1,
            "refused_dropped": self.refused_dropped,
        }
        self.stats_line = protocol.encode(mine)
        self.wake.set()

    # -- what goes out ---------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Refused: its one error line is all it will get."""
        return self.error_line is not None

    async def ready(self) -> bytes:
        """Wait until something is queued, then take it (b"" for a spurious wake-up)."""
        await self.wake.wait()
        self.wake.clear()
        return self.take()

    def take(self) -> bytes:
        """Everything ready to write: queued events, then the latest stats line."""
        if self.error_line is not None:
            return self.error_line
        if self.pending:
            return b""
        chunks = list(self.queue)
        self.queue.clear()
        if self.stats_line is not None:
            chunks.append(self.stats_line)
            self.stats_line = None
        return b"".join(chunks)


def _matches(query: Query, pending: Pending) -> bool:
    try:
        return query.matches(pending)  # type: ignore[arg-type]  # Pending reads like an envelope
    except Exception:  # a filter that cannot read this event does not match it
        return False


class Hub:
    """The exact counts, the recent messages, the subscribers and the `hello` sent first."""

    def __init__(
        self,
        *,
        version: str,
        http_url: str,
        archive: str,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        history_size: int = HISTORY,
        store: RecentSource | None = None,
    ) -> None:
        self.hello = protocol.hello(version, http_url, str(archive))
        self.received = 0
        self.accepted = 0
        self.rejected = 0
        self.rate = 0.0
        self.subscribers: set[Subscriber] = set()
        self._queue_size = queue_size
        self.clock = clock
        self._last_tick: tuple[int, float] | None = None  # (received, when) at the last tick
        self.history_size = history_size
        self._recent: deque[Run] = deque()
        self._recent_count = 0
        # With a store (the collector's RecentStore), history is read from it; otherwise the
        # hub remembers the last `history_size` messages itself.
        self.store = store

    # -- what the collector calls ----------------------------------------------------------

    def publish_call(
        self, first_seq: int, context: CallContext, results: Sequence[Accepted | Refused], refusals: int
    ) -> None:
        """Count one call's messages, remember them, and offer them to every subscriber.
        O(1) per call while nobody watches. Never raises."""
        self.tally(len(results) - refusals, refusals)
        if results:
            self._publish(Run(first_seq, results, context, refusals))

    def publish(self, envelope: Mapping[str, Any]) -> None:
        """Count one envelope built elsewhere and offer it like any message. Never raises."""
        if envelope.get("kind", protocol.EVENT) != protocol.EVENT:
            return
        rejected = int(envelope.get("status") == protocol.REFUSED)
        self.tally(1 - rejected, rejected)
        self._publish(Run.of_pending(Pending.of_envelope(envelope)))  # type: ignore[arg-type]

    def broadcast(self, line: protocol.Line) -> None:
        """Queue a line that is not an event (e.g. `delivery`) for every viewer that has
        settled its subscription: no filter or sampling (they select events), but each
        viewer's bounded queue, so a slow viewer still never slows the caller. Encoded once,
        only when someone will get it. Never raises."""
        receivers = [s for s in self.subscribers if not s.pending and not s.finished]
        if not receivers:
            return
        try:
            encoded = protocol.encode(line)
        except Exception as error:
            print(f"segdebug: hub: dropped a {line.get('kind')} line: {error!r}", file=sys.stderr)
            return
        for subscriber in receivers:
            subscriber.put(encoded)

    def _publish(self, run: Run) -> None:
        self._remember(run)
        if not self.subscribers:
            return
        now = self.clock()
        for subscriber in tuple(self.subscribers):
            try:
                subscriber.offer_run(run, now)
            except Exception as error:  # a viewer problem must never fail ingest
                print(f"segdebug: hub: dropped an envelope: {error!r}", file=sys.stderr)

    def _remember(self, run: Run) -> None:
        if self.store is not None:
            return
        recent = self._recent
        recent.append(run)
        self._recent_count += len(run)
        while self._recent_count - len(recent[0]) >= self.history_size:
            self._recent_count -= len(recent.popleft())

    def tally(self, accepted: int, rejected: int) -> None:
        """Count messages (also those no viewer will see), so the stats stay exact."""
        self.received += accepted + rejected
        self.accepted += accepted
        self.rejected += rejected

    def watched(self) -> bool:
        """Whether any viewer is connected."""
        return bool(self.subscribers)

    # -- history ---------------------------------------------------------------------------

    def recent(self, count: int, query: Query | None = None) -> list[Pending]:
        """The newest `count` remembered messages matching `query`, oldest first."""
        found: list[Pending] = []
        count = min(count, self.history_size)
        if count <= 0:
            return found
        if self.store is not None:
            return self._recent_from_store(self.store, count, query)
        for run in reversed(self._recent):
            for pending in reversed(run.all()):
                if query is None or _matches(query, pending):
                    found.append(pending)
                    if len(found) >= count:
                        found.reverse()
                        return found
        found.reverse()
        return found

    @staticmethod
    def _recent_from_store(store: RecentSource, count: int, query: Query | None) -> list[Pending]:
        """Newest first through the store, a chunk at a time, up to HISTORY_SCAN messages."""
        found: list[Pending] = []
        stop = store.next_seq
        floor = max(store.oldest_seq, stop - HISTORY_SCAN)
        while stop > floor and len(found) < count:
            start = max(floor, stop - (count if query is None else 1000))
            for envelope in reversed(store.envelopes(start, stop)):
                pending = Pending.of_envelope(envelope)
                if query is None or _matches(query, pending):
                    found.append(pending)
                    if len(found) >= count:
                        break
            stop = start
        found.reverse()
        return found

    # -- subscribers -----------------------------------------------------------------------

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self._queue_size)
        self.subscribers.add(subscriber)
        return subscriber

    def settle(self, subscriber: Subscriber, subscription: protocol.Subscription,
               query: Query | None, priority: Query | None) -> None:
        """Apply a decoded subscription (queries already parsed) to `subscriber`."""
        count = subscription.get("history", 0)
        history = self.recent(count, query) if count else ()
        subscriber.settle(query, subscription.get("max_rate"), self.clock(),
                          priority=priority, history=history)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    # -- time ------------------------------------------------------------------------------

    def flush(self, now: float) -> None:
        """Close the sampling windows that are due (the server's ticker calls it often)."""
        for subscriber in tuple(self.subscribers):
            try:
                subscriber.poll(now)
            except Exception as error:
                print(f"segdebug: hub: dropped an envelope: {error!r}", file=sys.stderr)

    def stats(self) -> protocol.Stats:
        """The hub-wide figures of a `stats` line (`dropped` is filled in per subscriber)."""
        return protocol.stats(self.received, self.accepted, self.rejected, self.rate, 0)

    def tick(self, now: float) -> None:
        """Once a second (the server's ticker calls it): measure the rate since the last tick
        and give every subscriber a fresh stats line. The first tick only starts the clock."""
        if self._last_tick is not None:
            last_received, last_time = self._last_tick
            elapsed = max(now - last_time, 1e-9)
            self.rate = round((self.received - last_received) / elapsed, 1)
            line = self.stats()
            for subscriber in tuple(self.subscribers):
                subscriber.post_stats(line, now)
        self._last_tick = (self.received, now)
