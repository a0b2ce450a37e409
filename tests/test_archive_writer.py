"""The archive's durability promises, observed from outside the writer.

fsync is seen through the OS layer: `os.fsync`/`os.fdatasync` are wrapped (the real call still
runs) and each call is booked to the file its descriptor points at. The writer's own upkeep
loop does the periodic work; no test calls `sync()` or `follow_replaced()` itself. Waits are
bounded polls for an effect, never assertions about how long something took.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

import pytest

from debugger.archive_writer import ArchiveWriter
from tests.support import Collector, post_json, read_hello, start_collector

PATIENCE = 10.0  # seconds any awaited effect may take on a loaded machine before the test fails


def _file_of(fd: int) -> str:
    """The path behind a descriptor, as the kernel reports it (a deleted file keeps its name)."""
    return os.readlink(f"/proc/self/fd/{fd}").removesuffix(" (deleted)")


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every fsync/fdatasync made in this process, counted per file path."""
    counts: Counter[str] = Counter()

    def counting(real: Callable[[int], None]) -> Callable[[int], None]:
        def call(fd: int) -> None:
            counts[_file_of(fd)] += 1  # Counter += from the sync thread: one bytecode-level op
            real(fd)
        return call

    monkeypatch.setattr(os, "fsync", counting(os.fsync))
    monkeypatch.setattr(os, "fdatasync", counting(os.fdatasync))
    yield counts


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {PATIENCE:g} s: {what}")
        await asyncio.sleep(0.02)


async def test_fsync_always_syncs_every_write(tmp_path: Path, fsyncs: Counter[str]) -> None:
    writer = ArchiveWriter(tmp_path / "archive.ndjson", "always")
    writer.start()
    try:
        for n in range(3):
            writer.append_lines([b'{"n":%d}' % n])
            assert fsyncs[str(tmp_path / "archive.ndjson")] == n + 1  # before the answer is sent
        writer.append_rejected([{"code": "invalid_json", "raw": "{"}])
        assert fsyncs[str(tmp_path / "archive.rejected.ndjson")] == 1
    finally:
        await writer.close()


async def test_fsync_interval_syncs_dirty_files_in_the_background_once_per_tick(
    tmp_path: Path, fsyncs: Counter[str]
) -> None:
    archive, rejected = str(tmp_path / "archive.ndjson"), str(tmp_path / "archive.rejected.ndjson")
    writer = ArchiveWriter(tmp_path / "archive.ndjson", "interval")
    writer.start()
    try:
        # No await between these writes: the upkeep task cannot run in the middle of them.
        for n in range(20):
            writer.append_lines([b'{"n":%d}' % n])
        assert fsyncs[archive] == 0  # writes do not sync under `interval`
        await until(lambda: fsyncs[archive] >= 1, "the upkeep loop's first fsync of the archive")
        assert fsyncs[archive] == 1  # twenty writes, one sync
        writer.append_lines([b'{"n":20}'])
        await until(lambda: fsyncs[archive] >= 2, "a second fsync after a later write")
        assert fsyncs[rejected] == 0  # a file nothing was written to is not synced
    finally:
        await writer.close()


async def test_fsync_never_leaves_it_to_the_os(tmp_path: Path, fsyncs: Counter[str]) -> None:
    """The `never` writer starts its upkeep first, so by the time the `interval` writer has
    synced twice the `never` writer's loop has ticked at least as often: had it synced, the
    count would show it."""
    never = ArchiveWriter(tmp_path / "never" / "archive.ndjson", "never")
    never.start()
    witness = ArchiveWriter(tmp_path / "witness" / "archive.ndjson", "interval")
    witness.start()
    try:
        never.append_lines([b'{"n":1}'])
        never.append_rejected([{"code": "x"}])
        witness.append_lines([b'{"n":1}'])
        await until(lambda: fsyncs[str(witness.archive_path)] >= 1, "the interval writer's first tick")
        never.append_lines([b'{"n":2}'])
        witness.append_lines([b'{"n":2}'])
        await until(lambda: fsyncs[str(witness.archive_path)] >= 2, "the interval writer's second tick")
        assert fsyncs[str(never.archive_path)] == 0 and fsyncs[str(never.rejected_path)] == 0
    finally:
        await never.close()
        await witness.close()


# A collector process whose fsync calls are written, one path per line, to the file in argv[1].
_COUNTING_COLLECTOR = """
import os, sys
log = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
real = os.fsync
def fsync(fd):
    os.write(log, os.readlink(f"/proc/self/fd/{fd}").encode() + b"\\n")
    real(fd)
os.fsync = fsync
from debugger.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_collect_fsync_always_reaches_the_writer(tmp_path: Path) -> None:
    """`segdebug collect --fsync always`: each acknowledged call was synced before its answer."""
    log = tmp_path / "fsyncs.log"
    archive = tmp_path / "archive.ndjson"
    sock = tmp_path / "collector.sock"
    command = [sys.executable, "-c", _COUNTING_COLLECTOR, str(log), "collect", "--port", "0",
               "--archive", str(archive), "--socket", str(sock), "--fsync", "always"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hello = read_hello(sock)
    collector = Collector(process=process, url=hello["http"], socket=sock, archive=archive,
                          rejected=tmp_path / "archive.rejected.ndjson", hello=hello)
    try:
        for n in range(3):
            assert post_json(collector.url + "/v1/track", {"userId": "u", "event": f"E{n}"}).status == 200
            synced = log.read_text().splitlines() if log.exists() else []
            assert synced.count(str(archive)) == n + 1
    finally:
        collector.stop()


def test_the_running_collector_follows_a_deleted_archive(tmp_path: Path) -> None:
    """`rm archive.ndjson` while the collector runs: its upkeep starts a fresh archive, and the
    next message lands there instead of in the deleted file."""
    collector = start_collector(tmp_path / "c")
    try:
        assert post_json(collector.url + "/v1/track", {"userId": "u", "event": "Before"}).status == 200
        assert [m["event"] for m in collector.archived()] == ["Before"]
        collector.archive.unlink()
        deadline = time.monotonic() + PATIENCE
        while not collector.archive.exists():
            assert time.monotonic() < deadline, "no fresh archive after the old one was deleted"
            time.sleep(0.05)
        assert post_json(collector.url + "/v1/track", {"userId": "u", "event": "After"}).status == 200
        assert [m["event"] for m in collector.archived()] == ["After"]
    finally:
        collector.stop()


def test_a_message_answered_right_after_rm_is_in_the_fresh_archive(tmp_path: Path) -> None:
    """`rm` the archive and send at once, before the once-a-second upkeep can notice: the
    messages answered 200 must be in a file at the archive's path (QA found them only in the
    deleted file), refusals likewise in the rejected file."""
    collector = start_collector(tmp_path / "c")
    try:
        assert post_json(collector.url + "/v1/track", {"userId": "u", "event": "Before"}).status == 200
        assert post_json(collector.url + "/v1/track", {"event": "No User"}).status == 200
        collector.archive.unlink()
        collector.rejected.unlink()
        assert post_json(collector.url + "/v1/track", {"userId": "u", "event": "After"}).status == 200
        assert post_json(collector.url + "/v1/track", {"event": "Refused After"}).status == 200
        assert [m["event"] for m in collector.archived()] == ["After"]
        assert [r["message"]["event"] for r in collector.refused()] == ["Refused After"]
    finally:
        collector.stop()


async def test_a_moved_archive_gets_no_line_after_its_move(tmp_path: Path) -> None:
    """`mv` (log rotation): the next write starts a fresh archive at the path; the moved file
    keeps what it had."""
    archive = tmp_path / "archive.ndjson"
    writer = ArchiveWriter(archive, "never")
    try:
        writer.append_lines([b'{"n":1}'])
        archive.rename(tmp_path / "rotated.ndjson")
        writer.append_lines([b'{"n":2}'])
    finally:
        await writer.close()
    assert (tmp_path / "rotated.ndjson").read_bytes() == b'{"n":1}\n'
    assert archive.read_bytes() == b'{"n":2}\n'


async def test_append_lines_returns_exactly_the_bytes_it_appended(tmp_path: Path) -> None:
    """The collector's recent store keeps what append_lines returns instead of joining the
    call's lines a second time: it must be the archive's bytes, byte for byte."""
    writer = ArchiveWriter(tmp_path / "a.ndjson", "never")
    try:
        first = writer.append_lines(iter([b'{"n":1}', b'{"n":2}']))
        nothing = writer.append_lines([])
        second = writer.append_lines([b'{"n":3}'])
    finally:
        await writer.close()
    assert (first, nothing, second) == (b'{"n":1}\n{"n":2}\n', b"", b'{"n":3}\n')
    assert (tmp_path / "a.ndjson").read_bytes() == first + second
