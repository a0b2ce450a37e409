"""The collector process over raw HTTP: endpoints, aliases, auth, encodings, CORS, pixel,
settings, and every bad input with its exact status and JSON body.

One collector serves the whole module, so each bad input is also followed by good calls:
the last test checks it is still serving and archived every good call in order.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from pathlib import Path
from typing import Iterator

import orjson
import pytest

from tests.support import Collector, gzip_bomb, http, post_json, running_collector


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    yield from running_collector(tmp_path_factory.mktemp("http") / "collector")


def track(marker: str, **fields: object) -> dict[str, object]:
    return {"type": "track", "event": "Order Completed", "userId": "u1",
            "properties": {"marker": marker}, **fields}


def archived_markers(collector: Collector) -> list[str]:
    return [m.get("properties", {}).get("marker", "") for m in collector.archived()]


def last_archived(collector: Collector) -> dict:
    return collector.archived()[-1]


OK = {"success": True}


@pytest.mark.parametrize(
    ("path", "kind"),
    [(f"/v1/{k}", k) for k in ("identify", "track", "page", "screen", "group", "alias")]
    + [(f"/v1/{k[0]}", k) for k in ("identify", "track", "page", "screen", "group", "alias")],
)
def test_every_single_call_endpoint(served: Collector, path: str, kind: str) -> None:
    marker = f"single{path}"
    payload = {"userId": "u1", "event": "Signed Up", "groupId": "g1", "previousId": "p1",
               "properties": {"marker": marker}, "writeKey": "wk_body"}
    reply = post_json(served.url + path, payload)
    assert (reply.status, reply.json()) == (200, OK)
    message = last_archived(served)
    assert message["type"] == kind and message["properties"]["marker"] == marker
    assert message["writeKey"] == "wk_body" and message["receivedAt"].endswith("Z")


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import", "/v1/b"])
def test_every_batch_alias(served: Collector, path: str) -> None:
    reply = post_json(served.url + path, {"batch": [track(f"{path}-1"), track(f"{path}-2")],
                                          "writeKey": "wk"})
    assert (reply.status, reply.json()) == (200, OK)
    assert archived_markers(served)[-2:] == [f"{path}-1", f"{path}-2"]


def test_metrics_endpoint_accepted_and_ignored(served: Collector) -> None:
    before = len(served.archived())
    reply = post_json(served.url + "/v1/m", {"series": [{"type": "Counter", "metric": "x"}]})
    assert (reply.status, reply.json()) == (200, OK)
    assert len(served.archived()) == before


@pytest.mark.parametrize(
    ("headers", "body_key", "expected"),
    [
        ({}, "wk_in_body", "wk_in_body"),
        ({"Authorization": "Basic " + base64.b64encode(b"wk_basic:").decode()}, None, "wk_basic"),
        ({"Authorization": "Basic " + base64.b64encode(b"wk_nocolon").decode()}, None, "wk_nocolon"),
        ({"Authorization": "Bearer an.oauth.token"}, "wk_bearer", "wk_bearer"),
    ],
    ids=["body", "basic", "basic-no-colon", "bearer"],
)
def test_auth_forms(served: Collector, headers: dict[str, str], body_key: str | None,
                    expected: str) -> None:
    payload: dict[str, object] = {"batch": [track(f"auth-{expected}")]}
    if body_key:
        payload["writeKey"] = body_key
    assert post_json(served.url + "/v1/batch", payload, headers).status == 200
    assert last_archived(served)["writeKey"] == expected


def test_text_plain_body(served: Collector) -> None:
    reply = http("POST", served.url + "/v1/t", orjson.dumps(track("text-plain")),
                 {"Content-Type": "text/plain;charset=UTF-8"})
    assert (reply.status, reply.json()) == (200, OK)
    assert archived_markers(served)[-1] == "text-plain"


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_compressed_bodies(served: Collector, encoding: str, pack) -> None:
    body = orjson.dumps({"batch": [track(f"enc-{encoding}")], "writeKey": "wk"})
    reply = http("POST", served.url + "/v1/batch", pack(body),
                 {"Content-Type": "application/json", "Content-Encoding": encoding})
    assert (reply.status, reply.json()) == (200, OK)
    assert archived_markers(served)[-1] == f"enc-{encoding}"


def test_pixel_api(served: Collector) -> None:
    data = base64.b64encode(orjson.dumps({"userId": "u1", "name": "Home", "writeKey": "wk",
                                          "properties": {"marker": "pixel"}})).decode()
    reply = http("GET", served.url + f"/v1/pixel/page?data={data}")
    assert reply.status == 200 and reply.headers["content-type"] == "image/gif"
    assert reply.body.startswith(b"GIF89a")
    message = last_archived(served)
    assert (message["type"], message["properties"]["marker"]) == ("page", "pixel")
    bad = http("GET", served.url + "/v1/pixel/page?data=%%%")
    assert bad.status == 200 and bad.body.startswith(b"GIF89a")  # always a GIF


def test_cors_preflight_and_headers(served: Collector) -> None:
    reply = http("OPTIONS", served.url + "/v1/t", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-retry-count",
    })
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert reply.headers["access-control-allow-headers"] == "authorization,content-type,x-retry-count"
    posted = http("POST", served.url + "/v1/t", orjson.dumps(track("cors")),
                  {"Origin": "https://shop.example", "Content-Type": "text/plain"})
    assert posted.headers["access-control-allow-origin"] == "https://shop.example"


def test_settings_point_analytics_js_back_here(served: Collector) -> None:
    reply = http("GET", served.url + "/v1/projects/wk_browser/settings")
    assert reply.status == 200
    segment = reply.json()["integrations"]["Segment.io"]
    host = served.url.removeprefix("http://")
    assert segment == {**segment, "apiKey": "wk_browser", "apiHost": f"{host}/v1", "protocol": "http"}


def test_unknown_endpoint_answers_json(served: Collector) -> None:
    reply = http("POST", served.url + "/v1/nonsense", b"{}")
    assert reply.status == 404 and reply.json()["code"] == "not_found"
    wrong_method = http("GET", served.url + "/v1/batch")  # curl without -d: a GET
    assert wrong_method.status == 405 and wrong_method.headers["allow"] == "OPTIONS, POST"
    assert wrong_method.json()["code"] == "method_not_allowed" and "use POST" in wrong_method.json()["message"]
    reset = http("GET", served.url + "/segdebug/reset")  # QA: it answered 404 "no such endpoint"
    assert reset.status == 405 and reset.headers["allow"] == "OPTIONS, POST"
    pixel = http("PUT", served.url + "/v1/pixel/track")
    assert pixel.status == 405 and pixel.headers["allow"] == "GET, HEAD, OPTIONS"  # every method it takes
    slash = http("POST", served.url + "/v1/track/", b"{}")  # QA: a 404 without a hint
    assert slash.status == 404 and slash.json()["message"].endswith("(without the final slash: /v1/track)")
    assert http("POST", served.url + "/nope/", b"{}").json()["message"] == "no such endpoint: POST /nope/"
    assert http("GET", served.url + "/v1/pixel/track?data=e30").status == 200  # GET routes still serve


def error(code: str, message: str) -> dict[str, object]:
    return {"success": False, "code": code, "message": message, "error": message}


TOO_DEEP = b'{"userId": "u", "event": "E", "p": ' + b"[" * 1100 + b"]" * 1100 + b"}"
BAD_INPUTS = [
    ("invalid-json", "/v1/track", b'{"userId": "u", ', {}, 400,
     error("invalid_json", "the body is not valid JSON (line 1, column 17)")),
    ("non-object", "/v1/track", b'["userId"]', {}, 200,
     error("not_an_object", "the body is a JSON array, not an object")),
    ("empty", "/v1/batch", b"", {}, 400, error("empty_body", "the request body is empty")),
    ("message-over-32kb", "/v1/track", orjson.dumps(track("big", blob="x" * 33000)), {}, 400,
     error("message_too_large", "the message is over 32768 bytes")),
    ("request-over-500kb", "/v1/batch", orjson.dumps({"batch": [track("x", blob="x" * 30000)] * 18}),
     {}, 400, error("request_too_large", "the request is over 512000 bytes")),
    ("request-over-read-limit", "/v1/batch", b" " * (3 * 1024 * 1024), {}, 400,
     error("request_too_large", "the request is over 512000 bytes")),
    ("missing-ids", "/v1/track", b'{"event": "Order Completed"}', {}, 200,
     error("no_user_anon_id", "userId or anonymousId is required")),
    ("track-without-event", "/v1/track", b'{"userId": "u1"}', {}, 200,
     error("missing_event", "track requires event")),
    ("group-without-group-id", "/v1/group", b'{"userId": "u1"}', {}, 200,
     error("missing_group_id", "group requires groupId")),
    ("invalid-utf8", "/v1/track", b'{"userId": "\xff", "event": "E"}', {}, 400,
     error("invalid_json", "the body is not valid UTF-8 (byte 12)")),
    ("nan", "/v1/track", b'{"userId": "u", "event": "E", "v": NaN}', {}, 400,
     error("invalid_json", "the body is not valid JSON (line 1, column 36)")),
    ("gzip-bomb", "/v1/batch", gzip_bomb(30), {"Content-Encoding": "gzip"}, 400,
     error("request_too_large", "the gzip body inflates to more than 512000 bytes")),
    ("corrupt-gzip", "/v1/batch", b"\x1f\x8b\x08\x00garbage-garbage", {"Content-Encoding": "gzip"}, 400,
     error("invalid_encoding", "the gzip body is corrupt")),
    ("deeply-nested", "/v1/track", TOO_DEEP, {}, 400,
     error("invalid_json", "the body is not valid JSON (line 1, column 1060)")),
    ("unknown-encoding", "/v1/batch", b"{}", {"Content-Encoding": "br"}, 400,
     error("unsupported_encoding", "Content-Encoding 'br' is not supported (use gzip or deflate)")),
    ("no-batch-list", "/v1/batch", b'{"batch": {}}', {}, 200,
     error("invalid_batch", 'the body has no "batch" list of messages')),
]


@pytest.mark.parametrize(("path", "body", "headers", "status", "answer"),
                         [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_exact_answer_and_still_serving(
    served: Collector, path: str, body: bytes, headers: dict[str, str], status: int, answer: dict
) -> None:
    refused_before = len(served.refused())
    reply = http("POST", served.url + path, body, {"Content-Type": "application/json", **headers})
    assert (reply.status, reply.headers["content-type"]) == (status, "application/json")
    assert reply.json() == answer
    refused = served.refused()
    assert len(refused) == refused_before + 1 and refused[-1]["code"] == answer["code"]
    assert post_json(served.url + "/v1/track", track(f"after-{answer['code']}")).status == 200
    assert archived_markers(served)[-1] == f"after-{answer['code']}"


def test_unknown_type_and_too_many_events_in_a_batch(served: Collector) -> None:
    reply = post_json(served.url + "/v1/batch", {"batch": [{"type": "purchase", "userId": "u"}]})
    assert reply.status == 200
    assert reply.json()["errors"][0]["code"] == "invalid_type"
    before = len(served.archived())
    many = post_json(served.url + "/v1/batch", {"batch": [track("many")] * 2501})
    assert many.status == 200
    body = many.json()
    assert (body["accepted"], body["rejected"], body["errors"][0]["code"]) == (0, 2501, "too_many_events")
    assert len(served.archived()) == before
    assert served.refused()[-1]["code"] == "too_many_events"


def test_mixed_batch_keeps_the_good_items(served: Collector) -> None:
    items = [track("mixed-1"), {"type": "track", "userId": "u"}, track("mixed-2"),
             {"type": "identify"}, 42, track("mixed-3", blob="x" * 40000), track("mixed-4")]
    reply = post_json(served.url + "/v1/batch", {"batch": items, "writeKey": "wk"})
    assert reply.status == 200
    body = reply.json()
    assert (body["success"], body["accepted"], body["rejected"]) == (True, 3, 4)
    assert [e["index"] for e in body["errors"]] == [1, 3, 4, 5]
    assert archived_markers(served)[-3:] == ["mixed-1", "mixed-2", "mixed-4"]
    refused = served.refused()[-4:]
    assert [r["code"] for r in refused] == ["missing_event", "no_user_anon_id", "not_an_object",
                                            "message_too_large"]
    assert orjson.loads(refused[0]["raw"]) == {"type": "track", "userId": "u"}
    assert refused[0]["writeKey"] == "wk"


def test_allow_list(tmp_path: Path) -> None:
    for collector in running_collector(tmp_path / "c", "--write-key", "good", "--write-key", "also"):
        assert post_json(collector.url + "/v1/track", track("ok", writeKey="also")).status == 200
        basic = {"Authorization": "Basic " + base64.b64encode(b"good:").decode()}
        assert post_json(collector.url + "/v1/track", track("basic"), basic).status == 200
        reply = post_json(collector.url + "/v1/batch", {"batch": [track("no")], "writeKey": "evil"})
        assert (reply.status, reply.json()) == (
            401, error("invalid_write_key", "write key 'evil' is not accepted by this collector"))
        keyless = post_json(collector.url + "/v1/track", track("none"))
        assert keyless.status == 401
        assert post_json(collector.url + "/v1/t", track("after", writeKey="good")).status == 200
        assert [m["writeKey"] for m in collector.archived()] == ["also", "good", "good"]
        assert [r["code"] for r in collector.refused()] == ["invalid_write_key"] * 2
