"""Reading archives: NDJSON files, `.gz` files, directories of them, or `-` for stdin.

One reader for replay, validate and `live --file`. It streams (memory does not grow with the
archive) and never stops on a bad line: it yields it as a `BadLine` so callers can count,
report and keep it. `event_of_line` turns one line into the event a viewer shows, checked the
way the collector checks what it receives.
"""

from __future__ import annotations

import gzip
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Iterator

import orjson

from debugger import protocol
from debugger.message import now_iso
from debugger.paths import is_archive_name

if TYPE_CHECKING:
    from debugger.checks import Checker


class ArchiveError(Exception):
    """An archive that cannot be read at all (missing, unreadable, not a file)."""


@dataclass(slots=True)
class BadLine:
    """A line that is not a JSON object (torn, garbage, invalid UTF-8), with why."""

    source: str
    number: int
    raw: bytes
    reason: str


@dataclass(slots=True)
class RawLine:
    """One non-blank line, not yet parsed; `torn` when it lacks its final newline."""

    source: str
    number: int
    raw: bytes
    torn: bool


def expand(paths: Iterable[str | Path]) -> list[str]:
    """Files to read, in order: directories become their archive files, recursively sorted
    (by name, `paths.is_archive_name`: no logs, tarballs or segdebug's own side files such as
    X.rejected.ndjson); files named are read whatever their name."""
    files: list[str] = []
    for item in paths:
        text = str(item)
        if text == "-":
            files.append(text)
            continue
        path = Path(text)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and is_archive_name(p.name)
            )
            files.extend(str(p) for p in found)
        elif path.is_file():
            files.append(text)
        elif path.exists():
            raise ArchiveError(f"{text}: not a regular file")
        else:
            raise ArchiveError(f"{text}: no such file or directory")
    return files


GZIP_MAGIC = b"\x1f\x8b"  # how a gzip file starts, whatever its name


def open_archive(name: str) -> IO[bytes]:
    """Open one archive file for binary reading, decompressing `.gz` (by magic bytes, too)."""
    if name == "-":
        return sys.stdin.buffer
    try:
        handle = open(name, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as error:
        raise ArchiveError(f"{name}: {error.strerror or error}") from None
    if handle.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    return handle


def content_size(name: str) -> int | None:
    """Bytes an archive file holds once decompressed (for a progress estimate): its size, or
    for gzip the size its trailer records; None when unknown (over 4 GiB wraps that field)."""
    try:
        with open(name, "rb") as handle:
            if handle.read(2) != GZIP_MAGIC:
                return os.fstat(handle.fileno()).st_size
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - 4))
            recorded = int.from_bytes(handle.read(4), "little")
    except OSError:
        return None
    return recorded if recorded >= size else None  # NDJSON never compresses to more than it was


def parse_line(raw: bytes | str) -> dict[str, Any] | str:
    """A parsed JSON object, or the reason the line is not one."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return f"invalid JSON: {error}"
    if not isinstance(value, dict):
        return f"not a JSON object (a {type(value).__name__})"
    return value


def read_raw(paths: Iterable[str | Path]) -> Iterator[RawLine | BadLine]:
    """Every non-blank line of every archive, unparsed: for callers (replay) that parse only
    when they must. Read errors (e.g. a truncated .gz) are yielded as `BadLine`."""
    for name in expand(paths):
        yield from _raw_one(name)


def _raw_one(name: str) -> Iterator[RawLine | BadLine]:
    handle = open_archive(name)
    try:
        yield from split_lines(handle, "<stdin>" if name == "-" else name)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def split_lines(lines: Iterable[bytes], label: str) -> Iterator[RawLine | BadLine]:
    """The non-blank lines of one open archive, as `read_raw` gives them: for a caller (replay)
    that already read the file's first lines itself."""
    number = 0
    try:
        for raw in lines:
            number += 1
            stripped = raw.strip()
            if stripped:
                yield RawLine(label, number, stripped, not raw.endswith(b"\n"))
    except (OSError, EOFError) as error:  # e.g. a truncated .gz
        yield BadLine(label, number + 1, b"", f"read error: {error}")


def event_of_line(line: bytes | str, seq: int, check: Checker, *, torn: bool = False) -> protocol.EventEnvelope:
    """One archive line as the `event` a viewer shows, checked by `check` as the collector does.

    A line that is not a JSON object becomes a refused event (code `bad_line`) that keeps the
    line's text; a message the checker finds errors in is "rejected" too, with its text. The
    event's time is the message's `receivedAt`, else now. `torn` says the line lacks its
    final newline (the writer was cut off), which the bad-line reason then mentions.
    """
    parsed = parse_line(line)
    if isinstance(parsed, str):
        from debugger.checks import bad_line  # not at the top: replay reads archives without rules

        reason = f"torn last line ({parsed})" if torn else parsed
        return protocol.event(
            seq=seq, received_at=now_iso(), endpoint="", write_key=None, status=protocol.REFUSED,
            problems=[bad_line(reason)], message=None, raw=_text(line),
        )
    problems = check(parsed)
    refused = bool(problems) and protocol.has_errors(problems)  # most lines have none
    received_at, write_key = parsed.get("receivedAt"), parsed.get("writeKey")
    return protocol.event(
        seq=seq,
        received_at=received_at if isinstance(received_at, str) else now_iso(),
        endpoint="",
        write_key=write_key if isinstance(write_key, str) else None,
        status=protocol.REFUSED if refused else protocol.ACCEPTED,
        problems=problems,
        message=parsed,
        raw=_text(line) if refused else None,  # an accepted message is its own text
    )


def _text(line: bytes | str) -> str:
    """A line's text as a refused call's `raw` keeps it: invalid UTF-8 escaped, not lost."""
    return line if isinstance(line, str) else line.decode("utf-8", "backslashreplace")
