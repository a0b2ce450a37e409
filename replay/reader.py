"""Reading and selecting: archive lines in, selected items (or bad lines) out, in input order.

Every input line has an ordinal (its position across all archives); the checkpoint speaks in
ordinals. A line is parsed only when something needs its fields (a filter, a time bound, pacing
by --speed, a transformation) or when the cheap shape check is not sure it is a JSON object.
An earlier run's failed file is read as the messages it holds (see replay.refeed).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from operator import getitem
from typing import IO, Any, Callable, Iterable, Iterator, cast, final

from debugger.archive import BadLine, RawLine, expand, open_archive, parse_line, split_lines
from debugger.message import epoch_seconds, event_time
from debugger.query import Query
from debugger.delivery.layout import SIMPLE_TAIL, Proven
from debugger.delivery.rawjson import all_look_like_objects, looks_like_object
from debugger.delivery.failures import is_failed_file
from replay.refeed import read_input, unwrapped


@final
@dataclass(slots=True)
class SelectedLine:
    """One selected message: where it came from, its exact bytes, its fields when parsed."""

    ordinal: int
    source: str
    number: int
    raw: bytes
    message: dict[str, Any] | None


@final
@dataclass(slots=True)
class Chunk:
    """Consecutive lines (ordinals first, first+1, ...) that look like JSON objects, unparsed."""

    first: int
    lines: list[bytes]


@final
@dataclass(slots=True)
class BadInputLine:
    """A line that is not a JSON object: it goes to the failed file with its reason."""

    ordinal: int
    source: str
    number: int
    raw: bytes
    reason: str


@dataclass(frozen=True)
class Selection:
    """Which messages to replay: a query and bounds on the event time."""

    query: Query | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def active(self) -> bool:
        return self.query is not None or self.since is not None or self.until is not None

    def accepts(self, message: dict[str, Any], raw: bytes) -> bool:
        if self.since is not None or self.until is not None:
            moment = event_time(message)
            if moment is None:
                return False
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment >= self.until:
                return False
        return self.query is None or bool(self.query.matches({"message": message, "raw": raw}))


CHUNK_BYTES = 1 << 20


def _rejoined(lines: list[bytes], carry: bytes, handle: IO[bytes]) -> Iterator[bytes]:
    """A file's lines again (with their newlines), after a block was split off its start."""
    yield from (line + b"\n" for line in lines)
    if carry:
        yield carry + handle.readline()
    yield from handle


def original_time(message: dict[str, Any]) -> float | None:
    """When the event originally reached a server (receivedAt, else timestamp), epoch seconds."""
    moment = epoch_seconds(message.get("receivedAt"))
    return moment if moment is not None else epoch_seconds(message.get("timestamp"))


def line_time(raw: bytes) -> float | None:
    """`original_time` of an unparsed line (--speed on the fast path).

    Archives written by a collector end with `,"receivedAt":"<time>"` and at most a few more
    simple pairs (`,"originalTimestamp":"..."}`): such a tail is proven to hold top-level
    fields by debugger.delivery.layout's argument (simple pairs whose values hold no quote or
    backslash, then the closing brace, tokenise as they read), so its receivedAt is the one
    parsing reads, read without a datetime (`epoch_seconds`). Any other line is parsed
    (reading the fields with rawjson's proofs measured slower than orjson wherever they are
    not last). A line that is not JSON at all may get the time its tail shows; its batch is
    refused either way."""
    begin = raw.rfind(_RECEIVED)
    if begin > 0 and SIMPLE_TAIL.fullmatch(raw, begin):
        start = begin + len(_RECEIVED)
        moment = _text_time(raw[start : raw.index(b'"', start)])
        if moment is not None:
            return moment
    message = parse_line(raw)
    return original_time(message) if isinstance(message, dict) else None


def lines_times(lines: list[bytes], proven: Proven) -> list[float | None]:
    """`line_time` of every line of a chunk. On the stretches where the replay's edit proved a
    layout whose tail holds receivedAt (`proven`, in order), its text is cut from each line at
    C speed and each distinct text read once (one HTTP call's lines share it); other lines,
    and lines whose receivedAt is not a time, go through `line_time`."""
    times: list[float | None] = []
    done = 0
    for start, end, layout in proven:
        times.extend(map(line_time, lines[done:start]))
        stretch = lines[start:end]
        if layout.received is None:
            times.extend(map(line_time, stretch))
        else:
            texts = list(map(_cut, stretch, repeat(layout.received)))
            read = {text: _text_time(text) for text in set(texts)}
            part = list(map(read.__getitem__, texts))
            if None in read.values():  # receivedAt is not a time: the timestamp decides
                part = [line_time(raw) if moment is None else moment for moment, raw in zip(part, stretch, strict=True)]
            times.extend(part)
        done = end
    times.extend(map(line_time, lines[done:]))
    return times


def _text_time(text: bytes) -> float | None:
    try:
        return epoch_seconds(text.decode())
    except UnicodeDecodeError:
        return None


_cut = cast(Callable[[bytes, slice], bytes], getitem)
_RECEIVED = b',"receivedAt":"'




class ArchiveReader:
    """Selected items and bad lines from the archives, counting what it read and skipped.

    `position` is one past the last line handed out (or skipped). The caller may hold lines
    handed out for a while (a paced run holds a block until its lines are due), so a checkpoint
    takes how far the caller handled lines, not this (replay.run.Run.handled).
    """

    def __init__(
        self,
        archives: Iterable[str],
        selection: Selection,
        *,
        parse_all: bool,
        limit: int | None = None,
        done_before: Callable[[int], bool] | None = None,
        chunks: bool = False,
    ) -> None:
        self.archives = list(archives)
        self.selection = selection
        self.parse_all = parse_all or selection.active
        self.limit = limit
        self.done_before = done_before
        self.position = 0
        self.number = 0  # the hot path: line number in the file being read
        self.lines = 0
        self.bad = 0
        self.unselected = 0
        self.selected = 0
        self.already_done = 0
        self.bytes_read = 0
        self.chunks = chunks

    def __iter__(self) -> Iterator[Chunk | SelectedLine | BadInputLine]:
        """Chunks only when the caller allowed them (`chunks=True`) and nothing needs fields."""
        if self.chunks and not (self.parse_all or self.done_before or self.limit is not None):
            return self._chunks()
        return self.by_line()

    def by_line(self) -> Iterator[SelectedLine | BadInputLine]:
        """Line by line, never chunks: what iterating gives when `chunks` is False."""
        return self._select(read_input(self.archives))

    def _chunks(self) -> Iterator[Chunk | SelectedLine | BadInputLine]:
        """The hot path (no selection, resume or limit): runs of lines that look like objects,
        unparsed; any other line is decided exactly, alone. Reads blocks, not lines: a block
        whose lines all look like objects costs a few C-level calls, not a few per line.
        Ordinals count non-blank lines exactly as `read_raw` does, so a --resume (which reads
        line by line) agrees; `position` is the next line's ordinal throughout."""
        for name in expand(self.archives):
            label = "<stdin>" if name == "-" else name
            handle = open_archive(name)
            read = getattr(handle, "read1", handle.read)
            self.number = 0
            carry = b""
            try:
                while True:
                    try:
                        data = read(CHUNK_BYTES)
                    except (OSError, EOFError) as error:  # e.g. a truncated .gz
                        self.bad += 1
                        self.position += 1
                        yield BadInputLine(self.position - 1, label, self.number + 1, b"", f"read error: {error}")
                        break
                    if not data:
                        if carry:  # the last line has no newline: torn, or a last line that is fine
                            yield from self._lines([carry], label, torn=True)
                        break
                    self.bytes_read += len(data)
                    lines = data.split(b"\n")
                    lines[0] = carry + lines[0]
                    carry = lines.pop()
                    if self.number == 0 and is_failed_file(next((r for r in lines if r.strip()), b"")):
                        # an earlier run's failed file (small): its messages, line by line
                        rest = _rejoined(lines, carry, handle)
                        yield from self._select(unwrapped(split_lines(rest, label)), self.position)
                        break
                    if all_look_like_objects(lines):
                        self.number += len(lines)
                        yield self._chunk(self.position, lines)
                    else:
                        yield from self._lines(lines, label, torn=False)
            finally:
                if handle is not sys.stdin.buffer:
                    handle.close()

    def _lines(self, lines: list[bytes], label: str, *, torn: bool) -> Iterator[Chunk | SelectedLine | BadInputLine]:
        """A block with some line that does not look like an object: runs of those that do
        become chunks, the others are decided exactly (blank ones skipped, as `read_raw` does)."""
        good: list[bytes] = []
        for raw in lines:
            self.number += 1
            if looks_like_object(raw) and not torn:
                good.append(raw)
                continue
            stripped = raw.strip()
            if not stripped:
                continue
            if good:
                yield self._chunk(self.position, good)
                good = []
            ordinal = self.position
            self.position = self.lines = ordinal + 1
            yield self._exact(RawLine(label, self.number, stripped, torn), ordinal)
        if good:
            yield self._chunk(self.position, good)

    def _chunk(self, first: int, lines: list[bytes]) -> Chunk:
        self.position = self.lines = first + len(lines)
        self.selected += len(lines)
        return Chunk(first, lines)

    def _exact(self, line: RawLine, ordinal: int) -> SelectedLine | BadInputLine:
        parsed = parse_line(line.raw)
        if isinstance(parsed, str):
            self.bad += 1
            reason = f"torn last line ({parsed})" if line.torn else parsed
            return BadInputLine(ordinal, line.source, line.number, line.raw, reason)
        self.selected += 1
        return SelectedLine(ordinal, line.source, line.number, line.raw, parsed)

    def _select(self, lines: Iterable[RawLine | BadLine], start: int = 0) -> Iterator[SelectedLine | BadInputLine]:
        """Line by line, `start` being the first line's ordinal: parsed when something needs it."""
        parse_all, selection, done_before = self.parse_all, self.selection, self.done_before
        active = selection.active
        for ordinal, line in enumerate(lines, start):
            self.lines += 1
            self.bytes_read += len(line.raw) + 1
            done = done_before is not None and done_before(ordinal)
            if done and self.limit is None:
                self.already_done += 1
                self.position = ordinal + 1
                continue
            raw = line.raw
            message = None
            reason = None
            if isinstance(line, BadLine):
                reason = line.reason
            elif parse_all or not looks_like_object(raw):
                parsed = parse_line(raw)
                if isinstance(parsed, str):
                    reason = f"torn last line ({parsed})" if line.torn else parsed
                else:
                    message = parsed
            if reason is not None:
                self.position = ordinal + 1
                if done:
                    continue
                self.bad += 1
                yield BadInputLine(ordinal, line.source, line.number, raw, reason)
                continue
            if active and (message is None or not selection.accepts(message, raw)):
                # (never None here: an active selection makes parse_all true)
                self.unselected += 1
                self.position = ordinal + 1
                continue
            if self.limit is not None and self.selected + self.already_done >= self.limit:
                return
            self.position = ordinal + 1
            if done:
                self.already_done += 1
                continue
            self.selected += 1
            yield SelectedLine(ordinal, line.source, line.number, raw, message)
