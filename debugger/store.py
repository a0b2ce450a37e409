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
preallocated rings (the call's `CallContext`, the one the hub gets too, beside each).

Reading builds a message's socket envelope (parsing its line); a message that was checked only
by the refusing-only checker (nobody was watching) gets the full checker's problems at that
moment, so every reader sees the envelope the socket would send. What is kept of that work is
bounded, because one broad read (`GET /segdebug/events`, `segdebug assert`) touches every held
message:
- a clean call's messages stay compact: their envelopes are rebuilt on each read (parsing the
  line and checking it again: the checker is pure and the line carries its `receivedAt`, so
  a message reads the same every time), and only the envelopes of the newest `BUILT` messages
  are kept, in a small ring of their own (5,000 realistic envelopes, ~3.4 KB each: ~17 MB). Nothing else a
  read allocates is kept, not even a call's split lines or line offsets: a few long-lived
  objects made during a read pin the allocator's arenas that the read's short-lived envelopes
  filled (keeping each call's line offsets, 1,000 small arrays, kept 566 MB resident, not 216,
  after `window()` over 100,000 stored realistic events in one process).
  Envelopes were once kept in the ring slots, with no bound. Measured with
  `flock /tmp/segdebug-bench.lock .venv/bin/python bench/api.py --rss` (a real collector fed
  100,000 realistic events, nobody watching, then `GET /segdebug/events` twice), VmRSS after
  the events / after the query: before 133 / 480 and 132 / 464 MB, now 132 / 212 MB (twice,
  interleaved). The peak while a query runs is the API's (it holds every envelope of the window
  at once): 486 MB before, 544 MB now (the compact lines are no longer freed as they are read).
  The price is the speed of a broad query repeated over a full window, each read parsing and
  checking again: `bench/api.py` (100,000 messages; runs interleaved with the old store), best
  query 107.6 / 107.5 ms before, 1436 / 1486 ms now, ratio (loop time / API time) 0.88 / 0.92
  before, 0.07 / 0.07 now; the first query, which built them before too, 1.2-1.9 s either way.
  Windows the size of a test's, a viewer's history (500), `tail --last`, are the newest messages
  and are served from the small ring: `bench/api.py --events 5000`, ratio 0.70 / 0.80 before,
  0.71 / 0.57 now (noise).
- a call kept as ingest's items (a refusal, or problems found at ingest) has its envelope put
  in the slot in place of the item: the item already holds the parsed message, so this costs
  no more memory than not building it, and a refusal (whose message may lack `receivedAt`,
  where the clock checks fall back to now) reads the same every time.

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
BUILT = 5_000  # envelopes of compact messages kept once built: the newest ones (see above)


@dataclass(slots=True)
class _CallLines:
    """A call whose messages were all accepted without problems: its archive lines joined by
    newlines (the slots hold indexes into them)."""

    call: CallContext
    lines: bytes


# A ring slot: nothing; the message's index in its call's `lines` (whatever was read); or the
# item as ingest made it, until it is read: then its envelope.
_Slot = Union[int, Accepted, Refused, EventEnvelope, None]
_Call = Union[CallContext, _CallLines]
_PROBLEMS = attrgetter("problems")


class RecentStore:
    """The last `capacity` messages, by sequence number, read back as socket envelopes.

    `check` is the full checker, used when a message that was checked only for refusals is
    first read. A *window* (`window_seq`) is where the query API starts looking: `reset()`
    moves it to now; nothing is deleted. `built` bounds the envelopes of compact messages kept
    once read (the newest ones).
    """

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, check: Checker = rules.check, first_seq: int = 1,
        built: int = BUILT,
    ) -> None:
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
        # the newest compact messages' envelopes, by seq % len (each says its seq)
        self._built: list[EventEnvelope | None] = [None] * max(1, min(built, capacity))

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
            self._built = [None] * len(self._built)  # their numbers will come again
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
        """The held envelopes with `start_seq <= seq < stop_seq` (default: up to the newest),
        built as the module docstring says."""
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
        out: list[EventEnvelope] = []
        calls = self._calls
        split_of: _CallLines | None = None  # the call whose lines `split` holds
        split: list[bytes] = []
        for offset, item in enumerate(self._items[begin:end]):
            if type(item) is dict:
                out.append(item)  # an envelope in its slot
            elif type(item) is int:
                number = seq + offset
                kept = self._kept(number)
                if kept is None:
                    call = calls[begin + offset]
                    assert type(call) is _CallLines  # filled together
                    if call is not split_of:  # once per call and read, not kept (see above)
                        split_of, split = call, call.lines.split(b"\n")
                    kept = self._compact(number, split[item], call.call)
                out.append(kept)
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
        if type(item) is int and type(call) is _CallLines:
            kept = self._kept(seq)
            return kept if kept is not None else self._compact(seq, call.lines.split(b"\n")[item], call.call)
        if isinstance(item, (Accepted, Refused)) and isinstance(call, CallContext):
            envelope = self._build(seq, item, call)
            self._items[index] = envelope
            self._calls[index] = None
            return envelope
        return None  # filled together: never

    def _kept(self, seq: int) -> EventEnvelope | None:
        """The envelope of compact message `seq` if it is among the newest kept once built."""
        kept = self._built[seq % len(self._built)]
        return kept if kept is not None and kept["seq"] == seq else None

    def _compact(self, seq: int, line: bytes, call: CallContext) -> EventEnvelope:
        """Build the envelope of a compact message; keep it if it is among the newest `BUILT`
        (an older one would push out a newer, which the next read is likelier to want)."""
        envelope = self._from_line(seq, line, call)
        built = self._built
        if seq >= self.next_seq - len(built):
            built[seq % len(built)] = envelope
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
