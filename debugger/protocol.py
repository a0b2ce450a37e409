"""The socket protocol: every line kind the collector and its viewers exchange.

This module is the one place that knows a line's shape (docs/architecture.md, "Socket
protocol"): its TypedDict, its builder, and how a received line is decoded. Nothing else writes
a `"kind"` literal; viewers react to lines through `dispatch` with a kind -> handler map, so a
new kind is one TypedDict, one builder and one handler where it is wanted.

Collector -> viewer, one JSON object per line:
  hello  first, once: collector version, tracking API URL, archive path;
  event  one message (or refused call) with its problems;
  stats  about once a second: exact counts, rate, and this viewer's drops and sampling;
  error  a subscription the collector cannot honour (then the connection closes);
  delivery  what happened to messages at a forwarding destination (collect --forward).
Viewer -> collector, optional, any time: one `subscribe` line; a later one replaces it.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Final, Literal, Mapping, NotRequired, TypedDict, Union

import orjson

Level = Literal["error", "warning"]
# The wire value for a call the collector turned down is "rejected" (kept for compatibility
# with archives and viewers written before the UI settled on the word "refused").
Status = Literal["accepted", "rejected"]
ACCEPTED: Status = "accepted"
REFUSED: Status = "rejected"

HELLO: Final = "hello"
EVENT: Final = "event"
STATS: Final = "stats"
ERROR: Final = "error"
DELIVERY: Final = "delivery"


class Problem(TypedDict):
    """One thing wrong with a call: errors refuse it, warnings are shown but accepted."""

    level: Level
    code: str
    message: str
    path: str
    hint: NotRequired[str]


class ArchiveStart(TypedDict):
    """Byte sizes of the archive and its refusal log when the collector opened them: what this
    session received is what follows (the live Schema screen folds only that)."""

    archive: int
    rejected: int


class Hello(TypedDict):
    kind: Literal["hello"]
    version: str
    http: str
    archive: str
    archive_start: NotRequired[ArchiveStart]


class EventEnvelope(TypedDict):
    kind: Literal["event"]
    seq: int
    receivedAt: str
    endpoint: str
    writeKey: str | None
    status: Status
    problems: list[Problem]
    message: dict[str, Any] | None
    raw: str | None
    request: NotRequired[dict[str, Any]]
    # True on the recent events a viewer is sent when it connects, before the live stream.
    history: NotRequired[bool]


class Stats(TypedDict):
    kind: Literal["stats"]
    received: int
    accepted: int
    rejected: int
    rate: float
    dropped: int
    matched: NotRequired[int]
    sampled: NotRequired[int]
    # refused calls this viewer was not sent because they came faster than its refused budget
    refused_dropped: NotRequired[int]


class ErrorLine(TypedDict):
    kind: Literal["error"]
    message: str
    query: NotRequired[str]
    position: NotRequired[int]


DeliveryStatus = Literal["delivered", "retrying", "failed", "filtered"]


class DeliveryRecord(TypedDict):
    """One message's part in a delivery line; viewers join it to the event by messageId.
    `latency_ms` is end to end: from the collector's receivedAt to the destination's answer."""

    messageId: str | None
    receivedAt: str | None
    latency_ms: float | None


class Delivery(TypedDict):
    """What happened to some messages at one forwarding destination: one line per request
    outcome (a parcel delivered, retrying, failed) or per read of filtered messages, with the
    Request to destination and Response from destination (bodies cut at 4 KB, keys masked)."""

    kind: Literal["delivery"]
    destination: str
    status: DeliveryStatus
    attempts: int
    records: list[DeliveryRecord]
    reason: NotRequired[str]
    request: NotRequired[dict[str, Any]]
    response: NotRequired[dict[str, Any]]


Line = Union[Hello, EventEnvelope, Stats, ErrorLine, Delivery]


class ProtocolError(ValueError):
    """A received line that is not a JSON object with a string `kind`."""


# -- builders ---------------------------------------------------------------------------------


def problem(level: Level, code: str, message: str, path: str = "", hint: str = "") -> Problem:
    """A Problem dict; `hint` is a one-line fix, left out when empty."""
    item: Problem = {"level": level, "code": code, "message": message, "path": path}
    if hint:
        item["hint"] = hint
    return item


def has_errors(problems: list[Problem]) -> bool:
    return any(p["level"] == "error" for p in problems)


def hello(version: str, http: str, archive: str) -> Hello:
    return {"kind": "hello", "version": version, "http": http, "archive": archive}


def event(
    *,
    seq: int,
    received_at: str,
    endpoint: str,
    write_key: str | None,
    status: Status,
    problems: list[Problem],
    message: dict[str, Any] | None,
    raw: str | None,
    request: dict[str, Any] | None = None,
) -> EventEnvelope:
    """An `event` envelope. `request` carries HTTP facts (content type, encoding, user agent,
    remote address) for the debugger's Request tab; it is an extension of the protocol."""
    envelope: EventEnvelope = {
        "kind": "event",
        "seq": seq,
        "receivedAt": received_at,
        "endpoint": endpoint,
        "writeKey": write_key,
        "status": status,
        "problems": problems,
        "message": message,
        "raw": raw,
    }
    if request is not None:
        envelope["request"] = request
    return envelope


def stats(received: int, accepted: int, rejected: int, rate: float, dropped: int) -> Stats:
    return {
        "kind": "stats",
        "received": received,
        "accepted": accepted,
        "rejected": rejected,
        "rate": rate,
        "dropped": dropped,
    }


def error(message: str, query: str | None = None, position: int | None = None) -> ErrorLine:
    """The one line a refused subscription gets; a bad query also says where it went wrong."""
    line: ErrorLine = {"kind": "error", "message": message}
    if query is not None:
        line["query"] = query
    if position is not None:
        line["position"] = position
    return line


def delivery_record(message_id: str | None, received_at: str | None,
                    latency_ms: float | None) -> DeliveryRecord:
    return {"messageId": message_id, "receivedAt": received_at, "latency_ms": latency_ms}


def delivery(
    destination: str,
    status: DeliveryStatus,
    attempts: int,
    records: list[DeliveryRecord],
    *,
    reason: str = "",
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
) -> Delivery:
    """A `delivery` line (sent by forwarding destinations, see debugger.delivery)."""
    line: Delivery = {"kind": "delivery", "destination": destination, "status": status,
                      "attempts": attempts, "records": records}
    if reason:
        line["reason"] = reason
    if request is not None:
        line["request"] = request
    if response is not None:
        line["response"] = response
    return line


# -- encoding and decoding --------------------------------------------------------------------


def encode(line: Mapping[str, Any]) -> bytes:
    """One NDJSON line of the protocol, newline included."""
    return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)


def decode(data: bytes | str) -> Line:
    """A received line as its TypedDict. Unknown kinds pass through (a newer collector may send
    kinds this viewer does not know: `dispatch` ignores them); anything that is not an object
    with a string `kind` raises ProtocolError."""
    try:
        item = orjson.loads(data)
    except orjson.JSONDecodeError as bad:
        raise ProtocolError(f"not a JSON line: {bad}") from None
    if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
        raise ProtocolError("not a protocol line (a JSON object with a string 'kind')")
    return item  # type: ignore[return-value]  # shape by kind is the sender's contract


Handler = Callable[[Any], object]


def dispatch(line: Mapping[str, Any], handlers: Mapping[str, Handler]) -> bool:
    """Call the handler for the line's kind; False when this viewer has none for it."""
    handler = handlers.get(line.get("kind", ""))
    if handler is None:
        return False
    handler(line)
    return True


# -- the viewer's subscription ----------------------------------------------------------------

SUBSCRIBE_SHAPE = '{"subscribe": {"filter": "<query>", "max_rate": N}}'


class Subscription(TypedDict, total=False):
    """What a viewer asks for. `filter`: only matching events are sent. `priority`: matching
    events are never sampled away (the live view's search; the rest still arrives, sampled).
    `max_rate`: events per second before sampling. `history`: how many recent events to send
    first (marked `history`), filter applied."""

    filter: str
    priority: str
    max_rate: float
    history: int


class SubscribeError(ValueError):
    """A subscribe line the collector cannot honour; `details` go into the error line."""

    def __init__(self, message: str, query: str | None = None, position: int | None = None) -> None:
        super().__init__(message)
        self.query = query
        self.position = position

    def line(self) -> ErrorLine:
        return error(str(self), self.query, self.position)


def subscribe(
    query: str | None, max_rate: float | None, *, priority: str | None = None, history: int = 0
) -> bytes:
    """The line a viewer sends to say what it wants (no filter, no sampling when left out)."""
    body: Subscription = {}
    if query:
        body["filter"] = query
    if priority:
        body["priority"] = priority
    if max_rate is not None:
        body["max_rate"] = max_rate
    if history:
        body["history"] = history
    return orjson.dumps({"subscribe": body}, option=orjson.OPT_APPEND_NEWLINE)


def decode_subscription(data: bytes) -> Subscription:
    """The subscription a viewer's line asks for, checked; raises SubscribeError otherwise.
    The filter text is returned as is: parsing it is the query language's job."""
    try:
        request = orjson.loads(data)
    except orjson.JSONDecodeError:
        request = None
    body = request.get("subscribe") if isinstance(request, dict) else None
    if not isinstance(body, dict):
        raise SubscribeError(f"expected one line {SUBSCRIBE_SHAPE}")
    text, max_rate = body.get("filter"), body.get("max_rate")
    priority, history = body.get("priority"), body.get("history", 0)
    if text is not None and not isinstance(text, str):
        raise SubscribeError("subscribe: filter must be a string")
    if priority is not None and not isinstance(priority, str):
        raise SubscribeError("subscribe: priority must be a string")
    if max_rate is not None and not _positive_number(max_rate):
        raise SubscribeError("subscribe: max_rate must be a positive number")
    if type(history) is not int or history < 0:
        raise SubscribeError("subscribe: history must be a whole number >= 0")
    subscription: Subscription = {}
    if text is not None and text.strip():
        subscription["filter"] = text
    if priority is not None and priority.strip():
        subscription["priority"] = priority
    if max_rate is not None:
        subscription["max_rate"] = float(max_rate)
    if history:
        subscription["history"] = history
    return subscription


def _positive_number(value: object) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool)
        and math.isfinite(value) and value > 0
    )
