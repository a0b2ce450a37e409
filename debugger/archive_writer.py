"""Appending to the archive and to its refusal log (X.rejected.ndjson), before the collector answers.

One `os.write` of all a request's lines on an O_APPEND descriptor: once it returns, the lines
are in the kernel and survive the collector being killed. `fsync` decides how much more:
`always` syncs each write (survives a power cut), `interval` syncs dirty files about once a
second, `never` leaves it to the OS. A deleted or moved archive (or its directory) is started
afresh at the next write, or within a second when no call comes, so `rm archive.ndjson` clears
it while the collector runs and loses nothing answered after it.

Taps (forwarding's outboxes) are handed each call's lines right after they were written, with
the file and the offset they were written at, so a forwarder that keeps up reads them from
memory instead of reading and splitting the file again (debugger.delivery.outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson

from debugger.paths import rejected_path

FSYNC_POLICIES = ("always", "interval", "never")
FSYNC_INTERVAL = 1.0

FileId = tuple[int, int]  # (st_dev, st_ino): which file an offset is in
# (file, offset of the first line, the lines without their newlines, the bytes written: the
# lines each followed by a newline); the lists are the tap's to keep, never to change
Tap = Callable[[FileId, int, list[bytes], bytes], object]  # what it returns is not looked at


def _ends_with_newline(path: Path, size: int) -> bool:
    """Whether a file of `size` bytes is empty or ends with a newline."""
    if size == 0:
        return True
    with open(path, "rb") as existing:
        existing.seek(size - 1)
        return existing.read(1) == b"\n"


class ArchiveInUse(OSError):
    """Another running collector holds the archive: two writers would interleave their calls
    in one file, each one's `/segdebug/` API, Schema and forwarders would count the other's
    messages as its own, and both would forward them (QA: `live --demo --port 18288` beside a
    collector on 8088 shared the default archive without a word)."""

    def __init__(self, path: Path) -> None:
        super().__init__(errno.EWOULDBLOCK, f"another running collector is writing {path}")
        self.path = path


def _hold(fd: int, path: Path) -> None:
    """Take the archive's lock (flock: released by the kernel when the holder exits, even
    killed, so a collector restarted after `kill -9` takes it again). A file system without
    locks (ENOLCK, EINVAL, ...) is written unlocked, as before there was a lock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ArchiveInUse(path) from None
    except OSError:
        pass


class _AppendFile:
    """An append-only file written with whole-line writes; `exclusive`: held by one writer."""

    def __init__(self, path: Path, always_sync: bool, exclusive: bool = False) -> None:
        self.path = path
        self.always_sync = always_sync
        self.exclusive = exclusive
        self.dirty = False
        self.fd = self._open()
        self.file_id = _file_id(self.fd)

    def _open(self) -> int:
        """Open for appending (and take the lock, before touching the file). A torn last line
        (a crash mid-write) is sealed with a newline first, or the next acknowledged message
        would be glued to it and unreadable."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if self.exclusive:
                _hold(fd, self.path)
            if not _ends_with_newline(self.path, os.fstat(fd).st_size):
                os.write(fd, b"\n")
        except OSError:
            os.close(fd)
            raise
        return fd

    def replaced(self) -> bool:
        """Whether our path no longer names the file we write (deleted, or moved away)."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return True
        return (status.st_dev, status.st_ino) != self.file_id

    def reopen_if_replaced(self) -> bool:
        """Start a new file when ours was deleted or moved away (a user clearing the archive),
        in a new directory if that went too (`rm -r`). Raises OSError when it cannot: the
        collector then answers 500 (SDKs retry) instead of writing where nobody can read."""
        if not self.replaced():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = self._open()
        with contextlib.suppress(OSError):
            self.sync()
        os.close(self.fd)
        self.fd = fresh
        self.file_id = _file_id(fresh)
        return True

    def append(self, data: bytes) -> bool:
        """Append `data`; True when it went in one write (so it lies contiguous in the file).

        A message answered 200 must be in the file at our path, not in one nobody can open
        (QA: after `rm archive.ndjson`, two calls answered 200 were in neither file until the
        once-a-second upkeep noticed). So the path is checked before the write (deleted or
        moved since the last one: start afresh, and a moved file gets no line after its move)
        and after it (it went while we wrote: write again to the fresh file). A deletion after
        that deletes lines that were in the file, as the user asked. Two `stat`s per call."""
        self.reopen_if_replaced()
        whole = self._write(data)
        if self.reopen_if_replaced():
            whole = self._write(data)
        return whole

    def _write(self, data: bytes) -> bool:
        written = os.write(self.fd, data)
        whole = written == len(data)
        if not whole:  # a regular file takes it all at once; loop only for the odd short write
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(self.fd, view):]
        if self.always_sync:
            os.fsync(self.fd)
        else:
            self.dirty = True
        return whole

    def sync(self) -> None:
        if self.dirty:
            self.dirty = False
            os.fsync(self.fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sync()
        os.close(self.fd)


def _file_id(fd: int) -> FileId:
    status = os.fstat(fd)
    return status.st_dev, status.st_ino


class ArchiveWriter:
    """The archive (accepted messages) and X.rejected.ndjson beside it (refused calls).

    One writer per archive: it holds the locks of the archive and of its refusal log while
    open, and a second raises ArchiveInUse (readers, like `tail --file`, `replay` or a
    forwarder's outbox, take none). The refusal log's lock also keeps a second collector out
    after `rm archive.ndjson` (QA: it took the path while the first answered 500, and both
    appended to one refusal log), and off a path that is another's refusal log."""

    def __init__(self, archive: Path, fsync: str = "interval") -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}")
        self.archive_path = archive
        self.rejected_path = rejected_path(archive)
        self.policy = fsync
        archive.parent.mkdir(parents=True, exist_ok=True)
        self._archive = _AppendFile(archive, fsync == "always", exclusive=True)
        try:
            self._rejected = _AppendFile(self.rejected_path, fsync == "always", exclusive=True)
        except OSError:
            self._archive.close()
            raise
        self._syncer: asyncio.Task[None] | None = None
        self._closed = False
        self.taps: list[Tap] = []

    def append_lines(self, lines: Iterable[bytes]) -> bytes:
        """Append messages already serialised (no newlines; the collector's are JSON objects,
        orjson's dumps of dicts), in one write. Returns the bytes written (each line
        newline-terminated; b"" for none), which the collector's recent store keeps as they
        are: a call's ~60 KB are joined once, not once per reader. Then every tap gets them,
        with where they lie (the offset is the descriptor's after the write: exact even if
        another process appends too), unless the write was split."""
        parts = list(lines)
        if not parts:
            return b""
        parts.append(b"")  # the last newline, in the same join (no second copy of the block)
        data = b"\n".join(parts)
        archive = self._archive
        whole = archive.append(data)
        if self.taps and whole:
            parts.pop()
            start = os.lseek(archive.fd, 0, os.SEEK_CUR) - len(data)
            for tap in self.taps:
                # the lines are written: a tap's failure must not fail the call (the client
                # would send them again); the tap's reader falls back to the file
                with contextlib.suppress(Exception):
                    tap(archive.file_id, start, parts, data)
        return data

    def append_rejected(self, records: Iterable[dict[str, Any]]) -> None:
        """Append refusal records (reason + raw text), in one write."""
        data = b"".join(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE) for record in records)
        if data:
            self._rejected.append(data)

    def start(self) -> None:
        """Start the once-a-second upkeep: fsync (policy `interval`), follow a deleted archive."""
        if self._syncer is None:
            self._syncer = asyncio.get_running_loop().create_task(self._upkeep_forever())

    async def _upkeep_forever(self) -> None:
        while True:
            await asyncio.sleep(FSYNC_INTERVAL)
            self.follow_replaced()
            if self.policy == "interval":
                await asyncio.to_thread(self.sync)

    def follow_replaced(self) -> None:
        """Write to a new archive (and its refusal log) if the old one was deleted or moved."""
        for file in (self._archive, self._rejected):
            with contextlib.suppress(OSError):
                file.reopen_if_replaced()

    def sync(self) -> None:
        self._archive.sync()
        self._rejected.sync()

    async def close(self) -> None:
        """Stop the upkeep, sync and close both files; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._syncer is not None:
            self._syncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._syncer
        self._archive.close()
        self._rejected.close()
