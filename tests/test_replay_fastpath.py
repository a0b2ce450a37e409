"""Replay's fast path on any layout: byte-level edits (debugger.delivery.rawjson.edit_lines) and whole
chunks through the Transformer agree with parse-edit-serialise on generated archives whose
field order, escapes, nesting and unicode vary, or leave the line to the parser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.archive import parse_line
from debugger.delivery.layout import Proven
from debugger.delivery.rawjson import edit_lines
from replay.reader import (
    ArchiveReader, BadInputLine, Chunk, SelectedLine, Selection, line_time, lines_times, original_time,
)
from replay.transform import Transformation, Transformer

NAMES = ["sentAt", "writeKey", "type", "context", "properties", "messageId", "a{", "}b", "[", 'q"', "é",
         'a"sentAt', 'a"writeKey']
text = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["", '"', "\\", "}", "{", "[", "]", ",", '","sentAt":"x', '\\"writeKey\\":', "ü€😀",
                     "\u0000", "\n", "2024-05-01T10:00:00.000Z", "sentAt", '"writeKey":"k"']),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), text)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(NAMES), inner, max_size=3),
    max_leaves=6,
)
keys = st.one_of(st.sampled_from(["wk_1", "wk_2", "", "ü", 'k"q', "k\\", "k}"]), text)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """A message whose top-level fields come in any order; sentAt and writeKey usually strings
    (as archives have them), sometimes anything, sometimes absent."""
    fields = draw(st.dictionaries(st.sampled_from(NAMES[2:]), values, max_size=4))
    if draw(st.integers(0, 4)):
        fields["sentAt"] = draw(st.one_of(st.just("2024-05-01T10:00:00.000Z"), text, values,
                                          st.sampled_from(['a",b', 'a\\",b', "a\\", '"', "{", "}"])))
    if draw(st.integers(0, 4)):
        fields["writeKey"] = draw(st.one_of(keys, values))
    order = draw(st.permutations(list(fields)))
    return {name: fields[name] for name in order}


def serialised(message: dict[str, Any], style: str) -> bytes:
    """A line as some tool writes it: compact orjson, ASCII-only json (\\u escapes), spaced json,
    or orjson with the name of sentAt/writeKey spelled with a \\u escape."""
    if style == "ascii":
        return json.dumps(message, separators=(",", ":")).encode()
    if style == "spaced":
        return json.dumps(message, ensure_ascii=False).encode()
    raw = orjson.dumps(message)
    if style == "escaped-name":
        raw = raw.replace(b'"sentAt":', b'"sent\\u0041t":').replace(b'"writeKey":', b'"write\\u004bey":')
    return raw


def expected(raw: bytes, drop_sent_at: bool, drop_write_key: bool) -> tuple[str | None, dict[str, Any]]:
    """What parse-edit-serialise makes of a line (the slow path's rule)."""
    message = orjson.loads(raw)
    key = message.get("writeKey")
    if drop_write_key:
        message.pop("writeKey", None)
    if drop_sent_at:
        message.pop("sentAt", None)
    return (key if isinstance(key, str) and not drop_write_key else None), message


styles = st.sampled_from(["orjson", "orjson", "orjson", "ascii", "spaced", "escaped-name"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(messages(), styles), min_size=1, max_size=8), st.booleans(), st.booleans())
def test_edit_lines_agrees_with_the_parser_or_defers(run: list[tuple[dict[str, Any], str]], drop_sent_at: bool,
                                                     drop_write_key: bool) -> None:
    lines = [serialised(message, style) for message, style in run]
    got_keys, items, undecided = edit_lines(lines, drop_sent_at, drop_write_key)
    assert len(got_keys) == len(items) == len(lines)
    for index, raw in enumerate(lines):
        if index not in undecided:
            assert (got_keys[index], orjson.loads(items[index])) == expected(raw, drop_sent_at, drop_write_key)


def same_key(message: dict[str, Any]) -> dict[str, Any]:
    """Most lines of an archive share one write key: the loop's fastest case (and a name that
    ends like `writeKey` may hold the same bytes)."""
    return {name: "wk_1" if name in ("writeKey", 'a"writeKey') else value for name, value in message.items()}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(messages().map(same_key), styles), min_size=2, max_size=10))
def test_lines_sharing_a_write_key_agree_with_the_parser_or_defer(run: list[tuple[dict[str, Any], str]]) -> None:
    lines = [serialised(message, style) for message, style in run]
    got_keys, items, undecided = edit_lines(lines, True)
    for index, raw in enumerate(lines):
        if index not in undecided:
            assert (got_keys[index], orjson.loads(items[index])) == expected(raw, True, False)


def test_fields_at_the_front_or_the_end_are_edited_without_the_parser() -> None:
    front = b'{"type":"track","sentAt":"t","writeKey":"wk","properties":{"sentAt":"nested"},"context":{}}'
    end = b'{"properties":{"sentAt":"nested","writeKey":"n"},"sentAt":"t","writeKey":"wk","receivedAt":"r"}'
    split = b'{"writeKey":"wk","properties":{"a":1},"sentAt":"t"}'
    keys, items, undecided = edit_lines([front, end, split], True)
    assert undecided == [] and keys == ["wk", "wk", "wk"]
    assert [orjson.loads(item) for item in items] == [expected(raw, True, False)[1] for raw in (front, end, split)]


def test_a_name_that_only_ends_like_write_key_is_not_taken_for_it() -> None:
    """The previous line's `"writeKey":"wk_1"` bytes inside the name `a"writeKey`."""
    lines = [b'{"writeKey":"wk_1","sentAt":"t","a":1}', b'{"a\\"writeKey":"wk_1","sentAt":"t","b":2}']
    got_keys, items, undecided = edit_lines(lines, True)
    assert got_keys[0] == "wk_1" and (1 in undecided or got_keys[1] is None)


@pytest.mark.parametrize("raw", [
    b'{"p":{"a":1},"sentAt":"t","q":{"b":2}}',  # between two objects: depth unknown from bytes
    b'{"sentAt":"a\\"b","x":1}',  # an escaped quote in the value
    b'{"sent\\u0041t":"t","x":1}',  # sentAt spelled with an escape
    b'{"sentAt" : "t"}',  # spaces around the colon
    b'{"a\\"sentAt":1}',  # the name's bytes closing another name
])
def test_lines_the_bytes_cannot_prove_go_to_the_parser(raw: bytes) -> None:
    assert edit_lines([raw], True)[2] == [0]


def run_archive(tmp_path: Path, lines: list[bytes], spec: Transformation) -> list[tuple[str, int, Any, Any]]:
    """(what, ordinal, key, message) for every line, read as replay's hot path reads it."""
    path = tmp_path / "a.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    transform = Transformer(spec)
    out: list[tuple[str, int, Any, Any]] = []
    for entry in ArchiveReader([str(path)], Selection(), parse_all=False, chunks=True):
        if isinstance(entry, Chunk):
            chunk_keys, items, broken = transform.chunk(entry)
            for index, (key, item) in enumerate(zip(chunk_keys, items, strict=True)):
                out.append(("bad", entry.first + index, None, None) if index in broken
                           else ("sent", entry.first + index, key, parse_line(item)))
        elif isinstance(entry, SelectedLine):
            key, item = transform(entry)
            out.append(("sent", entry.ordinal, key, parse_line(item)))
        else:
            assert isinstance(entry, BadInputLine)
            out.append(("bad", entry.ordinal, None, None))
    return out


broken_lines = st.sampled_from([b"not json", b"[1,2]", b"{broken}", b'{"a":', b"", b"   ", b'"x"'])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.tuples(messages(), styles).map(lambda pair: serialised(*pair)), broken_lines),
                min_size=1, max_size=60),
       st.sampled_from([Transformation(), Transformation(sent_at="keep"), Transformation(write_key="override")]))
def test_the_hot_path_sends_what_the_parser_would(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes],
                                                  spec: Transformation) -> None:
    """Chunks through the Transformer against each line parsed and edited as a message; lines
    that only look like objects may be sent as they are (the endpoint refuses them, see run.done)."""
    got = run_archive(tmp_path_factory.mktemp("fast"), lines, spec)
    transform = Transformer(spec)
    ordinal = 0
    for raw in lines:
        if not raw.strip():
            continue
        what, at, key, message = got[ordinal]
        assert at == ordinal
        parsed = parse_line(raw)
        if isinstance(parsed, str):
            assert what == "bad" or (raw[:1] == b"{" and raw[-1:] == b"}")
        else:
            want_key, want = transform(SelectedLine(ordinal, "a", ordinal + 1, raw, parsed))
            assert (what, key, message) == ("sent", want_key, orjson.loads(want))
        ordinal += 1
    assert ordinal == len(got)


times = st.one_of(st.sampled_from(["2024-05-01T10:00:00.000Z", "2024-05-01T10:00:01Z", "2024-05-01T12:00:00+02:00",
                                   "2024-05-01", "yesterday", "", "2024-05-01T10:00:00.000Z\\"]), values)


@st.composite
def timed_messages(draw: st.DrawFn) -> dict[str, Any]:
    """receivedAt and timestamp anywhere (or absent, or nested in properties), any value."""
    fields = draw(messages())
    for name in ("receivedAt", "timestamp"):
        if draw(st.integers(0, 3)):
            fields[name] = draw(times)
    if draw(st.booleans()):
        fields["properties"] = {"receivedAt": draw(times), "timestamp": draw(times)}
    order = draw(st.permutations(list(fields)))
    return {name: fields[name] for name in order}


@settings(max_examples=400, deadline=None)
@given(timed_messages(), styles)
def test_line_time_reads_what_parsing_reads(message: dict[str, Any], style: str) -> None:
    """--speed on the fast path: an unparsed line's original time, as the slow path reads it."""
    raw = serialised(message, style).replace(b'"receivedAt":', b'"received\\u0041t":') if style == "escaped-name" \
        else serialised(message, style)
    assert line_time(raw) == original_time(orjson.loads(raw))


def test_line_time_reads_a_collector_tail_and_not_a_nested_one() -> None:
    """The tail shortcut: a collector's line gives its receivedAt without a parse; a nested
    receivedAt at the very end, or one whose value holds an escape, is not taken for it."""
    line = (b'{"type":"track","timestamp":"2024-05-01T09:59:59.000Z","sentAt":"2024-05-01T10:00:01.000Z",'
            b'"writeKey":"wk","receivedAt":"2024-05-01T10:00:00.500Z","originalTimestamp":"2024-05-01T09:59:58.000Z"}')
    assert line_time(line) == original_time(orjson.loads(line)) == 1714557600.5
    nested = b'{"receivedAt":"2024-05-01T10:00:00.000Z","context":{"a":"b","receivedAt":"2030-01-01T00:00:00.000Z"}}'
    assert line_time(nested) == original_time(orjson.loads(nested)) == 1714557600.0
    odd = b'{"timestamp":"2024-05-01T10:00:00.000Z","receivedAt":"yesterday"}'
    assert line_time(odd) == original_time(orjson.loads(odd)) == 1714557600.0


@st.composite
def collector_runs(draw: st.DrawFn) -> list[bytes]:
    """Lines as a collector writes them (receivedAt in the last fields, shared by a call's
    lines, sometimes not a time, sometimes followed by a nested one), with odd lines between."""
    lines: list[bytes] = []
    for _ in range(draw(st.integers(1, 4))):
        received = draw(st.builds("2024-05-01T10:00:{:02d}.{:03d}Z".format, st.integers(0, 59), st.integers(0, 999))
                        | times)
        tail = draw(st.sampled_from(["plain", "original", "nested"]))
        for index in range(draw(st.integers(1, 3)) * draw(st.sampled_from([1, 16]))):
            message: dict[str, Any] = {"type": "track", "messageId": f"m{index}", "timestamp": draw(times),
                                       "sentAt": "2024-05-01T10:00:01.000Z", "writeKey": "wk", "receivedAt": received}
            if tail == "original":
                message["originalTimestamp"] = "2024-05-01T09:59:58.000Z"
            elif tail == "nested":
                message["context"] = {"receivedAt": "2030-01-01T00:00:00.000Z"}
            lines.append(orjson.dumps(message))
        if draw(st.booleans()):
            lines.append(serialised(draw(timed_messages()), draw(styles)))
    return lines


@settings(max_examples=150, deadline=None)
@given(collector_runs())
def test_a_chunks_times_are_what_parsing_reads(lines: list[bytes]) -> None:
    """--speed reads receivedAt where the edit proved a layout: the same times as parsing each line."""
    proven: Proven = []
    Transformer(Transformation()).chunk(Chunk(0, lines), proven)
    assert lines_times(lines, proven) == [original_time(orjson.loads(raw)) for raw in lines]
