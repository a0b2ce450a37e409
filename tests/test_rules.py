"""The spec rules: for every rule a message it passes and one it flags."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.rules import CODES, check


def good(**changes: Any) -> dict[str, Any]:
    """A clean track call (as archived), with top-level changes; `...` removes a field."""
    message: dict[str, Any] = {
        "type": "track",
        "event": "Order Completed",
        "userId": "cus_1",
        "anonymousId": "8f0e3c1a-5d2b-4c7e-9a61-0c2b7d9e4f13",
        "messageId": "ajs-next-5f1c0e2a9b7d4c3e8a6f1b2c3d4e5f60",
        "properties": {"order_id": "ord_1", "products": [{"product_id": "p1"}], "revenue": 42.0},
        "context": {"library": {"name": "analytics.js", "version": "1.0"}},
        "integrations": {},
        "timestamp": "2026-03-02T09:00:00.000Z",
        "sentAt": "2026-03-02T09:00:00.100Z",
        "receivedAt": "2026-03-02T09:00:00.150Z",
    }
    return {key: value for key, value in {**message, **changes}.items() if value is not ...}


IDENTIFY = good(type="identify", event=..., properties=..., traits={"email": "a@b.example", "createdAt": "2026-01-01T00:00:00Z"})
GROUP = good(type="group", event=..., properties=..., groupId="acct_1", traits={"name": "Acme", "employees": 40})
ALIAS = good(type="alias", event=..., properties=..., previousId="8f0e3c1a")
PAGE = good(type="page", event=..., name="Home", properties={"path": "/", "url": "https://x.example/"})

# code -> (a message the rule passes, a message it flags)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "invalid_type": (good(), good(type="purchase")),
    "no_user_anon_id": (good(userId=...), good(userId=..., anonymousId=...)),
    "missing_event": (good(), good(event="")),
    "invalid_event": (good(), good(event=42)),
    "missing_group_id": (GROUP, {**GROUP, "groupId": None}),
    "missing_previous_id": (ALIAS, {**ALIAS, "previousId": ""}),
    "missing_user_id": (ALIAS, {k: v for k, v in ALIAS.items() if k != "userId"}),
    "event_name_case": (good(event="Product Added to Wishlist", properties={"wishlist_id": "w", "product_id": "p"}),
                        good(event="orderCompleted")),
    "dynamic_event_name": (good(event="Signed Up"), good(event="Viewed Product 8f0e3c1a5d2b")),
    "key_case": (good(), good(properties={"order_id": "o", "products": [], "orderTotal": 1})),
    "dynamic_key": (IDENTIFY, {**IDENTIFY, "traits": {"email": "a@b.example", "seen_2026-03-02": True}}),
    "reserved_type": (IDENTIFY, {**IDENTIFY, "traits": {"email": ["a@b.example"], "createdAt": 1700000000}}),
    "missing_message_id": (good(), good(messageId=...)),
    "long_message_id": (good(messageId="x" * 99), good(messageId="x" * 100)),
    "invalid_message_id": (good(messageId="1"), good(messageId=1)),
    "bad_timestamp": (good(), good(timestamp="02/03/2026")),
    "future_timestamp": (good(timestamp="2026-03-02T09:00:59.000Z"), good(timestamp="2026-03-02T09:05:00.000Z")),
    "clock_skew": (good(sentAt="2026-03-02T08:59:30.000Z", timestamp="2026-03-02T08:59:29.000Z"),
                   good(sentAt="2026-03-02T09:03:00.000Z")),
    "unknown_field": (PAGE, {**PAGE, "url": "https://x.example/"}),
    "empty_id": (good(anonymousId=...), good(anonymousId=" ")),
    "ecommerce_property": (good(), good(properties={"order_id": "o1", "revenue": 1.0})),
}


def codes(message: dict[str, Any]) -> list[str]:
    return [found["code"] for found in check(message)]


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(CODES)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_passes_the_good_example(code: str) -> None:
    passing, _ = CASES[code]
    assert code not in codes(passing)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_flags_the_bad_example(code: str) -> None:
    _, failing = CASES[code]
    found = [p for p in check(failing) if p["code"] == code]
    assert found, f"{code} not flagged; got {codes(failing)}"
    level, _ = CODES[code]
    for item in found:
        assert item["level"] == level
        assert item["path"] and item["path"].split(".")[0] in item["message"] or item["path"] in ("type",)
        assert item["hint"] and "\n" not in item["hint"]


@pytest.mark.parametrize("message", [good(), IDENTIFY, GROUP, ALIAS, PAGE], ids=lambda m: m["type"])
def test_clean_messages_have_no_problems(message: dict[str, Any]) -> None:
    assert check(message) == []


def test_errors_come_first_and_invalid_type_stands_alone() -> None:
    found = check(good(userId=..., anonymousId=..., event="bad name", messageId=...))
    assert found[0]["code"] == "no_user_anon_id"
    assert [p["level"] for p in found] == sorted((p["level"] for p in found), key=lambda level: level != "error")
    assert codes({"type": 3, "userId": ""}) == ["invalid_type"]


def test_rules_do_not_change_the_message() -> None:
    message = good(event="bad name", properties={"Revenue": "x", "revenue": "1"}, extra=1)
    before = copy.deepcopy(message)
    check(message)
    check(message)  # the second time through the memoised verdicts
    assert message == before


def test_memoised_verdicts_still_name_the_field() -> None:
    first = check(good(properties={"order_id": "o", "products": [], "badKey": 1}))
    second = check(good(properties={"order_id": "o", "products": [], "badKey": 2}))
    assert [p["message"] for p in first] == [p["message"] for p in second] == ["properties.badKey is not snake_case"]


def test_camel_case_reserved_traits_are_fine_but_not_in_properties() -> None:
    assert check({**IDENTIFY, "traits": {"firstName": "Ada", "lastName": "L", "createdAt": "2026-01-01"}}) == []
    assert codes(good(properties={"order_id": "o", "products": [], "firstName": "Ada"})) == ["key_case"]


def test_a_numbered_key_is_dynamic_but_a_one_digit_suffix_is_a_name() -> None:
    fixed = {"address_line_1": "Main St 1", "address_line_2": "Flat 2", "step_3": True}
    assert check({**IDENTIFY, "traits": {"email": "a@b.example", **fixed}}) == []
    numbered = check({**IDENTIFY, "traits": {"email": "a@b.example", "item_42": 1, "7day_active": True}})
    assert [(p["code"], p["path"]) for p in numbered] == [("dynamic_key", "traits.item_42"),
                                                          ("dynamic_key", "traits.7day_active")]


def test_context_traits_are_checked_too() -> None:
    message = good(context={"traits": {"email": "a@b.example", "Plan Name": "pro"}})
    assert [p["path"] for p in check(message)] == ["context.traits.Plan Name"]


def test_odd_values_never_raise() -> None:
    """Fields of the wrong JSON type are reported as problems, never raised, never ignored."""
    for odd in (None, 1, [], {}, "", True, 1.5, "x" * 10_000):
        message = good(event=odd, properties=odd, traits=odd, context=odd, timestamp=odd, sentAt=odd,
                       receivedAt=odd, messageId=odd, userId=odd)
        found = check(message)
        assert all(p["code"] in CODES and p["level"] == CODES[p["code"]][0] and p["message"] for p in found)
        at = {(p["code"], p["path"]) for p in found}
        times = {path for code, path in at if code == "bad_timestamp"}
        assert times == (set() if odd is None else {"timestamp", "sentAt", "receivedAt"}), odd
        absent = odd is None or odd == ""
        assert (("missing_event", "event") in at) == absent, odd
        assert (("missing_message_id", "messageId") in at) == absent, odd
        not_text = not absent and type(odd) is not str
        assert (("invalid_event", "event") in at) == not_text, odd
        assert (("invalid_message_id", "messageId") in at) == not_text, odd
        assert (("long_message_id", "messageId") in at) == (odd == "x" * 10_000), odd
        assert (("empty_id", "userId") in at) == (odd == ""), odd


def test_a_skewed_client_clock_shows_once_as_clock_skew() -> None:
    # as the collector archives it: the client's time kept, timestamp corrected by the skew
    message = good(sentAt="2026-03-02T09:05:00.100Z", originalTimestamp="2026-03-02T09:05:00.000Z",
                   timestamp="2026-03-02T09:00:00.050Z")
    assert codes(message) == ["clock_skew"]
    assert codes({**message, "originalTimestamp": "soon"}) == ["bad_timestamp", "clock_skew"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
fields = st.sampled_from(
    ["type", "event", "userId", "anonymousId", "messageId", "properties", "traits", "context",
     "timestamp", "sentAt", "receivedAt", "originalTimestamp", "groupId", "previousId", "name", "extra"]
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["track", "identify", "page", "screen", "group", "alias", "bogus"]),
    body=st.dictionaries(fields, json_values, max_size=10),
)
def test_any_message_gets_well_formed_problems(kind: str, body: dict[str, Any]) -> None:
    """The collector runs check on untrusted input: it must never raise, and every problem
    must be complete, errors first."""
    found = check({"type": kind, **body})
    levels = [p["level"] for p in found]
    assert levels == sorted(levels, key=lambda level: level != "error")
    for item in found:
        assert item["code"] in CODES and item["level"] == CODES[item["code"]][0]
        assert item["message"] and "\n" not in item["hint"]
