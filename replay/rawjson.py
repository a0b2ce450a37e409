"""Byte-level edits of one compact JSON object line, so the hot path never re-serialises.

Each function answers only when it is sure (the key occurs once, at the top level, with a plain
value); otherwise it returns AMBIGUOUS and the caller parses the line for real.
"""

from __future__ import annotations

from typing import Final


class _Ambiguous:
    def __repr__(self) -> str:
        return "AMBIGUOUS"


AMBIGUOUS: Final = _Ambiguous()


def looks_like_object(raw: bytes) -> bool:
    """A cheap, conservative shape check: `{...}`, balanced braces and brackets, compact keys,
    UTF-8. Lines that fail it are parsed exactly (and kept if they are fine after all)."""
    if raw[:1] != b"{" or raw[-1:] != b"}":
        return False
    if raw.count(b"{") != raw.count(b"}") or raw.count(b"[") != raw.count(b"]"):
        return False
    if b'" :' in raw or b'": ' in raw:
        return False
    if not raw.isascii():
        try:
            raw.decode()
        except UnicodeDecodeError:
            return False
    return True


def _locate(raw: bytes, key: bytes) -> tuple[int, int] | None | _Ambiguous:
    """(start of `"key":`, end of its string/scalar value) at the top level; None when absent."""
    needle = b'"' + key + b'":'
    start = raw.find(needle)
    if start < 0:
        return None
    if raw.find(needle, start + 1) >= 0:
        return AMBIGUOUS
    if raw.count(b"{", 0, start) - raw.count(b"}", 0, start) != 1:  # keys live in objects only
        return AMBIGUOUS
    value = start + len(needle)
    if raw[value : value + 1] == b'"':
        end = raw.find(b'"', value + 1)
        if end < 0 or raw[end - 1 : end] == b"\\":
            return AMBIGUOUS
        return start, end + 1
    if raw[value : value + 1] in (b"{", b"["):
        return AMBIGUOUS
    ends = [i for i in (raw.find(b",", value), raw.find(b"}", value)) if i >= 0]
    return (start, min(ends)) if ends else AMBIGUOUS


def drop_key(raw: bytes, key: bytes) -> bytes | _Ambiguous:
    """`raw` without its top-level `key` (unchanged when absent)."""
    found = _locate(raw, key)
    if found is None or found is AMBIGUOUS:
        return raw if found is None else AMBIGUOUS
    start, end = found  # type: ignore[misc]
    if raw[end : end + 1] == b",":
        return raw[:start] + raw[end + 1 :]
    if raw[start - 1 : start] == b",":
        return raw[: start - 1] + raw[end:]
    return raw[:start] + raw[end:]


def string_value(raw: bytes, key: bytes) -> str | None | _Ambiguous:
    """The top-level string value of `key` (None when absent or not a string)."""
    found = _locate(raw, key)
    if found is None or found is AMBIGUOUS:
        return found  # type: ignore[return-value]
    start, end = found  # type: ignore[misc]
    value = raw[start + len(key) + 3 : end]
    if value[:1] != b'"':
        return None
    return value[1:-1].decode()


def prepend_field(raw: bytes, key: str, encoded_value: bytes) -> bytes:
    """`raw` with `"key": value` as its first field (the caller knows the key is absent)."""
    field = b'"' + key.encode() + b'":' + encoded_value
    return b"{" + field + (b"," if raw != b"{}" else b"") + raw[1:]
