"""Answers as Segment gives them: 200 for every call except invalid JSON, bad encodings and
size limits (400), the body still saying what was refused; `collect --strict` answers 400 for
refused calls. With the real SDK and raw HTTP, single calls and batches. Also: side files
named after their archive, and the exact text of a refused call (single or batch item)."""

from __future__ import annotations

import gzip as gzip_module
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
from segment.analytics import Client

from debugger.ingest import item_spans
from debugger.paths import is_side_file, legacy_rejected_path, rejected_path
from tests.support import Collector, http, running_collector

BAD_USER = {"type": "track", "event": "No User"}  # no userId / anonymousId: refused
GOOD = {"type": "track", "event": "Order Completed", "userId": "u1"}


@pytest.fixture(scope="module", params=[False, True], ids=["default", "strict"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Collector, bool]]:
    strict: bool = request.param
    args = ["--strict"] if strict else []
    for collector in running_collector(tmp_path_factory.mktemp("answers") / "c", *args):
        yield collector, strict


def post(collector: Collector, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    reply = http("POST", collector.url + path, data, {"Content-Type": "application/json", **(headers or {})})
    return reply.status, reply.json()


def test_a_refused_single_call(served: tuple[Collector, bool]) -> None:
    collector, strict = served
    status, body = post(collector, "/v1/track", {"event": "No User"})
    assert status == (400 if strict else 200)
    assert body["success"] is False and body["code"] == "no_user_anon_id"


def test_a_batch_with_a_refused_item(served: tuple[Collector, bool]) -> None:
    collector, strict = served
    status, body = post(collector, "/v1/batch", {"batch": [GOOD, BAD_USER, GOOD]})
    assert status == (400 if strict else 200)
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert body["errors"][0]["index"] == 1 and body["errors"][0]["code"] == "no_user_anon_id"


def test_the_answer_lists_every_refused_item(served: tuple[Collector, bool]) -> None:
    """One error per refused item, however many: a sender reading a `--strict` 400 must be
    able to tell exactly which items were refused, or it resends (duplicates) the rest."""
    collector, strict = served
    batch = [GOOD if number % 5 == 0 else BAD_USER for number in range(40)]
    status, body = post(collector, "/v1/batch", {"batch": batch})
    assert status == (400 if strict else 200)
    assert (body["accepted"], body["rejected"]) == (8, 32)
    assert [error["index"] for error in body["errors"]] == [n for n in range(40) if n % 5]


def test_success_says_whether_anything_was_kept_and_never_true_on_a_4xx(served: tuple[Collector, bool]) -> None:
    """`success` is true when something of the call was kept (the counts say the rest), as a
    refused single call already said; never true on a 4xx. QA: a batch with every item
    refused, and 2,501 events, answered `success: true`; `--strict` answered 400 with it."""
    collector, strict = served
    for path, payload, kept in (("/v1/batch", {"batch": [GOOD, BAD_USER]}, True),
                                ("/v1/batch", {"batch": [BAD_USER]}, False),
                                ("/v1/batch", {"batch": [GOOD] * 2501}, False), ("/v1/track", BAD_USER, False)):
        status, body = post(collector, path, payload)
        assert status == (400 if strict else 200), (path, body)
        assert body["success"] is (kept and not strict), (path, body)


def test_too_many_events_and_bad_shapes_are_200_unless_strict(served: tuple[Collector, bool]) -> None:
    collector, strict = served
    expected = 400 if strict else 200
    assert post(collector, "/v1/batch", {"batch": [GOOD] * 2501})[0] == expected
    assert post(collector, "/v1/batch", {"batch": {}})[0] == expected
    assert post(collector, "/v1/track", [1, 2])[0] == expected


@pytest.mark.parametrize(("path", "body", "headers", "code"), [
    ("/v1/track", b'{"userId": ', {}, "invalid_json"),
    ("/v1/track", b"", {}, "empty_body"),
    ("/v1/track", b'{"userId": "\xff"}', {}, "invalid_json"),
    ("/v1/batch", b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, "invalid_encoding"),
    ("/v1/batch", b"{}", {"Content-Encoding": "br"}, "unsupported_encoding"),
    ("/v1/track", orjson.dumps({**GOOD, "blob": "x" * 33000}), {}, "message_too_large"),
    ("/v1/batch", orjson.dumps({"batch": [{**GOOD, "blob": "x" * 30000}] * 18}), {}, "request_too_large"),
], ids=["json", "empty", "utf8", "gzip", "encoding", "message-size", "request-size"])
def test_json_encoding_and_size_errors_are_400_either_way(
    served: tuple[Collector, bool], path: str, body: bytes, headers: dict[str, str], code: str
) -> None:
    collector, _ = served
    status, answer = post(collector, path, body, headers)
    assert (status, answer["code"], answer["success"]) == (400, code, False)


def test_the_python_sdk_sees_success_by_default_and_an_error_when_strict(
    served: tuple[Collector, bool]
) -> None:
    collector, strict = served
    errors: list[Any] = []
    client = Client("wk_sdk", host=collector.url, on_error=lambda e, batch: errors.append(e),
                    max_retries=0, upload_interval=0.05)
    client.track(anonymous_id=None, user_id="sdk-user", event="")  # track without event: refused
    client.flush()
    client.join()
    if strict:
        assert len(errors) == 1 and getattr(errors[0], "status", None) == 400
    else:
        assert errors == []
    assert any(r["code"] == "missing_event" for r in collector.refused())


def test_side_files_are_named_after_their_archive(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    for name in ("a.ndjson", "b.jsonl"):
        assert rejected_path(folder / name) == folder / (name.split(".")[0] + ".rejected.ndjson")
    assert rejected_path(folder / "archive") == folder / "archive.rejected.ndjson"
    assert legacy_rejected_path(folder / "a.ndjson") == folder / "rejected.ndjson"
    for side in ("a.rejected.ndjson", "rejected.ndjson", "a.rejected.ndjson.gz",
                 "a.ndjson.failed.ndjson", "a.ndjson.replay-checkpoint.json"):
        assert is_side_file(side), side
    assert not is_side_file("a.ndjson") and not is_side_file("rejected-2024.ndjson")


def test_two_collectors_in_one_folder_keep_their_own_refusals(tmp_path: Path) -> None:
    """`--archive a.ndjson` and `--archive b.ndjson` in one folder: a.rejected.ndjson and
    b.rejected.ndjson, never one shared rejected.ndjson."""
    for first in running_collector(tmp_path / "x", "--archive", str(tmp_path / "a.ndjson")):
        for second in running_collector(tmp_path / "y", "--archive", str(tmp_path / "b.ndjson")):
            post(first, "/v1/track", {"event": "From A"})
            post(second, "/v1/track", {"event": "From B"})
            post(second, "/v1/track", {"event": "From B again"})
    a, b = tmp_path / "a.rejected.ndjson", tmp_path / "b.rejected.ndjson"
    assert [orjson.loads(line)["message"]["event"] for line in a.read_bytes().splitlines()] == ["From A"]
    assert len(b.read_bytes().splitlines()) == 2
    assert not (tmp_path / "rejected.ndjson").exists()


def test_raw_of_a_refused_single_call_is_the_text_received(served: tuple[Collector, bool]) -> None:
    collector, _ = served
    body = '{"event": "Dup",  "event": "Dup", "properties": {"price": 1.50, "name": "caf\xe9"}}'
    post(collector, "/v1/track", body.encode())
    assert collector.refused()[-1]["raw"] == body
    broken = b'{"userId": "\xff\xfe"}'
    post(collector, "/v1/track", broken)
    assert collector.refused()[-1]["raw"] == '{"userId": "\ufffd\ufffd"}'


def test_raw_of_a_refused_batch_item_is_its_text_in_the_body(served: tuple[Collector, bool]) -> None:
    """A refused batch item's raw is its exact bytes as located in the body (what the client
    sent for that item; the envelope's context and writeKey merged in later are not in it)."""
    collector, _ = served
    item = '{"type": "track", "event": "Dup", "event": "Dup", "properties": {"price": 1.50}}'
    body = '{"writeKey": "wk", "batch": [ {"type":"track","userId":"u","event":"Ok"} ,\n  ' + item + ' ]}'
    post(collector, "/v1/batch", gzip_module.compress(body.encode()), {"Content-Encoding": "gzip"})
    assert collector.refused()[-1]["raw"] == item


def test_item_spans_follow_the_last_batch_key_and_skip_nested_ones() -> None:
    text = b'{"batch": [1], "x": {"batch": [7]}, "b\\u0061tch": [ {"a": "],"} , [2, [3]] ]}'
    spans = item_spans(text)
    assert spans is not None
    assert [text[a:b] for a, b in spans] == [b'{"a": "],"}', b"[2, [3]]"]
    assert item_spans(b'{"batch": []}') == []
    assert item_spans(b'{"nope": 1}') is None
