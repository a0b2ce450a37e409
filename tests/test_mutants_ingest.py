"""Ingest's promises that mutation testing found unguarded (`make mutate`): the exact answer
and refusal of every call refused as a whole (what an SDK and the viewer show), the inflate cap
at its edge, write keys from Basic auth and the allow-list, the batch answer's error list, the
envelope merged only when it is an object, clock-skew correction across second boundaries, and
the batch fast path giving what the item-by-item path gives.

Ingest remembers epoch seconds process-wide, and mutmut forks each mutant from a process whose
memory its clean run filled: every test here starts with those caches empty.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from datetime import datetime, timezone
from typing import Any, Iterator

import orjson
import pytest

from debugger import ingest, rules
from debugger.ingest import MAX_MESSAGE, Call, IngestError
from debugger.message import HEAD_SECONDS

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    ingest._SECONDS.clear()
    HEAD_SECONDS.clear()
    yield


def run(payload: object, kind: str | None = None, *, auth_key: str | None = None,
        allowed: frozenset[str] = frozenset(), check: Any = rules.check) -> ingest.Outcome:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    call = Call(kind=kind, received=RECEIVED, auth_key=auth_key, allowed=allowed)
    return ingest.ingest(body, None, call, check)


def track(**fields: object) -> dict[str, object]:
    return {"type": "track", "event": "Order Completed", "userId": "u1", **fields}


def refusal(outcome: ingest.Outcome) -> tuple[int, dict[str, Any], list[Any]]:
    return outcome.status, outcome.body, [r.problems for r in outcome.refused]


def whole(status: int, code: str, message: str) -> tuple[int, dict[str, Any], list[Any]]:
    """What a call refused as a whole comes to: its answer and its one recorded problem."""
    body = {"success": False, "code": code, "message": message, "error": message}
    return status, body, [[{"level": "error", "code": code, "message": message, "path": ""}]]


# --- decoding -------------------------------------------------------------------------------


def test_the_inflate_cap_is_inclusive_and_counts_every_gzip_member() -> None:
    cap = 1000
    assert ingest.decode_body(gzip.compress(b"x" * cap), "gzip", cap) == b"x" * cap
    two = gzip.compress(b"a" * 600) + gzip.compress(b"b" * 400)
    assert ingest.decode_body(two, "gzip", cap) == b"a" * 600 + b"b" * 400
    for body in (gzip.compress(b"x" * (cap + 1)), gzip.compress(b"a" * 600) + gzip.compress(b"b" * 401)):
        with pytest.raises(IngestError) as refused:
            ingest.decode_body(body, "gzip", cap)
        assert (refused.value.code, refused.value.message) == (
            "request_too_large", "the gzip body inflates to more than 1000 bytes"
        )


def test_a_large_body_inflates_in_full_below_the_cap() -> None:
    text = bytes(range(256)) * 4000  # about 1 MB, little repetition for zlib's window
    assert ingest.decode_body(zlib.compress(text), "deflate", len(text)) == text


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        (gzip.compress(b'{"a": 1}')[:-6], "gzip", "the gzip body is truncated"),
        (b"not compressed at all", "gzip", "the gzip body is corrupt"),
        (b"not compressed at all", "deflate", "the deflate body is corrupt"),
    ],
)
def test_a_bad_encoding_says_what_is_wrong(body: bytes, encoding: str, message: str) -> None:
    call = Call(kind="track", received=RECEIVED)
    outcome = ingest.ingest(body, encoding, call, rules.check)
    assert refusal(outcome) == whole(400, "invalid_encoding", message)


def test_pixel_data_in_either_base64_alphabet_and_its_refusals() -> None:
    data = b'{"a":"~~~???>>>"}'
    assert ingest.decode_pixel(base64.urlsafe_b64encode(data).decode().rstrip("=")) == data
    assert "-" in base64.urlsafe_b64encode(data).decode() or "_" in base64.urlsafe_b64encode(data).decode()
    assert ingest.decode_pixel(base64.b64encode(b'{"b":1}').decode().rstrip("=")) == b'{"b":1}'
    for data_param, code, message in [
        (None, "empty_body", "the pixel call has no data parameter"),
        ("", "empty_body", "the pixel call has no data parameter"),
        ("not*base64", "invalid_json", "the pixel data parameter is not base64"),
    ]:
        with pytest.raises(IngestError) as refused:
            ingest.decode_pixel(data_param)
        assert (refused.value.status, refused.value.code, refused.value.message) == (400, code, message)


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Basic  " + base64.b64encode(b"wk:").decode(), "wk"),  # extra space before the value
        ("Basic " + base64.b64encode(b"wk:secret:more").decode(), "wk"),  # the password may hold ':'
        ("Bearer " + base64.b64encode(b"wk:").decode(), None),  # a Bearer token is not a key
        ("Basic " + base64.b64encode(b"wk:").decode() + "!", None),  # not base64 after all
    ],
)
def test_the_write_key_of_basic_auth(header: str, key: str | None) -> None:
    assert ingest.write_key_from_auth(header) == key


def test_json_errors_say_where() -> None:
    outcome = run(b'{"a": 1,\n "b": }', "track")
    assert refusal(outcome) == whole(400, "invalid_json", "the body is not valid JSON (line 2, column 7)")
    outcome = run(b'{"a": "\xff"}', "track")
    assert refusal(outcome) == whole(400, "invalid_json", "the body is not valid UTF-8 (byte 7)")


# --- whole calls ----------------------------------------------------------------------------


def test_write_keys_the_allow_list_refuses_are_named() -> None:
    allowed = frozenset({"good"})
    assert refusal(run(track(writeKey="bad"), "track", allowed=allowed)) == whole(
        401, "invalid_write_key", "write key 'bad' is not accepted by this collector"
    )
    assert refusal(run(track(), "track", allowed=allowed)) == whole(
        401, "invalid_write_key", "no write key given: this collector accepts only the keys it was started with"
    )
    # a body writeKey that is not a string is not a key: the Basic auth one counts
    [accepted] = run(track(writeKey=5), "track", auth_key="good", allowed=allowed).accepted
    assert accepted.write_key == "good"


def test_a_single_call_too_large_and_one_refused_by_a_rule() -> None:
    big = orjson.dumps(track(blob="x" * MAX_MESSAGE))
    assert refusal(run(big, "track")) == whole(400, "message_too_large", "the message is over 32768 bytes")
    outcome = run({"event": "E"}, "track")
    assert outcome.body == {"success": False, "code": "no_user_anon_id",
                            "message": "userId or anonymousId is required",
                            "error": "userId or anonymousId is required"}
    assert outcome.refusals == 1 and outcome.answer_status(strict=True) == 400


def test_a_single_calls_sent_at_corrects_its_timestamp() -> None:
    [accepted] = run(track(sentAt="2024-05-01T11:59:50.000Z", timestamp="2024-05-01T11:59:40.000Z"),
                     "track").accepted
    assert accepted.message["timestamp"] == "2024-05-01T11:59:50.000Z"
    assert accepted.message["originalTimestamp"] == "2024-05-01T11:59:40.000Z"


def test_a_body_without_a_batch_list() -> None:
    assert refusal(run({"batch": {"a": 1}})) == whole(200, "invalid_batch", 'the body has no "batch" list of messages')


def test_a_batch_over_the_event_limit_is_refused_whole_with_its_text() -> None:
    body = orjson.dumps({"batch": [track()] * (ingest.MAX_BATCH + 1), "writeKey": "wk"})
    outcome = run(body)
    message = "the batch has 2501 events; at most 2500 are accepted"
    assert outcome.status == 200 and outcome.answer_status(strict=True) == 400
    assert outcome.body == {"success": False, "accepted": 0, "rejected": 2501,
                            "errors": [{"index": None, "code": "too_many_events", "message": message}]}
    [refused] = outcome.refused
    assert (refused.write_key, refused.problems) == (
        "wk", [{"level": "error", "code": "too_many_events", "message": message, "path": "batch"}]
    )
    assert refused.raw == body[:ingest.RAW_KEPT].decode() + f"…[truncated: {len(body)} bytes]"
    assert outcome.refusals == 1


def test_a_batch_answer_lists_every_refusal() -> None:
    outcome = run({"batch": [track(userId=None, event=f"E{n}") for n in range(25)] + [track()]})
    assert outcome.status == 200 and outcome.refusals == 25
    assert outcome.body["success"] is True and outcome.body["accepted"] == 1 and outcome.body["rejected"] == 25
    assert outcome.body["errors"] == [
        {"index": n, "code": "no_user_anon_id", "message": "userId or anonymousId is required"} for n in range(25)
    ]


def test_a_batch_with_no_accepted_key_is_refused_401() -> None:
    outcome = run({"batch": [track(writeKey="bad"), track()]}, allowed=frozenset({"good"}))
    message = "no item of this batch has a write key accepted by this collector"
    assert (outcome.status, outcome.body) == (401, {"success": False, "code": "invalid_write_key",
                                                    "message": message, "error": message})
    first, second = outcome.refused
    assert first.problems == [{"level": "error", "code": "invalid_write_key",
                               "message": "write key 'bad' is not accepted", "path": "writeKey"}]
    assert second.problems[0]["message"] == "no write key given: this collector accepts only the keys it was started with"
    assert first.message == track(writeKey="bad") and first.write_key == "bad"
    assert orjson.loads(first.raw or "") == track(writeKey="bad")


def test_items_that_are_not_objects_are_named_by_their_json_type() -> None:
    outcome = run({"batch": [1, "s", 1.5, True, None, [1], track()], "writeKey": "wk"})
    assert [r.problems[0]["message"] for r in outcome.refused] == [
        f"the item is a JSON {name}, not an object" for name in ("number", "string", "number", "boolean", "null", "array")
    ]
    assert [r.raw for r in outcome.refused] == ["1", '"s"', "1.5", "true", "null", "[1]"]
    assert {r.write_key for r in outcome.refused} == {"wk"}
    assert refusal(run(b'"text"', "track")) == whole(200, "not_an_object", "the body is a JSON string, not an object")


# --- the envelope ---------------------------------------------------------------------------


def test_an_envelope_that_is_not_an_object_is_not_merged() -> None:
    outcome = run({"batch": [track()], "context": "junk", "integrations": ["x"], "writeKey": "wk",
                   "sentAt": "2024-05-01T12:00:00.000Z"})
    [accepted] = outcome.accepted
    assert "context" not in accepted.message and "integrations" not in accepted.message


@pytest.mark.parametrize("field", ["context", "integrations"])
def test_an_envelope_object_reaches_items_without_their_own(field: str) -> None:
    outcome = run({"batch": [track(timestamp="2024-05-01T11:59:59.000Z")], field: {"x": 1}, "writeKey": "wk",
                   "sentAt": "2024-05-01T12:00:00.000Z"})
    assert outcome.accepted[0].message[field] == {"x": 1}


# --- skew -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent_at", "timestamp", "corrected"),
    [
        ("2024-05-01T11:59:59.750Z", "2024-05-01T11:59:58.900Z", "2024-05-01T11:59:59.150Z"),  # carry
        ("2024-05-01T12:00:10.000Z", "2024-05-01T12:00:10.000Z", "2024-05-01T12:00:00.000Z"),  # ahead
        ("2024-05-01T11:59:50.000Z", "2024-05-01T11:59:40.123+00:00", "2024-05-01T11:59:50.123Z"),
        ("2024-05-01T11:59:50.000Z", "2024-05-01T11:59:40.123z", "2024-05-01T11:59:50.123Z"),  # lower-case z
    ],
)
def test_timestamps_move_by_the_clock_skew(sent_at: str, timestamp: str, corrected: str) -> None:
    for batch in ({"batch": [track(timestamp=timestamp)], "sentAt": sent_at, "writeKey": "wk"},
                  {"batch": [track(timestamp=timestamp, sentAt=sent_at)], "writeKey": "wk"}):
        [accepted] = run(batch).accepted
        assert accepted.message["timestamp"] == corrected
        assert accepted.message["originalTimestamp"] == timestamp


def test_a_timestamp_moved_past_year_9999_is_left_alone() -> None:
    """The shift wrote '10024-05-01T...' (no ISO parser reads it) before _prefix refused
    years past 9999 (found by mutant M2, issue 17)."""
    batch = {"batch": [track(timestamp="9999-12-31T23:59:59.000Z"), track(timestamp="9999-12-31T23:59:59+00:00")],
             "sentAt": "2000-01-01T00:00:00.000Z", "writeKey": "wk"}
    assert [a.message["timestamp"] for a in run(batch).accepted] == [
        "9999-12-31T23:59:59.000Z", "9999-12-31T23:59:59+00:00"
    ]


def test_a_timestamp_in_year_1_keeps_four_digits_when_shifted() -> None:
    """strftime's %Y wrote '1-01-01T...' for year 1 (unreadable as ISO 8601)."""
    batch = {"batch": [track(timestamp="0001-01-01T00:00:00.000Z")], "sentAt": "2000-01-01T00:00:00.000Z",
             "writeKey": "wk"}
    [accepted] = run(batch).accepted
    assert accepted.message["timestamp"] == "0025-05-02T12:00:00.000Z"  # datetime agrees
    assert accepted.message["originalTimestamp"] == "0001-01-01T00:00:00.000Z"


def test_a_timestamp_the_calendar_does_not_have_is_left_alone() -> None:
    batch = {"batch": [track(timestamp="2024-02-30T12:00:00.000Z")], "sentAt": "2024-05-01T11:59:50.000Z",
             "writeKey": "wk"}
    [accepted] = run(batch).accepted
    assert accepted.message["timestamp"] == "2024-02-30T12:00:00.000Z"


# --- the fast path --------------------------------------------------------------------------


def _items() -> list[Any]:
    """Items of every kind the batch fast path meets: plain, refused by a rule, too large once
    merged or as sent, without a timestamp, with one that is not a time."""
    exact = track(properties={"pad": ""}, timestamp="2024-05-01T11:59:59.000Z")
    # near the limit as sent (with the write key the other path's copy adds), over it merged
    exact["properties"] = {"pad": "x" * (MAX_MESSAGE - 20 - len(orjson.dumps(exact)))}
    over = track(properties={"pad": "x" * MAX_MESSAGE}, timestamp="2024-05-01T11:59:59.000Z")
    return [
        track(timestamp="2024-05-01T11:59:58.250Z"),
        track(userId=None, timestamp="2024-05-01T11:59:58.250Z"),
        exact, over,
        track(),
        track(timestamp="soon"),
        track(event="bad name", timestamp="2024-05-01T11:59:58.250Z"),
    ]


def test_the_batch_fast_path_gives_what_each_item_alone_gives() -> None:
    """An item that repeats the batch's write key takes the item-by-item path; the same items
    without it take the fast path: same messages, problems, fates and raw texts."""
    sent_at = "2024-05-01T11:59:59.500Z"
    fast = run({"batch": _items(), "writeKey": "wk", "sentAt": sent_at})
    slow = run({"batch": [{**item, "writeKey": "wk"} for item in _items()], "writeKey": "wk", "sentAt": sent_at})
    assert [type(r).__name__ for r in fast.results] == [
        "Accepted", "Refused", "Accepted", "Refused", "Accepted", "Accepted", "Accepted"
    ]
    assert [type(r) for r in fast.results] == [type(r) for r in slow.results]
    for quick, each in zip(fast.results, slow.results, strict=True):
        assert quick.message == each.message and quick.problems == each.problems
        assert quick.write_key == each.write_key == "wk"
        if isinstance(quick, ingest.Accepted):
            assert orjson.loads(quick.line) == quick.message
    refused = [r for r in fast.results if isinstance(r, ingest.Refused)]
    assert [orjson.loads(r.raw or "") for r in refused] == [_items()[1], _items()[3]]
    assert fast.body == slow.body


def test_the_fast_path_keeps_a_message_whose_rule_crashed() -> None:
    def crash(message: Any) -> list[Any]:
        raise RuntimeError("boom")

    outcome = run({"batch": [track(timestamp="2024-05-01T11:59:58.250Z")], "writeKey": "wk",
                   "sentAt": "2024-05-01T12:00:00.000Z"}, check=crash)
    [accepted] = outcome.accepted
    assert accepted.problems[0]["code"] == "check_failed"
    assert accepted.message["timestamp"] == "2024-05-01T11:59:58.250Z"


# --- a refused item's exact text ------------------------------------------------------------


def test_a_refused_items_text_is_found_however_the_body_is_written() -> None:
    bad = b'{ "type" : "track" ,"event":"E", "v": [1, {"a": [2]}], "s": "x\\"]," }'
    good = b'{"type":"track","userId":"u","event":"E"}'
    bodies = [
        b'{"batch":[' + good + b",\n  " + bad + b"  ]}",
        b'{"context": {"batch": [1]}, "b\\u0061tch": [' + good + b", " + bad + b"]}",
        b'{"batch": [1, 2, 3, 4], "sentAt": "x", "batch": [' + good + b"," + bad + b"]}",
    ]
    for body in bodies:
        outcome = run(body)
        assert [r.raw for r in outcome.refused] == [bad.decode()], body


def test_item_spans_of_an_empty_batch_and_no_batch() -> None:
    assert ingest.item_spans(b'{"batch": [ ]}') == []
    assert ingest.item_spans(b'{"batch": [ {} ]}') == [(12, 14)]
    assert ingest.item_spans(b'{"other": [1]}') is None
    assert ingest.item_spans(b'[{"batch": [1]}]') is None


def test_an_items_own_fields_beat_the_batch_fast_path() -> None:
    """Items with their own sentAt, writeKey, receivedAt or originalTimestamp, in a batch that
    otherwise takes the fast path: their own sentAt and key count, receivedAt is the server's,
    the client's originalTimestamp is kept."""
    stamp = "2024-05-01T11:59:40.000Z"
    outcome = run({"batch": [track(timestamp=stamp, sentAt="2024-05-01T11:59:50.000Z"),
                             track(timestamp=stamp, writeKey="own"),
                             track(timestamp=stamp, receivedAt="2000-01-01T00:00:00.000Z"),
                             track(timestamp=stamp, originalTimestamp="2024-05-01T11:00:00.000Z")],
                   "sentAt": "2024-05-01T11:59:59.000Z", "writeKey": "wk"})
    own_sent, own_key, own_received, own_original = (a.message for a in outcome.accepted)
    assert (own_sent["sentAt"], own_sent["timestamp"]) == ("2024-05-01T11:59:50.000Z", "2024-05-01T11:59:50.000Z")
    assert (own_key["writeKey"], outcome.accepted[1].write_key) == ("own", "own")
    assert own_received["receivedAt"] == "2024-05-01T12:00:00.000Z"
    assert own_original["originalTimestamp"] == "2024-05-01T11:00:00.000Z"
    assert own_original["timestamp"] == own_received["timestamp"] == "2024-05-01T11:59:41.000Z"
