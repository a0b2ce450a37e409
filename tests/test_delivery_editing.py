"""Forwarding's byte-level editor (debugger.delivery.editing) agrees with parse-decide-serialise
on generated blocks: integrations objects (empty, excluding, nested, spelled with escapes),
field orders, the collector's own tail, non-objects; and reads receivedAt as the parser does."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.delivery.editing import edit_block, received_counts, runs
from debugger.delivery.integrations import excluded
from debugger.delivery.layout import Layout, learn

DESTINATION = "null"
INTEGRATIONS = [{}, {"All": False}, {"null": False}, {"All": False, "null": True}, {"other": False},
                {"null": {"x": 1}}, {"All": True}]
text = st.sampled_from(["", "a", '"', "\\", "}", "{", '"integrations":{"All":false}', "ü😀", "\u0001",
                        "2024-05-01T10:00:00.000Z", "receivedAt", '"receivedAt":"x"'])
values = st.recursive(st.one_of(st.none(), st.integers(-(2**40), 2**40), text),
                      lambda inner: st.dictionaries(st.sampled_from(["integrations", "receivedAt", "p"]), inner,
                                                    max_size=2), max_leaves=4)


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    """A line as the collector writes it (receivedAt, then maybe a timestamp, last) or in any
    field order, sometimes with escaped names, sometimes not an object at all."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.sampled_from([b"[1]", b"{torn", b'{"a":1', b"nul", b'"x"']))
    message: dict[str, Any] = {"type": "track", "messageId": draw(st.sampled_from(["m1", "m2", 'm"3']))}
    if draw(st.booleans()):
        message["integrations"] = draw(st.sampled_from(INTEGRATIONS))
    if draw(st.booleans()):
        message["properties"] = draw(values)
    message["sentAt"] = "2024-05-01T10:00:00.000Z"
    message["writeKey"] = draw(st.sampled_from(["wk_1", "wk_2", 'k"q']))
    message["receivedAt"] = draw(st.sampled_from(["2024-05-01T10:00:01.000Z", "2024-05-01T10:00:02.000Z", 'r"']))
    if draw(st.booleans()):
        message["timestamp"] = "2024-05-01T10:00:00.500Z"
    if kind == 1:
        order = draw(st.permutations(list(message)))
        message = {name: message[name] for name in order}
    raw = orjson.dumps(message)
    if kind == 2:
        raw = json.dumps(message, separators=(",", ":")).encode()  # ASCII: \u escapes
    if kind == 3:
        raw = raw.replace(b'"integrations":', b'"integr\\u0061tions":')
    return raw


def expected(raw: bytes, write_key: str | None) -> tuple[str, str | None, bytes | None]:
    """What the parser decides: ("broken" | "filtered" | "sent", key, bytes)."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "broken", None, None
    if not isinstance(message, dict):
        return "broken", None, None
    if excluded(message, DESTINATION):
        return "filtered", None, None
    message.pop("sentAt", None)
    if write_key is not None:
        message.pop("writeKey", None)
        return "sent", write_key, orjson.dumps(message)
    key = message.get("writeKey")
    return "sent", key if isinstance(key, str) else None, orjson.dumps(message)


@settings(max_examples=300, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=40), st.sampled_from([None, "wk_forward"]), st.booleans())
def test_edit_block_agrees_with_the_parser(block: list[bytes], write_key: str | None, uniform: bool) -> None:
    if uniform:  # a run long enough for layout.edit_run's whole-run path
        block = [block[0]] * 40
    edited = edit_block(block, b"\n".join(block), DESTINATION, write_key)
    broken, filtered = set(edited.broken), len(edited.filtered)
    for index, raw in enumerate(block):
        outcome, key, item = expected(raw, write_key)
        if outcome == "sent" and edited.items[index] is None and index not in broken:
            raise AssertionError(f"line {index} not sent: {raw!r}")
        if outcome == "sent":
            assert edited.items[index] is not None, raw
            assert orjson.loads(edited.items[index] or b"") == orjson.loads(item or b""), raw
            assert edited.keys[index] == key, raw
        elif outcome == "filtered":
            assert edited.items[index] is None, raw
        elif edited.items[index] is not None:  # a broken line the bytes let through: the
            assert edited.items[index] == raw  # destination refuses it (narrowed down)
    assert filtered == sum(expected(raw, write_key)[0] == "filtered" for raw in block)
    assert broken <= {i for i, raw in enumerate(block) if expected(raw, write_key)[0] == "broken"}
    covered = [i for start, end in runs(edited.keys, edited.items) for i in range(start, end)]
    assert covered == [i for i, item in enumerate(edited.items) if item is not None]


@settings(max_examples=300, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=40), st.booleans())
def test_received_counts_agree_with_the_parser(block: list[bytes], uniform: bool) -> None:
    if uniform:
        block = [block[0]] * 20
    wanted: Counter[str | None] = Counter()
    for raw in block:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
        value = message.get("receivedAt") if isinstance(message, dict) else None
        wanted[value if isinstance(value, str) else None] += 1
    assert received_counts(block) == wanted


def test_the_usual_block_needs_no_parse() -> None:
    """The SDK default `"integrations":{}` and the collector's tail are settled from bytes: a
    block of them has no line to decide, whatever their keys."""
    block = [orjson.dumps({"type": "track", "integrations": {}, "sentAt": "s", "writeKey": f"wk_{n % 2}",
                           "receivedAt": "2024-05-01T10:00:01.000Z"}) for n in range(50)]
    edited = edit_block(block, b"\n".join(block), DESTINATION, None)
    assert not edited.broken and not edited.filtered
    assert list(runs(edited.keys, edited.items))[:2] == [(0, 1), (1, 2)]
    assert all(b"sentAt" not in item for item in edited.items if item is not None)


def test_a_block_of_sdk_defaults_still_filters_its_one_excluding_line() -> None:
    """Counting `"integrations":{}` across the block settles it only when every occurrence of
    the name is one: a single non-empty object (or the name quoted in a value) sends the
    block line by line."""
    usual = [orjson.dumps({"integrations": {}, "type": "track", "messageId": f"m{n}", "sentAt": "s",
                           "writeKey": "wk", "receivedAt": "2024-05-01T10:00:01.000Z"}) for n in range(40)]
    excluding = orjson.dumps({"integrations": {"null": False}, "type": "track", "messageId": "x",
                              "writeKey": "wk", "receivedAt": "2024-05-01T10:00:01.000Z"})
    named = orjson.dumps({"integrations": {}, "properties": {"p": 'integrations":{}'}, "messageId": "y",
                          "writeKey": "wk"})
    block = [*usual[:20], excluding, named, *usual[20:]]
    edited = edit_block(block, b"\n".join(block), DESTINATION, None)
    assert [m["messageId"] for m in edited.filtered] == ["x"]
    assert [i for i, item in enumerate(edited.items) if item is None] == [20]
    assert not edited.broken


def parsed_received(raw: bytes) -> str | None:
    """The oracle: what the parser reads, the top-level receivedAt when it is a string."""
    with contextlib.suppress(orjson.JSONDecodeError):
        parsed = orjson.loads(raw)
        found = parsed.get("receivedAt") if isinstance(parsed, dict) else None
        return found if isinstance(found, str) else None
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=40), st.sampled_from([None, "wk_forward"]), st.integers(0, 3),
       st.integers(1, 7))
def test_lines_known_as_objects_in_pieces_edit_as_the_joined_block(block: list[bytes], write_key: str | None,
                                                                  repeat_first: int, piece: int) -> None:
    """What the outbox hands out from memory (the collector's own lines, each write's bytes a
    piece) is edited as the same lines read from the file, and every stretch whose receivedAt
    the edit proved reads it as the parser does."""
    block = [raw for raw in block if isinstance(_loads(raw), dict)]
    if not block:
        return
    if repeat_first:  # long runs of one layout: layout.edit_run's whole-run path
        block = [block[0]] * (20 * repeat_first) + block
    pieces = [b"".join(raw + b"\n" for raw in block[at : at + piece]) for at in range(0, len(block), piece)]
    from_file = edit_block(block, b"\n".join(block), DESTINATION, write_key)
    from_memory = edit_block(block, pieces, DESTINATION, write_key, objects=True)
    assert from_memory == from_file
    for start, end, at in from_memory.received:
        assert received_counts(block[start:end], at) == Counter(map(parsed_received, block[start:end]))
    if repeat_first and b"receivedAt" in block[0] and b"\\" not in block[0] and from_memory.received:
        assert from_memory.received_at(0, 20) is not None


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def test_the_collector_s_tail_proves_where_received_at_lies() -> None:
    """A block of the collector's lines: one proof edits them and says where receivedAt is
    (forwarding's latencies need no second proof); a parcel inside reads it there."""
    block = [orjson.dumps({"type": "track", "messageId": f"m{n}", "sentAt": "2024-05-01T10:00:00.000Z",
                           "writeKey": "wk", "receivedAt": f"2024-05-01T10:00:0{n // 20}.000Z",
                           "timestamp": "2024-05-01T10:00:00.500Z"}) for n in range(60)]
    edited = edit_block(block, [b"\n".join(block) + b"\n"], DESTINATION, None, objects=True)
    where = edited.received_at(10, 50)
    assert where is not None and edited.received == [(0, 60, where)]
    assert received_counts(block[10:50], where) == Counter({"2024-05-01T10:00:00.000Z": 10,
                                                            "2024-05-01T10:00:01.000Z": 20,
                                                            "2024-05-01T10:00:02.000Z": 10})


def test_an_escaped_integrations_object_in_any_piece_is_decided_by_the_parser() -> None:
    """Lines known to be objects still get the byte checks that matter: a `\\u00` escape
    spelling "integrations" in the last write of a block keeps that message from the
    destination it excludes."""
    usual = [orjson.dumps({"type": "track", "messageId": f"m{n}", "sentAt": "s", "writeKey": "wk",
                           "receivedAt": "2024-05-01T10:00:01.000Z"}) for n in range(40)]
    escaped = b'{"integr\\u0061tions":{"null":false},"messageId":"x","writeKey":"wk"}'
    block = [*usual, escaped]
    pieces = [b"\n".join(usual[:20]) + b"\n", b"\n".join(usual[20:]) + b"\n", escaped + b"\n"]
    edited = edit_block(block, pieces, DESTINATION, None, objects=True)
    assert [m["messageId"] for m in edited.filtered] == ["x"]
    assert edited.items[40] is None and None not in edited.items[:40]


def column_by_column(layout: Layout, lines: list[bytes]) -> bool:
    """Layout.tails_match as first written: one column per constant byte, no padding."""
    count, step = len(lines), layout.length
    tails = b"".join(raw[-step:] for raw in lines)
    if len(tails) != count * step or tails.count(b'"') != count * layout.quotes or b"\\" in tails:
        return False
    return all(tails[offset::step] == byte * count for offset, byte in layout.constants)


@settings(max_examples=400, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=8), st.data())
def test_word_columns_prove_what_byte_columns_prove(block: list[bytes], data: st.DataObject) -> None:
    """tails_match's 8-byte words (padding after each tail) accept exactly the lines that one
    column per byte accepts, for lines changed at any byte of their tails."""
    layout = learn(block[0], True, data.draw(st.booleans()))
    if layout is None or not layout.length:
        return
    changed = []
    for raw in [block[0], *block]:
        for _ in range(data.draw(st.integers(0, 2)) if raw else 0):  # two: a moved quote
            at = data.draw(st.integers(1, min(len(raw), layout.length + 9)))
            raw = raw[:-at] + bytes([data.draw(st.sampled_from(b'"\\\0,:}ax'))]) + raw[len(raw) - at + 1:]
        changed.append(raw)
    assert layout.tails_match(changed) == column_by_column(layout, changed)
    assert layout.tails_match([block[0]] * 3)


def test_every_constant_byte_of_a_collector_tail_is_checked() -> None:
    """Each known byte of the tail, changed (a quote moved into the value beside it instead,
    so the count of quotes stays), makes tails_match refuse the line, in 8-byte words or alone."""
    raw = orjson.dumps({"type": "track", "messageId": "m1", "sentAt": "2024-05-01T10:00:00.000Z",
                        "writeKey": "wk_bench", "receivedAt": "2024-05-01T10:00:01.000Z",
                        "originalTimestamp": "2024-05-01T09:59:59.000Z"})
    for drop_write_key in (False, True):
        layout = learn(raw, True, drop_write_key)
        assert layout is not None and layout.tails_match([raw] * 5)
        start = len(raw) - layout.length
        for offset, byte in layout.constants:
            at = start + offset
            if byte == b'"':
                beside = at + 1 if raw[at + 1 : at + 2] not in (b'"', b",", b"}", b":") else at - 1
                changed = bytearray(raw)
                changed[at], changed[beside] = changed[beside], changed[at]
            else:
                changed = bytearray(raw)
                changed[at] = ord("x") if byte != b"x" else ord("y")
            lines = [raw, raw, bytes(changed), raw]
            assert not layout.tails_match(lines), (offset, byte)
            assert not column_by_column(layout, lines)
