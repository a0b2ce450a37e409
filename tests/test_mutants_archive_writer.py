"""The archive writer's promises that mutation testing found unguarded (`make mutate`): sync
only what was written since, close syncs and a second close does nothing, one refusal record
per line, the files' mode, and the upkeep surviving a vanished directory.

fsync is seen through the OS layer: `os.fsync` is wrapped (the real call still runs) and each
call is booked to the file its descriptor points at.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest

from debugger.archive_writer import ArchiveWriter
from debugger.paths import rejected_path


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every os.fsync made while the test runs, counted per file name."""
    counts: Counter[str] = Counter()
    real = os.fsync

    def counting(fd: int) -> None:
        counts[Path(os.readlink(f"/proc/self/fd/{fd}").removesuffix(" (deleted)")).name] += 1
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return counts


def test_sync_fsyncs_each_file_once_for_what_was_written_since(tmp_path: Path, fsyncs: Counter[str]) -> None:
    writer = ArchiveWriter(tmp_path / "a.ndjson", fsync="interval")
    writer.append_lines([b'{"n":1}'])
    writer.sync()
    assert fsyncs == {"a.ndjson": 1}
    writer.sync()  # nothing written since: nothing to make durable
    assert fsyncs == {"a.ndjson": 1}
    writer.append_rejected([{"reason": "bad"}])
    writer.sync()
    assert fsyncs == {"a.ndjson": 1, "a.rejected.ndjson": 1}
    asyncio.run(writer.close())
    assert fsyncs == {"a.ndjson": 1, "a.rejected.ndjson": 1}


def test_close_syncs_what_is_dirty_and_a_second_close_does_nothing(tmp_path: Path, fsyncs: Counter[str]) -> None:
    writer = ArchiveWriter(tmp_path / "a.ndjson", fsync="never")
    writer.append_lines([b'{"n":1}'])

    async def close_twice() -> None:
        await writer.close()
        await writer.close()  # a second close must not close (someone else's) descriptors again

    asyncio.run(close_twice())
    assert fsyncs == {"a.ndjson": 1}
    assert (tmp_path / "a.ndjson").read_bytes() == b'{"n":1}\n'


def test_refusal_records_are_one_json_line_each(tmp_path: Path) -> None:
    records = [{"reason": "not JSON", "raw": "{x"}, {"reason": "too large", "raw": "é\n"}]
    writer = ArchiveWriter(tmp_path / "a.ndjson")
    writer.append_rejected(records)
    writer.append_rejected([])
    asyncio.run(writer.close())
    lines = rejected_path(tmp_path / "a.ndjson").read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == records


def test_an_unknown_fsync_policy_is_refused_naming_the_policies(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync must be one of always, interval, never"):
        ArchiveWriter(tmp_path / "a.ndjson", fsync="sometimes")


def test_new_files_are_data_files_rw_r_r(tmp_path: Path) -> None:
    """Created with mode 0644 (the umask may take more away): never executable."""
    old = os.umask(0)
    try:
        writer = ArchiveWriter(tmp_path / "a.ndjson")
    finally:
        os.umask(old)
    asyncio.run(writer.close())
    for path in (tmp_path / "a.ndjson", rejected_path(tmp_path / "a.ndjson")):
        assert path.stat().st_mode & 0o777 == 0o644


def test_a_vanished_directory_is_made_again(tmp_path: Path) -> None:
    """`rm -r` of the archive's directory: the next message lands in a fresh archive there
    (it used to be written to the deleted file, answered 200 and lost)."""
    folder = tmp_path / "data"
    writer = ArchiveWriter(folder / "a.ndjson")
    shutil.rmtree(folder)
    writer.append_lines([b'{"n":1}'])
    asyncio.run(writer.close())
    assert (folder / "a.ndjson").read_bytes() == b'{"n":1}\n'


def test_an_archive_that_cannot_be_started_again_fails_the_write_not_the_upkeep(tmp_path: Path) -> None:
    """The upkeep calls follow_replaced every second: a directory that cannot be made again
    (a file now stands at its path) must not raise out of it, or the upkeep (and with it
    fsync=interval) would stop; the write raises instead (the collector answers 500, so SDKs
    retry), and writes resume once the path is usable again."""
    folder = tmp_path / "data"
    writer = ArchiveWriter(folder / "a.ndjson")
    shutil.rmtree(folder)
    folder.write_bytes(b"not a directory")
    writer.follow_replaced()
    with pytest.raises(OSError):
        writer.append_lines([b'{"refused":1}'])
    folder.unlink()
    writer.append_lines([b'{"n":2}'])
    asyncio.run(writer.close())
    assert (folder / "a.ndjson").read_bytes() == b'{"n":2}\n'


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a write-only file anyway")
def test_an_archive_that_cannot_be_read_back_is_an_os_error(tmp_path: Path) -> None:
    """Sealing a torn last line reads the file's last byte first: when that fails, the caller
    gets the OSError (a clear message) and no descriptor is left open."""
    archive = tmp_path / "a.ndjson"
    archive.write_bytes(b'{"torn":')
    archive.chmod(0o200)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(PermissionError):
        ArchiveWriter(archive)
    assert len(os.listdir("/proc/self/fd")) == before
