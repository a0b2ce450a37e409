"""Byte-level edits of one compact JSON object line, so the hot path never re-serialises.

A top-level key is found from the end (`rfind`: the collector appends sentAt, writeKey and
receivedAt last, so the search is short) and is proven top-level when no closing brace
follows it before the final one (a nested key's object would close there first). Anything else answers AMBIGUOUS and the caller parses the line for real.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class _Ambiguous(Enum):
    """A one-member enum, so that `x is AMBIGUOUS` narrows `x`'s type for mypy."""

    AMBIGUOUS = "AMBIGUOUS"

    def __repr__(self) -> str:
        return "AMBIGUOUS"


AMBIGUOUS: Final = _Ambiguous.AMBIGUOUS


def looks_like_object(raw: bytes) -> bool:
    """The O(1) shape check of the fast path: `{...}`. Lines that fail it are parsed exactly."""
    return raw[:1] == b"{" and raw[-1:] == b"}"


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


def edit_lines(lines: list[bytes], drop_sent_at: bool) -> tuple[list[str | None], list[bytes], list[int]]:
    """The hot path, one tight loop over a run of lines: each line's top-level writeKey and its
    bytes without the top-level sentAt; `undecided` lists the lines the parser must handle
    (their key and bytes are placeholders). The rules of `string_value` and `drop_key`, with
    the tail checks (no closing brace, no escape after the first key found) done once.

    Every operation per line counts here (~2 us/line was a third of replay's CPU), hence the
    bound `append`s and the key cache: consecutive lines nearly always share a write key, so
    one `startswith` replaces finding, slicing and decoding it again."""
    keys: list[str | None] = []
    items: list[bytes] = []
    undecided: list[int] = []
    add_key, add_item = keys.append, items.append
    seen, seen_key = b"\0", ""  # the last `"writeKey":"<key>"` decoded (none yet), and its key
    for raw in lines:
        key_at = raw.rfind(b'"writeKey":"')
        sent_at = raw.rfind(b'"sentAt":') if drop_sent_at else -1
        if sent_at < 0:
            if key_at < 0:
                add_key(None)
                add_item(raw)
                continue
            low = key_at
        else:
            low = sent_at if key_at < 0 or sent_at < key_at else key_at
        last = len(raw) - 1
        if raw.find(b"}", low, last) >= 0 or raw.find(b"\\", low, last) >= 0:
            undecided.append(len(items))
            add_key(None)
            add_item(raw)
            continue
        if key_at < 0:
            add_key(None)
        elif raw.startswith(seen, key_at):
            add_key(seen_key)
        else:
            end = raw.find(b'"', key_at + 12) + 1  # 0 if unterminated: not JSON, never cached
            seen, seen_key = raw[key_at:end] if end else b"\0", raw[key_at + 12 : end - 1].decode()
            add_key(seen_key)
        if sent_at < 0:
            add_item(raw)
            continue
        end = raw.find(b'"', sent_at + 10) + 1
        if raw[sent_at + 9] != 34 or end == 0:  # not a plain string value: let the parser decide
            undecided.append(len(items))
            add_item(raw)
        elif raw[end] == 44:  # a comma follows: cut the field and that comma
            add_item(raw[:sent_at] + raw[end + 1 :])
        elif raw[sent_at - 1] == 44:  # the last field: cut the comma before it
            add_item(raw[: sent_at - 1] + raw[end:])
        else:
            add_item(raw[:sent_at] + raw[end:])
    return keys, items, undecided


def edit_line(raw: bytes, drop_sent_at: bool) -> tuple[str | None, bytes] | None:
    """`edit_lines` for one line: (writeKey, edited bytes), or None when the parser must decide."""
    keys, items, undecided = edit_lines([raw], drop_sent_at)
    return None if undecided else (keys[0], items[0])


def prepend_field(raw: bytes, key: str, encoded_value: bytes) -> bytes:
    """`raw` with `"key": value` as its first field (the caller knows the key is absent)."""
    field = b'"' + key.encode() + b'":' + encoded_value
    return b"{" + field + (b"," if raw != b"{}" else b"") + raw[1:]
