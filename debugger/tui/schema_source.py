"""What the live Schema screen folds: the collector's archive and refusal log, read as they grow.

The collector already writes every accepted message to its archive and every refused call to
`X.rejected.ndjson` before it answers, so the schema is computed from those files in the
viewer's process (a thread), never in the collector: ingest pays nothing, and the fold sees
everything this session received, not only what the socket sends this viewer (sampled, 500
kept). A collector's `hello` says how big both files were when it opened them
(`archive_start`), so only this session's lines are folded; `live --file` folds its whole file.

Each read takes only what was appended since the last one, at most READ_BYTES at a time (a
big backlog is folded in steps, so the screen shows progress); a torn last line waits for its
newline; a file that shrank or was replaced (`rm archive.ndjson` while the collector runs) is
read again from its top.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator

from orjson import JSONDecodeError, loads

from debugger import protocol
from debugger.archive import GZIP_MAGIC, open_archive
from debugger.paths import legacy_rejected_path, rejected_path
from debugger.query import MATCH_ALL, Query
from debugger.schema import Schema, SchemaFold
from debugger.schema_command import is_refusal

READ_BYTES = 4 * 1024 * 1024  # per file and step: memory stays small on any backlog
GZIP_LINES = 20_000  # lines of a compressed archive per step


class GrowingFile:
    """One append-only file, read from `start` as it grows: complete lines only."""

    def __init__(self, path: Path, start: int = 0) -> None:
        self.path = path
        self.offset = start
        self._identity: tuple[int, int] | None = None
        self._rest = b""
        self._gzip: Iterator[bytes] | None = None
        self._gzip_handle: IO[bytes] | None = None
        self.restarted = 0  # times the file was found replaced or truncated
        self.size = 0  # the file's size at the last read

    @property
    def behind(self) -> int:
        """Bytes written but not read yet (as of the last read)."""
        return max(0, self.size - self.offset)

    def read(self, limit: int = READ_BYTES) -> list[bytes]:
        """Complete lines appended since the last read (up to about `limit` bytes)."""
        if self._gzip is not None:
            return self._read_gzip()
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self.size = 0
            return []
        identity = (stat.st_dev, stat.st_ino)
        if self._identity is None:
            self._identity = identity
            if stat.st_size >= 2 and self.offset == 0 and _is_gzip(self.path):
                self._gzip_handle = open_archive(str(self.path))
                self._gzip = iter(self._gzip_handle)
                return self._read_gzip()
        if identity != self._identity or stat.st_size < self.offset:
            self._identity, self.offset, self._rest = identity, 0, b""  # a new file: from its top
            self.restarted += 1
        self.size = stat.st_size
        if stat.st_size == self.offset:
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read(min(limit, stat.st_size - self.offset))
        self.offset += len(data)
        *complete, self._rest = (self._rest + data).split(b"\n")
        return complete

    def _read_gzip(self) -> list[bytes]:
        """A compressed archive is finished: read in steps, once."""
        assert self._gzip is not None
        lines = [line.rstrip(b"\r\n") for _, line in zip(range(GZIP_LINES), self._gzip, strict=False)]
        if len(lines) < GZIP_LINES and self._gzip_handle is not None:
            self._gzip_handle.close()
            self._gzip_handle, self._gzip = None, iter(())
        return lines

    def close(self) -> None:
        if self._gzip_handle is not None:
            self._gzip_handle.close()
            self._gzip_handle = None


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


@dataclass
class Where:
    """Which archive to fold and from where: `start` None folds the whole files."""

    archive: Path
    start: protocol.ArchiveStart | None = None

    @classmethod
    def of_hello(cls, hello: protocol.Hello) -> Where:
        return cls(Path(hello["archive"]), hello.get("archive_start"))


def refusal_log(archive: Path, whole: bool) -> Path:
    """The archive's refusal log; for a whole old archive, the legacy shared name if that is
    the only one there."""
    named = rejected_path(archive)
    if whole and not named.exists() and legacy_rejected_path(archive).exists():
        return legacy_rejected_path(archive)
    return named


@dataclass
class SchemaFeed:
    """The fold of one archive and its refusal log, fed by `step()` (call it from one thread:
    the fold is not thread-safe); `snapshot()` is immutable and safe to hand to the UI."""

    where: Where
    only: Query = MATCH_ALL  # `live --filter`: the hard filter applies here too
    fold: SchemaFold = field(default_factory=SchemaFold)
    bad_lines: int = 0
    filtered_out: int = 0

    def __post_init__(self) -> None:
        start = self.where.start
        self.archive = GrowingFile(self.where.archive, start["archive"] if start else 0)
        self.refusals = GrowingFile(refusal_log(self.where.archive, start is None),
                                    start["rejected"] if start else 0)

    @property
    def behind(self) -> int:
        return self.archive.behind + self.refusals.behind

    def step(self, limit: int = READ_BYTES) -> bool:
        """Fold what was appended since the last step (up to `limit` bytes per file); True
        when something was read (more may be waiting: call again)."""
        accepted = self.archive.read(limit)
        for raw in accepted:
            self._accepted(raw)
        refused = self.refusals.read(limit)
        for raw in refused:
            self._refused(raw)
        return bool(accepted or refused)

    def _parsed(self, raw: bytes) -> dict[str, Any] | None:
        if not raw.strip():
            return None
        try:
            parsed = loads(raw)
        except JSONDecodeError:
            parsed = None
        if type(parsed) is not dict:
            self.bad_lines += 1
            return None
        return parsed

    def _accepted(self, raw: bytes) -> None:
        message = self._parsed(raw)
        if message is None:
            return
        if not self.only.matches_all and not self.only.matches(
                {"message": message, "raw": raw.decode("utf-8", "replace"), "status": protocol.ACCEPTED}):
            self.filtered_out += 1
            return
        self.fold.add(message)

    def _refused(self, raw: bytes) -> None:
        record = self._parsed(raw)
        if record is None:
            return
        if not is_refusal(record):
            self.bad_lines += 1
            return
        envelope = {"message": record.get("message"), "raw": record.get("raw"), "status": protocol.REFUSED,
                    "problems": record.get("problems") or [], "writeKey": record.get("writeKey"),
                    "receivedAt": record.get("receivedAt")}
        if not self.only.matches_all and not self.only.matches(envelope):
            self.filtered_out += 1
            return
        self.fold.add_envelope(envelope)

    def snapshot(self) -> Schema:
        return self.fold.snapshot()

    def close(self) -> None:
        self.archive.close()
        self.refusals.close()
