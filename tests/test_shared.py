"""Unit tests for the shared modules: the event model and the archive reader."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from debugger import archive, message
from debugger.archive import ArchiveError, BadLine, Line
from debugger.rules import check


def test_name_of_each_call_type() -> None:
    assert message.name_of({"type": "track", "event": "Order Completed"}) == "Order Completed"
    assert message.name_of({"type": "page", "name": "Home"}) == "Home"
    assert message.name_of({"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}}) == "u1 a@b.c"
    assert message.name_of({"type": "group", "groupId": "g1"}) == "g1"
    assert message.name_of({"type": "alias", "previousId": "a", "userId": "b"}) == "a -> b"
    assert message.name_of({"type": "nonsense"}) == ""


def test_user_prefers_user_id() -> None:
    assert message.user_of({"userId": "u", "anonymousId": "a"}) == "u"
    assert message.user_of({"userId": "", "anonymousId": "a"}) == "a"
    assert message.user_of({}) == ""


def test_parse_time_forms() -> None:
    assert message.parse_time("2024-01-02T03:04:05.678Z") is not None
    assert message.parse_time("2024-01-02T03:04:05+02:00").utcoffset().total_seconds() == 7200
    assert message.parse_time("yesterday") is None
    assert message.parse_time(12) is None
    moment = message.parse_time("2024-01-02T03:04:05.678Z")
    assert message.format_time(moment) == "2024-01-02T03:04:05.678Z"


def test_mask_key_never_shows_whole_key() -> None:
    assert message.mask_key("abcdefghijkl") == "abcd…kl"
    assert "secret" not in message.mask_key("secret")


def test_reader_handles_gz_dirs_and_bad_lines(tmp_path: Path) -> None:
    good = b'{"type":"track","event":"A","userId":"u"}\n'
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.ndjson").write_bytes(good + b"garbage\n[1]\n")
    with gzip.open(tmp_path / "d" / "2.ndjson.gz", "wb") as handle:
        handle.write(good + b'{"torn": ')
    items = list(archive.read_lines([tmp_path / "d"]))
    kinds = [type(item).__name__ for item in items]
    assert kinds == ["Line", "BadLine", "BadLine", "Line", "BadLine"]
    assert isinstance(items[0], Line) and items[0].message["event"] == "A"
    assert isinstance(items[4], BadLine) and items[4].reason.startswith("torn last line")
    assert items[1].number == 2


def test_reader_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no such file"):
        list(archive.read_lines([tmp_path / "nope.ndjson"]))


@pytest.mark.parametrize(
    ("msg", "code"),
    [
        ({"type": "track", "event": "A"}, "no_user_anon_id"),
        ({"type": "track", "userId": "u"}, "missing_event"),
        ({"type": "group", "userId": "u"}, "missing_group_id"),
        ({"type": "alias", "userId": "u"}, "missing_previous_id"),
        ({"type": "nope", "userId": "u"}, "invalid_type"),
    ],
)
def test_required_fields_are_errors(msg: dict, code: str) -> None:
    problems = check(msg)
    assert problems[0]["level"] == "error" and problems[0]["code"] == code


def test_valid_message_has_no_errors() -> None:
    ok = {"type": "track", "event": "Order Completed", "userId": "u"}
    assert not [p for p in check(ok) if p["level"] == "error"]


def test_a_directory_leaves_out_segdebugs_own_side_files(tmp_path: Path) -> None:
    """Replaying or validating the collector's data dir must not read refusal records,
    replay failures, checkpoints or the copy file as messages; naming one still reads it."""
    line = b'{"type":"track","event":"A","userId":"u"}\n'
    for name in ("archive.ndjson", "rejected.ndjson", "archive.ndjson.failed.ndjson",
                 "archive.ndjson.replay-checkpoint.json", "copied.json", "old.ndjson.gz"):
        (tmp_path / name).write_bytes(gzip.compress(line) if name.endswith(".gz") else line)
    names = [Path(name).name for name in archive.expand([tmp_path])]
    assert names == ["archive.ndjson", "old.ndjson.gz"]
    assert archive.expand([tmp_path / "rejected.ndjson"]) == [str(tmp_path / "rejected.ndjson")]


def test_content_size_of_plain_and_gzip_archives(tmp_path: Path) -> None:
    """What the progress bar divides by: a plain file's size, a gzip file's recorded size."""
    content = b'{"type":"track"}\n' * 1000
    plain, packed, lying = tmp_path / "a.ndjson", tmp_path / "b.ndjson.gz", tmp_path / "c.gz"
    plain.write_bytes(content)
    packed.write_bytes(gzip.compress(content))
    lying.write_bytes(gzip.compress(content)[:-4] + (1).to_bytes(4, "little"))  # e.g. over 4 GiB
    assert archive.content_size(str(plain)) == len(content)
    assert archive.content_size(str(packed)) == len(content)
    assert archive.content_size(str(lying)) is None
    assert archive.content_size(str(tmp_path / "missing")) is None
