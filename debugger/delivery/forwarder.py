"""One destination's forwarding: the archive as an outbox -> parcels -> the shared sender.

Nothing acknowledged is lost: a line leaves the outbox only when it was delivered, filtered,
or written to the destination's failed file; the saved position never passes a line that is
still in flight (parcels finish out of order; the position follows the finished prefix). A
crash resends what was in flight: duplicates come only from such retries, with their
messageId kept, as Segment dedupes on it. Ingest never waits on this task: the collector only
appends to the archive; a slow or dead destination makes the backlog grow on disk, beyond the
newest writes the outbox holds in memory (debugger.delivery.outbox.HELD_BYTES; with their
edits about three times that).

It shares the collector's event loop, so its cost per message is taken from ingest. Inside the
collector each write reaches `tap` as it is made: held by the outbox and edited for this
destination at once, while its bytes are in the CPU's caches (debugger.delivery.editing: no
parse unless a line's integrations object or shape needs one; the previous write's layout
proof tried first), with its receivedAt values counted there. The run loop later takes about a
request's worth of held writes, merges their edits and cuts parcels; a block read from the
file (a restart, a backlog beyond memory) is edited as it is read. A record per message is
built (parsing the line) only while a viewer watches.

Measured (bench/forward.py, 2 cores shared by load client, collector and null destination;
medians): forwarding adds 2.2-2.4 us CPU per message to a collector whose ingest costs 4.0-4.2
on a quiet machine, 2.8-3.1 over 4.3-4.4 when the whole machine ran slower (the null
destination then 3.2-3.5 us a message instead of 2.3-2.5); interleaved with the version that
read every block back from the file, same ingest: 2.8 against 3.7. In-process, per message, on
the collector's ~800-byte lines: the edit on arrival 0.5 us (layout proof 0.13, slices 0.15,
integrations memmem 0.06, receivedAt counts 0.05), parcels 0.09, body 0.05; the rest is the
HTTP client, the kernel's loopback send, and ingest itself running slower beside it (caches,
allocator: perf shows malloc/free and list deallocation of the held lines and items).
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections import Counter, deque
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Callable, Iterator, cast

import orjson

from debugger import protocol
from debugger.delivery.destinations import Destination, failed_path, position_path
from debugger.delivery.exchange import Exchange
from debugger.delivery.failures import FailedFile
from debugger.archive_writer import FileId
from debugger.delivery.editing import Edited, edit_block, latencies, merge, received_counts, runs
from debugger.delivery.layout import Layout, learn
from debugger.delivery.outbox import Block, Outbox
from debugger.delivery.sender import FORWARD_USER_AGENT, BatchResult, DeliveryOptions, Outgoing, Sender
from debugger.delivery.summary import DestinationSummary, Example

POLL_SECONDS = 0.02  # how often an idle outbox looks for new lines
SAVE_SECONDS = 0.25  # how often a position moved past filtered lines only is saved
# a little unread (less than a full request) waits up to HOLD_SECONDS for more: under load the
# forwarder would otherwise chase the collector's every write with a request of ~100 messages,
# and per request the client costs as much as ~400 messages' byte edits (measured: forwarding
# 6.3 us/message in the loaded collector with small requests, 3.1 with full ones)
FILL_BYTES = 256 * 1024
HOLD_SECONDS = 0.05
STOP_GRACE_SECONDS = 1.0  # on shutdown, how long requests in flight may still finish
BATCH_EVENTS = 500  # Segment takes up to 500 KB per batch: fewer, larger requests
BATCH_BYTES = 480_000  # under Segment's 500 KB, with room for the envelope
_PLUS_ONE = (1).__add__  # an item's share of a body: its bytes and a comma

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
    """Messages for one request (one write key): their bytes as sent, and as archived (You
    sent, the failed file, and where records and latencies are read from, only when needed)."""

    key: str | None
    url: str
    items: list[bytes]  # as sent
    sent: list[bytes]  # as archived
    received_at: slice | None = None  # where every archived line's receivedAt lies, if proven
    # how many lines carry each receivedAt, counted while the block's bytes are still in the
    # CPU's caches (at the answer, milliseconds later, they no longer are: 0.2 us/message)
    received: Counter[str | None] | None = None


def halves(parcel: Parcel) -> tuple[Parcel, Parcel]:
    """The two halves of a refused parcel (the sender narrows down to the refused message)."""
    middle = len(parcel.items) // 2
    at = parcel.received_at
    return (Parcel(parcel.key, parcel.url, parcel.items[:middle], parcel.sent[:middle], at),
            Parcel(parcel.key, parcel.url, parcel.items[middle:], parcel.sent[middle:], at))


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
        self._hint: Layout | None = None  # the layout of the last write edited on arrival
        self._tasks: set[asyncio.Task[None]] = set()
        self.delivery = DeliveryOptions(
            concurrency=options.concurrency, max_retries=options.max_retries, timeout=options.timeout,
            backoff_base=options.backoff_base, backoff_cap=options.backoff_cap, user_agent=FORWARD_USER_AGENT)

    def tap(self, file_id: FileId, start: int, lines: list[bytes], data: bytes) -> None:
        """The archive writer's tap (debugger.delivery.service installs it): the outbox holds
        the write, and it is edited for this destination at once, while its bytes are still in
        the CPU's caches: the same work as when the block is read, at half its cost in the
        loaded collector (the block comes milliseconds and megabytes later). The layout of the
        previous write is tried first: the collector's calls differ in values, not layout."""
        held = self.outbox.offer(file_id, start, lines, data)
        if held is None or not lines:
            return
        if self._hint is None:  # learnt from a write of any size: SDKs' batches are often small
            self._hint = learn(lines[0], True, self.options.write_key is not None)
        edited = edit_block(lines, (data,), self.destination.integration, self.options.write_key,
                            True, self._hint)
        edited.count_received(lines)
        self._hint = edited.layout or self._hint
        held.note = edited

    def start(self) -> None:
        """Take up the saved position (synchronously: before the collector accepts anything)."""
        self.outbox.start()
        self.committed = self.saved = self.outbox.offset

    async def run(self) -> None:
        """Read, filter, batch and send until `stop`; in-flight parcels stay below the position."""
        async with Sender(self.delivery, self, self.stopping) as self.sender:
            saver = asyncio.create_task(self._save_every())
            try:
                waiting_since: float | None = None  # a little is unread since then
                while not self.stopping.is_set():
                    unread = self.outbox.backlog()
                    if 0 < unread < FILL_BYTES:
                        now = time.monotonic()
                        waiting_since = waiting_since or now
                        if now - waiting_since < HOLD_SECONDS:
                            await self._idle()
                            continue
                    waiting_since = None
                    block = self.outbox.read(most_lines=self.options.batch_events)
                    if block is None:
                        self.summary.backlog_bytes = 0
                        await self._idle()
                        continue
                    await self._forward(block)
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

    async def _forward(self, block: Block) -> None:
        """Turn a block of lines into parcels (one write key each, within Segment's limits)
        and send them; each parcel's slot also covers the unsent lines after it."""
        now = time.time()
        lines = block.lines
        if not lines:
            self._skip(block.end)
            return
        edited = self.edited(block)
        for index in edited.broken:
            raw = lines[index]
            self.failed.raw(raw, "not a JSON object", destination=self.destination.name)
            self.summary.not_delivered("not a JSON object", 1, now, sent=raw.decode(errors="replace"))
        if edited.filtered:
            self.summary.filtered(len(edited.filtered), now)
            if self.publish is not None and self.watched():
                records = [_record(m.get("messageId"), m.get("receivedAt"), None) for m in edited.filtered]
                self.publish(protocol.delivery(self.destination.name, "filtered", 0, records))
        parcels = list(self._parcels(edited, lines))
        if not parcels:
            self._skip(block.end)
            return
        for number, (_, parcel) in enumerate(parcels):
            following = number + 1
            end = block.end_of(parcels[following][0] - 1) if following < len(parcels) else block.end
            await self._send(parcel, end)

    def edited(self, block: Block) -> Edited:
        """What the block's lines become for this destination: edited on arrival (`tap`),
        or now."""
        notes = block.notes
        if notes and all(isinstance(note, Edited) for note in notes):
            return merge(cast(tuple[Edited, ...], notes), block.firsts)
        return edit_block(block.lines, block.data, self.destination.integration, self.options.write_key,
                          block.objects, self._hint)

    def _parcels(self, edited: Edited, lines: list[bytes]) -> Iterator[tuple[int, Parcel]]:
        """(first line, parcel) for every request the block needs: runs of one write key cut
        at `batch_events` messages or BATCH_BYTES (sizes summed at C speed: a parcel's total
        first, each message's running total only when it is over)."""
        items, url, most = edited.items, self.destination.url, self.options.batch_events
        for start, end in runs(edited.keys, items):
            key = edited.keys[start]
            run = cast(list[bytes], items[start:end])
            at = 0
            while at < len(run):
                stop = min(at + most, len(run))
                if sum(map(len, run[at:stop])) + stop - at > BATCH_BYTES:
                    sizes = list(accumulate(map(_PLUS_ONE, map(len, run[at:stop]))))
                    stop = at + max(bisect_right(sizes, BATCH_BYTES), 1)
                first, last = start + at, start + stop
                received = edited.counts_between(lines, first, last)
                yield first, Parcel(key, url, run[at:stop], lines[first:last], edited.received_at(first, last),
                                    received)
                at = stop

    def _skip(self, end: int) -> None:
        """Lines that need no request (filtered, not JSON, blank): finished at once."""
        if end > (self.slots[-1].end if self.slots else self.committed):
            self._finish(Slot(end, done=True), append=True)

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
        landed: dict[int, int] = {}  # id() -> size of parts recorded as they ended (while narrowing)

        def ended(part: Parcel, result: BatchResult) -> None:
            landed[id(part)] = len(part.items)
            self.summary.in_flight -= len(part.items)
            self._ended(part, result)

        try:
            results = await self.sender.deliver_narrowed(parcel, halves, ended)
        except Exception as error:  # noqa: BLE001 - never lose a parcel to a bug: fail it
            results = [(parcel, BatchResult(False, None, f"unexpected error: {error!r}", 1))]
        finally:
            self.summary.in_flight -= count - sum(landed.values())
            self._room.release()
        if any(result.interrupted for _, result in results):
            return  # stays below the position: sent again after a restart (its delivered parts too)
        for part, result in results:
            if id(part) not in landed:
                self._ended(part, result)
        self._finish(slot)

    def _ended(self, parcel: Parcel, result: BatchResult) -> None:
        """Record how a parcel ended: delivered (end-to-end latencies) or in the failed file,
        and only then counted not delivered, so the summary never counts a message its failed
        file does not hold yet (QA: a refused half was counted at once while its record waited
        for a sibling retried on 500s)."""
        now = time.time()
        count = len(parcel.items)
        if result.delivered:
            received = parcel.received  # None for halves of a refused parcel: counted here
            if received is None:
                received = received_counts(parcel.sent, parcel.received_at)
            self.summary.delivered(count, latencies(received, now), now)
            status: protocol.DeliveryStatus = "delivered"
        else:
            self.failed.messages(None, parcel.sent, result.error, result.status, result.attempts,
                                 destination=self.destination.name)
            exchange = result.exchange
            if exchange is None:  # not from an attempt (an unexpected error)
                self.summary.failed_attempt(None, result.error, count, final=True, now=now)
            else:
                self.summary.failed_attempt(exchange.status, exchange.hide(exchange.reason), count,
                                            final=True, now=now, example=self._example(parcel, exchange))
            status = "failed"
        if self.publish is not None and self.watched():
            records = _records(parcel.sent, now if result.delivered else None)
            self.publish(_line(self.destination.name, status, result.attempts, records, result.exchange))

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
        """A retried attempt counts here; a final one when its parcel has ended (`_ended`),
        after its failed file has the messages."""
        if final:
            return
        now = time.time()
        reason = exchange.hide(exchange.reason)  # every key it carried, in every spelling
        example = self._example(batch, exchange) if isinstance(batch, Parcel) else Example.of("", exchange)
        self.summary.failed_attempt(exchange.status, reason, len(batch.items), final=False, now=now,
                                    example=example)
        if isinstance(batch, Parcel) and self.publish is not None and self.watched():
            records = _records(batch.sent, None)
            self.publish(_line(self.destination.name, "retrying", 0, records, exchange))

    @staticmethod
    def _example(parcel: Parcel, exchange: Exchange) -> Example:
        """The error's example: the parcel's first message as archived, and the exchange."""
        return Example.of(parcel.sent[0].decode(errors="replace"), exchange)

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


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _records(sent: list[bytes], now: float | None) -> list[protocol.DeliveryRecord]:
    """A record per message (parsed here: only while a viewer watches), with its end-to-end
    latency when delivered at `now`."""
    records = []
    for raw in sent:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            message = {}
        received = _text(message.get("receivedAt"))
        seconds = None
        if now is not None and received is not None:
            found = latencies(Counter([received]), now)
            seconds = found[0][0] if found else None
        records.append(_record(message.get("messageId"), received, seconds))
    return records


def _record(message_id: object, received: object, seconds: float | None) -> protocol.DeliveryRecord:
    return protocol.delivery_record(_text(message_id), _text(received),
                                    None if seconds is None else round(seconds * 1000, 1))


def _line(name: str, status: protocol.DeliveryStatus, attempts: int, records: list[protocol.DeliveryRecord],
          exchange: Exchange | None) -> protocol.Delivery:
    if exchange is None:
        return protocol.delivery(name, status, attempts, records)
    keys = exchange.keys()
    return protocol.delivery(name, status, attempts, records, reason=exchange.hide(exchange.reason, keys),
                             request=exchange.request(keys), response=exchange.response(keys))
