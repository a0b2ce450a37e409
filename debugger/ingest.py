"""Ingest: from the bytes of one tracking-API call to accepted messages and refusals.

Pure logic, no I/O: the collector reads the body and writes the results. Everything Segment
does to a call happens here: decode (gzip/deflate with a cap on the inflated size), parse,
limits, batch split, envelope merge, write key, `receivedAt`, clock-skew correction and the
per-message checks. Each refusal carries a Segment-style code and the raw text it refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

import orjson

from debugger.checks import Checker, check_failed
from debugger.protocol import Problem, has_errors, problem
from debugger.message import HEAD_SECONDS, format_time, learn_second, parse_time

MAX_MESSAGE = 32 * 1024  # bytes per message (the SDKs use 32768)
MAX_REQUEST = 500 * 1024  # bytes per request, after inflating
MAX_BATCH = 2500  # events per batch
RAW_KEPT = 64 * 1024  # how much of a refused body's text is kept for the record

OK_BODY: dict[str, Any] = {"success": True}

# Segment answers 200 to every call except JSON errors, bad encodings and size limits (400);
# a call it will not accept for other reasons (no userId, track without event) still gets 200
# and shows as an error in its Debugger. These are the codes answered 400; `--strict` (a local
# extra, for CI) answers 400 for every refused call. The allow-list's 401 is ours too: only
# keys the user listed are accepted.
ANSWERED_400 = frozenset({
    "invalid_json", "empty_body", "invalid_encoding", "unsupported_encoding",
    "request_too_large", "message_too_large",
})


class IngestError(Exception):
    """The whole call is refused: an HTTP status and a Segment-style code."""

    def __init__(self, status: int, code: str, message: str, write_key: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.write_key = write_key  # the key the call carried, when it was read before the refusal


def error_body(code: str, message: str) -> dict[str, Any]:
    """A refusal answer that every SDK can read: `code`/`message` (Python), `error` (Ruby)."""
    return {"success": False, "code": code, "message": message, "error": message}


@dataclass(slots=True)
class Accepted:
    """A message to archive: the line is exactly what goes in the archive (no newline)."""

    message: dict[str, Any]
    line: bytes
    write_key: str | None
    problems: list[Problem]


@dataclass(slots=True)
class Refused:
    """A refused call or batch item: the parsed item when there was one, and its raw text."""

    message: dict[str, Any] | None
    raw: str | None
    write_key: str | None
    problems: list[Problem]


@dataclass(slots=True)
class Outcome:
    """What one call came to: the HTTP answer and each message's fate, in the call's order."""

    status: int
    body: dict[str, Any]
    results: list[Accepted | Refused] = field(default_factory=list)
    refusals: int = 0
    strict_status: int = 0  # what `collect --strict` answers (0: the same as `status`)

    def answer_status(self, strict: bool) -> int:
        """Segment's status, or with `strict` a 4xx for any refusal."""
        return (self.strict_status or self.status) if strict else self.status

    @property
    def accepted(self) -> list[Accepted]:
        if not self.refusals:
            return self.results  # type: ignore[return-value]  # the common case: no copy
        return [item for item in self.results if isinstance(item, Accepted)]

    @property
    def refused(self) -> list[Refused]:
        if not self.refusals:
            return []
        return [item for item in self.results if isinstance(item, Refused)]


# --- decoding -------------------------------------------------------------------------------


def decode_body(body: bytes, encoding: str | None, cap: int = MAX_REQUEST) -> bytes:
    """The request body with its Content-Encoding undone, refused past `cap` inflated bytes.

    Inflating stops at cap + 1 bytes, so a gzip bomb costs a few milliseconds and no memory.
    """
    name = (encoding or "identity").strip().lower()
    if name in ("", "identity"):
        return body
    if name in ("gzip", "x-gzip"):
        return _inflate(body, zlib.MAX_WBITS | 16, cap, "gzip")
    if name == "deflate":  # RFC says zlib-wrapped; some clients send raw deflate
        wrapped = len(body) >= 2 and body[0] & 0x0F == 8 and int.from_bytes(body[:2], "big") % 31 == 0
        return _inflate(body, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS, cap, "deflate")
    raise IngestError(
        400, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported (use gzip or deflate)"
    )


def _inflate(body: bytes, wbits: int, cap: int, name: str) -> bytes:
    out: list[bytes] = []
    size = 0
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(wbits)
            chunk = inflater.decompress(data, cap + 1 - size)
            while True:
                size += len(chunk)
                out.append(chunk)
                if size > cap:
                    raise IngestError(
                        400, "request_too_large",
                        f"the {name} body inflates to more than {cap} bytes",
                    )
                if not inflater.unconsumed_tail:
                    break
                chunk = inflater.decompress(inflater.unconsumed_tail, cap + 1 - size)
            if not inflater.eof:
                raise IngestError(400, "invalid_encoding", f"the {name} body is truncated")
            data = inflater.unused_data if wbits & 16 else b""  # gzip may have several members
    except zlib.error:
        raise IngestError(400, "invalid_encoding", f"the {name} body is corrupt") from None
    return b"".join(out)


def write_key_from_auth(header: str | None) -> str | None:
    """The write key in `Authorization: Basic base64(key:)` (colon optional); None otherwise.

    A Bearer token is an OAuth token, not a write key: the key then comes from the body.
    """
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return text.split(":", 1)[0] or None


def decode_pixel(data: str | None) -> bytes:
    """The JSON of a pixel call: `?data=` base64 (standard or URL-safe, padding optional)."""
    if not data:
        raise IngestError(400, "empty_body", "the pixel call has no data parameter")
    text = data.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise IngestError(400, "invalid_json", "the pixel data parameter is not base64") from None


def raw_text(body: bytes) -> str:
    """Body bytes as the text received, for a refusal record: decoded as UTF-8 with U+FFFD
    where it is not; bodies over RAW_KEPT bytes are cut (and say so)."""
    text = body[:RAW_KEPT].decode("utf-8", "replace")
    if len(body) > RAW_KEPT:
        text += f"…[truncated: {len(body)} bytes]"
    return text


# --- the call -------------------------------------------------------------------------------


@dataclass(slots=True)
class Call:
    """What the collector knows about one HTTP call besides its body."""

    kind: str | None  # the call type for single calls (/v1/track, /v1/t), None for batches
    received: datetime
    auth_key: str | None = None  # from Basic auth
    allowed: frozenset[str] = frozenset()  # write-key allow-list; empty means any key
    received_at: str = ""

    def __post_init__(self) -> None:
        if not self.received_at:
            self.received_at = format_time(self.received)


def ingest(body: bytes, encoding: str | None, call: Call, check: Checker) -> Outcome:
    """Everything Segment does with one call, as an Outcome (never raises)."""
    text = body
    try:
        if len(body) > MAX_REQUEST:
            raise IngestError(400, "request_too_large", f"the request is over {MAX_REQUEST} bytes")
        text = decode_body(body, encoding)
        return _ingest(text, call, check)
    except IngestError as error:  # the record keeps the inflated text when there is one
        return refused_call(error, raw_text(text) if text else None, error.write_key or call.auth_key)


def refused_call(error: IngestError, raw: str | None, write_key: str | None,
                 message: dict[str, Any] | None = None) -> Outcome:
    """The Outcome of a call refused as a whole: its answer and one refusal to record (with
    the message, when the call was one that could be read)."""
    refused = Refused(message, raw, write_key, [problem("error", error.code, error.message)])
    status = error.status if error.code in ANSWERED_400 or error.status != 400 else 200
    return Outcome(status, error_body(error.code, error.message), [refused], 1, error.status)


def _ingest(text: bytes, call: Call, check: Checker) -> Outcome:
    if not text.strip():
        raise IngestError(400, "empty_body", "the request body is empty")
    try:
        payload = _loads(text)
    except orjson.JSONDecodeError as error:
        raise _json_error(text, error) from None
    if not isinstance(payload, dict):
        raise IngestError(400, "not_an_object", f"the body is a JSON {_json_type(payload)}, not an object")
    if call.kind is None:
        return _batch(payload, text, call, check)
    return _single(payload, text, call, check)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # left by the standard parser only when unpaired


def _loads(text: bytes) -> Any:
    """The body parsed, with a lone UTF-16 surrogate escape (`"\\ud83c"`) read as U+FFFD.

    JavaScript's JSON.stringify writes such an escape when a string was cut in the middle of an
    emoji; it is valid JSON (RFC 8259 allows any \\u escape) and Go's decoder reads it as
    U+FFFD, but orjson refuses it, which refused the whole call, every good item with it (found
    by QA). Only then is the body read by the standard library, the lone surrogates replaced,
    and the result written out and read by orjson again: so everything else is decided as
    orjson decides it, as for any body (invalid UTF-8, NaN and 1e999 refused, integers past 64
    bits read as floats; a second QA pass found each of these differing on this path)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        if "surrogate" not in str(error):
            raise
        try:
            read = json.loads(text.decode("utf-8"))
            return orjson.loads(json.dumps(_without_lone_surrogates(read), ensure_ascii=False))
        except (ValueError, RecursionError):  # orjson's error and UnicodeDecodeError are ValueErrors
            raise error from None


def _without_lone_surrogates(value: Any) -> Any:
    if type(value) is str:
        return _LONE_SURROGATE.sub("\ufffd", value)
    if type(value) is dict:
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    if type(value) is list:
        return [_without_lone_surrogates(item) for item in value]
    return value


def _json_error(text: bytes, error: orjson.JSONDecodeError) -> IngestError:
    """Where the body stops being JSON, in words that do not depend on the parser's version."""
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as bad:
        return IngestError(400, "invalid_json", f"the body is not valid UTF-8 (byte {bad.start})")
    return IngestError(
        400, "invalid_json", f"the body is not valid JSON (line {error.lineno}, column {error.colno})"
    )


def _request_key(payload: Mapping[str, Any], call: Call, items_may_have_keys: bool = False) -> str | None:
    """The call's write key: in the body, else Basic auth. Checked against the allow-list,
    except for a batch without one: analytics.js puts the key in each item, checked there."""
    key = payload.get("writeKey")
    key = key if isinstance(key, str) and key else call.auth_key
    if call.allowed and key not in call.allowed and (key or not items_may_have_keys):
        raise _unknown_key(key)
    return key


# What the allow-list says to a call or item without a key (it said "no write key is not accepted")
NO_KEY = "no write key given: this collector accepts only the keys it was started with"


def _unknown_key(key: str | None) -> IngestError:
    return IngestError(401, "invalid_write_key", f"write key {key!r} is not accepted by this collector" if key else NO_KEY,
                       key)


def _single(payload: dict[str, Any], text: bytes, call: Call, check: Checker) -> Outcome:
    if len(text) > MAX_MESSAGE:
        raise IngestError(400, "message_too_large", f"the message is over {MAX_MESSAGE} bytes")
    try:
        key = _request_key(payload, call)
    except IngestError as error:  # refused for its key: recorded with its message, as a batch
        # item refused for its key is (QA: the Schema screen missed such events, message null)
        sent = {**payload, "type": call.kind} if call.kind else payload
        return refused_call(error, raw_text(text), error.write_key, sent)  # the body's key, else auth's
    merger = _Merger(call, key, payload.get("sentAt"), None, None)
    result = merger.item(payload, check, raw=text)
    if isinstance(result, Accepted):
        return Outcome(200, OK_BODY, [result])
    first = next(p for p in result.problems if p["level"] == "error")
    return Outcome(200, error_body(first["code"], _summary(result.problems)), [result], 1, 400)


def _batch(payload: dict[str, Any], text: bytes, call: Call, check: Checker) -> Outcome:
    items = payload.get("batch")
    if not isinstance(items, list):
        raise IngestError(400, "invalid_batch", "the body has no \"batch\" list of messages")
    key = _request_key(payload, call, items_may_have_keys=True)
    if len(items) > MAX_BATCH:
        message = f"the batch has {len(items)} events; at most {MAX_BATCH} are accepted"
        refused = Refused(None, raw_text(text), key, [problem("error", "too_many_events", message, "batch")])
        return Outcome(200, {"success": False, "accepted": 0, "rejected": len(items),
                             "errors": [{"index": None, "code": "too_many_events", "message": message}]},
                       [refused], 1, 400)
    merger = _Merger(call, key, payload.get("sentAt"), payload.get("context"), payload.get("integrations"))
    results = merger.items(items, check)
    if Refused not in map(type, results):  # the usual case, decided at C speed
        return Outcome(200, OK_BODY, results)
    # One entry per refused item, none left out: a sender reading a `--strict` 400 can then
    # tell exactly which items were refused and not resend (and duplicate) the accepted ones.
    errors: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        if isinstance(result, Refused):
            first = next(p for p in result.problems if p["level"] == "error")
            errors.append({"index": index, "code": first["code"], "message": _summary(result.problems)})
    refusals = sum(isinstance(result, Refused) for result in results)
    if refusals == len(results) and all(r.problems[0]["code"] == "invalid_write_key" for r in results):
        message = "no item of this batch has a write key accepted by this collector"
        return Outcome(401, error_body("invalid_write_key", message), results, refusals)
    # `success`: something of it was kept (a single call refused says false too); the counts
    # and errors say the rest (QA: a batch with every item refused answered `success: true`)
    body = {"success": refusals < len(results), "accepted": len(results) - refusals, "rejected": refusals,
            "errors": errors}
    _exact_raw(results, text)
    return Outcome(200, body, results, refusals, 400)


class _Merger:
    """Turns one item into what the archive holds: envelope merged, key, receivedAt, skew.

    Runs once per message (a few microseconds of Python each, issue 16), so what every item
    shares is looked up once, here, and `item` does its merge inline.
    """

    __slots__ = ("key", "sent_at", "context", "integrations", "kind", "allowed", "received",
                 "received_at", "_skews", "_plain", "_skew_of_batch", "_shifters")

    def __init__(self, call: Call, key: str | None, sent_at: Any, context: Any, integrations: Any) -> None:
        self.key = key
        self.sent_at = sent_at
        self.context = context if isinstance(context, dict) and context else None
        self.integrations = integrations if isinstance(integrations, dict) and integrations else None
        self.kind = call.kind
        self.allowed = call.allowed
        self.received = call.received
        self.received_at = call.received_at
        self._skews: dict[str, int | None] = {}
        # most items only get sentAt, writeKey, receivedAt and the skew of the batch's sentAt
        self._plain = self.kind is None and self.context is None and self.integrations is None
        self._skew_of_batch = self._skew(sent_at) if type(sent_at) is str else None
        self._shifters: dict[int, Shift] = {}

    def items(self, items: list[Any], check: Checker) -> list[Accepted | Refused]:
        """What `item` gives for each item of a batch, in order, with the common item done
        inline: an object without its own writeKey, sentAt, receivedAt or originalTimestamp,
        with a timestamp, in a batch with a write key, a sentAt and no envelope to merge. Same
        message, line and problems as `item` (tests/test_ingest_golden.py), with less Python
        work and one dict fewer per message (issue 16). The items' dicts become the messages.

        One loop for every batch size: `map` passes over the whole batch (tried on 2026-11-29)
        saved ~0.1 us a message in batches of 100 but cost 2.5 us a call in fixed overhead,
        +43 % for a batch of 1, +8 % for 10 (break-even near 30), and SDKs flush small
        batches whenever traffic is light."""
        item_of = self.item
        key, sent_at, skew = self.key, self.sent_at, self._skew_of_batch
        if (not self._plain or key is None or skew is None or type(sent_at) is not str
                or (self.allowed and key not in self.allowed)):
            return [item_of(item, check) for item in items]
        shift = self._shifter(skew)
        received_at = self.received_at
        dumps = orjson.dumps
        results: list[Accepted | Refused] = []
        append = results.append
        for item in items:
            if (type(item) is not dict or "sentAt" in item or "writeKey" in item or "receivedAt" in item
                    or "originalTimestamp" in item):
                append(item_of(item, check))
                continue
            timestamp = item.get("timestamp")
            corrected = shift(timestamp) if timestamp is not None else None
            if corrected is None:
                append(item_of(item, check))
                continue
            # The item becomes its message in place, with the keys `item` sets in its order
            # (timestamp keeps its place): no copy to allocate and free for every message.
            # `_unmerge` gives back the item as sent where it is still needed.
            item["sentAt"] = sent_at
            item["writeKey"] = key
            item["receivedAt"] = received_at
            item["timestamp"] = corrected
            item["originalTimestamp"] = timestamp
            line = dumps(item)
            if len(line) > MAX_MESSAGE:  # `item` measures the item as sent
                append(item_of(_unmerge(item, timestamp), check))
                continue
            problems = _checked(check, item)
            if problems and has_errors(problems):
                message = item.copy()
                append(Refused(message, _raw(_unmerge(item, timestamp), None), key, problems))
            else:
                append(Accepted(item, line, key, problems))
        return results

    def item(self, item: Any, check: Checker, raw: bytes | None = None) -> Accepted | Refused:
        """One item (a batch's, or a single call's whole body when `raw` is its text)."""
        if type(item) is not dict:
            found = [problem("error", "not_an_object", f"the item is a JSON {_json_type(item)}, not an object")]
            return Refused(None, raw_text(raw) if raw else orjson.dumps(item).decode(), self.key, found)
        message = item.copy()
        own_key = item.get("writeKey")
        key = own_key if type(own_key) is str and own_key else self.key
        if self.allowed and key not in self.allowed:
            why = f"write key {key!r} is not accepted" if key else NO_KEY
            found = [problem("error", "invalid_write_key", why, "writeKey")]
            return Refused(message, _raw(item, raw), key, found)
        # The merge, inline (same keys, same order as Segment's: envelope, sentAt, writeKey,
        # receivedAt, timestamp corrected for skew with the client's kept as originalTimestamp).
        # `replaced`: a value the client sent was overwritten, so the line may be shorter than
        # the item and cannot stand for its size.
        replaced = "receivedAt" in item or ("writeKey" in item and own_key is not key)
        if not self._plain:
            replaced = self._merge_envelope(message) or replaced
        sent_at = message.get("sentAt")
        if sent_at is None and self.sent_at is not None:
            message["sentAt"] = sent_at = self.sent_at
        if key is not None:
            message["writeKey"] = key
        received_at = message["receivedAt"] = self.received_at
        timestamp = message.get("timestamp")
        if timestamp is None:
            message["timestamp"] = received_at  # Segment: no timestamp means server time
        else:
            if sent_at is self.sent_at:
                skew = self._skew_of_batch
            elif type(sent_at) is not str:
                skew = None
            else:
                skew = self._skews.get(sent_at, _UNSEEN)
                if skew is _UNSEEN:
                    skew = self._skew(sent_at)
            if skew is not None:
                corrected = self._shifter(skew)(timestamp)
                if corrected is not None:
                    if "originalTimestamp" not in message:
                        message["originalTimestamp"] = timestamp
                    else:
                        replaced = True
                    message["timestamp"] = corrected
        line = orjson.dumps(message)
        # Segment's limit is on the message as the client sent it (32768 bytes, as the SDKs
        # count): a single call's body was measured already; a batch item is the line less
        # what the merge added, unless the merge replaced something (then it is encoded).
        if raw is None and (len(line) > MAX_MESSAGE or replaced) and len(orjson.dumps(item)) > MAX_MESSAGE:
            found = [problem("error", "message_too_large", f"the message is over {MAX_MESSAGE} bytes")]
            return Refused(message, _raw(item, raw), key, found)
        problems = _checked(check, message)
        if problems and has_errors(problems):
            return Refused(message, _raw(item, raw), key, problems)
        return Accepted(message, line, key, problems)

    def _merge_envelope(self, message: dict[str, Any]) -> bool:
        """What a single call's path or a batch's envelope adds: type, context, integrations.
        True when it replaced a value the item had that was not an object it merged into."""
        replaced = False
        if self.kind is not None:
            message["type"] = self.kind
        if self.context is not None:
            own = message.get("context")
            if isinstance(own, dict):
                message["context"] = {**self.context, **own}
            else:
                replaced = own is not None
                message["context"] = self.context
        if self.integrations is not None:
            own = message.get("integrations")
            if isinstance(own, dict):
                message["integrations"] = {**self.integrations, **own}
            else:
                replaced = replaced or own is not None
                message["integrations"] = self.integrations
        return replaced

    def _shifter(self, skew: int) -> Shift:
        shifter = self._shifters.get(skew)
        if shifter is None:
            shifter = self._shifters[skew] = _shifter(skew)
        return shifter

    def _skew(self, sent_at: str) -> int | None:
        """receivedAt - sentAt in ms: how far the client's clock is behind (kept per sentAt)."""
        moment = parse_time(sent_at)
        skew = None if moment is None else (self.received - moment) // _MS
        self._skews[sent_at] = skew
        return skew


_UNSEEN: Any = object()
_ADDED = ("sentAt", "writeKey", "receivedAt", "originalTimestamp")  # by `_Merger.items`


def _checked(check: Checker, message: dict[str, Any]) -> list[Problem]:
    """The checker's problems; a broken rule must not lose the message: keep it, say why."""
    try:
        return check(message)
    except Exception as error:
        return [check_failed(error)]


def _unmerge(message: dict[str, Any], timestamp: Any) -> dict[str, Any]:
    """An item merged in place by `_Merger.items` as it was sent (same keys, same order)."""
    for added in _ADDED:
        del message[added]
    message["timestamp"] = timestamp
    return message


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_MILLIS = tuple(f".{n:03d}Z" for n in range(1000))
_MILLIS_OF = {f".{n:03d}Z": n for n in range(1000)}  # ".042Z" -> 42: the end of Segment's form
_SECONDS: dict[int, str] = {}  # epoch second -> "YYYY-MM-DDTHH:MM:SS" (the reverse: HEAD_SECONDS)
_CACHE_LIMIT = 100_000


Shift = Callable[[Any], "str | None"]


def _shifter(skew_ms: int) -> Shift:
    """A function moving timestamps by `skew_ms`, written as Segment writes them (UTC,
    milliseconds, `Z`); it gives None for what is not a timestamp.

    Runs for nearly every message. For the form SDKs send ("YYYY-MM-DDTHH:MM:SS.mmmZ") it
    looks up the epoch second of the first 19 characters and the text of the shifted second
    (both remembered process-wide: traffic reuses a few seconds) and adds the milliseconds:
    no datetime objects. Any other form is parsed. A closure: cheaper to call than an object.
    """
    whole, rest = divmod(skew_ms, 1000)

    def shift(timestamp: Any) -> str | None:
        millis = _MILLIS_OF.get(timestamp[19:]) if type(timestamp) is str else None  # ".mmmZ"
        if millis is not None:
            base = HEAD_SECONDS.get(timestamp[:19])
            if base is None:
                base = learn_second(timestamp, millis)
            if base is not None:
                millis += rest
                second = base + whole
                if millis >= 1000:
                    second += 1
                    millis -= 1000
                prefix = _SECONDS.get(second) or _prefix(second)
                if prefix is not None:
                    return prefix + _MILLIS[millis]
        return _shift_parsed(timestamp, skew_ms)

    return shift


def _prefix(second: int) -> str | None:
    """"YYYY-MM-DDTHH:MM:SS" of an epoch second (remembered); None out of range: a year
    before 1 or after 9999 has no four digits, and no ISO 8601 parser would read it back."""
    prefix = _SECONDS.get(second)
    if prefix is None:
        try:
            moment = time.gmtime(second)
        except (OverflowError, OSError, ValueError):
            return None
        if not 1 <= moment.tm_year <= 9999:
            return None
        prefix = "%04d-%02d-%02dT%02d:%02d:%02d" % moment[:6]  # strftime's %Y has no zeros
        if len(_SECONDS) > _CACHE_LIMIT:
            _SECONDS.clear()
        _SECONDS[second] = prefix
    return prefix


def _shift_parsed(timestamp: Any, skew_ms: int) -> str | None:
    """A timestamp in any form moved by `skew_ms`: parsed as a datetime (naive means UTC)."""
    if not isinstance(timestamp, str):
        return None
    try:
        moment: datetime | None = datetime.fromisoformat(timestamp)
    except ValueError:
        moment = parse_time(timestamp)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    since = moment - _EPOCH
    second, millisecond = divmod(
        (since.days * 86400 + since.seconds) * 1000 + since.microseconds // 1000 + skew_ms, 1000
    )
    prefix = _prefix(second)
    return None if prefix is None else prefix + _MILLIS[millisecond]


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]')
_SPACE = b" \t\r\n"


def item_spans(text: bytes) -> list[tuple[int, int]] | None:
    """Where each item of the body's top-level "batch" array is, as byte spans of the text
    received (the last "batch" key wins, as when parsing). None when it cannot be told.

    Why: the raw text of a refused batch item must be what the client sent (duplicate keys,
    `1.50`, key order), not the item parsed and encoded again. Only run for a batch that has
    refusals, so its cost (one regex pass) stays off the common path."""
    depth = 0
    key: bytes | None = None  # the last string seen at depth 1 in a key position
    expect_key = False
    spans: list[tuple[int, int]] | None = None
    current: list[tuple[int, int]] = []
    in_batch = False
    start = -1
    for match in _TOKEN.finditer(text):
        token = match.group()
        at = match.start()
        first = token[0]
        if first == 0x22:  # a string
            if depth == 1 and expect_key:
                key = token
                expect_key = False
            continue
        if token in (b"{", b"["):
            depth += 1
            if depth == 1 and token == b"{":
                expect_key = True
            elif depth == 2 and token == b"[" and key is not None and _is_batch_key(key):
                in_batch, current, start = True, [], match.end()
            continue
        if token == b":":
            continue
        if token == b",":
            if depth == 1:
                expect_key = True
                key = None
            elif depth == 2 and in_batch:
                current.append(_trimmed(text, start, at))
                start = match.end()
            continue
        # a closing bracket
        if depth == 2 and in_batch and token == b"]":
            span = _trimmed(text, start, at)
            if span[0] < span[1] or current:
                current.append(span)
            spans, in_batch = current, False
        depth -= 1
    return spans


def _is_batch_key(token: bytes) -> bool:
    if token == b'"batch"':
        return True
    try:
        return bool(orjson.loads(token) == "batch")
    except orjson.JSONDecodeError:
        return False


def _trimmed(text: bytes, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _SPACE:
        start += 1
    while end > start and text[end - 1] in _SPACE:
        end -= 1
    return start, end


def _exact_raw(results: list[Accepted | Refused], text: bytes) -> None:
    """Give each refused item of a batch its exact text in the body, when it can be found."""
    spans = item_spans(text)
    if spans is None or len(spans) != len(results):
        return
    for result, (start, end) in zip(results, spans, strict=True):
        if type(result) is Refused:
            result.raw = raw_text(text[start:end])


def _raw(item: dict[str, Any], raw: bytes | None) -> str:
    """The exact text of a single call, or the item as sent within its batch."""
    return raw_text(raw) if raw is not None else orjson.dumps(item).decode()


def _summary(problems: list[Problem]) -> str:
    return "; ".join(p["message"] for p in problems if p["level"] == "error")


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )
