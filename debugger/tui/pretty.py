"""The Pretty tab: a message recreated as the SDK call that sent it (Segment's "Pretty" view).

analytics.js  -> analytics.track('Event', {...}) (the browser's positional style)
analytics-node -> analytics.track({ userId, event, properties }) (one object)
analytics-python -> analytics.track(user_id, 'Event', {...})
anything else -> the JavaScript object style.
A message whose `type` is missing or not one of the six call types is no SDK call: it is shown
as a comment saying so, over the message as JSON (never as `analytics.track(...)`).
Strings are escaped as the target language escapes them, so control characters never reach
the terminal.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from debugger.message import CALL_TYPES, call_type, library_of
from debugger.text import escaped

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
INDENT = "  "
_LINE_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029"})

# Fields each call type passes to the SDK, in SDK order (object style for Node).
_OBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "track": ("event", "properties"),
    "page": ("category", "name", "properties"),
    "screen": ("category", "name", "properties"),
    "identify": ("traits",),
    "group": ("groupId", "traits"),
    "alias": ("previousId",),
}
_SHARED_FIELDS = ("context", "integrations")


def language_of(message: Mapping[str, Any]) -> str:
    """"python" for analytics-python (and other Python SDKs), else "javascript"."""
    return "python" if "python" in library_of(message).lower() else "javascript"


def pretty_call(message: Mapping[str, Any]) -> str:
    """The call as SDK code in the style of the library named in context.library."""
    library = library_of(message).lower()
    if message.get("type") not in CALL_TYPES:
        return _not_a_call(message, "#" if "python" in library else "//")
    if "python" in library:
        return _python_call(message)
    if library in ("analytics.js", "analytics-next", "@segment/analytics-next"):
        return _browser_call(message)
    return _node_call(message)


def _not_a_call(message: Mapping[str, Any], comment: str) -> str:
    """A comment saying why no SDK makes this call, then the message as JSON."""
    types = ", ".join(CALL_TYPES)
    if "type" not in message:
        why = f"type is missing (expected one of {types})"
    else:
        shown = _escape_invisible(json.dumps(message["type"], ensure_ascii=False, sort_keys=True))
        why = f"type {shown} is not one of {types}"
    lines = [f"{comment} not a Segment call: {why}",
             _escape_invisible(json.dumps(message, ensure_ascii=False, indent=2, default=str))]
    return "\n".join(lines)


# --- JavaScript ------------------------------------------------------------------------------


def js_literal(value: Any, depth: int = 0) -> str:
    """A JavaScript literal: unquoted identifier keys, single-quoted strings, 2-space indent."""
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        pad = INDENT * (depth + 1)
        items = [f"{pad}{_js_key(str(k))}: {js_literal(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + INDENT * depth + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        pad = INDENT * (depth + 1)
        items = [pad + js_literal(v, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + INDENT * depth + "]"
    if isinstance(value, str):
        return _js_string(value)
    return json.dumps(value)


def _js_key(key: str) -> str:
    return key if _IDENTIFIER.match(key) else _js_string(key)


def _js_string(text: str) -> str:
    body = json.dumps(text, ensure_ascii=False)[1:-1]
    body = body.replace('\\"', '"').replace("'", "\\'")
    return f"'{_escape_invisible(body)}'"


def _node_call(message: Mapping[str, Any]) -> str:
    kind = call_type(message) or "track"
    fields = ("userId", "anonymousId", *_OBJECT_FIELDS.get(kind, ()), *_SHARED_FIELDS)
    if kind == "alias":
        fields = ("previousId", "userId", "anonymousId", *_SHARED_FIELDS)
    argument = {key: value for key, value in _written(message).items() if key in fields}
    return f"analytics.{_js_method(kind)}({js_literal(argument)});"


def _browser_call(message: Mapping[str, Any]) -> str:
    kind = call_type(message)
    message = _written(message)
    options = {key: message[key] for key in ("integrations",) if key in message}
    if kind == "track":
        args = [message.get("event"), message.get("properties", {})]
    elif kind == "page":
        args = [message.get("category"), message.get("name"), message.get("properties", {})]
        while args and args[0] is None:
            args.pop(0)
    elif kind == "identify":
        args = [message.get("userId"), message.get("traits", {})]
        if args[0] is None:
            args.pop(0)
    elif kind == "group":
        args = [message.get("groupId"), message.get("traits", {})]
    elif kind == "alias":
        args = [message.get("userId"), message.get("previousId")]
    else:
        return _node_call(message)
    if options:
        args.append(options)
    return f"analytics.{kind}(" + ", ".join(js_literal(arg) for arg in args) + ");"


def _js_method(kind: str) -> str:
    return kind if _IDENTIFIER.match(kind) else "track"


# --- Python ----------------------------------------------------------------------------------

# analytics-python's positional parameters, then keywords it accepts.
_PYTHON_POSITIONAL: dict[str, tuple[str, ...]] = {
    "track": ("userId", "event", "properties"),
    "identify": ("userId", "traits"),
    "group": ("userId", "groupId", "traits"),
    "alias": ("previousId", "userId"),
    "page": ("userId", "category", "name", "properties"),
    "screen": ("userId", "category", "name", "properties"),
}
_PYTHON_NAMES = {
    "userId": "user_id", "groupId": "group_id", "previousId": "previous_id",
    "anonymousId": "anonymous_id", "messageId": "message_id",
}


def py_literal(value: Any, depth: int = 0) -> str:
    """A Python literal: True/False/None, repr-escaped strings, 4-space indent."""
    pad = "    " * (depth + 1)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [f"{pad}{py_literal(str(k))}: {py_literal(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + ",\n" + "    " * depth + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [pad + py_literal(v, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + ",\n" + "    " * depth + "]"
    if isinstance(value, str):
        return _escape_invisible(repr(value))
    if value is None or isinstance(value, bool):
        return repr(value)
    return json.dumps(value)


def _python_call(message: Mapping[str, Any]) -> str:
    kind = call_type(message)
    positional = _PYTHON_POSITIONAL.get(kind)
    if positional is None:
        return _node_call(message)
    message = _written(message)
    anonymous = "userId" not in message and "anonymousId" in message
    args: list[str] = []
    for key in positional:
        if key == "userId" and anonymous:
            continue
        if key in message:
            name = _PYTHON_NAMES.get(key, key)
            prefix = f"{name}=" if anonymous or _skipped_before(positional, key, message) else ""
            args.append(prefix + py_literal(message[key]))
    for key in ("anonymousId", *_SHARED_FIELDS):
        if key in message:
            args.append(f"{_PYTHON_NAMES.get(key, key)}={py_literal(message[key])}")
    return f"analytics.{kind}(" + ", ".join(args) + ")"


def _skipped_before(positional: tuple[str, ...], key: str, message: Mapping[str, Any]) -> bool:
    """True once a positional parameter before `key` was left out (so keywords are needed)."""
    return any(earlier not in message for earlier in positional[: positional.index(key)])


def _written(message: Mapping[str, Any]) -> dict[str, Any]:
    """What the caller wrote: without what the SDK adds (context.library) or leaves empty
    (analytics-python sends `anonymousId: null` and `integrations: {}`)."""
    written = {key: value for key, value in message.items() if value is not None and value != {}}
    context = written.get("context")
    if isinstance(context, Mapping):
        context = {key: value for key, value in context.items() if key != "library"}
        if context:
            written["context"] = context
        else:
            del written["context"]
    return written


def _escape_invisible(text: str) -> str:
    """Escape what json leaves alone: the controls debugger.text pictures (DEL, C1, bidi), and
    the line separators a JavaScript string cannot hold raw."""
    return escaped(text).translate(_LINE_SEPARATORS)
