"""Byte-level edits of one compact JSON object line, so the hot path never re-serialises.

Shared by replay and forwarding (both drop the stale `sentAt` and read the write key of
every archived line); it lives in debugger.delivery because debugger must not import replay.

A top-level key is found from the end (`rfind`: the collector appends sentAt, writeKey and
receivedAt last, so the search is short) and is proven top-level when no closing brace
follows it before the final one (a nested key's object would close there first). Anything else answers AMBIGUOUS and the caller parses the line for real.
"""

from __future__ import annotations

from enum import Enum
from itertools import repeat
from operator import getitem
from typing import Callable, Final, cast


class _Ambiguous(Enum):
    """A one-member enum, so that `x is AMBIGUOUS` narrows `x`'s type for mypy."""

    AMBIGUOUS = "AMBIGUOUS"

    def __repr__(self) -> str:
        return "AMBIGUOUS"


AMBIGUOUS: Final = _Ambiguous.AMBIGUOUS


def looks_like_object(raw: bytes) -> bool:
    """The O(1) shape check of the fast path: `{...}`. Lines that fail it are parsed exactly."""
    return raw[:1] == b"{" and raw[-1:] == b"}"


def all_look_like_objects(lines: list[bytes]) -> bool:
    """`looks_like_object` for every line at once, with no Python step per line: their first
    bytes joined, then their last. Measured on 1 MB of 600-byte lines: 0.07 us a line, where
    counting `}\n{` in the block (a three-byte needle whose bytes JSON is full of) took 0.36."""
    count = len(lines)
    return (b"".join(map(_cut, lines, repeat(_FIRST))) == b"{" * count
            and b"".join(map(_cut, lines, repeat(_LAST))) == b"}" * count)


_cut = cast(Callable[[bytes, slice], bytes], getitem)
_FIRST, _LAST = slice(0, 1), slice(-1, None)


def locate(raw: bytes, key: bytes) -> tuple[int, int] | None | _Ambiguous:
    """(start of `"key":`, end of its value) for a top-level key with a string or scalar value."""
    needle = b'"' + key + b'":'
    start = raw.rfind(needle)
    if start < 0:
        return None
    last = len(raw) - 1
    if raw.find(b"}", start, last) >= 0:
        return AMBIGUOUS  # nested (its object closes before the last brace), or not last
    value = start + len(needle)
    if raw[value : value + 1] == b'"':
        end = raw.find(b'"', value + 1)
        if end < 0 or raw.find(b"\\", value, end) >= 0:
            return AMBIGUOUS
        return start, end + 1
    if raw[value : value + 1] == b"[":
        return AMBIGUOUS
    comma = raw.find(b",", value)
    return start, comma if comma >= 0 else last


def drop_key(raw: bytes, key: bytes) -> bytes | _Ambiguous:
    """`raw` without its top-level `key` (unchanged when absent)."""
    found = locate(raw, key)
    if found is None:
        return raw
    if found is AMBIGUOUS:
        return AMBIGUOUS
    start, end = found
    if raw[end : end + 1] == b",":
        return raw[:start] + raw[end + 1 :]
    if raw[start - 1 : start] == b",":
        return raw[: start - 1] + raw[end:]
    return raw[:start] + raw[end:]


def string_value(raw: bytes, key: bytes) -> str | None | _Ambiguous:
    """The top-level string value of `key` (None when absent or not a string)."""
    found = locate(raw, key)
    if found is None or found is AMBIGUOUS:
        return found
    start, end = found
    value = raw[start + len(key) + 3 : end]
    if value[:1] != b'"':
        return None
    try:
        return value[1:-1].decode()
    except UnicodeDecodeError:
        return AMBIGUOUS


def cut_field(raw: bytes, start: int, end: int) -> bytes:
    """`raw` without the field `raw[start:end]` (`"name":"value"`, followed by `,` or the final
    `}`) and without one of the commas around it."""
    if raw[end] == 44:  # a comma follows: cut the field and that comma
        return raw[:start] + raw[end + 1 :]
    if raw[start - 1] == 44:  # the last field: cut the comma before it
        return raw[: start - 1] + raw[end:]
    return raw[:start] + raw[end:]


Spans = tuple[int, int, int, int]  # writeKey's field (start, end), sentAt's; (-1, 0) if absent


def field_spans(raw: bytes, search: Callable[[bytes, bytes], int], drop_sent_at: bool) -> Spans | None:
    """Where the top-level writeKey and (when it is dropped) sentAt fields of `raw`, a line
    that is a JSON object, start and end (`raw[end]` being the `,` or final `}` after each), as
    found by `search` (`bytes.find`: fields at the front; `bytes.rfind`: at the end);
    None when the bytes do not prove it (then the parser decides). See `_span` and
    `_outermost` for why the bytes suffice.
    """
    key = _span(raw, b'"writeKey"', search)
    sent = _span(raw, b'"sentAt"', search) if drop_sent_at else (-1, 0)
    if key is None or sent is None:
        return None
    present = [at for at, _ in (key, sent) if at >= 0]
    if present and not _outermost(raw, min(present), max(present)):
        return None
    return key[0], key[1], sent[0], sent[1]


def _span(raw: bytes, name: bytes, search: Callable[[bytes, bytes], int]) -> tuple[int, int] | None:
    """(start, end) of the field `"name":"value"` that `search` finds (`raw[end]` is the `,`
    or `}` after it), (-1, 0) when there is none; None when unsure. Not yet its depth.

    - A found `"name"` whose byte before is `{` or `,` and after is `:"` is a key with a
      string value: its first quote is not escaped (a quote inside a string always is), so it
      opens a string, the name, followed by `:`.
    - Its value ends at the next quote byte unless that one is escaped.
    - A line seemingly without the field may spell its name with escapes (`"sent\\u0041t"`):
      lines holding `\\u00` are unsure.
    - Duplicate top-level names: RFC 8259 leaves their meaning to each parser; the occurrence
      `search` finds is the one used.
    """
    at = search(raw, name)
    if at < 0:
        return None if raw.find(b"\\") >= 0 and b"\\u00" in raw else (-1, 0)
    value = at + len(name) + 2  # the value's first byte, after `:"`
    end = raw.find(b'"', value) + 1  # 0 when unterminated: then raw[0:1] is `{`
    if (raw[value - 2 : value] != b':"' or raw[at - 1] not in b"{," or raw[end - 2] == 92
            or raw[end : end + 1] not in _AFTER_VALUE):
        return None
    return at, end


def _outermost(raw: bytes, low: int, high: int) -> bool:
    """Whether keys at `low` <= `high` are both fields of the outermost object: no `{` byte
    comes before them but the first, in or out of strings (a nested object would have opened
    there: the front of the line, as S3 exports and RudderStack write), or no `}` comes after
    them but the last byte (a nested object would close there: the end of the line, as the
    collector writes), or one of each. Arrays need no test: a key is always in an object.
    Bytes inside strings can only make these tests fail, never pass wrongly."""
    last = len(raw) - 1
    return (raw.find(b"{", 1, high) < 0 or raw.find(b"}", low, last) < 0
            or (raw.find(b"{", 1, low) < 0 and raw.find(b"}", high, last) < 0))


_AFTER_VALUE = (b",", b"}")


def edit_lines(lines: list[bytes], drop_sent_at: bool,
               drop_write_key: bool = False) -> tuple[list[str | None], list[bytes], list[int]]:
    """The per-line path, one tight loop over a run of lines whatever their layout: each line's
    top-level writeKey (None when dropped or absent) and its bytes without the top-level
    sentAt (and writeKey when dropped); `undecided` lists the lines the parser must handle
    (their key and bytes are placeholders). `field_spans` says why the bytes suffice; fields
    are searched from the front first, then (say, a nested sentAt before the top-level one)
    from the end.

    Every operation per line counts here (this loop is most of replay's CPU on an archive
    whose layout varies); consecutive lines nearly always share a write key, so one
    `startswith` replaces slicing and decoding it again."""
    keys: list[str | None] = []
    items: list[bytes] = []
    undecided: list[int] = []
    add_key, add_item = keys.append, items.append
    spans, first, final = field_spans, bytes.find, bytes.rfind
    seen, seen_key = b"\0", ""  # the last `"writeKey":"<key>"` decoded (none yet), and its key
    usual = drop_sent_at and not drop_write_key
    for raw in lines:
        if usual:  # the usual case, inline: `field_spans`' checks, the previous line's key
            key_at = raw.find(seen)
            sent_at = raw.find(b'"sentAt":"')
            if key_at > 0 and sent_at > 0:
                end = raw.find(b'"', sent_at + 10) + 1  # 0 when unterminated: then raw[0] is `{`
                if (raw[end] == 44 and raw[end - 2] != 92 and raw[key_at - 1] in b"{," and raw[sent_at - 1] in b"{,"
                        and (raw.find(b"{", 1, key_at if key_at > sent_at else sent_at) < 0
                             or raw.find(b"}", sent_at if key_at > sent_at else key_at, len(raw) - 1) < 0)):
                    add_key(seen_key)
                    add_item(raw[:sent_at] + raw[end + 1 :])
                    continue
        found = spans(raw, first, drop_sent_at) or spans(raw, final, drop_sent_at)
        if found is None:
            undecided.append(len(items))
            add_key(None)
            add_item(raw)
            continue
        key_at, key_end, sent_at, sent_end = found
        if key_at < 0 or drop_write_key:
            add_key(None)
        elif raw.startswith(seen, key_at):
            add_key(seen_key)
        else:
            key = _decoded(raw[key_at + 12 : key_end - 1])
            if key is None:
                seen = b"\0"
                undecided.append(len(items))
                add_key(None)
                add_item(raw)
                continue
            seen, seen_key = raw[key_at:key_end], key
            add_key(key)
        if drop_write_key and key_at >= 0:
            if sent_at > key_at:  # the later field first: the earlier one's offsets still hold
                raw = cut_field(raw, sent_at, sent_end)
                sent_at = -1
            raw = cut_field(raw, key_at, key_end)
        if sent_at >= 0:
            raw = cut_field(raw, sent_at, sent_end)
        add_item(raw)
    return keys, items, undecided


def _decoded(value: bytes) -> str | None:
    """A write key's text; None when it holds an escape (the parser unescapes) or bad UTF-8."""
    if b"\\" in value:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None


def edit_line(raw: bytes, drop_sent_at: bool) -> tuple[str | None, bytes] | None:
    """`edit_lines` for one line: (writeKey, edited bytes), or None when the parser must decide."""
    keys, items, undecided = edit_lines([raw], drop_sent_at)
    return None if undecided else (keys[0], items[0])


def prepend_field(raw: bytes, key: str, encoded_value: bytes) -> bytes:
    """`raw` with `"key": value` as its first field (the caller knows the key is absent)."""
    field = b'"' + key.encode() + b'":' + encoded_value
    return b"{" + field + (b"," if raw != b"{}" else b"") + raw[1:]
