"""Unit tests for the shared modules: the event model and the archive reader."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from debugger import archive, message, rules
from debugger.archive import ArchiveError, RawLine, event_of_line
from debugger.checks import BAD_LINE, make_checker
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
    lines = list(archive.read_raw([tmp_path / "d"]))
    raws = [line for line in lines if isinstance(line, RawLine)]  # no read error
    assert len(raws) == len(lines) == 5
    items = [event_of_line(line.raw, line.number, check, torn=line.torn) for line in raws]
    kinds = [item["status"] for item in items]
    assert kinds == ["accepted", "rejected", "rejected", "accepted", "rejected"]
    assert items[0]["message"] is not None and items[0]["message"]["event"] == "A"
    assert items[4]["problems"][0]["code"] == "bad_line"
    assert items[4]["problems"][0]["message"].startswith("torn last line")
    assert items[1]["seq"] == 2


def test_reader_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no such file"):
        list(archive.read_raw([tmp_path / "nope.ndjson"]))


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


def test_a_directory_is_read_for_its_archives_only(tmp_path: Path) -> None:
    """`replay DIR` / `live --file DIR` read what `validate DIR` reads: .ndjson, .jsonl, .json
    and their .gz; not a log, a tarball or other gzipped files beside them."""
    line = b'{"type":"track","event":"A","userId":"u"}\n'
    names = ("a.ndjson", "b.jsonl", "c.json", "d.ndjson.gz", "collector.log", "backup.tar.gz",
             "notes.txt.gz", "e.jsonl.gz")
    for name in names:
        (tmp_path / name).write_bytes(gzip.compress(line) if name.endswith(".gz") else line)
    found = [Path(name).name for name in archive.expand([tmp_path])]
    assert found == ["a.ndjson", "b.jsonl", "c.json", "d.ndjson.gz", "e.jsonl.gz"]
    assert archive.expand([tmp_path / "collector.log"]) == [str(tmp_path / "collector.log")]


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


def test_an_archive_line_becomes_the_event_a_viewer_shows() -> None:
    good = event_of_line(b'{"type":"track","event":"Order Completed","userId":"u","writeKey":"k",'
                         b'"messageId":"m","receivedAt":"2024-05-01T12:00:00.000Z"}', 7, check)
    assert (good["seq"], good["status"], good["writeKey"], good["raw"]) == (7, "accepted", "k", None)
    assert good["receivedAt"] == "2024-05-01T12:00:00.000Z"
    # the checker's errors refuse it, and the text is kept as a refused call's is
    text = '{"type":"track","event":"X"}'
    refused = event_of_line(text, 8, check)
    assert refused["status"] == "rejected" and refused["raw"] == text
    assert any(p["code"] == "no_user_anon_id" for p in refused["problems"])
    assert message.parse_time(refused["receivedAt"]) is not None  # none in the message: now
    garbage = event_of_line(b"not json \xff", 9, check)
    assert garbage["status"] == "rejected" and garbage["message"] is None
    assert [p["code"] for p in garbage["problems"]] == [BAD_LINE]
    assert garbage["raw"] == "not json \\xff"


def test_one_checker_factory_for_every_strength(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"Order Completed": {"required": ["properties"]}}')
    no_name = {"type": "track", "event": "Order Completed", "userId": "u", "properties": {"Bad Key": 1}}
    assert make_checker() is check and make_checker(refusing_only=True) is rules.check_required
    full = [p["code"] for p in make_checker(plan)({**no_name, "userId": None})]
    assert full[0] == "no_user_anon_id" and "key_case" in full
    without = {k: v for k, v in no_name.items() if k != "properties"}
    assert [p["code"] for p in make_checker(plan, refusing_only=True)(without)] == ["plan_violation"]
    assert make_checker(plan, refusing_only=True)(no_name) == []


def test_values_that_are_not_strings_read_as_the_json_sent() -> None:
    """QA: the list's Name and User columns showed Python's repr ({'id': 1}, True)."""
    assert message.name_of({"type": "track", "event": {"nested": "obj"}}) == '{"nested":"obj"}'
    assert message.name_of({"type": "page", "name": ["a", "b"]}) == '["a","b"]'
    assert message.name_of({"type": "track", "event": True}) == "true"
    assert message.name_of({"type": "track", "event": 42}) == "42"
    assert message.user_of({"userId": {"id": 1}}) == '{"id":1}'
    assert message.user_of({"userId": 7}) == "7"
