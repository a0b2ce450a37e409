"""Replay's hot path: whole runs of lines edited at once (debugger.delivery.layout) and the block reader
that feeds them (replay.source), checked against parsing each line for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.archive import parse_line
from replay import reader as readers
from debugger.delivery.layout import MIN_RUN, Edited, edit_run, learn
from debugger.delivery.rawjson import all_look_like_objects
from replay.reader import ArchiveReader, BadInputLine, Chunk, SelectedLine, Selection


def declined(lines: list[bytes]) -> Edited:
    """A per-line editor that decides nothing: what is decided, the layout path decided."""
    return [None] * len(lines), list(lines), list(range(len(lines)))


def expected(message: dict[str, Any], drop_sent_at: bool, drop_write_key: bool) -> tuple[str | None, dict]:
    key = message.get("writeKey")
    dropped = {"sentAt"} if drop_sent_at else set()
    if drop_write_key:
        dropped.add("writeKey")
    return (key if isinstance(key, str) and not drop_write_key else None,
            {k: v for k, v in message.items() if k not in dropped})


def check(run: list[dict], drop_sent_at: bool = True, drop_write_key: bool = False) -> set[int]:
    """Every line the layout path decides is exactly what parse-edit-serialise gives."""
    lines = [orjson.dumps(message) for message in run]
    keys, items, undecided = edit_run(lines, drop_sent_at, drop_write_key, declined)
    assert len(keys) == len(items) == len(lines)
    for index, message in enumerate(run):
        if index not in undecided:
            assert (keys[index], orjson.loads(items[index])) == expected(message, drop_sent_at, drop_write_key)
    return set(undecided)


def collector_message(index: int, key: str = "wk_shop") -> dict[str, Any]:
    return {"type": "track", "event": f"Order {index}", "properties": {"sentAt": "nested", "n": index},
            "messageId": f"m-{index}", "sentAt": f"2024-05-01T10:00:{index % 60:02d}.000Z",
            "writeKey": key, "receivedAt": f"2024-05-01T10:01:{index % 60:02d}.123Z"}


def test_a_run_sharing_one_layout_is_edited_without_any_per_line_work() -> None:
    assert check([collector_message(i) for i in range(200)]) == set()
    assert check([collector_message(i) for i in range(200)], drop_sent_at=False) == set()
    assert check([collector_message(i) for i in range(200)], drop_write_key=True) == set()


def test_lines_that_differ_leave_the_layout_and_the_rest_stays_fast() -> None:
    run = [collector_message(i) for i in range(128)]
    run[40] = collector_message(40, key="other")  # another write key: never batched with wk_shop
    run[41] = {**collector_message(41), "late": {"sentAt": "nested after the top-level one"}}
    run[42]["sentAt"] = '2024-05-01T10:00:00.0"Z'  # a quote (escaped) inside a value
    run[43]["receivedAt"] = "2024-05-01T10:01:00Z"  # another length
    undecided = check(run)
    assert {41, 42, 43} <= undecided and len(undecided) < MIN_RUN * 2


def test_a_value_with_quotes_in_it_cannot_pass_for_the_layout() -> None:
    """Same length and the same bytes at every constant place, but `a","":"b` is two fields."""
    hostile = {"n": 1, "sentAt": "a", "": "b", "writeKey": "k1"}
    template = {"n": 1, "sentAt": "aaaaaaaa", "writeKey": "k1"}
    assert len(orjson.dumps(hostile)) == len(orjson.dumps(template))
    assert 2 * MIN_RUN - 1 in check([template] * (2 * MIN_RUN - 1) + [hostile])


def test_learn_refuses_tails_it_cannot_prove() -> None:
    assert learn(b'{"a":1,"sentAt":"x","n":2}', True, False) is None  # a number in the tail
    assert learn(b'{"sentAt":"x","p":{"a":1}}', True, False) is None  # an object after sentAt
    assert learn(b'{"a":1,"writeKey":"k\\"q"}', True, False) is None  # an escape in the key
    layout = learn(b'{"a":1}', True, False)  # no such fields: then no line may have them
    assert layout is not None and layout.key is None and layout.edit([b'{"b":{"sentAt":"x"}}']) is None


timestamp = st.text("0123456789", min_size=2, max_size=3)
value = st.one_of(timestamp, st.sampled_from(['a"b', "a\\", "}", "", "ü", "12"]))
heads = st.dictionaries(st.sampled_from(["type", "sentAt", "writeKey", "p", "{"]),
                        st.one_of(st.text(max_size=4), st.dictionaries(st.sampled_from(["sentAt", "writeKey"]),
                                                                     st.text(max_size=3), max_size=2)),
                        max_size=3)
tails = st.lists(st.sampled_from(["sentAt", "writeKey", "receivedAt", "n"]), min_size=1, max_size=4, unique=True)


@st.composite
def runs(draw: st.DrawFn) -> list[dict]:
    """Runs that mostly share a tail layout, with hostile variations here and there."""
    order = draw(tails)
    key = draw(st.sampled_from(["k1", "k2", "ü"]))
    run = []
    for _ in range(draw(st.integers(MIN_RUN, 3 * MIN_RUN))):
        head = {k: v for k, v in draw(heads).items() if k not in order}
        fields = {name: (key if name == "writeKey" else draw(timestamp)) for name in order}
        if draw(st.integers(0, 9)) == 0:  # a hostile line: another value, or its own order
            fields[draw(st.sampled_from(order))] = draw(st.one_of(value, st.integers(-10**6, 10**6), st.none()))
        if draw(st.integers(0, 19)) == 0:
            fields = dict(reversed(fields.items()))
        run.append({**head, **fields})
    return run


@settings(max_examples=200, deadline=None)
@given(runs(), st.booleans(), st.booleans())
def test_edit_run_agrees_with_the_parser_or_defers(run: list[dict], drop_sent_at: bool, drop_write_key: bool) -> None:
    check(run, drop_sent_at, drop_write_key)


def flattened(source: ArchiveReader) -> list[tuple[int, bytes, str]]:
    """(ordinal, bytes, what) for everything a source hands out, chunks line by line."""
    out = []
    for entry in source:
        if isinstance(entry, Chunk):
            out += [(entry.first + i, raw, "line") for i, raw in enumerate(entry.lines)]
        elif isinstance(entry, SelectedLine):
            out.append((entry.ordinal, entry.raw, "line"))
        else:
            assert isinstance(entry, BadInputLine)
            out.append((entry.ordinal, entry.raw, "bad"))
    return out


archive_lines = st.lists(st.one_of(
    st.builds(lambda i: orjson.dumps({"n": i, "sentAt": "x"}), st.integers(0, 10**6)),
    st.sampled_from([b"", b"   ", b"not json", b'{"a":1}\r', b"{broken}", b"[1]"])), max_size=40)


@settings(max_examples=100, deadline=None)
@given(lines=archive_lines, newline_at_end=st.booleans(), block=st.sampled_from([7, 64, 1 << 20]))
def test_block_reader_agrees_with_the_line_reader(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes],
                                                  newline_at_end: bool, block: int) -> None:
    """Whatever the block size (lines split across reads), the hot path hands out the same
    lines, ordinals and bad lines as reading line by line does."""
    path = tmp_path_factory.mktemp("blocks") / "a.ndjson"
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline_at_end else b""))
    fast = ArchiveReader([str(path)], Selection(), parse_all=False, chunks=True)
    slow = ArchiveReader([str(path)], Selection(), parse_all=False)
    original = readers.CHUNK_BYTES
    readers.CHUNK_BYTES = block
    try:
        got = flattened(fast)
    finally:
        readers.CHUNK_BYTES = original
    want = flattened(slow)
    if not newline_at_end and lines and lines[-1].strip():  # a last line without its newline:
        ordinal, raw, what = got.pop()  # the hot path parses it (torn?) where the line reader
        assert (ordinal, raw) == want.pop()[:2]  # only checks its shape
        assert what == ("bad" if isinstance(parse_line(raw), str) else "line")
    else:
        assert (fast.bad, fast.selected) == (slow.bad, slow.selected)
    assert got == want and (fast.position, fast.lines) == (slow.position, slow.lines)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.sampled_from([b"{}", b'{"a":"}"}', b"{x}", b"", b"}", b"{", b"x", b"{}\r", b"{\n}"]),
                      max_size=12),
       carry=st.sampled_from([b"", b"{", b"}", b'{"a"']), earlier=st.sampled_from([b"", b"{", b"{}"]))
def test_the_block_shape_check_agrees_with_checking_each_line(lines: list[bytes], carry: bytes,
                                                                earlier: bytes) -> None:
    """A block (with a carry before and after) passes exactly when each of its lines is `{...}`
    (the count of `}\\n{` it replaced declined a block whose first line began before it)."""
    data = b"".join(line + b"\n" for line in lines) + carry
    split = data.split(b"\n")
    split[0] = earlier + split[0]
    split.pop()  # the carry after the last newline: read with the next block
    each = all(raw[:1] == b"{" and raw[-1:] == b"}" for raw in split)
    assert all_look_like_objects(split) == each


def test_a_failed_file_read_in_blocks_keeps_lines_that_span_two_reads(tmp_path: Path) -> None:
    path = tmp_path / "a.failed.ndjson"
    records = [b'{"replayFailed":1,"status":500,"message":' + orjson.dumps({"n": i}) + b"}" for i in range(20)]
    path.write_bytes(b"\n".join(records) + b"\n")
    original = readers.CHUNK_BYTES
    readers.CHUNK_BYTES = 50
    try:
        got = flattened(ArchiveReader([str(path)], Selection(), parse_all=False, chunks=True))
    finally:
        readers.CHUNK_BYTES = original
    assert [raw for _, raw, _ in got] == [orjson.dumps({"n": i}) for i in range(20)]


def test_a_run_with_no_tail_to_learn_goes_to_the_per_line_editor_whole() -> None:
    """Fields at the front (exports, mixed archives): no tail layout to prove, so halving the
    run would only repeat the failed attempt; the per-line editor gets the run at once."""
    lines = [orjson.dumps({"sentAt": "t", "writeKey": "k", "properties": {"n": n}, "context": {}}) for n in range(200)]
    calls: list[int] = []

    def per_line(run: list[bytes]) -> Edited:
        calls.append(len(run))
        return declined(run)

    edit_run(lines, True, False, per_line)
    assert calls == [200]
