"""The hub: counts what the collector publishes and fans it out to the viewers' queues.

Pure in-memory logic, no I/O: the socket server (debugger.socket_server) owns the connections
and writes each subscriber's queue to its viewer; serve.py wires collector -> hub -> server.
Ingest must never wait on a viewer. `publish()` is synchronous and only appends to bounded
per-subscriber queues; each subscriber's own task writes to its socket. A subscriber that reads
slowly (or not at all) loses the oldest events in *its* queue, counted as `dropped`; the
archive and the other subscribers are untouched. Filters run before sampling, so an event a
viewer searched for is never sampled away.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from typing import Any, Callable, Mapping

from debugger import protocol
from debugger.query import Query
from debugger.sampling import RateSampler

QUEUE_SIZE = 2048


class Subscriber:
    """One viewer's share of the stream: its filter, its sampler, its bounded queue.

    Until the viewer has said what it wants (`settle`), events are held unfiltered and then
    filtered all at once, so a subscribing viewer never sees events its filter excludes.
    """

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue: deque[tuple[Mapping[str, Any], bytes]] = deque()
        self.queue_size = queue_size
        self.query: Query | None = None
        self.sampler: RateSampler | None = None
        self.pending = True
        self.matched = 0
        self.dropped = 0
        self.stats_line: bytes | None = None
        self.error_line: bytes | None = None
        self.wake = asyncio.Event()

    def admits(self, envelope: Mapping[str, Any], now: float) -> bool:
        """Filter first, then sample: whether `put` should queue this envelope. Until the
        viewer has subscribed, everything is held."""
        if self.pending:
            return True
        if self.query is not None and not self.query.matches(envelope):
            return False
        self.matched += 1
        return self.sampler is None or self.sampler.admit(now)

    def put(self, envelope: Mapping[str, Any], line: bytes) -> None:
        """Queue an admitted envelope; a full queue loses its oldest event."""
        queue = self.queue
        if len(queue) >= self.queue_size:
            queue.popleft()
            self.dropped += 1
        queue.append((envelope, line))
        if not self.pending and not self.wake.is_set():
            self.wake.set()

    def settle(self, query: Query | None, max_rate: float | None, now: float) -> None:
        """Apply the viewer's subscription, to held events too."""
        self.query = query
        self.sampler = RateSampler(max_rate) if max_rate is not None else None
        self.pending = False
        self.matched = 0
        held = list(self.queue)
        self.queue.clear()
        for envelope, line in held:
            if self.admits(envelope, now):
                self.put(envelope, line)
        self.wake.set()

    def refuse(self, error: protocol.ErrorLine) -> None:
        """End this subscription with one `error` line instead of events."""
        self.queue.clear()
        self.error_line = protocol.encode(error)
        self.pending = False
        self.wake.set()

    def post_stats(self, line: protocol.Stats) -> None:
        """Replace the unsent stats line, if any: only the newest figures matter."""
        if self.pending:
            return
        mine: protocol.Stats = {**line, "dropped": self.dropped, "matched": self.matched,
                                "sampled": self.sampler.every if self.sampler else 1}
        self.stats_line = protocol.encode(mine)
        self.wake.set()

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
        chunks = [line for _, line in self.queue]
        self.queue.clear()
        if self.stats_line is not None:
            chunks.append(self.stats_line)
            self.stats_line = None
        return b"".join(chunks)


class Hub:
    """The exact counts, the viewers' subscriptions and the `hello` every viewer gets first."""

    def __init__(
        self,
        *,
        version: str,
        http_url: str,
        archive: str,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], float] = time.monotonic,
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

    def publish(self, envelope: Mapping[str, Any]) -> None:
        """Count one envelope and queue it for every subscriber that wants it. Never raises."""
        try:
            if envelope.get("kind", protocol.EVENT) == protocol.EVENT:
                rejected = int(envelope.get("status") == protocol.REFUSED)
                self.tally(1 - rejected, rejected)
            if self.subscribers:
                self._fan_out(envelope)
        except Exception as error:  # a viewer problem must never fail ingest
            print(f"segdebug: hub: dropped an envelope: {error!r}", file=sys.stderr)

    def tally(self, accepted: int, rejected: int) -> None:
        """Count messages that were not published: the collector's shortcut while no viewer
        is connected, so the stats stay true without an envelope built per message."""
        self.received += accepted + rejected
        self.accepted += accepted
        self.rejected += rejected

    def watched(self) -> bool:
        """Whether any viewer is connected: warnings and envelopes are only for viewers."""
        return bool(self.subscribers)

    def _fan_out(self, envelope: Mapping[str, Any]) -> None:
        """Encode only if some subscriber takes the envelope (a sampled viewer keeps a few
        dozen a second of thousands), and then once, shared by every subscriber."""
        line: bytes | None = None
        now = self.clock()
        for subscriber in tuple(self.subscribers):
            try:
                if not subscriber.admits(envelope, now):
                    continue
            except Exception:  # a filter that cannot read this envelope does not match it
                continue
            if line is None:
                line = protocol.encode(envelope)
            subscriber.put(envelope, line)

    def stats(self) -> protocol.Stats:
        """The hub-wide figures of a `stats` line (`dropped` is filled in per subscriber)."""
        return protocol.stats(self.received, self.accepted, self.rejected, self.rate, 0)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self._queue_size)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def tick(self, now: float) -> None:
        """Once a second (the server's ticker calls it): measure the rate since the last tick
        and give every subscriber a fresh stats line. The first tick only starts the clock."""
        if self._last_tick is not None:
            last_received, last_time = self._last_tick
            elapsed = max(now - last_time, 1e-9)
            self.rate = round((self.received - last_received) / elapsed, 1)
            line = self.stats()
            for subscriber in tuple(self.subscribers):
                subscriber.post_stats(line)
        self._last_tick = (self.received, now)
