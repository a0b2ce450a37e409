"""The hub: fans every published envelope out to the socket's subscribers.

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
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import orjson

from debugger import envelope as envelopes
from debugger import socket_server
from debugger.sampling import RateSampler

QUEUE_SIZE = 2048
STATS_INTERVAL = 1.0


class Matcher(Protocol):
    def matches(self, envelope: Mapping[str, Any]) -> bool: ...


def encode(line: Mapping[str, Any]) -> bytes:
    """One NDJSON line of the socket protocol."""
    return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)


class Subscriber:
    """One viewer's share of the stream: its filter, its sampler, its bounded queue.

    Until the viewer has said what it wants (`settle`), events are held unfiltered and then
    filtered all at once, so a subscribing viewer never sees events its filter excludes.
    """

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue: deque[tuple[Mapping[str, Any], bytes]] = deque()
        self.queue_size = queue_size
        self.query: Matcher | None = None
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

    def settle(self, query: Matcher | None, max_rate: float | None, now: float) -> None:
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

    def refuse(self, error: Mapping[str, Any]) -> None:
        """End this subscription with one `error` line instead of events."""
        self.queue.clear()
        self.error_line = encode(error)
        self.pending = False
        self.wake.set()

    def post_stats(self, line: Mapping[str, Any]) -> None:
        """Replace the unsent stats line, if any: only the newest figures matter."""
        if self.pending:
            return
        extra = {"matched": self.matched, "sampled": self.sampler.every if self.sampler else 1}
        self.stats_line = encode({**line, "dropped": self.dropped, **extra})
        self.wake.set()

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
    """Counts what the collector publishes and serves it on a Unix socket."""

    def __init__(
        self,
        *,
        version: str,
        http_url: str,
        archive: str,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hello = envelopes.hello(version, http_url, str(archive))
        self.received = 0
        self.accepted = 0
        self.rejected = 0
        self.rate = 0.0
        self.subscribers: set[Subscriber] = set()
        self._queue_size = queue_size
        self.clock = clock
        self._server: socket_server.Server | None = None
        self._ticker: asyncio.Task[None] | None = None

    def publish(self, envelope: Mapping[str, Any]) -> None:
        """Count one envelope and queue it for every subscriber that wants it. Never raises."""
        try:
            if envelope.get("kind", "event") == "event":
                rejected = int(envelope.get("status") == "rejected")
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
                line = encode(envelope)
            subscriber.put(envelope, line)

    def stats(self) -> dict[str, Any]:
        """The hub-wide figures of a `stats` line (`dropped` is filled in per subscriber)."""
        return envelopes.stats(self.received, self.accepted, self.rejected, self.rate, 0)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self._queue_size)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def start(self, socket_path: Path) -> None:
        """Listen on `socket_path` (0600, private dir) and start the ~1/s stats ticker.

        Raises CliError(code=2) when a live collector already holds the path.
        """
        self._server = await socket_server.serve(Path(socket_path), self)
        self._ticker = asyncio.create_task(self._tick(), name="segdebug-hub-stats")

    async def close(self) -> None:
        """Stop listening, disconnect every subscriber, remove the socket file."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def _tick(self) -> None:
        last_received, last_time = self.received, time.monotonic()
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            now = time.monotonic()
            elapsed = max(now - last_time, 1e-9)
            self.rate = round((self.received - last_received) / elapsed, 1)
            last_received, last_time = self.received, now
            line = self.stats()
            for subscriber in tuple(self.subscribers):
                subscriber.post_stats(line)
