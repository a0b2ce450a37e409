"""Grouping transformed messages into requests within Segment's limits (pure, no I/O).

Batches never mix write keys. Items stay the exact bytes they will be sent as; a request body is
spliced from them, never re-serialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_EVENTS = 2500
MAX_BATCH_BYTES = 480_000  # under Segment's 500 KB, with room for the envelope
ENVELOPE_OVERHEAD = 200


@dataclass(slots=True, eq=False)
class Batch:
    """Messages for one request: their bytes, their input positions, their write key."""

    key: str | None
    url: str
    items: list[bytes] = field(default_factory=list)
    ordinals: list[int] | range = field(default_factory=list)  # a range when contiguous
    size: int = ENVELOPE_OVERHEAD

    def __len__(self) -> int:
        return len(self.items)


def halves(batch: Batch) -> tuple[Batch, Batch]:
    """The two halves of a refused batch (the sender narrows down to the refused message)."""
    middle = len(batch.items) // 2
    ordinals = batch.ordinals
    return (Batch(batch.key, batch.url, batch.items[:middle], ordinals[:middle]),
            Batch(batch.key, batch.url, batch.items[middle:], ordinals[middle:]))


_NONE: list[Batch] = []  # shared empty answer of `add` (never mutated)
# An open batch (one in Batcher._open, made by `_start`) collects its ordinals in a list; only
# whole batches cut from a run, which are never open, hold a range.
_Collecting = list[int]


class Batcher:
    """Open batches per (write key, URL); `add` returns the batches that became full."""

    def __init__(self, max_events: int, max_bytes: int = MAX_BATCH_BYTES, max_open: int = 64) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_open = max_open
        self._open: dict[tuple[str | None, str], Batch] = {}

    def add(self, key: str | None, url: str, item: bytes, ordinal: int) -> list[Batch]:
        slot = (key, url)
        batch = self._open.get(slot)
        size = len(item) + 1
        if batch is None or batch.size + size > self.max_bytes:
            return self._start(slot, item, ordinal, size)
        batch.items.append(item)
        cast(_Collecting, batch.ordinals).append(ordinal)
        batch.size += size
        if len(batch.items) >= self.max_events:
            return [self._open.pop(slot)]
        return _NONE

    def add_many(self, keys: list[str | None], url: str, items: list[bytes], first: int) -> list[Batch]:
        """Add items whose ordinals run from `first`; a run with one key fills batches by slices."""
        if not keys:
            return _NONE
        if keys.count(keys[0]) != len(keys):
            done: list[Batch] = []
            for index, (key, item) in enumerate(zip(keys, items, strict=True)):
                done += self.add(key, url, item, first + index)
            return done
        return self._add_run(keys[0], url, items, first)

    def _add_run(self, key: str | None, url: str, items: list[bytes], first: int) -> list[Batch]:
        done: list[Batch] = []
        slot = (key, url)
        index, count = 0, len(items)
        whole = self.max_events
        while index < count:
            batch = self._open.get(slot)
            if batch is None and count - index >= whole:  # a whole batch straight from the run
                take = items[index : index + whole]
                size = ENVELOPE_OVERHEAD + sum(map(len, take)) + whole
                if size <= self.max_bytes:
                    done.append(Batch(key, url, take, range(first + index, first + index + whole), size))
                    index += whole
                    continue
            if batch is None:
                done += self.add(key, url, items[index], first + index)
                index += 1
                continue
            take = items[index : index + self.max_events - len(batch.items)]
            size = sum(map(len, take)) + len(take)
            if batch.size + size > self.max_bytes:  # near the byte limit: one at a time
                done += self.add(key, url, items[index], first + index)
                index += 1
                continue
            batch.items += take
            cast(_Collecting, batch.ordinals).extend(range(first + index, first + index + len(take)))
            batch.size += size
            index += len(take)
            if len(batch.items) >= self.max_events:
                done.append(self._open.pop(slot))
        return done

    def _start(self, slot: tuple[str | None, str], item: bytes, ordinal: int, size: int) -> list[Batch]:
        """Open a new batch for `slot`, closing its full one or, past max_open, the oldest."""
        done = [self._open.pop(slot)] if slot in self._open else []
        if len(self._open) >= self.max_open:
            done.append(self._open.pop(next(iter(self._open))))
        batch = Batch(slot[0], slot[1], [item], [ordinal], ENVELOPE_OVERHEAD + size)
        if self.max_events <= 1:
            done.append(batch)
        else:
            self._open[slot] = batch
        return done

    def flush(self) -> list[Batch]:
        """Every open batch, oldest first; the batcher is empty afterwards."""
        done = list(self._open.values())
        self._open.clear()
        return done

    def open_batches(self) -> list[Batch]:
        return list(self._open.values())

    def __bool__(self) -> bool:
        return bool(self._open)
