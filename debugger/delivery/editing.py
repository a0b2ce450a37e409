"""What each archived line becomes for one destination, decided from bytes wherever the bytes
prove it (pure): forwarding's hot path, which must cost a small fraction of ingest.

Per block of lines (about 1 MB) the usual case is a handful of C-level passes, no parse:

- **integrations**: a line can be excluded from a destination only by a top-level
  `integrations` object that is not empty. Its key appears in the bytes as `"integrations"`
  (its letters could only be escaped as `\\u00XX`), so a line where every `"integrations"` is
  followed by `:{}` (what SDKs send by default) and no `\\u00` occurs needs no decision: the
  key's value, if the key is present, is `{}`. Only the other lines are parsed.
- **shape**: lines must look like objects (`{...}`) for the byte edits; others are parsed.
- **sentAt and writeKey**: `debugger.delivery.layout.edit_run` (whole runs sharing a tail) and
  `debugger.delivery.rawjson.edit_lines` (any field order), whose docstrings hold the proofs;
  the lines they cannot prove are parsed. The stale per-message `sentAt` is dropped (the
  sender puts a fresh one on the batch); the message keeps its own `writeKey` (batches never
  mix keys) unless a forwarding key replaces it, then it is dropped from the message.

A line that looks like an object but is not JSON (a torn write) is sent as it is; the
destination refuses its batch and the sender narrows the refusal down to that line, which ends
in the failed file with the destination's reason.
"""

from __future__ import annotations

import ctypes
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import repeat
from operator import getitem
from typing import Any, Callable, Iterable, Sequence, cast

import orjson

from debugger.delivery.integrations import excluded
from debugger.delivery.layout import Layout, Proven, edit_run, tail_of
from debugger.delivery.rawjson import AMBIGUOUS, all_look_like_objects, edit_lines, string_value

INTEGRATIONS = b'"integrations"'
NO_INTEGRATIONS = b'"integrations":{}'
ESCAPED = b"\\u00"
# without its opening quote the name cannot overlap itself, so `bytes.count` counts every
# occurrence: equal counts mean every one is followed by `:{}` (SDKs' default)
NAMED, NAMED_EMPTY = b'integrations"', b'integrations":{}'

_cut = cast(Callable[[bytes, slice], bytes], getitem)


def _block_finder() -> Callable[[bytes, bytes], bool]:
    """Whether a block holds a needle: the C library's `memmem` where there is one (measured
    on 1 MB of the collector's ~800-byte lines: 0.06 us per line for `"integrations"`, against
    0.2 for `bytes.__contains__`, whose search skips little in JSON text; about a tenth of
    what forwarding costs the collector per message now that blocks come from memory), else
    `in`. Used once per write held in memory (~100 lines): a foreign call costs about a
    microsecond."""
    def contains(haystack: bytes, needle: bytes) -> bool:
        return needle in haystack

    try:
        memmem = ctypes.CDLL(None).memmem
    except (OSError, AttributeError, TypeError):
        return contains
    memmem.restype = ctypes.c_void_p
    memmem.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t)

    def found(haystack: bytes, needle: bytes) -> bool:
        return memmem(haystack, len(haystack), needle, len(needle)) is not None

    checks = ((b"a\0b\"integrations\"", INTEGRATIONS), (b'"integration"s', INTEGRATIONS), (b"", b"x"))
    if [found(haystack, needle) for haystack, needle in checks] != [True, False, False]:
        return contains
    return found


_holds = _block_finder()


@dataclass
class Edited:
    """A block's lines for one destination: `items[i]` None when line i is not sent."""

    keys: list[str | None]
    items: list[bytes | None]
    filtered: list[dict[str, Any]] = field(default_factory=list)  # the messages kept away
    broken: list[int] = field(default_factory=list)  # lines that are not JSON objects
    # stretches [start, end) of lines whose top-level receivedAt text is at `slice` from
    # their end (proven while editing them: read there for latencies, no second proof)
    received: list[tuple[int, int, slice]] = field(default_factory=list)
    # stretches [start, end) whose receivedAt values were counted already (`count_received`)
    counted: list[tuple[int, int, Counter[str | None]]] = field(default_factory=list)
    layout: Layout | None = None  # the last layout that edited lines here (the next one's hint)

    def received_at(self, start: int, end: int) -> slice | None:
        """Where receivedAt lies in every line from `start` to `end`, when one proof says."""
        for low, high, where in self.received:
            if low <= start and end <= high:
                return where
        return None

    def count_received(self, lines: list[bytes]) -> None:
        """Count the receivedAt values of `lines` (this block's) where the proof found them, now
        that their bytes are in the CPU's caches (from the collector's write, just made)."""
        self.counted = [(start, end, received_counts(lines[start:end], at)) for start, end, at in self.received]

    def counts_between(self, lines: list[bytes], start: int, end: int) -> Counter[str | None] | None:
        """How many of the lines from `start` to `end` (this block's `lines`) carry each
        receivedAt, from the counts taken already and where the proof found it (a counted
        stretch with one value, as one collector call's lines have, tells any part of it);
        None when the proof does not cover them all."""
        total: Counter[str | None] = Counter()
        covered = 0
        for low, high, counts in self.counted:
            first, last = max(low, start), min(high, end)
            if first >= last:
                continue
            covered += last - first
            if first == low and last == high:
                total.update(counts)
            elif len(counts) == 1:
                total[next(iter(counts))] += last - first
            else:
                at = self.received_at(first, last)
                if at is None:
                    return None
                total.update(received_counts(lines[first:last], at))
        if covered == end - start:
            return total
        at = self.received_at(start, end)
        return None if at is None else received_counts(lines[start:end], at)


def merge(parts: Sequence[Edited], firsts: Sequence[int]) -> Edited:
    """One block's Edited from its writes' (part i's lines start at line `firsts[i]`); adjacent
    proven stretches with receivedAt at the same place become one."""
    if len(parts) == 1:
        return parts[0]
    result = Edited([], [])
    keys, items, filtered, broken = result.keys, result.items, result.filtered, result.broken
    received, counted = result.received, result.counted
    for first, part in zip(firsts, parts, strict=True):
        keys += part.keys
        items += part.items
        filtered += part.filtered
        broken += [first + index for index in part.broken]
        for start, end, at in part.received:
            if received and received[-1][1] == first + start and received[-1][2] == at:
                received[-1] = (received[-1][0], first + end, at)
            else:
                received.append((first + start, first + end, at))
        counted += [(first + start, first + end, counts) for start, end, counts in part.counted]
    result.layout = parts[-1].layout
    return result


def edit_block(lines: list[bytes], block: bytes | Sequence[bytes], destination: str, write_key: str | None,
               objects: bool = False, hint: Layout | None = None) -> Edited:
    """Keys and bytes to send for `lines` (non-empty); `block` holds them joined by newlines,
    whole or in pieces that no line spans (blank lines between them, and more bytes after
    them, allowed: the block-wide checks only tell that no line needs a closer look).
    `objects`: every line is known to be a JSON object's text (the collector's own writes),
    so their shape is not looked at. `hint`: a layout to try first (layout.edit_run)."""
    count = len(lines)
    override = write_key is not None
    decide = _to_decide(lines, (block,) if isinstance(block, bytes) else block, objects)
    if decide:
        chosen = set(decide)
        rest = [index for index in range(count) if index not in chosen]
    else:
        rest = []
    per_line = partial(edit_lines, drop_sent_at=True, drop_write_key=override)
    keys: list[str | None]
    items: list[bytes | None]
    proven: Proven = []
    if not decide:
        keys, edited, undecided = edit_run(lines, True, override, per_line, proven, hint)
        items = list(edited)
    else:
        keys, items = [None] * count, [None] * count
        some_keys, some_items, undecided_rest = edit_run([lines[i] for i in rest], True, override, per_line)
        for index, key, item in zip(rest, some_keys, some_items, strict=True):
            keys[index], items[index] = key, item
        undecided = [rest[i] for i in undecided_rest]
    if override:
        keys = [write_key] * count
    result = Edited(keys, items)
    result.received = [(start, end, layout.received) for start, end, layout in proven
                       if layout.received is not None]
    result.layout = proven[-1][2] if proven else None
    for index in sorted([*decide, *undecided]):
        _parse_one(result, index, lines[index], destination, write_key)
    return result


def _to_decide(lines: list[bytes], pieces: Sequence[bytes], objects: bool) -> list[int]:
    """Indexes of the lines the bytes cannot settle: a non-empty integrations object may be
    there, an escape may spell one, or the line does not look like an object.

    Measured per ~800-byte line: a full scan of the block costs 0.01-1 us (`bytes.count` of a
    two-byte needle the most), so the usual block gets one memchr for a backslash, its first
    and last bytes joined (`all_look_like_objects`; not for lines known to be objects), one `memmem`
    for `"integrations"` (0.06 us); a block where SDKs sent their default `"integrations":{}` gets
    two counts (0.4 us a line) instead of a look at each line (1.1 us)."""
    shaped = objects or all_look_like_objects(lines)
    if (shaped and not any(map(bytes.__contains__, pieces, repeat(b"\\")))
            and all(not _holds(piece, INTEGRATIONS) or piece.count(NAMED) == piece.count(NAMED_EMPTY)
                    for piece in pieces)):
        return []
    return [index for index, raw in enumerate(lines)
            if raw[:1] != b"{" or raw[-1:] != b"}" or ESCAPED in raw
            or (INTEGRATIONS in raw and raw.count(INTEGRATIONS) != raw.count(NO_INTEGRATIONS))]


def _parse_one(result: Edited, index: int, raw: bytes, destination: str, write_key: str | None) -> None:
    """The parser decides one line: broken, filtered, or edited as the bytes would have been."""
    result.items[index] = None
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        message = None
    if not isinstance(message, dict):
        result.broken.append(index)
        return
    if excluded(message, destination):
        result.filtered.append(message)
        return
    message.pop("sentAt", None)
    if write_key is None:
        found = message.get("writeKey")
        result.keys[index] = found if isinstance(found, str) else None
    else:
        message.pop("writeKey", None)
    result.items[index] = orjson.dumps(message)


def runs(keys: list[str | None], items: list[bytes | None]) -> Iterable[tuple[int, int]]:
    """Stretches [start, end) of lines to send under one write key, in order (one C-level test
    for the usual block: every line sent, one key)."""
    count = len(keys)
    if count and keys.count(keys[0]) == count and None not in items:
        yield 0, count
        return
    start = 0
    while start < count:
        if items[start] is None:
            start += 1
            continue
        key, end = keys[start], start + 1
        while end < count and items[end] is not None and keys[end] == key:
            end += 1
        yield start, end
        start = end


# -- end-to-end latency, from the collector's receivedAt -------------------------------------

RECEIVED = b',"receivedAt":"'


def received_counts(lines: list[bytes], at: slice | None = None) -> Counter[str | None]:
    """How many of `lines` carry each top-level `receivedAt` (None: none, or not a string).

    The collector writes receivedAt among the last fields (`...,"receivedAt":"<t>"}`, or
    followed by a corrected `timestamp`), and one HTTP call's messages share the value. So the
    first line's tail from receivedAt on is learnt (simple `,"key":"value"` pairs, see
    layout.tail_of), every line's tail is proven to have it column by column, and the values
    are counted without a parse: the same field, at the same place from the end, as the last
    fields of each outermost object. Other blocks go line by line (rawjson.string_value's `}`
    proof, then the parser).

    `at`: where every line's receivedAt text lies, from a proof made already (`Edited.received`):
    only the values are cut out and counted."""
    if at is not None:
        cut = list(map(_cut, lines, repeat(at)))
        if cut and cut.count(cut[0]) == len(cut):  # one collector call's lines: one value (no hashing)
            counts: Counter[str | None] = Counter()
            counts[cut[0].decode(errors="replace")] = len(cut)
            return counts
        values = Counter(cut)
        return Counter({value.decode(errors="replace"): times for value, times in values.items()})
    first = lines[0]
    begin = first.rfind(RECEIVED)
    shape = tail_of(first, begin) if begin > 0 else None
    if shape is not None and shape.tails_match(lines):
        start = begin - len(first) + len(RECEIVED)
        end = first.index(b'"', begin + len(RECEIVED)) - len(first)
        values = Counter(map(_cut, lines, repeat(slice(start, end))))
        return Counter({value.decode(errors="replace"): times for value, times in values.items()})
    return Counter(map(received_at, lines))


def received_at(raw: bytes) -> str | None:
    """One line's top-level `receivedAt` string (None when absent or not a string)."""
    found = string_value(raw, b"receivedAt")
    if found is not AMBIGUOUS:
        return found
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    value = message.get("receivedAt") if isinstance(message, dict) else None
    return value if isinstance(value, str) else None


def latencies(counts: Counter[str | None], now: float) -> list[tuple[float, int]]:
    """(seconds from receivedAt to `now`, how many messages) per distinct receivedAt that reads
    as a time; one datetime per HTTP call the collector answered, not one per message."""
    found = []
    for received, times in counts.items():
        if received is None:
            continue
        try:
            found.append((max(now - datetime.fromisoformat(received).timestamp(), 0.0), times))
        except ValueError:
            continue
    return found
