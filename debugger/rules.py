"""The spec rules: what is wrong with one Segment message.

Errors are what Segment itself refuses (the collector refuses them too); warnings are what a
careful analytics engineer would flag. Pure functions; used by the collector on every message,
by the live debugger and by `segdebug validate` over millions of lines, so each rule is cheap:
patterns are compiled once, verdicts on names and key sets are memoised, and a rule that has
nothing to say returns the shared empty tuple.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from debugger.protocol import Problem, problem
from debugger.message import CALL_TYPES, COMMON_FIELDS, TYPE_FIELDS

Rule = Callable[[Mapping[str, Any]], Sequence[Problem]]

NOTHING: tuple[Problem, ...] = ()
SKEW_LIMIT = timedelta(minutes=1)
MESSAGE_ID_LIMIT = 100
_CACHE_LIMIT = 20_000  # memo entries kept before a cache is cleared (dynamic names are endless)

# Every rule code, its level and what it is about: the catalogue `validate --rule` checks.
CODES: dict[str, tuple[str, str]] = {
    "invalid_type": ("error", "type is not one of the six call types"),
    "no_user_anon_id": ("error", "neither userId nor anonymousId"),
    "missing_event": ("error", "track without event"),
    "invalid_event": ("error", "track whose event is not a string"),
    "missing_group_id": ("error", "group without groupId"),
    "missing_previous_id": ("error", "alias without previousId"),
    "missing_user_id": ("error", "alias without userId"),
    "event_name_case": ("warning", 'event name not "Object Action" in Title Case'),
    "dynamic_event_name": ("warning", "ids, numbers or dates in an event name"),
    "key_case": ("warning", "property or trait key not snake_case"),
    "dynamic_key": ("warning", "ids, numbers or dates in a property or trait key"),
    "reserved_type": ("warning", "reserved trait or property of the wrong type"),
    "missing_message_id": ("warning", "no messageId"),
    "long_message_id": ("warning", "messageId of 100 characters or more"),
    "invalid_message_id": ("warning", "messageId that is not a string"),
    "bad_timestamp": ("warning", "timestamp field that is not an ISO 8601 date"),
    "future_timestamp": ("warning", "timestamp in the future"),
    "clock_skew": ("warning", "sentAt over a minute away from receivedAt"),
    "unknown_field": ("warning", "top-level field Segment does not define"),
    "empty_id": ("warning", "userId or anonymousId present but empty"),
    "ecommerce_property": ("warning", "Ecommerce v2 event missing an expected property"),
}


def _remember(memo: dict[Any, Any], key: Any, verdict: Any) -> Any:
    """Store a verdict; a memo is cleared when full, since dynamic names never repeat."""
    if len(memo) >= _CACHE_LIMIT:
        memo.clear()
    memo[key] = verdict
    return verdict


def _missing(value: Any) -> bool:
    return value is None or value == ""


_REQUIRED_FIELD = {"track": "event", "group": "groupId", "alias": "previousId"}
_REQUIRED_CODE = {"event": "missing_event", "groupId": "missing_group_id", "previousId": "missing_previous_id"}
_ONLY_A_USER = frozenset({"identify", "page", "screen"})  # no other required field


def check_required(message: Mapping[str, Any]) -> list[Problem]:
    """The fields Segment requires; any failure here refuses the message.

    Runs on every message the collector takes in: the usual cases (a track with its event, a
    call that needs only a user) are decided in a few look-ups, building nothing."""
    kind: Any = message.get("type")
    if kind == "track":
        event = message.get("event")
        if type(event) is str and event and (message.get("userId") or message.get("anonymousId")):
            return []
    elif type(kind) is str and kind in _ONLY_A_USER and (message.get("userId") or message.get("anonymousId")):
        return []
    return _required_problems(message, kind)


def _required_problems(message: Mapping[str, Any], kind: Any) -> list[Problem]:
    """check_required's verdict for whatever the fast cases leave (possibly nothing)."""
    if kind not in CALL_TYPES:
        shown = "missing" if kind is None else repr(kind)
        return [
            problem(
                "error", "invalid_type", f"type is {shown}; expected one of {', '.join(CALL_TYPES)}",
                "type", "send the call through an SDK method, or set a valid type",
            )
        ]
    found: list[Problem] = []
    required = _REQUIRED_FIELD.get(kind)
    if _missing(message.get("userId")) and _missing(message.get("anonymousId")):
        found.append(
            problem(
                "error", "no_user_anon_id", "userId or anonymousId is required", "userId",
                "identify the user, or set an anonymousId",
            )
        )
    if required and _missing(message.get(required)):
        code = _REQUIRED_CODE[required]
        found.append(
            problem("error", code, f"{kind} requires {required}", required, f"set {required}")
        )
    elif kind == "track" and type(message.get("event")) is not str:  # the SDKs require a string
        found.append(
            problem(
                "error", "invalid_event", f"event is {describe_value(message.get('event'))}, not a string",
                "event", 'name the event with a string, e.g. "Order Completed"',
            )
        )
    if kind == "alias" and _missing(message.get("userId")):
        found.append(
            problem("error", "missing_user_id", "alias requires userId", "userId", "set userId")
        )
    return found


# --- names ---------------------------------------------------------------------------------

_SMALL_WORDS = "a|an|and|as|at|by|for|from|in|into|of|on|or|the|to|with"
_TITLE_CASE = re.compile(rf"[A-Z0-9][A-Za-z0-9]*(?: (?:[A-Z0-9][A-Za-z0-9'-]*|{_SMALL_WORDS}))+")
_DYNAMIC_TEXT = re.compile(
    r"\d{4}[-_/]\d{1,2}[-_/]\d{1,2}"  # a date
    r"|\d{3,}"  # a long number
    r"|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}"  # a hex id
    r"|@"  # an email address
)
# a numbered key (`item_42`); one digit is a fixed name (`address_line_2`, `step_1`)
_DYNAMIC_KEY = re.compile(_DYNAMIC_TEXT.pattern + r"|_\d{2,}$|^\d")
_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")

_name_memo: dict[str, tuple[Problem, ...]] = {}


def _judge_name(name: str) -> tuple[Problem, ...]:
    found: list[Problem] = []
    if _DYNAMIC_TEXT.search(name):
        found.append(
            problem(
                "warning", "dynamic_event_name",
                f"event {name!r} looks dynamic (an id, number or date in the name)", "event",
                "keep the name fixed and move the varying part into a property",
            )
        )
    elif not _TITLE_CASE.fullmatch(name):
        found.append(
            problem(
                "warning", "event_name_case",
                f'event {name!r} is not "Object Action" in Title Case', "event",
                'name events "Object Action", e.g. "Order Completed"',
            )
        )
    return tuple(found)


def check_event_name(message: Mapping[str, Any]) -> Sequence[Problem]:
    """Track event names: "Object Action" in Title Case, nothing dynamic in them."""
    name = message.get("event")
    if message.get("type") != "track" or not isinstance(name, str) or not name:
        return NOTHING
    verdict = _name_memo.get(name)
    if verdict is None:
        verdict = _remember(_name_memo, name, _judge_name(name))
    return verdict


# --- property and trait keys ---------------------------------------------------------------

_CAMEL_TRAITS = frozenset({"createdAt", "firstName", "lastName"})


def _judge_keys(field: str, keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(key, code) for each key that is dynamic-looking or not snake_case (Segment's reserved
    camelCase traits are fine in traits, not in properties)."""
    camel_ok = _CAMEL_TRAITS if field != "properties" else frozenset()
    bad: list[tuple[str, str]] = []
    for key in keys:
        if _DYNAMIC_KEY.search(key):
            bad.append((key, "dynamic_key"))
        elif key not in camel_ok and not _SNAKE_CASE.fullmatch(key):
            bad.append((key, "key_case"))
    return tuple(bad)


def _key_problems(field: str, verdict: tuple[tuple[str, str], ...]) -> list[Problem]:
    found: list[Problem] = []
    for key, code in verdict:
        path = f"{field}.{key}"
        if code == "dynamic_key":
            found.append(
                problem(
                    "warning", code, f"{path} looks dynamic (an id, number or date in the key)",
                    path, "use a fixed key and put the varying part in the value",
                )
            )
        else:
            found.append(
                problem(
                    "warning", code, f"{path} is not snake_case", path,
                    "name properties and traits in snake_case, e.g. order_id",
                )
            )
    return found


# --- reserved traits and properties --------------------------------------------------------


class Expect(NamedTuple):
    """What a reserved field must be: one of `types`, and a parseable date when `date`."""

    types: frozenset[type]
    text: str
    date: bool = False

    def accepts(self, value: Any) -> bool:
        if type(value) not in self.types:
            return False
        return not self.date or type(value) is not str or _parse_time(value) is not None


_TEXT = Expect(frozenset({str}), "a string")
_NUMBER = Expect(frozenset({int, float}), "a number")
_OBJECT = Expect(frozenset({dict}), "an object")
_DATE = Expect(frozenset({str}), "an ISO 8601 date string", date=True)

_COMMON_TRAITS: dict[str, Expect] = {
    "address": _OBJECT,
    "avatar": _TEXT,
    "createdAt": _DATE,
    "description": _TEXT,
    "email": _TEXT,
    "id": Expect(frozenset({str, int}), "a string"),
    "name": _TEXT,
    "phone": _TEXT,
    "website": _TEXT,
}
RESERVED: dict[str, dict[str, Expect]] = {
    "identify": {
        **_COMMON_TRAITS,
        "age": _NUMBER,
        "birthday": _DATE,
        "company": _OBJECT,
        "firstName": _TEXT,
        "gender": _TEXT,
        "lastName": _TEXT,
        "title": _TEXT,
        "username": _TEXT,
    },
    "group": {
        **_COMMON_TRAITS,
        "employees": Expect(frozenset({int}), "a whole number"),
        "industry": _TEXT,
        "plan": _TEXT,
    },
    "track": {
        "revenue": _NUMBER, "value": _NUMBER, "currency": _TEXT,
        "products": Expect(frozenset({list}), "an array"),
    },
    "page": {
        "name": _TEXT, "path": _TEXT, "referrer": _TEXT, "search": _TEXT, "title": _TEXT,
        "url": _TEXT, "keywords": Expect(frozenset({str, list}), "a string or an array of strings"),
    },
    "screen": {"name": _TEXT},
}
_RESERVED_FIELD = {"identify": "traits", "group": "traits"}  # else: properties


class Shape(NamedTuple):
    """What the keys of one properties/traits object say, whatever the values: the keys
    badly named, and the reserved keys present (whose values need a type check)."""

    bad_keys: tuple[tuple[str, str], ...]
    reserved: tuple[str, ...]


_CLEAN = Shape((), ())
_shape_memo: dict[tuple[str | None, str, tuple[str, ...]], Shape] = {}


def _shape(reserved_for: str | None, field: str, values: dict[str, Any]) -> Shape:
    """The memoised Shape of `values`; `reserved_for` is the call type whose reserved fields
    live in this object (None when none do)."""
    memo_key = (reserved_for, field, tuple(values))
    shape = _shape_memo.get(memo_key)
    if shape is None:
        reserved = RESERVED.get(reserved_for, {}) if reserved_for else {}
        bad = _judge_keys(field, memo_key[2])
        present = tuple(key for key in values if key in reserved)
        shape = _remember(_shape_memo, memo_key, Shape(bad, present) if bad or present else _CLEAN)
    return shape


def _reserved_problems(kind: str, field: str, values: dict[str, Any], keys: tuple[str, ...]) -> list[Problem]:
    reserved = RESERVED[kind]
    found: list[Problem] = []
    for key in keys:
        expect = reserved[key]
        value = values[key]
        if (type(value) in expect.types and not expect.date) or value is None:
            continue  # the common case, without a call
        if not expect.accepts(value):
            path = f"{field}.{key}"
            found.append(
                problem(
                    "warning", "reserved_type",
                    f"{path} is reserved and should be {expect.text}, not {describe_value(value)}", path,
                    f"send {key} as {expect.text}, or rename the field",
                )
            )
    return found


def check_fields(message: Mapping[str, Any]) -> Sequence[Problem]:
    """Properties and traits (and context.traits), top level: keys in snake_case (reserved
    camelCase traits excepted) and not dynamic-looking; reserved ones of their documented
    type (email a string, revenue a number, ...). One memoised look at each key set."""
    kind = message.get("type")
    home = _RESERVED_FIELD.get(kind, "properties") if type(kind) is str else ""
    found: list[Problem] = []
    for field in ("properties", "traits"):
        values = message.get(field)
        if values and type(values) is dict:
            shape = _shape(kind if field == home else None, field, values)
            if shape is not _CLEAN:
                if shape.bad_keys:
                    found += _key_problems(field, shape.bad_keys)
                if shape.reserved:
                    found += _reserved_problems(kind, field, values, shape.reserved)  # type: ignore[arg-type]
    context = message.get("context")
    if context and type(context) is dict:
        values = context.get("traits")
        if values and type(values) is dict:
            shape = _shape(None, "context.traits", values)
            if shape.bad_keys:
                found += _key_problems("context.traits", shape.bad_keys)
    return found or NOTHING


def describe_value(value: Any) -> str:
    """A JSON value in a problem's words (`the string '12'`, `the number 3`); plan.py uses them too."""
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:29] + "…"
        return f"the string {shown!r}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return _CONTAINER_NAMES.get(type(value), type(value).__name__)


_CONTAINER_NAMES: dict[type, str] = {dict: "an object", list: "an array"}


# --- messageId -----------------------------------------------------------------------------


def check_message_id(message: Mapping[str, Any]) -> Sequence[Problem]:
    """A messageId lets Segment drop retried duplicates; over 100 characters it is refused."""
    message_id = message.get("messageId")
    if message_id is None or message_id == "":
        return (
            problem(
                "warning", "missing_message_id", "messageId is missing", "messageId",
                "send through an SDK, or set a unique messageId (e.g. a UUID) per call",
            ),
        )
    if type(message_id) is not str:  # Segment compares ids as text: 1 and "1" are not one id
        return (
            problem(
                "warning", "invalid_message_id", f"messageId is {describe_value(message_id)}, not a string",
                "messageId", "send a unique string id, e.g. a UUID",
            ),
        )
    if len(message_id) < MESSAGE_ID_LIMIT:
        return NOTHING
    return (
        problem(
            "warning", "long_message_id",
            f"messageId is {len(message_id)} characters; Segment needs under {MESSAGE_ID_LIMIT}",
            "messageId", "use a shorter unique id, e.g. a UUID",
        ),
    )


# --- times ---------------------------------------------------------------------------------


def _parse_time(value: str) -> datetime | None:
    """ISO 8601 to an aware datetime (naive means UTC); None when it is not one. Fast path for
    the common `...Z` form; no exceptions on the happy path."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


_TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")


def check_times(message: Mapping[str, Any]) -> Sequence[Problem]:
    """Timestamps are ISO dates, not in the future, and the client clock is within a minute.

    Only `timestamp` is compared with receivedAt: the collector has already corrected it for
    clock skew (the client's own time is kept as originalTimestamp), so a skewed clock shows
    once, as clock_skew, and a future timestamp means the event time itself is wrong."""
    received = message.get("receivedAt")
    sent = message.get("sentAt")
    stamp = message.get("timestamp")
    if received is not None and sent is not None and stamp is not None:
        try:  # the archive's usual case: aware ISO times, timestamp not ahead of receivedAt
            when = datetime.fromisoformat(received)
            original = message.get("originalTimestamp")
            if datetime.fromisoformat(stamp) - when <= SKEW_LIMIT and (
                original is None or datetime.fromisoformat(original).tzinfo is not None
            ):
                skew = datetime.fromisoformat(sent) - when
                if -SKEW_LIMIT <= skew <= SKEW_LIMIT:
                    return NOTHING
                # a skewed client clock: each of its messages says so, decided here too (unless
                # a value is too short to count as a date: the full check flags that)
                if min(len(received), len(sent), len(stamp), len(original or received)) >= 10:
                    return (_clock_skew(abs(skew)),)
        except (TypeError, ValueError):  # naive, not text, not ISO: the full check says which
            pass
    return _check_times_fully(message)


def _check_times_fully(message: Mapping[str, Any]) -> Sequence[Problem]:
    found: list[Problem] = []
    parsed: dict[str, datetime] = {}
    for field in _TIME_FIELDS:
        value = message.get(field)
        if value is None:
            continue
        moment = _parse_time(value) if isinstance(value, str) and len(value) >= 10 else None
        if moment is None:
            found.append(
                problem(
                    "warning", "bad_timestamp",
                    f"{field} is {describe_value(value)}, not an ISO 8601 date", field,
                    'send times as ISO 8601 strings, e.g. "2024-05-01T12:00:00.000Z"',
                )
            )
        else:
            parsed[field] = moment
    received = parsed.get("receivedAt") or datetime.now(timezone.utc)
    stamp = parsed.get("timestamp")
    if stamp is not None and stamp - received > SKEW_LIMIT:
        found.append(
            problem(
                "warning", "future_timestamp",
                f"timestamp is {_span(stamp - received)} after the collector received it",
                "timestamp", "set the event time when the event happens, not ahead of it",
            )
        )
    sent = parsed.get("sentAt")
    if sent is not None and abs(sent - received) > SKEW_LIMIT:
        found.append(_clock_skew(abs(sent - received)))
    return found or NOTHING


def _clock_skew(off: timedelta) -> Problem:
    return problem(
        "warning", "clock_skew", f"sentAt is {_span(off)} off the collector's clock", "sentAt",
        "fix the client clock; Segment corrects timestamp by receivedAt - sentAt",
    )


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


# --- top-level shape -----------------------------------------------------------------------

_KNOWN_FIELDS = {kind: COMMON_FIELDS | TYPE_FIELDS[kind] for kind in CALL_TYPES}
_unknown_memo: dict[tuple[Any, ...], tuple[str, ...]] = {}


def check_unknown_fields(message: Mapping[str, Any]) -> Sequence[Problem]:
    """Top-level fields Segment does not define usually belong in properties or traits."""
    kind = message.get("type")
    known = _KNOWN_FIELDS.get(kind) if type(kind) is str else None
    if known is None or known.issuperset(message):
        return NOTHING
    shape = (kind, *message)
    unknown = _unknown_memo.get(shape)
    if unknown is None:
        unknown = _remember(_unknown_memo, shape, tuple(key for key in message if key not in known))
    if not unknown:
        return NOTHING
    home = "traits" if kind in ("identify", "group") else "properties"
    return [
        problem(
            "warning", "unknown_field", f"{key} is not a {kind} field Segment knows", key,
            f"move it into {home}, or into context",
        )
        for key in unknown
    ]


def check_empty_ids(message: Mapping[str, Any]) -> Sequence[Problem]:
    """An id that is present but empty hides a bug (usually a variable that was never set)."""
    user, anonymous = message.get("userId"), message.get("anonymousId")
    if (type(user) is not str or user.strip()) and (type(anonymous) is not str or anonymous.strip()):
        return NOTHING
    found: list[Problem] = []
    for field in ("userId", "anonymousId"):
        value = message.get(field)
        if isinstance(value, str) and not value.strip():
            found.append(
                problem(
                    "warning", "empty_id", f"{field} is present but empty", field,
                    f"leave {field} out when unknown, or fix the code that sets it",
                )
            )
    return found or NOTHING


# --- Ecommerce v2 --------------------------------------------------------------------------

_PRODUCT = ("product_id",)
_CHECKOUT = ("checkout_id", "step")
_ORDER = ("order_id",)
ECOMMERCE: dict[str, tuple[str, ...]] = {
    "Products Searched": ("query",),
    "Product List Viewed": ("products",),
    "Product List Filtered": ("products",),
    "Promotion Viewed": ("promotion_id",),
    "Promotion Clicked": ("promotion_id",),
    "Product Clicked": _PRODUCT,
    "Product Viewed": _PRODUCT,
    "Product Added": _PRODUCT,
    "Product Removed": _PRODUCT,
    "Cart Viewed": ("cart_id", "products"),
    "Checkout Started": ("order_id", "products"),
    "Checkout Step Viewed": _CHECKOUT,
    "Checkout Step Completed": _CHECKOUT,
    "Payment Info Entered": _CHECKOUT,
    "Order Updated": _ORDER,
    "Order Completed": ("order_id", "products"),
    "Order Refunded": _ORDER,
    "Order Cancelled": _ORDER,
    "Coupon Entered": ("coupon_id",),
    "Coupon Applied": ("coupon_id",),
    "Coupon Denied": ("coupon_id",),
    "Coupon Removed": ("coupon_id",),
    "Product Added to Wishlist": ("wishlist_id", "product_id"),
    "Product Removed from Wishlist": ("wishlist_id", "product_id"),
    "Wishlist Product Added to Cart": ("wishlist_id", "product_id"),
    "Product Shared": _PRODUCT,
    "Cart Shared": ("cart_id",),
    "Product Reviewed": ("product_id", "rating"),
}


def check_ecommerce(message: Mapping[str, Any]) -> Sequence[Problem]:
    """Ecommerce v2 events carry the properties downstream tools need (order_id, products...)."""
    event = message.get("event")
    expected = ECOMMERCE.get(event) if type(event) is str else None
    if expected is None or message.get("type") != "track":
        return NOTHING
    properties = message.get("properties")
    if not isinstance(properties, dict):
        properties = {}
    for key in expected:
        if properties.get(key) is None or properties[key] == "":
            break
    else:
        return NOTHING
    missing = [key for key in expected if properties.get(key) in (None, "")]
    return [
        problem(
            "warning", "ecommerce_property",
            f"{event} should have properties.{key} (Ecommerce v2 spec)", f"properties.{key}",
            f"add properties.{key}, as the Ecommerce v2 spec for {event} describes",
        )
        for key in missing
    ]


# --- all of them ---------------------------------------------------------------------------

WARNINGS: tuple[Rule, ...] = (
    check_event_name,
    check_fields,
    check_message_id,
    check_times,
    check_unknown_fields,
    check_empty_ids,
    check_ecommerce,
)
RULES: list[Rule] = [check_required, *WARNINGS]
_TRACK_ONLY = (check_event_name, check_ecommerce)
# the warnings that can fire for each call type (each rule still guards itself)
_FOR_TYPE: dict[str, tuple[Rule, ...]] = {
    kind: tuple(rule for rule in WARNINGS if kind == "track" or rule not in _TRACK_ONLY)
    for kind in CALL_TYPES
}


def check(message: Mapping[str, Any]) -> list[Problem]:
    """Every problem found in `message`, errors first. A message without a valid type gets
    only that error: the other rules would guess at its shape."""
    found: list[Problem] = check_required(message)
    if found and found[0]["code"] == "invalid_type":
        return found
    for rule in _FOR_TYPE[message["type"]]:
        more = rule(message)
        if more:
            found += more
    return found
