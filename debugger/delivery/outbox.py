"""The archive read as an outbox: complete lines from a byte offset, and that offset kept in a
file beside the archive, so a destination forwards from where it stopped, even after `kill -9`.

The collector appends whole lines in one write before it answers; the outbox only hands out
lines that end with a newline. The position is saved with write-to-temp-then-rename (a crash
leaves the old or the new one, never half), only after everything below it was delivered or
written (and flushed) to the failed file. When there is no position yet, forwarding starts at
the archive's end: a new destination gets new traffic, not the archive's history; the position
is saved at once, before the collector accepts anything, so nothing is skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

READ_BYTES = 1 << 20
VERSION = 1


@dataclass(frozen=True, slots=True)
class Line:
    raw: bytes  # without the newline
    end: int  # offset just past its newline


class Outbox:
    """Lines of one archive after a saved position; follows a replaced or truncated archive."""

    def __init__(self, archive: Path, position: Path) -> None:
        self.archive = archive
        self.position_path = position
        self.offset = 0  # next byte to read
        self.inode: int | None = None
        self._fd: int | None = None

    def start(self) -> None:
        """Open the archive and take up the saved position (or the archive's end); save it."""
        saved = self._load()
        self._open()
        if saved is not None and saved[0] == self.inode:
            self.offset = saved[1]
        elif saved is None:
            self.offset = self._size()
        else:
            self.offset = 0  # the archive was replaced since: its lines are all new
        if self.offset > self._size():
            self.offset = 0
        self.save(self.offset)

    def read(self, limit: int = READ_BYTES) -> list[Line]:
        """Complete lines from the offset on (none: nothing new yet); advances the offset."""
        if self._fd is None:
            self._open()
            if self._fd is None:
                return []
        data = os.pread(self._fd, limit, self.offset)
        if not data:
            self._follow()
            return []
        cut = data.rfind(b"\n")
        if cut < 0:
            return []
        lines: list[Line] = []
        start, base = 0, self.offset
        while start <= cut:
            end = data.index(b"\n", start)
            if end > start:
                lines.append(Line(data[start:end], base + end + 1))
            start = end + 1
        if not lines:  # only blank lines: nothing to send, but read past them
            self.offset = base + cut + 1
            return [Line(b"", self.offset)]
        self.offset = base + cut + 1
        return lines

    def backlog(self) -> int:
        """Bytes appended and not read yet."""
        return max(self._size() - self.offset, 0)

    def save(self, offset: int) -> None:
        """Persist `offset` (everything before it is delivered or in the failed file)."""
        record = {"version": VERSION, "archive": str(self.archive), "inode": self.inode, "offset": offset}
        temp = self.position_path.with_name(self.position_path.name + ".tmp")
        temp.write_bytes(orjson.dumps(record))
        os.replace(temp, self.position_path)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _load(self) -> tuple[int | None, int] | None:
        try:
            record = orjson.loads(self.position_path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError):
            return (None, 0)  # unreadable: start over on this archive rather than skip
        if not isinstance(record, dict) or not isinstance(record.get("offset"), int):
            return (None, 0)
        inode = record.get("inode")
        return (inode if isinstance(inode, int) else None, record["offset"])

    def _open(self) -> None:
        try:
            fd = os.open(self.archive, os.O_RDONLY)
        except FileNotFoundError:
            self.archive.parent.mkdir(parents=True, exist_ok=True)
            self.archive.touch()
            fd = os.open(self.archive, os.O_RDONLY)
        self._fd = fd
        self.inode = os.fstat(fd).st_ino

    def _size(self) -> int:
        return os.fstat(self._fd).st_size if self._fd is not None else 0

    def _follow(self) -> None:
        """At the end of what we have: switch to a new archive at the path, or restart a
        truncated one from its start."""
        try:
            current = os.stat(self.archive).st_ino
        except FileNotFoundError:
            return
        if current != self.inode:
            self.close()
            self._open()
            self.offset = 0
        elif self._size() < self.offset:
            self.offset = 0
