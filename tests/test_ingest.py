"""Unit tests for debugger.ingest: decoding, limits, merging, write keys, skew, refusals."""

from __future__ import annotations

import base64
import gzip
import tracemalloc
import zlib
from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from debugger import ingest, rules
from debugger.ingest import MAX_BATCH, MAX_MESSAGE, MAX_REQUEST, Call, IngestError
from tests.support import gzip_bomb

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def run(payload: object, kind: str | None = None, *, encoding: str | None = None,
        auth_key: str | None = None, allowed: frozenset[str] = frozenset()) -> ingest.Outcome:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    call = Call(kind=kind, received=RECEIVED, auth_key=auth_key, allowed=allowed)
    return ingest.ingest(body, encoding, call, rules.check)


def track(**fields: object) -> dict[str, object]:
    return {"type": "track", "event": "Order Completed", "userId": "u1", **fields}


def test_single_call_gets_type_from_path_received_at_and_server_timestamp() -> None:
    outcome = run({"userId": "u1", "traits": {"plan": "pro"}, "type": "track"}, "identify")
    assert outcome.status == 200 and outcome.body == {"success": True}
    [accepted] = outcome.accepted
    assert accepted.message["type"] == "identify"
    assert accepted.message["receivedAt"] == "2024-05-01T12:00:00.000Z"
    assert accepted.message["timestamp"] == "2024-05-01T12:00:00.000Z"
    assert orjson.loads(accepted.line) == accepted.message


def test_clock_skew_corrects_timestamp_and_keeps_original() -> None:
    # the client clock is 10 s behind: sentAt 11:59:50 arrived at 12:00:00
    outcome = run({"batch": [track(timestamp="2024-05-01T11:59:40.250Z")],
                   "sentAt": "2024-05-01T11:59:50Z"})
    [accepted] = outcome.accepted
    assert accepted.message["timestamp"] == "2024-05-01T11:59:50.250Z"
    assert accepted.message["originalTimestamp"] == "2024-05-01T11:59:40.250Z"
    assert accepted.message["sentAt"] == "2024-05-01T11:59:50Z"


def test_clock_skew_with_offsets_and_naive_times() -> None:
    outcome = run({"batch": [track(timestamp="2024-05-01T13:59:40+02:00"),
                             track(timestamp="2024-05-01T11:59:40.123456"),
                             track(timestamp="not a time")],
                   "sentAt": "2024-05-01T13:59:50+02:00"})
    stamps = [a.message["timestamp"] for a in outcome.accepted]
    assert stamps == ["2024-05-01T11:59:50.000Z", "2024-05-01T11:59:50.123Z", "not a time"]
    assert "originalTimestamp" not in outcome.accepted[2].message


@pytest.mark.parametrize("sent_at", [{"not": "a time"}, ["x"], 17, "yesterday"])
def test_odd_sent_at_leaves_timestamp_alone(sent_at: object) -> None:
    outcome = run({"batch": [track(timestamp="2024-05-01T11:59:40Z")], "sentAt": sent_at})
    [accepted] = outcome.accepted
    assert accepted.message["timestamp"] == "2024-05-01T11:59:40Z"
    assert accepted.message["sentAt"] == sent_at


def test_timestamp_without_sent_at_is_left_alone() -> None:
    [accepted] = run(track(timestamp="2020-01-01T00:00:00Z"), "track").accepted
    assert accepted.message["timestamp"] == "2020-01-01T00:00:00Z"
    assert "originalTimestamp" not in accepted.message


def test_batch_envelope_merged_into_items_item_wins() -> None:
    outcome = run({
        "batch": [track(context={"ip": "9.9.9.9"}), track(integrations={"All": True})],
        "context": {"ip": "1.1.1.1", "library": {"name": "x"}},
        "integrations": {"All": False}, "writeKey": "wk",
    })
    first, second = (a.message for a in outcome.accepted)
    assert first["context"] == {"ip": "9.9.9.9", "library": {"name": "x"}}
    assert first["integrations"] == {"All": False}
    assert second["integrations"] == {"All": True}
    assert first["writeKey"] == second["writeKey"] == "wk"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Basic " + base64.b64encode(b"wk_basic:").decode(), "wk_basic"),
        ("Basic " + base64.b64encode(b"wk_nocolon").decode(), "wk_nocolon"),
        ("basic " + base64.b64encode(b"wk:ignored").decode(), "wk"),
        ("Bearer token-123", None),
        ("Basic !!!", None),
        (None, None),
    ],
)
def test_write_key_from_auth(header: str | None, key: str | None) -> None:
    assert ingest.write_key_from_auth(header) == key


def test_write_key_body_first_then_basic() -> None:
    assert run(track(), "track", auth_key="basic").accepted[0].message["writeKey"] == "basic"
    assert run(track(writeKey="body"), "track", auth_key="basic").accepted[0].write_key == "body"
    assert "writeKey" not in run(track(), "track").accepted[0].message


def test_allow_list_refuses_other_keys_with_401() -> None:
    allowed = frozenset({"good"})
    assert run(track(writeKey="good"), "track", allowed=allowed).status == 200
    outcome = run(track(writeKey="bad"), "track", allowed=allowed)
    assert outcome.status == 401 and outcome.body["code"] == "invalid_write_key"
    assert outcome.refused[0].write_key == "bad"  # the refusal record says which key (it said none)
    assert outcome.refused[0].message == {**track(writeKey="bad"), "type": "track"}  # it said null
    assert run({"batch": [track()], "writeKey": "bad"}, allowed=allowed).refused[0].write_key == "bad"
    assert run(track(), "track", allowed=allowed).status == 401
    mixed = run({"batch": [track(), track(writeKey="bad")], "writeKey": "good"}, allowed=allowed)
    assert (len(mixed.accepted), len(mixed.refused)) == (1, 1)


def test_allow_list_with_keys_only_in_items_as_analytics_js_batches() -> None:
    allowed = frozenset({"good"})
    outcome = run({"batch": [track(writeKey="good"), track(writeKey="bad"), track()]}, allowed=allowed)
    assert outcome.status == 200 and outcome.body["accepted"] == 1
    assert [e["code"] for e in outcome.body["errors"]] == ["invalid_write_key"] * 2
    none_good = run({"batch": [track(writeKey="bad"), track()]}, allowed=allowed)
    assert none_good.status == 401 and none_good.body["code"] == "invalid_write_key"
    assert len(none_good.refused) == 2
    assert run({"batch": [track(writeKey="good")], "writeKey": "bad"}, allowed=allowed).status == 401


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"", 400, "empty_body"),
        (b"  \n", 400, "empty_body"),
        (b"[1, 2]", 200, "not_an_object"),
        (b'{"userId": "u", "event": "E", "x": NaN}', 400, "invalid_json"),
        (b'{"userId": "\xff\xfe", "event": "E"}', 400, "invalid_json"),
        (b"[" * 2000 + b"]" * 2000, 400, "invalid_json"),
        (orjson.dumps(track(blob="x" * MAX_MESSAGE)), 400, "message_too_large"),
        (orjson.dumps({"event": "E"}), 200, "no_user_anon_id"),
        (orjson.dumps({"userId": "u"}), 200, "missing_event"),
    ],
)
def test_single_call_refusals(payload: bytes, status: int, code: str) -> None:
    outcome = run(payload, "track")
    assert outcome.status == status  # Segment's: 400 only for JSON, encoding and size errors
    assert outcome.answer_status(strict=True) == 400  # collect --strict: 400 for any refusal
    assert outcome.body["success"] is False and outcome.body["code"] == code
    assert outcome.body["error"] == outcome.body["message"]
    assert not outcome.accepted and len(outcome.refused) == 1
    assert outcome.refused[0].problems[0]["code"] == code


def test_refusal_keeps_exact_raw_text() -> None:
    raw = b'{"event" : "E",  "odd": "spacing"}'
    [refused] = run(raw, "track").refused
    assert refused.raw == raw.decode()
    assert refused.message is not None and refused.message["event"] == "E"


def test_invalid_utf8_raw_is_decoded_with_replacement_characters() -> None:
    [refused] = run(b'{"a": "\xff"}', "track").refused
    assert refused.raw == '{"a": "\ufffd"}'


def test_a_refused_batch_item_keeps_its_exact_text() -> None:
    item = b'{"type": "track", "event": "E", "event": "E", "v": 1.50}'
    body = b'{"batch": [' + item + b', {"type": "track", "userId": "u", "event": "E"}]}'
    outcome = run(body)
    assert outcome.status == 200 and outcome.answer_status(strict=True) == 400
    assert [r.raw for r in outcome.refused] == [item.decode()]


def test_group_without_group_id_and_unknown_type_in_batch() -> None:
    outcome = run({"batch": [
        track(), {"type": "group", "userId": "u"}, {"type": "bogus", "userId": "u"}, "text",
        {"type": "alias", "userId": "u"},
    ]})
    assert outcome.status == 200
    assert len(outcome.accepted) == 1
    assert outcome.body["accepted"] == 1 and outcome.body["rejected"] == 4
    codes = [(e["index"], e["code"]) for e in outcome.body["errors"]]
    assert codes == [(1, "missing_group_id"), (2, "invalid_type"), (3, "not_an_object"),
                     (4, "missing_previous_id")]
    assert outcome.refused[2].raw == '"text"'


def test_batch_limits() -> None:
    too_many = run({"batch": [track() for _ in range(MAX_BATCH + 1)]})
    assert too_many.status == 200 and too_many.body["rejected"] == MAX_BATCH + 1
    assert not too_many.accepted and too_many.refused[0].problems[0]["code"] == "too_many_events"
    assert len(run({"batch": [track() for _ in range(MAX_BATCH)]}).accepted) == MAX_BATCH
    big = run({"batch": [track(blob="x" * (MAX_MESSAGE + 10)), track()]})
    assert big.status == 200 and big.body["errors"][0]["code"] == "message_too_large"
    huge = run({"batch": [track(blob="x" * 30000) for _ in range(20)]})
    assert huge.status == 400 and huge.body["code"] == "request_too_large"
    assert run({"nobatch": []}).body["code"] == "invalid_batch"


def test_gzip_and_deflate_bodies() -> None:
    body = orjson.dumps({"batch": [track()]})
    assert len(run(gzip.compress(body), encoding="gzip").accepted) == 1
    assert len(run(zlib.compress(body), encoding="deflate").accepted) == 1
    raw_deflate = zlib.compressobj(wbits=-15)
    assert len(run(raw_deflate.compress(body) + raw_deflate.flush(), encoding="deflate").accepted) == 1
    two_members = gzip.compress(body[:10]) + gzip.compress(body[10:])
    assert len(run(two_members, encoding="gzip").accepted) == 1


def test_refusal_of_a_gzip_body_keeps_the_inflated_text() -> None:
    [refused] = run(gzip.compress(b'{"batch": [oops]}'), encoding="gzip").refused
    assert refused.raw == '{"batch": [oops]}'


@pytest.mark.parametrize(
    ("body", "encoding", "code"),
    [
        (b"\x1f\x8bnot really gzip", "gzip", "invalid_encoding"),
        (gzip.compress(b'{"batch": []}')[:-12], "gzip", "invalid_encoding"),
        (b"{}", "br", "unsupported_encoding"),
    ],
)
def test_bad_encodings(body: bytes, encoding: str, code: str) -> None:
    outcome = run(body, encoding=encoding)
    assert (outcome.status, outcome.body["code"]) == (400, code)


def test_gzip_bomb_refused_without_inflating_it() -> None:
    bomb = gzip_bomb(30)
    assert len(bomb) < MAX_REQUEST
    tracemalloc.start()
    outcome = run(bomb, encoding="gzip")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (outcome.status, outcome.body["code"]) == (400, "request_too_large")
    assert peak < 8 * MAX_REQUEST  # bounded by the cap, not by the 30 MB it would inflate to


def test_pixel_data_decoding() -> None:
    data = base64.urlsafe_b64encode(orjson.dumps(track(name="é?>"))).decode().rstrip("=")
    assert orjson.loads(ingest.decode_pixel(data))["name"] == "é?>"
    with pytest.raises(IngestError):
        ingest.decode_pixel("***")
    with pytest.raises(IngestError):
        ingest.decode_pixel(None)


def test_a_crashing_rule_keeps_the_message_with_a_warning() -> None:
    def broken(message: object) -> list:
        raise KeyError("boom")

    call = Call(kind="track", received=RECEIVED)
    outcome = ingest.ingest(orjson.dumps(track()), None, call, broken)
    [accepted] = outcome.accepted
    assert outcome.status == 200 and accepted.problems[0]["code"] == "check_failed"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
MESSAGES = st.fixed_dictionaries(
    {}, optional={"type": st.sampled_from(["track", "page", "identify", "group", "alias", "x", 3]),
                  "userId": st.text(max_size=5) | st.none(), "event": st.text(max_size=5),
                  "timestamp": st.text(max_size=30) | st.datetimes().map(lambda d: d.isoformat()),
                  "sentAt": JSON_VALUES, "context": JSON_VALUES, "writeKey": JSON_VALUES},
)


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=200) | JSON_VALUES.map(orjson.dumps)
       | st.builds(lambda items, extra: orjson.dumps({"batch": items, **extra}),
                   st.lists(MESSAGES | JSON_VALUES, max_size=5),
                   st.dictionaries(st.sampled_from(["sentAt", "context", "integrations", "writeKey"]),
                                   JSON_VALUES, max_size=3)),
       kind=st.sampled_from([None, "track", "page"]),
       encoding=st.sampled_from([None, "gzip", "deflate"]))
def test_any_body_gets_a_json_answer_and_archive_lines_round_trip(
    body: bytes, kind: str | None, encoding: str | None
) -> None:
    packed = {None: lambda b: b, "gzip": gzip.compress, "deflate": zlib.compress}[encoding](body)
    outcome = ingest.ingest(packed, encoding, Call(kind=kind, received=RECEIVED), rules.check)
    assert outcome.status in (200, 400)
    assert isinstance(outcome.body["success"], bool) and orjson.dumps(outcome.body)
    for accepted in outcome.accepted:
        assert orjson.loads(accepted.line) == accepted.message
        assert accepted.message["receivedAt"] == "2024-05-01T12:00:00.000Z"
    for refused in outcome.refused:
        assert refused.problems and refused.problems[0]["level"] == "error"


def test_a_track_whose_event_is_not_a_string_is_refused_by_the_refusing_checker() -> None:
    """The refusing-only checker (what ingest runs) refuses what the full checker refuses:
    an event name that is a number, a list or true, as every Segment SDK does."""
    for event in (42, ["Order Completed"], True):
        call = Call(kind=None, received=RECEIVED)
        body = orjson.dumps({"batch": [track(event=event), track()]})
        outcome = ingest.ingest(body, None, call, rules.check_required)
        assert [type(r).__name__ for r in outcome.results] == ["Refused", "Accepted"], event
        assert outcome.body["errors"][0]["code"] == "invalid_event"


def padded_track(size: int, **fields: object) -> dict[str, object]:
    """A track call whose JSON encoding is exactly `size` bytes."""
    item = track(properties={"pad": ""}, **fields)
    item["properties"] = {"pad": "x" * (size - len(orjson.dumps(item)))}
    assert len(orjson.dumps(item)) == size
    return item


def test_the_32768_byte_limit_is_on_what_the_client_sent() -> None:
    """As the SDKs count: a single call's body, a batch item as sent; never the archive line
    (receivedAt, writeKey, originalTimestamp added), nor a line shortened by the merge."""
    exact = padded_track(MAX_MESSAGE, timestamp="2024-05-01T11:59:59.000Z")
    single = run(exact, "track")
    assert single.refusals == 0 and len(single.accepted[0].line) > MAX_MESSAGE
    assert run(padded_track(MAX_MESSAGE + 1), "track").body["code"] == "message_too_large"
    batch = run({"batch": [exact], "sentAt": "2024-05-01T11:59:59.500Z", "writeKey": "wk"})
    assert batch.refusals == 0 and len(batch.accepted[0].line) > MAX_MESSAGE
    # the merge replaces what the client put in receivedAt / writeKey: the item is still measured
    for field in ("receivedAt", "writeKey"):
        shrunk = padded_track(MAX_MESSAGE + 1, **{field: ["x" * 200]})
        outcome = run({"batch": [shrunk], "writeKey": "wk"})
        assert outcome.refusals == 1 and outcome.body["errors"][0]["code"] == "message_too_large", field


moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
sdk_form = moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond // 1000:03d}Z")
near_forms = st.one_of(
    sdk_form.map(lambda t: t.replace("T", " ")), sdk_form.map(lambda t: t[:-1] + "z"),
    sdk_form.map(lambda t: t.replace("-", "/", 1)), sdk_form.map(lambda t: t[:10] + "T25" + t[13:]),
    sdk_form.map(lambda t: t[:19] + ".1_2Z"), sdk_form.map(lambda t: t[:19] + "+00:00"),
    st.text(max_size=30), st.integers(), st.none(),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(sdk_form, near_forms),
       st.one_of(st.integers(-10**12, 10**12), st.integers(-2000, 2000), st.sampled_from([-1, 0, 1, 999, 1000])))
@example("2024-05-01T12:00:00.999Z", 1)  # carries into the next second
@example("2024-05-01T12:00:00.500Z", 500)
@example("2024-05-01T12:00:00.000Z", -1)  # borrows from the previous one
@example("1970-01-01T00:00:00.000Z", -10**15)  # before year 1: not a timestamp any more
def test_the_quick_shift_gives_what_parsing_gives(timestamp: object, skew: int) -> None:
    """The look-up path for Segment's own form agrees with parsing the timestamp, for any
    moment, skew (carries, negative, out of range) and near-miss form."""
    assert ingest._shifter(skew)(timestamp) == ingest._shift_parsed(timestamp, skew)


@pytest.mark.parametrize("escape, read", [
    (rb"\ud83c", "\ufffd"),               # a high surrogate alone (an emoji cut in half)
    (rb"\udc00", "\ufffd"),               # a low one alone
    (rb"\ud83c\u0041", "\ufffdA"),        # a high one followed by something else
    (rb"\ud83d\ude00", "\U0001F600"),     # a proper pair, in a body that also has a lone one
])
def test_a_lone_surrogate_escape_is_read_as_a_replacement_character(escape: bytes, read: str) -> None:
    """JSON.stringify writes a lone surrogate escape when a string was cut mid-emoji; it is
    valid JSON, so the call is accepted (orjson alone refused the whole batch: QA), with
    U+FFFD where the lone surrogate was, in keys too."""
    body = (b'{"writeKey":"wk","batch":[{"type":"track","userId":"u","event":"Fine"},'
            b'{"type":"track","userId":"u","event":"Cut ' + escape + b'","properties":{"k' + escape
            + b'":"\\ud800"}}]}')
    outcome = run(body)
    assert (outcome.status, outcome.refusals) == (200, 0)
    fine, cut = (orjson.loads(item.line) for item in outcome.accepted)
    assert fine["event"] == "Fine" and cut["event"] == "Cut " + read
    assert cut["properties"] == {"k" + read: "\ufffd"}


@pytest.mark.parametrize("body", [
    b'{"batch":[{"type":"track","userId":"u","event":"\\ud83c","n":NaN}]}',  # NaN stays refused
    b'{"batch":[{"type":"track","userId":"u","event":"\\ud83c","n":1e999}]}',  # and Infinity
    b'{"batch":[{"type":"track","userId":"u","event":"\\ud83c"}]',            # and bad JSON
    b'{"batch":[{"type":"track","userId":"u","event":"\\ud83c \xed\xa0\xbc"}]}',  # and bad UTF-8
])
def test_the_surrogate_fallback_takes_nothing_else_that_is_not_json(body: bytes) -> None:
    outcome = run(body)
    assert outcome.status == 400 and outcome.body["code"] == "invalid_json"


def test_the_surrogate_fallback_reads_numbers_as_orjson_does() -> None:
    """QA: an integer past 64 bits beside a lone surrogate was kept as a Python int, which
    orjson could not write: the call got a 500 and its good items were lost."""
    big = b'{"type":"track","userId":"u","event":"big","n":99999999999999999999999,"f":1.5}'
    plain = run(b'{"writeKey":"k","batch":[' + big + b"]}")
    cut = run(b'{"writeKey":"k","batch":[{"type":"track","userId":"u","event":"\\ud83c"},' + big + b"]}")
    assert (cut.status, cut.refusals, len(cut.accepted)) == (200, 0, 2)
    assert cut.accepted[1].line == plain.accepted[0].line
