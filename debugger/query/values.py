"""What a term means on one event: path lookup, value matching, comparisons, status.

Plain functions shared by the compiled matcher (for the unusual shapes its inline fast path
hands over: lists, numbers, nulls) and by the reference evaluator.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Iterator, Mapping

import orjson

from debugger.message import event_time, parse_time
from debugger.protocol import REFUSED
from debugger.query.nodes import Pattern

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_EMPTY: Mapping[str, Any] = {}


def number(text: str) -> int | float | None:
    """`text` as a number when it is written as one (no inf/nan/underscores), else None."""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def message_of(envelope: Mapping[str, Any]) -> Mapping[str, Any]:
    message = envelope.get("message")
    return message if isinstance(message, Mapping) else _EMPTY


def resolve(value: Any, keys: tuple[str, ...]) -> Iterator[Any]:
    """Every value at `keys` under `value`; a list on the way fans out to its items (or is
    indexed by a numeric key)."""
    if not keys:
        yield value
        return
    if isinstance(value, Mapping):
        if keys[0] in value:
            yield from resolve(value[keys[0]], keys[1:])
    elif isinstance(value, list):
        if keys[0].isdigit():
            index = int(keys[0])
            if index < len(value):
                yield from resolve(value[index], keys[1:])
        else:
            for item in value:
                yield from resolve(item, keys)


def matches_pattern(value: Any, pattern: Pattern) -> bool:
    """Does one value equal the pattern (case-insensitively, wildcards, lists: any item)?"""
    if isinstance(value, list):
        return any(matches_pattern(item, pattern) for item in value)
    if isinstance(value, str):
        text = value.lower()
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        wanted = None if pattern.wildcard else number(pattern.parts[0])
        if wanted is not None:
            return value == wanted
        text = json.dumps(value)
    else:
        return False
    if pattern.wildcard:
        return pattern.regex().fullmatch(text) is not None
    return text == pattern.parts[0]


def matches_any(value: Any, patterns: tuple[Pattern, ...]) -> bool:
    return any(matches_pattern(value, pattern) for pattern in patterns)


def compare(value: Any, op: str, threshold: float | datetime) -> bool:
    """`value op threshold` for numbers (not bools) or ISO timestamps; anything else is false."""
    if isinstance(value, list):
        return any(compare(item, op, threshold) for item in value)
    if isinstance(threshold, datetime):
        moment = parse_time(value)
        if moment is None:
            return False
        return _ordered(moment, op, threshold)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return _ordered(value, op, threshold)


def compare_moments(moment: datetime, op: str, threshold: datetime) -> bool:
    return _ordered(moment, op, threshold)


def _ordered(left: Any, op: str, right: Any) -> bool:
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def has_value(value: Any) -> bool:
    return value is not None


def problems_of(envelope: Mapping[str, Any]) -> list[Any]:
    problems = envelope.get("problems")
    return problems if isinstance(problems, list) else []


def is_refused(envelope: Mapping[str, Any]) -> bool:
    return envelope.get("status") == REFUSED


def has_level(envelope: Mapping[str, Any], level: str) -> bool:
    return any(isinstance(p, Mapping) and p.get("level") == level for p in problems_of(envelope))


def is_invalid(envelope: Mapping[str, Any]) -> bool:
    """Refused, or carrying an error-level problem."""
    return is_refused(envelope) or has_level(envelope, "error")


def moment_of(envelope: Mapping[str, Any]) -> datetime | None:
    """The event time: timestamp, originalTimestamp, receivedAt (message, then envelope)."""
    moment = event_time(message_of(envelope))
    return moment if moment is not None else parse_time(envelope.get("receivedAt"))


def haystack(envelope: Mapping[str, Any]) -> str:
    """The lowercased raw JSON text bare words search: `raw`, else the message as JSON."""
    raw = envelope.get("raw")
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).decode("utf-8", "replace")
    if not isinstance(raw, str):
        message = envelope.get("message")
        raw = "" if message is None else orjson.dumps(message, default=str).decode()
    return raw.lower()


def contains(text: str, needle: Pattern) -> bool:
    if needle.wildcard:
        return needle.regex().search(text) is not None
    return needle.parts[0] in text


def needles_for(pattern: Pattern) -> tuple[Pattern, ...]:
    """The ways a typed word can appear in JSON text: as typed, with JSON's escapes
    (quotes, backslashes, control characters) and with ASCII-only \\uXXXX escapes."""
    forms: list[Pattern] = []
    for ascii_only in (None, False, True):
        parts = pattern.parts if ascii_only is None else tuple(
            json.dumps(part, ensure_ascii=ascii_only)[1:-1].lower() for part in pattern.parts)
        candidate = Pattern(parts)
        if candidate not in forms:
            forms.append(candidate)
    return tuple(forms)
