"""The archive writer: whole lines appended, refusals beside the archive, fsync policies."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from debugger import rules
from debugger.archive_writer import ArchiveWriter
from debugger.collector import RUNNER_OPTIONS, Collector, make_app


@pytest.mark.parametrize("policy", ["always", "interval", "never"])
async def test_appends_lines_and_refusals(tmp_path: Path, policy: str) -> None:
    archive = tmp_path / "nested" / "archive.ndjson"
    archive.parent.mkdir()
    archive.write_bytes(b'{"old":1}\n')  # an existing archive is appended to, never truncated
    writer = ArchiveWriter(archive, policy)
    writer.start()
    writer.append_lines([b'{"a":1}', b'{"b":2}'])
    writer.append_lines([])
    writer.append_rejected([{"code": "invalid_json", "raw": "{nope"}])
    writer.sync()
    await writer.close()
    assert archive.read_bytes() == b'{"old":1}\n{"a":1}\n{"b":2}\n'
    rejected = tmp_path / "nested" / "archive.rejected.ndjson"
    assert [orjson.loads(line) for line in rejected.read_bytes().splitlines()] == [
        {"code": "invalid_json", "raw": "{nope"}
    ]


async def test_a_torn_last_line_is_sealed_before_anything_is_appended(tmp_path: Path) -> None:
    """An archive left with a half-written line (a crash mid-write) gets its newline first, so
    the next acknowledged message is a line of its own, not glued to the torn one."""
    archive = tmp_path / "archive.ndjson"
    archive.write_bytes(b'{"old":1}\n{"torn":')
    (tmp_path / "archive.rejected.ndjson").write_bytes(b"")
    writer = ArchiveWriter(archive, "never")
    writer.append_lines([b'{"a":1}'])
    await writer.close()
    assert archive.read_bytes() == b'{"old":1}\n{"torn":\n{"a":1}\n'
    assert (tmp_path / "archive.rejected.ndjson").read_bytes() == b""  # an empty file stays empty


async def test_creates_missing_directories_and_rejects_bad_policy(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync must be one of"):
        ArchiveWriter(tmp_path / "a.ndjson", "sometimes")
    writer = ArchiveWriter(tmp_path / "x" / "y" / "a.ndjson", "never")
    await writer.close()
    assert writer.rejected_path == tmp_path / "x" / "y" / "a.rejected.ndjson"
    assert writer.archive_path.exists() and writer.rejected_path.exists()


def test_unwritable_location_raises_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        ArchiveWriter(blocker / "a.ndjson")


async def test_full_disk_answers_500_json_and_publishes_nothing(tmp_path: Path) -> None:
    """A write that fails (ENOSPC via /dev/full) is a 500 the SDKs retry, never a silent 200."""
    writer = ArchiveWriter(tmp_path / "archive.ndjson", "never")
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, writer._archive.fd)  # the archive's descriptor now writes to a full disk
    os.close(full)
    published: list[dict] = []
    server = TestServer(make_app(Collector(writer=writer, check=rules.check, publish=published.append)),
                        host="127.0.0.1", **RUNNER_OPTIONS)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            url = str(server.make_url("/v1/track"))
            async with session.post(url, json={"userId": "u", "event": "Signed Up"}) as reply:
                assert reply.status == 500
                body = await reply.json()
            assert body["code"] == "archive_write_failed" and "No space left" in body["message"]
            async with session.post(url, data=b"{bad") as reply:  # refusals still recorded
                assert reply.status == 400
    finally:
        await server.close()
        await writer.close()
    assert [e["status"] for e in published] == ["rejected"]


async def test_a_deleted_archive_is_started_afresh(tmp_path: Path) -> None:
    archive = tmp_path / "archive.ndjson"
    writer = ArchiveWriter(archive, "never")
    writer.append_lines([b'{"n":1}'])
    archive.unlink()
    (tmp_path / "archive.rejected.ndjson").rename(tmp_path / "old-rejected.ndjson")
    writer.follow_replaced()
    writer.append_lines([b'{"n":2}'])
    writer.append_rejected([{"code": "x"}])
    writer.follow_replaced()  # nothing replaced this time: same files
    writer.append_lines([b'{"n":3}'])
    await writer.close()
    assert archive.read_bytes() == b'{"n":2}\n{"n":3}\n'
    assert (tmp_path / "archive.rejected.ndjson").read_bytes() == b'{"code":"x"}\n'


async def test_unwatched_calls_are_counted_not_published(tmp_path: Path) -> None:
    """With nobody watching, no envelope is built, yet the counts and `seq` stay true."""
    writer = ArchiveWriter(tmp_path / "archive.ndjson", "never")
    published: list[dict] = []
    counted: list[tuple[int, int]] = []
    watching = [False]
    collector = Collector(writer=writer, check=rules.check, publish=published.append,
                          tally=lambda accepted, rejected: counted.append((accepted, rejected)),
                          watched=lambda: watching[0])
    server = TestServer(make_app(collector), host="127.0.0.1", **RUNNER_OPTIONS)
    await server.start_server()
    batch = {"batch": [{"type": "track", "userId": "u", "event": "A"}, {"type": "track", "userId": "u"}]}
    try:
        async with aiohttp.ClientSession() as session:
            url = str(server.make_url("/v1/batch"))
            async with session.post(url, json=batch) as reply:
                assert reply.status == 200
            watching[0] = True
            async with session.post(url, json=batch) as reply:
                assert reply.status == 200
    finally:
        await server.close()
        await writer.close()
    assert counted == [(1, 1)]
    assert [(e["seq"], e["status"]) for e in published] == [(3, "accepted"), (4, "rejected")]
    assert len((tmp_path / "archive.ndjson").read_bytes().splitlines()) == 2
