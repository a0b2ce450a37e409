"""The spec rules' promises that mutation testing found unguarded (`make mutate`): the exact
words of every problem (what a user reads in the viewer, `validate` and the refusal answer),
the one-minute limits at their edge, how long spans and odd values are written, reserved
fields checked where they live, and fresh verdicts for names and key sets never seen before.

The rules memoise verdicts process-wide, and mutmut forks each mutant from a process whose
memos its clean run filled; so every test here starts from empty memos, or a mutant in the
judging code would be answered by the unmutated code's remembered verdict.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from debugger import rules
from debugger.rules import check, check_fields, check_unknown_fields

RECEIVED = "2026-03-02T09:00:00.000Z"


@pytest.fixture(autouse=True)
def _fresh_memos() -> Iterator[None]:
    for memo in (rules._name_memo, rules._shape_memo, rules._unknown_memo):
        memo.clear()
    yield


def track(**fields: Any) -> dict[str, Any]:
    """A clean track call as archived, with changes; `...` removes a field."""
    message: dict[str, Any] = {
        "type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1",
        "timestamp": RECEIVED, "sentAt": RECEIVED, "receivedAt": RECEIVED,
    }
    return {key: value for key, value in {**message, **fields}.items() if value is not ...}


def identify(**traits: Any) -> dict[str, Any]:
    return track(type="identify", event=..., traits=traits)


def seen(message: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(code, path, message, hint) of each problem, in order: what a user reads."""
    return [(p["code"], p["path"], p["message"], p.get("hint", "")) for p in check(message)]


def said(message: dict[str, Any]) -> list[str]:
    return [p["message"] for p in check(message)]


# --- the words of each problem --------------------------------------------------------------

TYPES = "identify, track, page, screen, group, alias"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"userId": "u"}, [("invalid_type", "type", f"type is missing; expected one of {TYPES}",
                            "send the call through an SDK method, or set a valid type")]),
        ({"type": "purchase"}, [("invalid_type", "type", f"type is 'purchase'; expected one of {TYPES}",
                                 "send the call through an SDK method, or set a valid type")]),
        (track(userId=...), [("no_user_anon_id", "userId", "userId or anonymousId is required",
                              "identify the user, or set an anonymousId")]),
        (track(event=42), [("invalid_event", "event", "event is the number 42, not a string",
                            'name the event with a string, e.g. "Order Completed"')]),
        (track(type="alias", event=..., previousId="p", userId=...),
         [("no_user_anon_id", "userId", "userId or anonymousId is required", "identify the user, or set an anonymousId"),
          ("missing_user_id", "userId", "alias requires userId", "set userId")]),
        (track(type="group", event=...), [("missing_group_id", "groupId", "group requires groupId", "set groupId")]),
        (track(event="signed up"), [("event_name_case", "event", "event 'signed up' is not \"Object Action\" in Title Case",
                                     'name events "Object Action", e.g. "Order Completed"')]),
        (track(event="Viewed 12345"), [("dynamic_event_name", "event",
                                        "event 'Viewed 12345' looks dynamic (an id, number or date in the name)",
                                        "keep the name fixed and move the varying part into a property")]),
        (track(properties={"Plan": 1, "item_42": 2}),
         [("key_case", "properties.Plan", "properties.Plan is not snake_case",
           "name properties and traits in snake_case, e.g. order_id"),
          ("dynamic_key", "properties.item_42", "properties.item_42 looks dynamic (an id, number or date in the key)",
           "use a fixed key and put the varying part in the value")]),
        (track(messageId=...), [("missing_message_id", "messageId", "messageId is missing",
                                 "send through an SDK, or set a unique messageId (e.g. a UUID) per call")]),
        (track(messageId=7), [("invalid_message_id", "messageId", "messageId is the number 7, not a string",
                               "send a unique string id, e.g. a UUID")]),
        (track(messageId="m" * 120), [("long_message_id", "messageId",
                                       "messageId is 120 characters; Segment needs under 100",
                                       "use a shorter unique id, e.g. a UUID")]),
        (track(originalTimestamp="soon"), [("bad_timestamp", "originalTimestamp",
                                            "originalTimestamp is the string 'soon', not an ISO 8601 date",
                                            'send times as ISO 8601 strings, e.g. "2024-05-01T12:00:00.000Z"')]),
        (track(timestamp="2026-03-02T09:10:00.000Z"),
         [("future_timestamp", "timestamp", "timestamp is 10 min after the collector received it",
           "set the event time when the event happens, not ahead of it")]),
        (track(sentAt="2026-03-02T09:10:00.000Z"),
         [("clock_skew", "sentAt", "sentAt is 10 min off the collector's clock",
           "fix the client clock; Segment corrects timestamp by receivedAt - sentAt")]),
        (track(color="red"), [("unknown_field", "color", "color is not a track field Segment knows",
                               "move it into properties, or into context")]),
        (identify(email="a@b.example") | {"color": "red"},
         [("unknown_field", "color", "color is not a identify field Segment knows", "move it into traits, or into context")]),
        (track(type="group", event=..., groupId="g", plan="pro"),
         [("unknown_field", "plan", "plan is not a group field Segment knows", "move it into traits, or into context")]),
        (track(anonymousId=""), [("empty_id", "anonymousId", "anonymousId is present but empty",
                                  "leave anonymousId out when unknown, or fix the code that sets it")]),
        (track(event="Order Completed", properties={"order_id": "", "products": []}),
         [("ecommerce_property", "properties.order_id", "Order Completed should have properties.order_id (Ecommerce v2 spec)",
           "add properties.order_id, as the Ecommerce v2 spec for Order Completed describes")]),
    ],
    ids=lambda value: "" if isinstance(value, list) else None,
)
def test_each_problem_says_what_where_and_how_to_fix_it(message: dict[str, Any], expected: list[Any]) -> None:
    assert seen(message) == expected


def test_reserved_fields_of_the_wrong_type_say_what_they_should_be() -> None:
    message = identify(email="a@b.example", age="old", company=[], createdAt="last tuesday", address=None)
    assert seen(message) == [
        ("reserved_type", "traits.age", "traits.age is reserved and should be a number, not the string 'old'",
         "send age as a number, or rename the field"),
        ("reserved_type", "traits.company", "traits.company is reserved and should be an object, not an array",
         "send company as an object, or rename the field"),
        ("reserved_type", "traits.createdAt",
         "traits.createdAt is reserved and should be an ISO 8601 date string, not the string 'last tuesday'",
         "send createdAt as an ISO 8601 date string, or rename the field"),
    ]  # email right (checked first, does not end the look), address null: unset, not wrong


def test_reserved_properties_are_checked_on_a_track_and_not_in_its_traits() -> None:
    assert said(track(properties={"revenue": "42", "products": {}})) == [
        "properties.revenue is reserved and should be a number, not the string '42'",
        "properties.products is reserved and should be an array, not an object",
    ]
    # traits are not where a track's reserved names live: only the unknown field is said
    assert [p["code"] for p in check(track(traits={"revenue": "42"}))] == ["unknown_field"]


def test_an_invalid_event_or_message_id_is_described_as_sent() -> None:
    assert said(track(event=True))[0] == "event is a boolean (true), not a string"
    assert said(track(event=False))[0] == "event is a boolean (false), not a string"
    assert said(track(event={"a": 1}))[0] == "event is an object, not a string"
    assert said(track(messageId=["m"])) == ["messageId is an array, not a string"]
    assert said(track(messageId=1.5)) == ["messageId is the number 1.5, not a string"]


def test_a_long_bad_value_is_cut_at_thirty_characters() -> None:
    thirty, thirty_one = "x" * 26 + "-bad", "x" * 27 + "-bad"
    assert said(track(originalTimestamp=thirty)) == [f"originalTimestamp is the string {thirty!r}, not an ISO 8601 date"]
    assert said(track(originalTimestamp=thirty_one)) == [
        f"originalTimestamp is the string {'x' * 27 + '-b…'!r}, not an ISO 8601 date"
    ]


def test_problems_of_properties_traits_and_context_traits_are_all_kept() -> None:
    message = identify(Name="x") | {"properties": {"Bad": 1}, "context": {"traits": {"Worse": 2}}}
    assert [p["path"] for p in check(message) if p["code"] == "key_case"] == [
        "properties.Bad", "traits.Name", "context.traits.Worse"
    ]


def test_context_traits_that_are_not_an_object_are_not_read_as_keys() -> None:
    assert check(track(context={"traits": ["a", "B", 7]})) == []


def test_camel_case_traits_are_named_only_in_traits() -> None:
    assert check(identify(firstName="Ada", lastName="L", createdAt="2026-01-01T00:00:00Z")) == []
    assert [p["path"] for p in check(track(properties={"firstName": "Ada", "createdAt": 1}))] == [
        "properties.firstName", "properties.createdAt"
    ]
    assert [p["path"] for p in check(identify(FirstName="Ada"))] == ["traits.FirstName"]


# --- names and key sets seen for the first time ---------------------------------------------


def test_event_names_are_judged_each_time_a_new_one_arrives() -> None:
    assert [p["code"] for p in check(track(event="signed up"))] == ["event_name_case"]
    assert [p["code"] for p in check(track(event="Order 2026-03-02"))] == ["dynamic_event_name"]
    assert check(track(event="Account Created")) == []
    assert [p["code"] for p in check(track(event="signed up"))] == ["event_name_case"]  # remembered


def test_unknown_fields_are_named_for_each_shape() -> None:
    assert [p["path"] for p in check(track(color="red"))] == ["color"]
    assert [p["path"] for p in check(track(size=1, shade=2))] == ["size", "shade"]
    assert [p["path"] for p in check(track(color="blue"))] == ["color"]


def test_a_rule_called_alone_guards_itself_against_a_bad_type() -> None:
    for kind in (None, 3, ["track"], "purchase"):
        assert check_unknown_fields({"type": kind, "x": 1}) == ()
        assert check_fields({"type": kind, "properties": {"revenue": "x"}}) == ()


def test_the_memos_stay_bounded() -> None:
    for n in range(rules._CACHE_LIMIT + 5):
        rules.check_event_name({"type": "track", "event": f"Name {chr(65 + n % 26)}{n:x}"})
    assert len(rules._name_memo) <= rules._CACHE_LIMIT


# --- times ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "words"),
    [(61, "61 s"), (119, "119 s"), (120, "2 min"), (7199, "119 min"), (7200, "2 h"),
     (172799, "47 h"), (172800, "2 days"), (3 * 86400 + 5, "3 days")],
)
def test_spans_are_written_in_the_largest_whole_unit(ahead: int, words: str) -> None:
    from datetime import datetime, timedelta, timezone

    when = datetime(2026, 3, 2, 9, tzinfo=timezone.utc) + timedelta(seconds=ahead)
    stamp = when.isoformat().replace("+00:00", "Z")
    assert said(track(timestamp=stamp, sentAt=...)) == [f"timestamp is {words} after the collector received it"]
    assert said(track(sentAt=stamp)) == [f"sentAt is {words} off the collector's clock"]


@pytest.mark.parametrize("sent", ["2026-03-02T08:59:00.000Z", "2026-03-02T09:01:00.000Z"])
def test_a_client_clock_exactly_a_minute_off_is_within_the_limit(sent: str) -> None:
    assert check(track(sentAt=sent)) == []
    assert check(track(sentAt=sent, timestamp=...)) == []  # the full check agrees


def test_a_timestamp_exactly_a_minute_ahead_is_not_in_the_future() -> None:
    assert check(track(timestamp="2026-03-02T09:01:00.000Z")) == []
    assert check(track(timestamp="2026-03-02T09:01:00.000Z", sentAt=...)) == []
    assert [p["code"] for p in check(track(timestamp="2026-03-02T09:01:01.000Z", sentAt=...))] == ["future_timestamp"]


def test_times_with_an_offset_or_none_are_compared_in_utc() -> None:
    assert check(track(timestamp="2026-03-02T10:00:30+01:00", sentAt=...)) == []
    assert said(track(timestamp="2026-03-02T09:05:00", sentAt=...)) == ["timestamp is 5 min after the collector received it"]


def test_a_ten_character_date_is_a_date() -> None:
    assert check(track(timestamp="2026-03-02", sentAt=...)) == []


def test_without_receivedat_the_future_is_measured_from_now() -> None:
    assert [p["code"] for p in check(track(receivedAt=..., sentAt=..., timestamp="2999-01-01T00:00:00Z"))] == [
        "future_timestamp"
    ]


@pytest.mark.parametrize("short", ["receivedAt", "sentAt", "timestamp"])
def test_a_value_too_short_to_be_a_date_is_flagged_even_on_a_skewed_clock(short: str) -> None:
    """All naive (so the quick comparison works), the client a day off, one value too short:
    that value is flagged as well as the skew."""
    values = {"receivedAt": "2026-03-02T00:00", "timestamp": "2026-03-02T00:00", "sentAt": "2026-03-03T00:00",
              "originalTimestamp": "2026-03-02T00:00:00Z"}  # an aware, long one does not hide the short
    values[short] = "20260302" if short != "sentAt" else "20260303"
    codes = [(p["code"], p["path"]) for p in check(track(**values))]
    assert ("bad_timestamp", short) in codes
