"""The event model: what a Segment message is, and the few facts every part reads from it.

Pure functions over plain dicts (as parsed by orjson); no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import orjson

Message = dict[str, Any]

CALL_TYPES: tuple[str, ...] = ("identify", "track", "page", "screen", "group", "alias")

# analytics.js "standard mode" posts to /v1/<first letter of the type>.
SHORT_PATHS: dict[str, str] = {name[0]: name for name in CALL_TYPES}

# Fields Segment documents at the top level of every message.
COMMON_FIELDS: frozenset[str] = frozenset(
    {
        "anonymousId", "context", "integrations", "messageId", "receivedAt", "sentAt",
        "timestamp", "originalTimestamp", "type", "userId", "version", "channel", "writeKey",
        "projectId", "_metadata", "options",
    }
)

# Fields each call type adds to the common ones.
TYPE_FIELDS: dict[str, frozenset[str]] = {
    "identify": frozenset({"traits"}),
    "track": frozenset({"event", "properties"}),
    "page": frozenset({"name", "category", "properties"}),
    "screen": frozenset({"name", "category", "properties"}),
    "group": frozenset({"groupId", "traits"}),
    "alias": frozenset({"previousId"}),
}


def call_type(message: Mapping[str, Any]) -> str:
    """The message's `type`, or "" when it has none usable."""
    value = message.get("type")
    return value if isinstance(value, str) else ""


def user_of(message: Mapping[str, Any]) -> str:
    """userId if present, else anonymousId: who the call is about."""
    for key in ("userId", "anonymousId"):
        value = message.get(key)
        if value not in (None, ""):
            return _text(value)
    return ""


def name_of(message: Mapping[str, Any]) -> str:
    """The name a human reads in a list: event, page/screen name, the identity for the rest."""
    kind = call_type(message)
    if kind == "track":
        return _text(message.get("event"))
    if kind in ("page", "screen"):
        return _text(message.get("name")) or _text(_get(message, "properties", "name"))
    if kind == "identify":
        email = _get(message, "traits", "email") or _get(message, "context", "traits", "email")
        parts = [_text(message.get("userId")), _text(email)]
        return " ".join(part for part in parts if part)
    if kind == "group":
        return _text(message.get("groupId"))
    if kind == "alias":
        return f"{_text(message.get('previousId'))} -> {_text(message.get('userId'))}"
    return ""


def library_of(message: Mapping[str, Any]) -> str:
    """context.library.name, the SDK that sent the call ("" when unknown)."""
    return _text(_get(message, "context", "library", "name"))


def event_time(message: Mapping[str, Any]) -> datetime | None:
    """When the event happened: timestamp, else originalTimestamp, else receivedAt."""
    for key in ("timestamp", "originalTimestamp", "receivedAt"):
        parsed = parse_time(message.get(key))
        if parsed is not None:
            return parsed
    return None


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO 8601 timestamp (with `Z` or an offset) to an aware datetime; None if not one."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


# "YYYY-MM-DDTHH:MM:SS" -> its epoch second (UTC), for timestamps in Segment's own form
# "YYYY-MM-DDTHH:MM:SS.mmmZ": traffic and archives share a few seconds. Read on ingest's hot
# path (its timestamp shift) and by replay --speed; filled only by `learn_second`.
HEAD_SECONDS: dict[str, int] = {}
_HEADS_KEPT = 100_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def learn_second(timestamp: str, millis: int) -> int | None:
    """The epoch second of a "....SS.mmmZ" timestamp's first 19 characters (`millis` its
    milliseconds), remembered in HEAD_SECONDS when the datetime parser agrees that the whole
    timestamp is that second plus its milliseconds (so the look-up gives what parsing would);
    None otherwise."""
    try:
        moment = datetime.fromisoformat(timestamp)
        start = datetime.fromisoformat(timestamp[:19] + ".000Z")
    except ValueError:
        return None
    since = start - _EPOCH
    if since.microseconds or moment - start != timedelta(milliseconds=millis):
        return None
    if len(HEAD_SECONDS) > _HEADS_KEPT:
        HEAD_SECONDS.clear()
    second = HEAD_SECONDS[timestamp[:19]] = since.days * 86400 + since.seconds
    return second


def epoch_seconds(value: Any) -> float | None:
    """`parse_time(value).timestamp()`, float for float, without a datetime for Segment's own
    form "YYYY-MM-DDTHH:MM:SS.mmmZ" (its second from HEAD_SECONDS; replay --speed reads one
    time per line)."""
    if type(value) is str and len(value) == 24 and value[19] == "." and value[23] == "Z" \
            and value[20:23].isdigit() and value.isascii():
        millis = int(value[20:23])
        second = HEAD_SECONDS.get(value[:19])
        if second is None:
            second = learn_second(value, millis)
            if second is None:
                return None
        # as timedelta.total_seconds() computes it: whole microseconds, one rounding
        return (second * 1_000_000 + millis * 1000) / 1_000_000
    moment = parse_time(value)
    return moment.timestamp() if moment is not None else None


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`, the form Segment writes."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """The current time in Segment's ISO form."""
    return format_time(datetime.now(timezone.utc))


def skew_seconds(message: Mapping[str, Any]) -> float | None:
    """Client clock minus server clock: sentAt - receivedAt (network time ignored)."""
    sent, received = parse_time(message.get("sentAt")), parse_time(message.get("receivedAt"))
    if sent is None or received is None:
        return None
    return (sent - received).total_seconds()


def mask_key(key: str | None) -> str:
    """Show enough of a write key to tell keys apart, never the whole secret."""
    if not key:
        return "-"
    if len(key) <= 6:
        return key[:1] + "…"
    return key[:4] + "…" + key[-2:]


def shown_key(key: str | None, mask: bool = False) -> str:
    """A write key as a viewer shows it: in full (the developer's own machine, and two keys
    sharing a prefix and a suffix must stay apart), or masked when asked (`--mask-keys`)."""
    if mask:
        return mask_key(key)
    return key or "-"


def _get(message: Mapping[str, Any], *keys: str) -> Any:
    value: Any = message
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str:
    """A value as a list shows it: a string as it is, anything else as compact JSON (what the
    SDK sent, `{"id":1}` and `true`, not Python's `{'id': 1}` and `True`)."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # not from JSON (a caller's own object): as Python writes it
        return str(value)
