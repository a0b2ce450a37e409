"""One destination's forwarding: the archive as an outbox -> parcels -> the shared sender.

Nothing acknowledged is lost: a line leaves the outbox only when it was delivered, filtered,
or written to the destination's failed file; the saved position never passes a line that is
still in flight (parcels finish out of order; the position follows the finished prefix). A
crash resends what was in flight: duplicates come only from such retries, with their
messageId kept, as Segment dedupes on it. Ingest never waits on this task: the collector only
appends to the archive; a slow or dead destination makes the backlog grow on disk, not in
memory (at most `concurrency` parcels are held).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import orjson

from debugger import protocol
from debugger.delivery.destinations import Destination, failed_path, position_path
from debugger.delivery.exchange import Exchange, hide_key
from debugger.delivery.failures import FailedFile
from debugger.delivery.integrations import excluded
from debugger.delivery.outbox import Line, Outbox
from debugger.delivery.sender import FORWARD_USER_AGENT, BatchResult, DeliveryOptions, Outgoing, Sender
from debugger.delivery.summary import DestinationSummary, Example

POLL_SECONDS = 0.02  # how often an idle outbox looks for new lines
SAVE_SECONDS = 0.25  # how often a position moved past filtered lines only is saved
STOP_GRACE_SECONDS = 1.0  # on shutdown, how long requests in flight may still finish
BATCH_EVENTS = 500  # Segment takes up to 500 KB per batch: fewer, larger requests
BATCH_BYTES = 480_000  # under Segment's 500 KB, with room for the envelope
# the collector's own fields are not part of what the app sent: a fresh batch-level sentAt
# replaces the client's (Segment corrects clock skew with it) and the key goes in the envelope
DROPPED_FIELDS = ("sentAt", "writeKey")

Publish = Callable[[protocol.Delivery], None]


@dataclass(frozen=True)
class ForwardOptions:
    write_key: str | None = None  # --forward-write-key: replaces every message's own
    concurrency: int = 4
    batch_events: int = BATCH_EVENTS
    max_retries: int = 10
    timeout: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0


@dataclass(eq=False)
class Slot:
    """A stretch of the archive, finished or not; the position follows finished slots."""

    end: int
    done: bool = False


@dataclass(eq=False)
class Parcel:
    """Messages for one request (one write key), with what the records need of each."""

    key: str | None
    url: str
    items: list[bytes] = field(default_factory=list)  # as sent
    sent: list[bytes] = field(default_factory=list)  # as archived: You sent, and the failed file
    ids: list[str | None] = field(default_factory=list)
    received: list[str | None] = field(default_factory=list)
    size: int = 0

    def add(self, item: bytes, sent: bytes, message_id: str | None, received: str | None) -> None:
        self.items.append(item)
        self.sent.append(sent)
        self.ids.append(message_id)
        self.received.append(received)
        self.size += len(item) + 1


def halves(parcel: Parcel) -> tuple[Parcel, Parcel]:
    """The two halves of a refused parcel (the sender narrows down to the refused message)."""
    middle = len(parcel.items) // 2

    def part(cut: slice) -> Parcel:
        return Parcel(parcel.key, parcel.url, parcel.items[cut], parcel.sent[cut], parcel.ids[cut],
                      parcel.received[cut])

    return part(slice(None, middle)), part(slice(middle, None))


class Forwarder:
    """Forwards one archive to one destination until stopped."""

    sender: Sender  # while running

    def __init__(self, destination: Destination, archive: Path, options: ForwardOptions,
                 publish: Publish | None = None, watched: Callable[[], bool] = lambda: False) -> None:
        self.destination = destination
        self.options = options
        self.summary = DestinationSummary(destination.name, destination.url)
        self.outbox = Outbox(archive, position_path(archive, destination.name))
        self.failed = FailedFile(failed_path(archive, destination.name), append=True)
        self.publish = publish
        self.watched = watched
        self.stopping = asyncio.Event()
        self.slots: deque[Slot] = deque()
        self.committed = 0
        self.saved = 0
        self._room = asyncio.Semaphore(options.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.delivery = DeliveryOptions(
            concurrency=options.concurrency, max_retries=options.max_retries, timeout=options.timeout,
            backoff_base=options.backoff_base, backoff_cap=options.backoff_cap, user_agent=FORWARD_USER_AGENT)

    def start(self) -> None:
        """Take up the saved position (synchronously: before the collector accepts anything)."""
        self.outbox.start()
        self.committed = self.saved = self.outbox.offset

    async def run(self) -> None:
        """Read, filter, batch and send until `stop`; in-flight parcels stay below the position."""
        async with Sender(self.delivery, self, self.stopping) as self.sender:
            saver = asyncio.create_task(self._save_every())
            try:
                while not self.stopping.is_set():
                    lines = self.outbox.read()
                    if not lines:
                        self.summary.backlog_bytes = 0
                        await self._idle()
                        continue
                    await self._forward(lines)
                    self.summary.backlog_bytes = self.outbox.backlog()
                if self._tasks:  # a moment for answers on their way; the rest is resent next time
                    _, unfinished = await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS)
                    for task in unfinished:
                        task.cancel()
            finally:
                saver.cancel()
                self.save()
                self.failed.close()
                self.outbox.close()

    def stop(self) -> None:
        self.stopping.set()

    # -- reading ---------------------------------------------------------------------------

    async def _forward(self, lines: list[Line]) -> None:
        """Turn lines into parcels (one write key each, within Segment's limits) and send them."""
        now = time.time()
        parcel: Parcel | None = None
        filtered: list[protocol.DeliveryRecord] = []
        end = self.committed
        for line in lines:
            if not line.raw:
                end = line.end
                continue
            message = _parse(line.raw)
            if message is None:
                self.failed.raw(line.raw, "not a JSON object", destination=self.destination.name)
                self.summary.not_delivered("not a JSON object", 1, now, sent=line.raw.decode(errors="replace"))
                end = line.end
                continue
            if excluded(message, self.destination.name):
                self.summary.filtered(1, now)
                if self.watched():
                    filtered.append(_record(message.get("messageId"), message.get("receivedAt"), None))
                end = line.end
                continue
            key = self.options.write_key or _text(message.get("writeKey"))
            for name in DROPPED_FIELDS:
                message.pop(name, None)
            item = orjson.dumps(message)
            if parcel is not None and (parcel.key != key or len(parcel.items) >= self.options.batch_events
                                       or parcel.size + len(item) > BATCH_BYTES):
                await self._send(parcel, end)
                parcel = None
            if parcel is None:
                parcel = Parcel(key, self.destination.url)
            parcel.add(item, line.raw, _text(message.get("messageId")), _text(message.get("receivedAt")))
            end = line.end
        if parcel is not None:
            await self._send(parcel, end)
        elif end > (self.slots[-1].end if self.slots else self.committed):
            self._finish(Slot(end, done=True), append=True)
        if filtered and self.publish is not None:
            self.publish(protocol.delivery(self.destination.name, "filtered", 0, filtered))

    async def _send(self, parcel: Parcel, end: int) -> None:
        """Hand a parcel to a sending task once one of the `concurrency` places is free."""
        await self._room.acquire()
        slot = Slot(end)
        self.slots.append(slot)
        task = asyncio.create_task(self._deliver(parcel, slot))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, parcel: Parcel, slot: Slot) -> None:
        count = len(parcel.items)
        self.summary.in_flight += count
        try:
            results = await self.sender.deliver_narrowed(parcel, halves)
        except Exception as error:  # noqa: BLE001 - never lose a parcel to a bug: fail it
            results = [(parcel, BatchResult(False, None, f"unexpected error: {error!r}", 1))]
        finally:
            self.summary.in_flight -= count
            self._room.release()
        if any(result.interrupted for _, result in results):
            return  # stays below the position: sent again after a restart
        for part, result in results:
            self._ended(part, result)
        self._finish(slot)

    def _ended(self, parcel: Parcel, result: BatchResult) -> None:
        """Record how a parcel ended: delivered (end-to-end latencies) or in the failed file."""
        now = time.time()
        latencies = [_since(received, now) for received in parcel.received]
        if result.delivered:
            self.summary.delivered([s for s in latencies if s is not None], now)
            status: protocol.DeliveryStatus = "delivered"
        else:
            self.failed.messages(None, parcel.sent, result.error, result.status, result.attempts,
                                 destination=self.destination.name)
            if result.exchange is None:  # not from an attempt (an unexpected error): count it here
                self.summary.failed_attempt(None, result.error, len(parcel.items), final=True, now=now)
            status = "failed"
        if self.publish is not None and self.watched():
            records = [_record(i, r, s) for i, r, s in zip(parcel.ids, parcel.received, latencies, strict=True)]
            self.publish(_line(self.destination.name, status, result.attempts, records, result.exchange,
                               parcel.key))

    def _finish(self, slot: Slot, append: bool = False) -> None:
        """Mark a slot finished and move the position over every finished slot in front."""
        slot.done = True
        if append:
            self.slots.append(slot)
        slots = self.slots
        moved = False
        while slots and slots[0].done:
            self.committed = slots.popleft().end
            moved = True
        if moved and not append:  # saved at once: after a crash only what was in flight is resent
            self._save_safely()

    # -- the sender's observer ---------------------------------------------------------------

    def request(self, seconds: float, status: int | None, error: str | None) -> None:
        """Every attempt: a 429 (or 503) pause shows in the summary."""
        gate = self.sender.gate
        self.summary.paused_until = time.time() + max(gate.until - time.monotonic(), 0.0)

    def failed_attempt(self, batch: Outgoing, exchange: Exchange, final: bool) -> None:
        now = time.time()
        reason = hide_key(exchange.reason, batch.key)
        sent = batch.sent[0].decode(errors="replace") if isinstance(batch, Parcel) else ""
        self.summary.failed_attempt(exchange.status, reason, len(batch.items), final=final, now=now,
                                    example=Example.of(sent, exchange))
        if not final and isinstance(batch, Parcel) and self.publish is not None and self.watched():
            records = [_record(i, r, None) for i, r in zip(batch.ids, batch.received, strict=True)]
            self.publish(_line(self.destination.name, "retrying", 0, records, exchange, batch.key))

    # -- position ------------------------------------------------------------------------------

    def save(self) -> None:
        """Persist the position, after the failed records below it reached the OS."""
        if self.committed != self.saved:
            self.failed.flush()
            self.outbox.save(self.committed)
            self.saved = self.committed

    async def _save_every(self) -> None:
        """Positions moved past filtered or unreadable lines only are saved here."""
        while True:
            await asyncio.sleep(SAVE_SECONDS)
            self._save_safely()

    def _save_safely(self) -> None:
        try:
            self.save()
        except OSError as error:
            self.summary.not_delivered(f"cannot save the position: {error.strerror}", 0, time.time())

    async def _idle(self) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), POLL_SECONDS)
        except asyncio.TimeoutError:
            pass


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _since(received: str | None, now: float) -> float | None:
    """Seconds from the collector's `receivedAt` to now: the end-to-end latency."""
    if received is None:
        return None
    try:
        return max(now - datetime.fromisoformat(received).timestamp(), 0.0)
    except ValueError:
        return None


def _record(message_id: object, received: object, seconds: float | None) -> protocol.DeliveryRecord:
    return protocol.delivery_record(_text(message_id), _text(received),
                                    None if seconds is None else round(seconds * 1000, 1))


def _line(name: str, status: protocol.DeliveryStatus, attempts: int, records: list[protocol.DeliveryRecord],
          exchange: Exchange | None, key: str | None) -> protocol.Delivery:
    if exchange is None:
        return protocol.delivery(name, status, attempts, records)
    return protocol.delivery(name, status, attempts, records, reason=hide_key(exchange.reason, key),
                             request=exchange.request(), response=exchange.response())
