"""Reading and selecting: archive lines in, selected items (or bad lines) out, in input order.

Every input line has an ordinal (its position across all archives); the checkpoint speaks in
ordinals. A line is parsed only when something needs its fields (a filter, a time bound, pacing
by --speed, a transformation) or when the cheap shape check is not sure it is a JSON object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from debugger.archive import BadLine, RawLine, parse_line, read_raw
from debugger.message import event_time, parse_time
from replay.rawjson import looks_like_object


@dataclass(slots=True)
class Item:
    """One selected message: where it came from, its exact bytes, its fields when parsed."""

    ordinal: int
    source: str
    number: int
    raw: bytes
    message: dict[str, Any] | None


@dataclass(slots=True)
class Rejected:
    """A line that is not a JSON object: it goes to the failed file with its reason."""

    ordinal: int
    source: str
    number: int
    raw: bytes
    reason: str


@dataclass(frozen=True)
class Selection:
    """Which messages to replay: a query and bounds on the event time."""

    query: Any = None  # debugger.query.Query
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


def _bad_reason(line: RawLine) -> str | None:
    """Why a line that failed the quick shape check is not a JSON object (None if it is one)."""
    parsed = parse_line(line.raw)
    if not isinstance(parsed, str):
        return None
    return f"torn last line ({parsed})" if line.torn else parsed


def original_time(message: dict[str, Any]) -> float | None:
    """When the event originally reached a server (receivedAt, else timestamp), epoch seconds."""
    moment = parse_time(message.get("receivedAt")) or parse_time(message.get("timestamp"))
    return moment.timestamp() if moment is not None else None


class Source:
    """Selected items and bad lines from the archives, counting what it read and skipped.

    `position` is one past the last line fully handed out, so everything before it is either
    done or held by the caller: the checkpoint relies on that.
    """

    def __init__(
        self,
        archives: Iterable[str],
        selection: Selection,
        *,
        parse_all: bool,
        limit: int | None = None,
        done_before: Callable[[int], bool] | None = None,
    ) -> None:
        self.archives = list(archives)
        self.selection = selection
        self.parse_all = parse_all or selection.active
        self.limit = limit
        self.done_before = done_before
        self.position = 0
        self.lines = 0
        self.bad = 0
        self.unselected = 0
        self.selected = 0
        self.already_done = 0
        self.bytes_read = 0

    def __iter__(self) -> Iterator[Item | Rejected]:
        if self.parse_all or self.done_before is not None or self.limit is not None:
            return self._select()
        return self._everything()

    def _everything(self) -> Iterator[Item | Rejected]:
        """The hot path (no selection, no resume): only lines that fail the shape check are parsed."""
        for ordinal, line in enumerate(read_raw(self.archives)):
            raw = line.raw
            self.bytes_read += len(raw) + 1
            self.position = ordinal + 1
            if raw[:1] == b"{" and raw[-1:] == b"}" and type(line) is RawLine:
                self.selected += 1
                yield Item(ordinal, line.source, line.number, raw, None)
                continue
            reason = line.reason if isinstance(line, BadLine) else _bad_reason(line)
            if reason is None:
                self.selected += 1
                yield Item(ordinal, line.source, line.number, raw, None)
            else:
                self.bad += 1
                yield Rejected(ordinal, line.source, line.number, raw, reason)
        self.lines = self.position

    def _select(self) -> Iterator[Item | Rejected]:
        parse_all, selection, done_before = self.parse_all, self.selection, self.done_before
        active = selection.active
        for ordinal, line in enumerate(read_raw(self.archives)):
            self.lines += 1
            self.bytes_read += len(line.raw) + 1
            done = done_before is not None and done_before(ordinal)
            if done and self.limit is None:
                self.already_done += 1
                self.position = ordinal + 1
                continue
            raw = line.raw
            message = None
            reason = line.reason if isinstance(line, BadLine) else None
            if reason is None and (parse_all or not looks_like_object(raw)):
                parsed = parse_line(raw)
                if isinstance(parsed, str):
                    reason = f"torn last line ({parsed})" if line.torn else parsed  # type: ignore[union-attr]
                else:
                    message = parsed
            if reason is not None:
                self.position = ordinal + 1
                if done:
                    continue
                self.bad += 1
                yield Rejected(ordinal, line.source, line.number, raw, reason)
                continue
            if active and not selection.accepts(message, raw):  # type: ignore[arg-type]
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
            yield Item(ordinal, line.source, line.number, raw, message)
