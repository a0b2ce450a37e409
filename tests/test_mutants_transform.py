"""Replay's transformations: promises that mutation testing found unguarded (`make mutate`):
the common case sends the archived bytes as they are (sentAt dropped), a run of lines gives
what one line at a time gives (keys, ids by input position, the reason a line is broken), the
write key override on every path, ids that are version-4 UUIDs, `--set` keeping what it does
not replace, and the words of a bad `--set`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import orjson
import pytest

from debugger.archive import parse_line
from replay.reader import Chunk, SelectedLine
from replay.transform import BrokenLine, Transformation, Transformer, new_message_id, parse_assignment, set_path

LINE = b'{"type":"track","event":"A","v":1.50,"sentAt":"2024-01-01T00:00:00Z","writeKey":"wk"}'


def line(n: int, **fields: object) -> bytes:
    message = {"type": "track", "event": "A", "n": n, "sentAt": "2024-01-01T00:00:00Z", "writeKey": "wk", **fields}
    return orjson.dumps(message)


def test_the_common_case_sends_the_archived_bytes_less_sent_at() -> None:
    key, sent = Transformer(Transformation())(SelectedLine(0, "f", 1, LINE, None))
    assert key == "wk"
    assert sent == b'{"type":"track","event":"A","v":1.50,"writeKey":"wk"}'  # 1.50 as archived


def test_the_write_key_override_wins_on_every_path() -> None:
    for spec in (Transformation(write_key="new"), Transformation(write_key="new", shift=timedelta(0))):
        key, sent = Transformer(spec)(SelectedLine(0, "f", 1, LINE, None))
        assert key == "new" and b"writeKey" not in sent and b"sentAt" not in sent
        keys, items, broken = Transformer(spec).chunk(Chunk(5, [line(n) for n in range(40)]))
        assert keys == ["new"] * 40 and not broken
        assert all(b"writeKey" not in item and b"sentAt" not in item for item in items)
    key, sent = Transformer(Transformation(write_key="new", shift=timedelta(0)))(
        SelectedLine(0, "f", 1, b'{"type":"track"}', None)
    )
    assert (key, sent) == ("new", b'{"type":"track"}')  # nothing to drop: no error


def test_a_rewritten_line_drops_sent_at_and_reads_only_a_text_write_key() -> None:
    spec = Transformation(shift=timedelta(seconds=1))
    key, sent = Transformer(spec)(SelectedLine(0, "f", 1, line(0), None))
    assert key == "wk" and "sentAt" not in orjson.loads(sent)
    key, _ = Transformer(spec)(SelectedLine(0, "f", 1, line(0, writeKey=5), None))
    assert key is None
    kept = Transformer(Transformation(sent_at="keep", shift=timedelta(seconds=1)))
    assert orjson.loads(kept(SelectedLine(0, "f", 1, line(0), None))[1])["sentAt"] == "2024-01-01T00:00:01.000Z"


@pytest.mark.parametrize("count", [3, 40])
def test_a_run_of_lines_with_new_ids_numbers_them_by_input_position(count: int) -> None:
    spec = Transformation(new_ids_seed="seed")
    keys, items, broken = Transformer(spec).chunk(Chunk(10, [line(n) for n in range(count)]))
    assert not broken and keys == ["wk"] * count
    ids = [orjson.loads(item)["messageId"] for item in items]
    assert ids == [new_message_id("seed", 10 + n) for n in range(count)]
    one = Transformer(spec)(SelectedLine(12, "f", 3, line(2), None))
    assert one == (keys[2], items[2])


def test_a_broken_line_in_a_run_is_left_out_with_its_reason() -> None:
    lines = [line(0), b'{"type": "track", oops}', line(2)]
    keys, items, broken = Transformer(Transformation(shift=timedelta(0))).chunk(Chunk(0, lines))
    assert broken == {1: parse_line(lines[1])}
    assert keys[0] == keys[2] == "wk"
    with pytest.raises(BrokenLine, match="invalid JSON"):
        Transformer(Transformation(shift=timedelta(0)))(SelectedLine(0, "f", 1, lines[1], None))


def test_new_ids_are_version_4_uuids() -> None:
    made = uuid.UUID(new_message_id("seed", 7))
    assert made.version == 4 and made.variant == uuid.RFC_4122


def test_set_keeps_the_siblings_of_what_it_sets() -> None:
    message = {"context": {"app": {"version": "1"}, "ip": "x"}}
    set_path(message, "context.app.name", "shop")
    assert message == {"context": {"app": {"version": "1", "name": "shop"}, "ip": "x"}}


def test_a_set_value_may_hold_an_equals_sign() -> None:
    assert parse_assignment('context.note="a=b"') == ("context.note", "a=b")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("context.app", "--set 'context.app': expected PATH=JSON, e.g. integrations.All=false"),
        ("=1", "--set '=1': expected PATH=JSON, e.g. integrations.All=false"),
        ("a..b=1", "--set 'a..b=1': expected PATH=JSON, e.g. integrations.All=false"),
        ("context.app.name=shop", "--set 'context.app.name=shop': the value is not JSON (strings need quotes: "
                                  "--set 'context.app.name=\"shop\"')"),
    ],
)
def test_a_bad_set_says_what_is_expected(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as bad:
        parse_assignment(text)
    assert str(bad.value) == reason
