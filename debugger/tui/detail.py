"""The text of the detail tabs (Raw, Problems, Request), from one envelope.

Plain strings only; the widgets decide how to colour them. Every payload-derived string has
its control characters made visible or JSON-escaped before it gets here.
"""

from __future__ import annotations

from typing import Any, Mapping

import orjson

from debugger.message import parse_time, shown_key, skew_seconds
from debugger.text import pictured, visible, visible_lines

RAW_DISPLAY_LIMIT = 64 * 1024


def raw_text(envelope: Mapping[str, Any]) -> tuple[str, bool]:
    """(text, is_json): pretty JSON of an accepted message; for a refused call the exact text
    the collector received (never parsed and re-serialised: duplicate keys and `1.50` stay as
    sent), cut at RAW_DISPLAY_LIMIT. Control characters are drawn as everywhere else."""
    message = envelope.get("message")
    if envelope.get("status") != "rejected" and isinstance(message, Mapping):
        # JSON leaves DEL, C1 and bidi controls raw: visible draws them as pictured draws the rest.
        return visible_lines(pictured(orjson.dumps(message, option=orjson.OPT_INDENT_2).decode())), True
    raw = envelope.get("raw")
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    if len(text) > RAW_DISPLAY_LIMIT:
        more = len(text) - RAW_DISPLAY_LIMIT
        return visible_lines(text[:RAW_DISPLAY_LIMIT]) + f"\n… {more:,} more characters (y copies all)", False
    try:
        orjson.loads(text)  # only to know whether to colour it as JSON
    except orjson.JSONDecodeError:
        return visible_lines(text), False
    return visible_lines(text), True


def problem_lines(envelope: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(level, line) per problem, errors first: "error  code  at path: message" + hint."""
    problems = sorted(envelope.get("problems") or [], key=lambda p: p.get("level") != "error")
    lines = []
    for item in problems:
        path = f" at {item['path']}" if item.get("path") else ""
        text = f"{item.get('level', '')}  {item.get('code', '')}{path}: {item.get('message', '')}"
        if item.get("hint"):
            text += f"\n    hint: {item['hint']}"
        # Rules quote payload text with repr (`\x1b`): drawn as the list draws it (␛).
        lines.append((str(item.get("level", "")), visible_lines(pictured(text))))
    return lines


def request_fields(envelope: Mapping[str, Any], mask_keys: bool = False) -> list[tuple[str, str]]:
    """Label/value pairs for the Request tab; the write key in full unless `mask_keys`."""
    found = envelope.get("message")
    message: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    request = envelope.get("request") or {}
    encoding = request.get("contentEncoding") or "identity"
    fields = [
        ("endpoint", f"{request.get('method', 'POST')} {envelope.get('endpoint') or request.get('path', '')}"),
        ("write key", shown_key(_text(envelope.get("writeKey")) or None, mask_keys)),
        ("content type", _text(request.get("contentType"))),
        ("encoding", _text(encoding)),
        ("size", f"{request['bytes']:,} bytes" if isinstance(request.get("bytes"), int) else ""),
        ("user agent", _text(request.get("userAgent"))),
        ("remote", _text(request.get("remote"))),
        ("receivedAt", _text(envelope.get("receivedAt") or message.get("receivedAt"))),
        ("sentAt", _text(message.get("sentAt"))),
        ("timestamp", _text(message.get("timestamp") or message.get("originalTimestamp"))),
        ("clock skew", skew_text(message, envelope)),
    ]
    return [(label, visible(value)) for label, value in fields]


def skew_text(message: Mapping[str, Any], envelope: Mapping[str, Any]) -> str:
    """How far the client's clock is from the collector's, from sentAt vs receivedAt."""
    stamped = dict(message)
    stamped.setdefault("receivedAt", envelope.get("receivedAt"))
    skew = skew_seconds(stamped)
    if skew is None:
        return "unknown (no sentAt)" if parse_time(stamped.get("receivedAt")) else "unknown"
    if abs(skew) < 0.5:
        return f"{skew:+.3f} s (in sync)"
    return f"{skew:+.3f} s (client clock {'ahead' if skew > 0 else 'behind'})"


def _text(value: Any) -> str:
    return "" if value is None else str(value)
