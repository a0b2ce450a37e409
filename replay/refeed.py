"""Reading replay input that may be an earlier run's failed file, so it can be sent again.

FailedFile starts every record with MARKER, and a failed file holds nothing else, so one look at
a file's first line tells it from an archive: an archive's lines are never inspected, which keeps
the byte-level fast path as it is. A record's message is unwrapped to its exact bytes (the
writer puts it last); a record that only holds a broken line's raw text is a bad line again.
"""

from __future__ import annotations

from itertools import chain
from typing import Iterable, Iterator

from debugger.archive import BadLine, RawLine, expand, parse_line, read_raw
from debugger.delivery.failures import MARKER, MESSAGE_KEY, is_failed_file  # the writer's own format


def unwrap(line: RawLine | BadLine) -> RawLine | BadLine:
    """The message a failed record holds, as its exact bytes; anything else is a bad line."""
    if isinstance(line, BadLine):
        return line
    raw = line.raw
    if line.torn or not raw.startswith(MARKER) or not raw.endswith(b"}"):
        reason = "torn last line" if line.torn else "not a failed-file record"
        return BadLine(line.source, line.number, raw, f"{reason} (in a failed file)")
    start = raw.find(MESSAGE_KEY)  # the first match is the key: quotes inside strings are escaped
    if start >= 0:
        return RawLine(line.source, line.number, raw[start + len(MESSAGE_KEY):-1], torn=False)
    record = parse_line(raw)
    if isinstance(record, str) or not isinstance(record.get("raw"), str):
        return BadLine(line.source, line.number, raw, "failed-file record without a message")
    return BadLine(line.source, line.number, record["raw"].encode(), str(record.get("error")))


def unwrapped(lines: Iterable[RawLine | BadLine]) -> Iterator[RawLine | BadLine]:
    """One file's lines, unwrapped when its first line says it is a failed file."""
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return iter(())
    rest = chain([first], lines)
    return map(unwrap, rest) if isinstance(first, RawLine) and is_failed_file(first.raw) else rest


def read_input(paths: Iterable[str]) -> Iterator[RawLine | BadLine]:
    """Every non-blank line of every input (as `read_raw`), failed files unwrapped."""
    for name in expand(paths):
        yield from unwrapped(read_raw([name]))
