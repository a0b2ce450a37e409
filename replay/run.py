"""One replay run: wires reader -> transform -> batcher -> bounded queue -> senders, with the
checkpoint, the failed file, progress and the final report around it."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator

from debugger.archive import ArchiveError, RawLine, content_size, expand, parse_line
from debugger.delivery.layout import Proven
from debugger.delivery.sender import BatchResult, DeliveryOptions, Sender, preflight
from debugger.delivery.target import Target
from debugger.errors import CliError
from debugger.message import event_time, mask_key
from replay import checkpoint as checkpoints
from replay.batching import MAX_MESSAGE_BYTES, Batch, Batcher, halves
from replay.checkpoint import Checkpoint
from replay.failures import FailedFile
from replay.pacing import Dues, HoldWindow, RateSchedule, Schedule, SpeedSchedule, Unpaced
from replay.reader import ArchiveReader, BadInputLine, Chunk, Selection, line_time, lines_times, original_time
from replay.refeed import read_input
from replay.report import Progress, ReplayStats, Summary
from replay.transform import BrokenLine, Transformation, Transformer

TICK_SECONDS = 1.0
HOLD_SECONDS = 0.05  # paced: how long a batch may wait for more events


@dataclass(frozen=True)
class ReplayOptions:
    """Everything the command line decided for one run."""

    archives: list[str]
    target: Target
    selection: Selection
    transformation: Transformation
    delivery: DeliveryOptions
    failed: Path
    checkpoint: Path
    fingerprint: str
    limit: int | None = None
    batch_size: int = 100
    rate: float | None = None
    speed: float | None = None
    max_wait: float | None = None
    new_message_ids: bool = False
    shift_timestamps: bool = False
    resume: bool = False
    report: str = "text"
    resume_command: str = ""


def run_replay(options: ReplayOptions) -> int:
    """Run the replay; the exit code is 0 (all delivered), 1 (some failed) or 130 (interrupted)."""
    problem = asyncio.run(preflight(options.target.url, min(options.delivery.timeout, 10.0)))
    if problem is not None:
        raise CliError(f"cannot reach {options.target.url}: {problem}; nothing was sent", code=1)
    return asyncio.run(prepare(options).main())


def prepare(options: ReplayOptions) -> "Run":
    """The run `options` ask for, from its checkpoint when resuming; nothing read or sent yet."""
    previous = _load_checkpoint(options)
    seed = previous.seed if previous else secrets.token_hex(8)
    shift = previous.shift_seconds if previous else _shift_seconds(options)
    spec = _transformation(options, seed, shift)
    state = Checkpoint(options.fingerprint, seed, shift_seconds=shift,
                       totals=dict(previous.totals) if previous else {})
    reader = ArchiveReader(options.archives, options.selection, parse_all=options.target.per_type,  # /v1/<type>
                           limit=options.limit, done_before=previous.done_before() if previous else None,
                           chunks=not options.target.per_type)
    return Run(options, reader, Transformer(spec), state, append_failed=previous is not None)


def describe_run(options: ReplayOptions) -> str:
    """--dry-run: read and select everything, send nothing (see replay.dryrun)."""
    from replay.dryrun import dry_run

    # --resume: the same checkpoint as the real run (the same error when there is none), its
    # time shift, and only what it has not handled yet
    previous = _load_checkpoint(options) if options.resume else None
    shift = previous.shift_seconds if previous else _shift_seconds(options)
    reader = ArchiveReader(options.archives, options.selection, parse_all=True, limit=options.limit,
                           done_before=previous.done_before() if previous else None)
    transform = Transformer(_transformation(options, previous.seed if previous else "dry-run", shift))
    return dry_run(reader, transform, rate=options.rate, speed=options.speed, max_wait=options.max_wait)


def _transformation(options: ReplayOptions, seed: str, shift: float | None) -> Transformation:
    """The full transformation: the CLI's options plus this run's id seed and time shift."""
    return Transformation(
        write_key=options.transformation.write_key, sent_at=options.transformation.sent_at,
        shift=None if shift is None else timedelta(seconds=shift),
        new_ids_seed=seed if options.new_message_ids else None, sets=options.transformation.sets,
    )


class Run:
    """The moving parts of one run and the bookkeeping that keeps the checkpoint truthful."""

    def __init__(self, options: ReplayOptions, reader: ArchiveReader, transform: Transformer,
                 state: Checkpoint, *, append_failed: bool) -> None:
        self.options = options
        self.reader = reader
        self.transform = transform
        self.state = state
        self.stats = ReplayStats()
        self.failed = FailedFile(options.failed, append=append_failed)
        self.batcher = Batcher(1 if options.delivery.mode == "single" else options.batch_size)
        self.outstanding: set[Batch] = set()
        self.handled = 0  # every line before it is delivered, failed, skipped, outstanding or in the batcher
        self.stopping = asyncio.Event()
        self.finished_input = False
        self.keys: set[str | None] = set()
        self.queue: asyncio.Queue[Batch | None] = asyncio.Queue(options.delivery.concurrency * 2)
        self.total_bytes = _total_bytes(options.archives)
        self.sender: Sender | None = None

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        workers: list[asyncio.Task[None]] = []
        interrupts = 0

        def interrupt() -> None:
            nonlocal interrupts
            interrupts += 1
            self.stopping.set()
            while not self.queue.empty():  # releases a producer waiting for room; the
                self.queue.get_nowait()  # batches stay outstanding, so --resume sends them
            if interrupts == 1:
                print("segdebug replay: stopping; requests in flight finish (Ctrl-C again to "
                      "stop at once)", file=sys.stderr, flush=True)
            else:  # do not wait for requests in flight: they stay pending for --resume
                for task in workers:
                    task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt)
        progress = Progress()
        try:
            async with Sender(self.options.delivery, self.stats, self.stopping) as sender:
                self.sender = sender
                workers.extend(asyncio.create_task(sender.narrowing_worker(self.queue, self.ended, halves))
                               for _ in range(self.options.delivery.concurrency))
                ticker = asyncio.create_task(self.tick(progress))
                try:
                    await self.produce()
                except ArchiveError as error:
                    self.stats.error(f"reading stopped: {error}")
                    self.stopping.set()
                await self.finish(workers)
                ticker.cancel()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            progress.close()
            self.stats.finished = time.monotonic()
        return self.close(interrupted=self.stopping.is_set())

    async def produce(self) -> None:
        """Read, select, transform and batch, paced when asked (see HoldWindow: a few
        requests a second, not one per event; Segment allows about 1,000 requests/s per
        workspace); blocks when the queue is full."""
        schedule = self._schedule()
        paced = not isinstance(schedule, Unpaced)
        by_time = isinstance(schedule, SpeedSchedule)  # --rate needs no event times
        loop = asyncio.get_running_loop()
        start = loop.time()
        per_type = self.options.target.per_type
        url = self.options.target.url
        batcher, transform, stopping = self.batcher, self.transform, self.stopping
        count = 0
        window = HoldWindow(HOLD_SECONDS)
        for entry in self.reader:  # handle each entry fully: the reader already counted it
            if type(entry) is Chunk:
                self.handled = entry.first  # the lines the reader skipped before it are done
                if paced:
                    proven: Proven = []
                    times: list[float | None] | None = None  # every line's, once its layouts are known
                    for first, keys, items in self.segments(entry, proven):
                        self.handled = first  # the lines set aside before it are in the failed file
                        at = first - entry.first
                        if by_time and times is None:
                            times = lines_times(entry.lines, proven)
                        due = times[at : at + len(items)] if times is not None else [None] * len(items)
                        await self.add_paced(first, keys, items, url, schedule.dues(due, start), window)
                        if stopping.is_set():
                            return
                    self.handled = entry.first + len(entry.lines)  # and the lines set aside after
                else:
                    full = self.add_chunk(entry, url)
                    self.placed(full, entry.first + len(entry.lines))
                    if full:
                        await self.enqueue(full)
                if stopping.is_set():
                    return
                continue
            self.handled = entry.ordinal
            if type(entry) is BadInputLine:
                self.stats.bad_lines += 1
                self.failed.bad_line(entry)
                continue
            try:
                key, item = transform(entry)
            except BrokenLine as error:
                self.bad_item(entry.ordinal, entry.raw, str(error))
                continue
            if len(item) > MAX_MESSAGE_BYTES:
                self.too_big(entry.ordinal, item)
                continue
            self.keys.add(key)
            if paced:
                message = entry.message
                moment = original_time(message) if message is not None else line_time(entry.raw) if by_time else None
                closing = window.admit(start + schedule.due(moment))
                if closing is not None:
                    await self.until(closing)
                    await self.enqueue(batcher.flush())
            if per_type:
                kind = entry.message.get("type") if entry.message else None
                url = self.options.target.url_for(kind if isinstance(kind, str) else "")
            full = batcher.add(key, url, item, entry.ordinal)
            self.placed(full, entry.ordinal + 1)
            if full:
                if paced:
                    await self.until(window.last)
                    if not batcher:
                        window.emptied()
                await self.enqueue(full)
            count += 1
            if count & 4095 == 0:
                await asyncio.sleep(0)
            if stopping.is_set():
                return
        self.handled = self.reader.position  # and the lines it skipped after the last one
        if paced:
            await self.until(window.last)
        await self.enqueue(batcher.flush())
        self.finished_input = True

    def placed(self, full: list[Batch], end: int) -> None:
        """Every line before `end` is handled: the batches that just became full are
        outstanding from now (not only once queued: pacing may hold them a while), the rest
        wait in the batcher. Called before any await, so no checkpoint sees them in between."""
        self.outstanding.update(full)
        self.handled = end

    async def until(self, moment: float) -> None:
        """Wait for loop time `moment` (paced events never go early), or until the run stops."""
        delay = moment - asyncio.get_running_loop().time()
        if delay > 0.001:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    def add_chunk(self, chunk: Chunk, url: str) -> list[Batch]:
        """Transform and batch a run of unparsed lines; the full batches."""
        full: list[Batch] = []
        for first, keys, items in self.segments(chunk):
            full += self.batcher.add_many(keys, url, items, first)
        return full

    def segments(self, chunk: Chunk, proven: Proven | None = None) -> Iterator[tuple[int, list[str | None], list[bytes]]]:
        """A run of unparsed lines transformed, as runs of consecutive sendable lines (first
        ordinal, keys, bytes); the rare broken or oversized line goes aside between them.
        `proven`: see Transformer.chunk."""
        keys, items, broken = self.transform.chunk(chunk, proven)
        self.keys.update(keys)
        if not broken and max(map(len, items)) <= MAX_MESSAGE_BYTES:
            yield chunk.first, keys, items
            return
        begin = 0
        for index, item in enumerate(items):
            if index in broken or len(item) > MAX_MESSAGE_BYTES:
                if begin < index:
                    yield chunk.first + begin, keys[begin:index], items[begin:index]
                if index in broken:
                    self.bad_item(chunk.first + index, item, broken[index])
                else:
                    self.too_big(chunk.first + index, item)
                begin = index + 1
        if begin < len(items):
            yield chunk.first + begin, keys[begin:], items[begin:]

    async def add_paced(self, first: int, keys: list[str | None], items: list[bytes], url: str,
                        dues: Dues, window: HoldWindow) -> None:
        """Consecutive lines (ordinals from `first`) due at `dues` (loop time), batched in bulk
        as unpaced ones are; the hold window decides when each request leaves, as it does
        event by event: a full batch when its newest event is due, the others when the window
        closes. Never early, at most the hold late."""
        batcher, position, count = self.batcher, 0, len(items)
        while position < count:
            held_until = window.last
            end, closing = window.admit_run(dues, position)
            if closing is not None:
                await self.until(closing)
                await self.enqueue(batcher.flush())
                continue
            full = batcher.add_many(keys[position:end], url, items[position:end], first + position)
            self.placed(full, first + end)
            for batch in full:
                newest = batch.ordinals[-1] - first  # a batch closed early may end before `first`
                await self.until(dues[newest] if newest >= 0 else held_until)
                await self.enqueue([batch])
            if full and not batcher:
                window.emptied()
            position = end
            if self.stopping.is_set():
                return

    def bad_item(self, ordinal: int, item: bytes, reason: str) -> None:
        self.stats.bad_lines += 1
        self.failed.bad_item(ordinal, item, reason)

    def too_big(self, ordinal: int, item: bytes) -> None:
        self.stats.too_big += 1
        self.failed.message(ordinal, item, f"message is {len(item):,} bytes, over Segment's 32 KB limit")

    async def enqueue(self, batches: list[Batch]) -> None:
        """Hand batches to the senders; they are outstanding from now until acknowledged.
        Waits while the queue is full (backpressure); `interrupt` empties it to release us."""
        self.outstanding.update(batches)
        for batch in batches:
            if self.stopping.is_set():
                return
            await self.queue.put(batch)

    async def ended(self, batch: Batch, results: list[tuple[Batch, BatchResult]]) -> None:
        """A batch ended, as parts when the destination refused it for its content (400, 413,
        422: the sender narrowed it down to the refused messages). Interrupted: the whole
        batch stays outstanding, so --resume sends it again (its delivered parts too, with
        their messageIds)."""
        if any(result.interrupted for _, result in results):
            return
        for part, result in results:
            await self.done(part, result)
        self.outstanding.discard(batch)

    async def done(self, batch: Batch, result: BatchResult) -> None:
        """A batch ended: delivered or recorded as failed; interrupted ones stay outstanding.

        The hot path sends lines after an O(1) shape check only; when the endpoint refuses a
        batch (4xx), its lines are parsed now: broken ones go to the failed file as bad lines
        and the rest is sent again, as any batch is (narrowed if refused for its content)."""
        if result.interrupted:
            return
        if result.delivered:
            self.stats.delivered += len(batch)
        elif result.status is not None and 400 <= result.status < 500 and (rest := self.without_invalid(batch)) is not None:
            self.outstanding.discard(batch)
            if rest.items:
                self.outstanding.add(rest)
                assert self.sender is not None
                await self.ended(rest, await self.sender.deliver_narrowed(rest, halves))
            return
        else:
            self.stats.failed += len(batch)
            error = result.exchange.error if result.exchange is not None else result.error
            self.failed.batch(batch, result.status, error, result.attempts)
        self.outstanding.discard(batch)

    def without_invalid(self, batch: Batch) -> Batch | None:
        """The batch minus items that are not JSON (recorded as bad); None if none was broken."""
        checked = [(n, item, parse_line(item)) for n, item in zip(batch.ordinals, batch.items, strict=True)]
        broken = [(n, item, why) for n, item, why in checked if isinstance(why, str)]
        if not broken:
            return None
        for ordinal, item, reason in broken:
            self.bad_item(ordinal, item, reason)
        kept = [(ordinal, item) for ordinal, item, parsed in checked if not isinstance(parsed, str)]
        return Batch(batch.key, batch.url, [item for _, item in kept], [ordinal for ordinal, _ in kept])

    async def finish(self, workers: list[asyncio.Task[None]]) -> None:
        """Let the senders drain the queue (or, when stopping, just finish what is in flight)."""
        while self.stopping.is_set() and not self.queue.empty():
            self.queue.get_nowait()
        for _ in workers:
            await self.queue.put(None)
        await asyncio.gather(*workers, return_exceptions=True)

    async def tick(self, progress: Progress) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            progress.update(self.stats, self._fraction())
            self.save_checkpoint()

    def snapshot(self) -> Checkpoint:
        """The checkpoint as things stand: `position` is how far lines are handled (not how far
        they were read: a paced run reads a whole block of lines ahead and admits them as they
        come due), `pending` what was handed over and is not acknowledged or failed yet."""
        pending = [n for batch in self.outstanding for n in batch.ordinals]
        pending += [n for batch in self.batcher.open_batches() for n in batch.ordinals]
        return replace(self.state, position=self.handled, pending=checkpoints.to_runs(pending),
                       totals=self._totals(self.state.totals))

    def save_checkpoint(self) -> None:
        self.failed.flush()  # before the checkpoint that counts its records as done
        state = self.snapshot()
        try:
            checkpoints.save(self.options.checkpoint, state)
        except OSError as error:
            self.stats.error(f"cannot write checkpoint {self.options.checkpoint}: {error.strerror}")

    def close(self, *, interrupted: bool) -> int:
        self.failed.close()
        complete = self.finished_input and not self.outstanding and not interrupted
        if complete:
            self.options.checkpoint.unlink(missing_ok=True)
        else:
            self.save_checkpoint()
        stats = self.stats
        secrets_shown = {key for key in self.keys if key} | {self.options.transformation.write_key or ""}
        stats.errors = mask_keys(stats.errors, secrets_shown)
        summary = Summary(
            stats=stats, selected=self.reader.selected, lines=self.reader.lines,
            unselected=self.reader.unselected, already_done=self.reader.already_done,
            failed_file=str(self.options.failed) if self.failed.count else None,
            interrupted=not complete,
            write_keys=report_keys(self.keys),
            resume_command=None if complete else self.options.resume_command,
            earlier=self.state.totals,
        )
        print(summary.json() if self.options.report == "json" else summary.text(), flush=True)
        if not complete:
            return 130 if interrupted else 1
        return 1 if stats.failed or stats.too_big or stats.bad_lines else 0

    def _totals(self, earlier: dict[str, int]) -> dict[str, int]:
        now = {"delivered": self.stats.delivered, "failed": self.stats.failed + self.stats.too_big,
               "bad_lines": self.stats.bad_lines}
        return {k: earlier.get(k, 0) + v for k, v in now.items()}

    def _schedule(self) -> Schedule:
        if self.options.rate:
            return RateSchedule(self.options.rate)
        if self.options.speed:
            return SpeedSchedule(self.options.speed, self.options.max_wait)
        return Unpaced()

    def _fraction(self) -> float | None:
        if not self.total_bytes:
            return None
        return self.reader.bytes_read / self.total_bytes


def report_keys(keys: Iterable[str | None]) -> list[str]:
    """The run's write keys as the report lists them: masked, and keys whose masks are alike
    counted (`dev` and `dev2` both mask to `d…`: "d… (2 keys)", not "d…, d…", QA)."""
    masks = Counter(mask_key(key) for key in set(keys) if key)
    return sorted(mask if count == 1 else f"{mask} ({count} keys)" for mask, count in masks.items())


def mask_keys(errors: Counter[str], keys: set[str]) -> Counter[str]:
    """Error texts (servers echo write keys) with every known key masked."""
    masked: Counter[str] = Counter()
    for text, count in errors.items():
        for key in keys:
            if key:
                text = text.replace(key, mask_key(key))
        masked[text] += count
    return masked


def _load_checkpoint(options: ReplayOptions) -> Checkpoint | None:
    if not options.resume:
        if options.checkpoint.exists():
            print(f"segdebug replay: note: starting over; {options.checkpoint} (an unfinished run) "
                  "will be replaced (add --resume to continue it instead)", file=sys.stderr)
        return None
    try:
        found = checkpoints.load(options.checkpoint)
    except ValueError as error:
        raise CliError(str(error)) from None
    if found is None:
        raise CliError(f"no checkpoint at {options.checkpoint} to resume; run without --resume")
    if found.fingerprint != options.fingerprint:
        raise CliError(f"checkpoint {options.checkpoint} belongs to a different replay (archives, "
                       "target, selection or transformation changed); run without --resume")
    return found


def _shift_seconds(options: ReplayOptions) -> float | None:
    """--timestamps shift: seconds that move the archive's last event to now (one pre-pass)."""
    if not options.shift_timestamps:
        return None
    if "-" in options.archives:
        raise CliError("--timestamps shift reads the archive twice, so it cannot read stdin")
    latest = None
    for line in read_input(options.archives):  # failed files as the messages they hold
        message = parse_line(line.raw) if isinstance(line, RawLine) else None
        moment = event_time(message) if isinstance(message, dict) else None
        if moment is not None and (latest is None or moment > latest):
            latest = moment
    return (datetime.now(timezone.utc) - latest).total_seconds() if latest else 0.0


def _total_bytes(archives: list[str]) -> int | None:
    """What the archives hold decompressed, for the progress bar; None when unknown (stdin)."""
    try:
        files = expand(archives)
    except ArchiveError:
        return None
    total = 0
    for name in files:
        size = None if name == "-" else content_size(name)
        if size is None:
            return None
        total += size
    return total
