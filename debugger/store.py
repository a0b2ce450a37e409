"""The recent events: a bounded, in-memory record of the last N messages the collector got.

Why it exists: the query API (`/segdebug/`), `segdebug assert`, the pytest plugin and a
viewer's history on open all ask "what arrived lately?", and the archive alone cannot say
which messages were refused, with which problems, or in which order among the refusals.

Why it looks like this: `append_call` runs on the ingest hot path for every message, watched
or not, so it does the least per message. In the common case (every message of the call
accepted without problems) the call's archive lines are kept as one exact-size buffer (the
very bytes the archive writer wrote: the call's lines are joined once), and each slot holds
only the message's index in it: ~1 KB per message, where ingest's parsed dicts cost ~3 KB and
orjson's oversized line buffers 4-8 KB, for up to 100,000 messages. Otherwise the slots hold
ingest's `Accepted`/`Refused` items. Either way they go in by slice assignment into two
preallocated rings (the call's `CallContext`, the one the hub gets too, beside each). The socket
envelope of a message is built only when someone reads it (parsing its line), then cached. A
message that was checked only by the refusing-only checker (nobody was watching) gets the full
checker's problems at that moment, so every reader sees the envelope the socket would send.

What a read costs in memory: a built envelope stays in its slot (the parsed message, ~3.5 KB),
so one broad read of a full store leaves it resident: 100,000 realistic events, 132 MB before
and 464-480 MB after one `GET /segdebug/events` over them (`bench/api.py --rss`). Rebuilding
envelopes on every read instead (a ring of the newest 5,000 kept) held 212 MB, but a broad
query repeated over 100,000 messages then took 1.4 s instead of 107 ms (`bench/api.py` ratio
0.07 against 0.9, its goal 0.5), and `assert --within` polls such queries: speed kept, memory
bounded by `--recent`.

Sequence numbers are the collector's: contiguous, one per message. The ring holds
`[oldest_seq, next_seq)`; what came before `oldest_seq` was cut (it is still in the archive,
see `accepted_before` / `refused_before` for where). The store is pure: no I/O, no clock.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Sequence, Union

import orjson

from debugger import rules
from debugger.checks import Checker, refusal_problems
from debugger.ingest import Accepted, Refused
from debugger.pending import CallContext
from debugger.protocol import ACCEPTED, REFUSED, EventEnvelope, event

DEFAULT_CAPACITY = 100_000


@dataclass(slots=True)
class _CallLines:
    """A call whose messages were all accepted without problems: its archive lines joined by
    newlines (the slots hold indexes into them), split once one of them is read."""

    call: CallContext
    lines: bytes
    split: list[bytes] | None = None


# A ring slot: nothing; not yet read: the message's index in its call's `lines`, or the item as
# ingest made it; once read: its envelope.
_Slot = Union[int, Accepted, Refused, EventEnvelope, None]
_Call = Union[CallContext, _CallLines]
_PROBLEMS = attrgetter("problems")


class RecentStore:
    """The last `capacity` messages, by sequence number, read back as socket envelopes.

    `check` is the full checker, used when a message that was checked only for refusals is
    first read. A *window* (`window_seq`) is where the query API starts looking: `reset()`
    moves it to now; nothing is deleted.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, check: Checker = rules.check, first_seq: int = 1) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.check = check
        self.first_seq = first_seq  # nothing was ever numbered before it
        self.next_seq = first_seq
        self.window_seq = first_seq
        self._items: list[_Slot] = [None] * capacity
        self._calls: list[_Call | None] = [None] * capacity
        self._refused: array[int] = array("q")  # every refused seq since start, ascending

    # -- writing (the hot path) ----------------------------------------------------------

    def append_call(
        self, seq: int, call: CallContext, results: Sequence[Accepted | Refused], refusals: int = -1,
        archived: bytes = b"",
    ) -> None:
        """Keep one call's messages, numbered from `seq`. O(1) Python work per call: the items
        go in by slice assignment. `refusals` (ingest's count; -1: count them here) lets the
        common all-accepted call skip looking at its items. `archived`, when given, is what
        the archive writer wrote for this call (every result's line, newline-terminated): kept
        as it is instead of joining the lines a second time."""
        count = len(results)
        if not count:
            return
        if seq != self.next_seq:
            self._skip_to(seq)
        if refusals:
            self._refused.extend(s for s, item in enumerate(results, seq) if type(item) is Refused)
        kept: Sequence[_Slot] = results
        if not refusals and not any(map(_PROBLEMS, results)):  # all clean: keep the lines only
            if not archived:  # one exact-size copy (orjson's own buffers are oversized)
                lines = [item.line for item in results]  # type: ignore[union-attr]
                archived = b"\n".join(lines) if count > 1 else memoryview(lines[0]).tobytes()
            kept_call: _Call = _CallLines(call, archived)
            kept = range(count)
        else:
            kept_call = call
        self.next_seq = seq + count
        capacity = self.capacity
        if count > capacity:
            kept, seq, count = kept[count - capacity:], seq + count - capacity, capacity
        start = seq % capacity
        end = start + count
        items, calls = self._items, self._calls
        if count == 1:  # a single call (/v1/track, ...): no slices to build
            items[start] = kept[0]
            calls[start] = kept_call
        elif end <= capacity:
            items[start:end] = kept
            calls[start:end] = [kept_call] * count
        else:
            split = capacity - start
            items[start:] = kept[:split]
            items[: end - capacity] = kept[split:]
            calls[start:] = [kept_call] * split
            calls[: end - capacity] = [kept_call] * (count - split)

    def append(self, seq: int, item: Accepted | Refused, call: CallContext) -> None:
        """Keep one message (append_call for a whole call is cheaper)."""
        self.append_call(seq, call, (item,), int(type(item) is Refused))

    def _skip_to(self, seq: int) -> None:
        """Numbers were skipped (or reused): blank what they would have held."""
        if seq < self.next_seq:  # the numbering went back: start over from here
            self.first_seq = self.window_seq = seq
            self._refused = array("q")
            gap = range(self.capacity)
        else:
            gap = range(self.next_seq, min(seq, self.next_seq + self.capacity))
        for number in gap:
            self._items[number % self.capacity] = None
            self._calls[number % self.capacity] = None
        self.next_seq = seq

    # -- reading -------------------------------------------------------------------------

    @property
    def oldest_seq(self) -> int:
        """The oldest sequence number still held; anything before it was cut."""
        return max(self.first_seq, self.next_seq - self.capacity)

    def __len__(self) -> int:
        return self.next_seq - self.oldest_seq

    def get(self, seq: int) -> EventEnvelope | None:
        """The envelope of message `seq`, or None when it is not held (cut, or not yet come)."""
        if not self.oldest_seq <= seq < self.next_seq:
            return None
        return self._envelope(seq, seq % self.capacity)

    def last(self, n: int) -> list[EventEnvelope]:
        """The newest `n` envelopes (fewer when fewer are held), oldest first."""
        return self.envelopes(max(self.oldest_seq, self.next_seq - max(n, 0)))

    def window(self, start_seq: int | None = None) -> list[EventEnvelope]:
        """Every held envelope from `start_seq` (default: the current window's start) on, in
        arrival order. Compare `oldest_seq` with the start to see what was cut."""
        return self.envelopes(self.window_seq if start_seq is None else start_seq)

    def envelopes(self, start_seq: int, stop_seq: int | None = None) -> list[EventEnvelope]:
        """The held envelopes with `start_seq <= seq < stop_seq` (default: up to the newest).
        Builds (and caches) the ones never read, then returns plain list slices."""
        start = max(start_seq, self.oldest_seq)
        stop = self.next_seq if stop_seq is None else min(stop_seq, self.next_seq)
        if start >= stop:
            return []
        capacity = self.capacity
        first, last = start % capacity, (stop - 1) % capacity
        if first <= last:
            return self._slice(start, first, last + 1)
        return self._slice(start, first, capacity) + self._slice(start + capacity - first, 0, last + 1)

    def _slice(self, seq: int, begin: int, end: int) -> list[EventEnvelope]:
        items = self._items
        part = items[begin:end]
        out: list[EventEnvelope] = []
        for offset, item in enumerate(part):
            if type(item) is dict:
                out.append(item)  # a cached envelope
            elif item is not None:
                built = self._envelope(seq + offset, begin + offset)
                if built is not None:
                    out.append(built)
        return out

    def _envelope(self, seq: int, index: int) -> EventEnvelope | None:
        item = self._items[index]
        if item is None or type(item) is dict:
            return item
        call = self._calls[index]
        if call is None:  # filled together: never
            return None
        if isinstance(item, int) and isinstance(call, _CallLines):
            if call.split is None:
                call.split = call.lines.split(b"\n")
            envelope = self._from_line(seq, call.split[item], call.call)
        elif isinstance(item, (Accepted, Refused)) and isinstance(call, CallContext):
            envelope = self._build(seq, item, call)
        else:  # a cached envelope, returned above
            return None
        self._items[index] = envelope
        self._calls[index] = None
        return envelope

    def _from_line(self, seq: int, line: bytes, call: CallContext) -> EventEnvelope:
        """An accepted message kept as its archive line: ingest found no problems in it (with
        the checker of the moment). Its write key is the one ingest merged into it."""
        message: dict[str, Any] = orjson.loads(line)
        key = message.get("writeKey")
        return event(
            seq=seq, received_at=call.received_at, endpoint=call.endpoint,
            write_key=key if type(key) is str and key else None, status=ACCEPTED,
            problems=[] if call.check is None else self.check(message), message=message, raw=None,
            request=call.request,
        )

    def _build(self, seq: int, item: Accepted | Refused, call: CallContext) -> EventEnvelope:
        if isinstance(item, Accepted):  # its message is its archive line: raw adds nothing
            status, raw = ACCEPTED, None
            problems = item.problems if call.check is None else self.check(item.message)
        else:
            status, raw = REFUSED, item.raw
            problems = item.problems if call.check is None else refusal_problems(item.problems, item.message, self.check)
        return event(
            seq=seq, received_at=call.received_at, endpoint=call.endpoint, write_key=item.write_key,
            status=status, problems=problems, message=item.message, raw=raw, request=call.request,
        )

    # -- windows and where cut messages are ------------------------------------------------

    def reset(self) -> int:
        """Start a new window at the next message; returns its first sequence number."""
        self.window_seq = self.next_seq
        return self.window_seq

    def refused_before(self, seq: int) -> int:
        """How many messages numbered before `seq` (since `first_seq`) were refused: with
        the rejected file's line count at start, where message `seq`'s refusal would be."""
        return bisect_left(self._refused, seq)

    def accepted_before(self, seq: int) -> int:
        """How many messages numbered before `seq` (since `first_seq`) were accepted: with the
        archive's line count at start, the archive line where message `seq` would be."""
        seq = min(max(seq, self.first_seq), self.next_seq)
        return seq - self.first_seq - self.refused_before(seq)

    def is_refused(self, seq: int) -> bool:
        index = bisect_left(self._refused, seq)
        return index < len(self._refused) and self._refused[index] == seq
