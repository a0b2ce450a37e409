"""The archive writer: whole lines appended, refusals beside the archive, fsync policies."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from debugger.archive_writer import ArchiveWriter


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
    rejected = tmp_path / "nested" / "rejected.ndjson"
    assert [orjson.loads(line) for line in rejected.read_bytes().splitlines()] == [
        {"code": "invalid_json", "raw": "{nope"}
    ]


async def test_creates_missing_directories_and_rejects_bad_policy(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync must be one of"):
        ArchiveWriter(tmp_path / "a.ndjson", "sometimes")
    writer = ArchiveWriter(tmp_path / "x" / "y" / "a.ndjson", "never")
    await writer.close()
    assert writer.rejected_path == tmp_path / "x" / "y" / "rejected.ndjson"
    assert writer.archive_path.exists() and writer.rejected_path.exists()


def test_unwritable_location_raises_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        ArchiveWriter(blocker / "a.ndjson")
