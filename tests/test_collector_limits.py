"""Segment's size limits at their exact edges, over raw HTTP to a real collector.

What is counted: a single call's limit is the bytes of its body (32,768); a batch's is the
bytes of the whole request body, or of its inflated text when gzipped (500 KB = 512,000); an
item inside a batch is measured as sent (its JSON text, 32,768). One byte either side of each.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest

from tests.support import Collector, Reply, http, running_collector

MESSAGE_LIMIT = 32_768
REQUEST_LIMIT = 500 * 1024
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """One collector for the module: every test marks its messages with its own event name."""
    yield from running_collector(Path(tmp_path_factory.mktemp("limits")))


def padded(size: int, shape: dict[str, Any], pad: tuple[str, ...]) -> bytes:
    """`shape` serialised to exactly `size` bytes by filling the string at path `pad`."""
    def at(document: dict[str, Any]) -> dict[str, Any]:
        for key in pad[:-1]:
            document = document[key]
        return document

    document = orjson.loads(orjson.dumps(shape))
    at(document)[pad[-1]] = ""
    at(document)[pad[-1]] = "x" * (size - len(orjson.dumps(document)))
    body = orjson.dumps(document)
    assert len(body) == size
    return body


def single_call(size: int, event: str) -> bytes:
    shape = {"userId": "u-limits", "event": event, "writeKey": "wk_limits",
             "timestamp": "2024-05-01T10:00:00.000Z", "properties": {"pad": ""}}
    return padded(size, shape, ("properties", "pad"))


def batch_call(size: int, event: str) -> bytes:
    """A batch whose body is `size` bytes: 25 items of ~20 KB (each under the message limit)."""
    items = [{"type": "track", "userId": "u-limits", "event": event, "properties": {"pad": "p" * 20_000}}
             for _ in range(25)]
    return padded(size, {"batch": items, "writeKey": "wk_limits", "pad": ""}, ("pad",))


def archived_events(collector: Collector, event: str) -> int:
    return sum(1 for message in collector.archived() if message.get("event") == event)


def assert_refused(reply: Reply, code: str) -> None:
    assert reply.status == 400, reply.body
    assert reply.json()["code"] == code


def test_a_single_call_one_byte_over_32768_is_refused(collector: Collector) -> None:
    reply = http("POST", collector.url + "/v1/track", single_call(MESSAGE_LIMIT + 1, "Over"), JSON)
    assert_refused(reply, "message_too_large")
    assert archived_events(collector, "Over") == 0
    refusal = [r for r in collector.refused() if r["code"] == "message_too_large"][-1]
    assert len(refusal["raw"].encode()) == MESSAGE_LIMIT + 1  # the raw text is kept whole


def test_a_single_call_of_exactly_32768_bytes_is_accepted(collector: Collector) -> None:
    reply = http("POST", collector.url + "/v1/track", single_call(MESSAGE_LIMIT, "Exact"), JSON)
    assert (reply.status, reply.json()) == (200, {"success": True})
    assert archived_events(collector, "Exact") == 1


def batch_item(size: int, event: str) -> dict[str, Any]:
    item: dict[str, Any] = orjson.loads(padded(
        size, {"type": "track", "userId": "u-limits", "event": event, "properties": {"pad": ""}},
        ("properties", "pad")))
    return item


def test_a_batch_item_is_measured_as_sent_up_to_32768_bytes(collector: Collector) -> None:
    body = orjson.dumps({"writeKey": "wk_limits", "batch": [
        batch_item(MESSAGE_LIMIT, "ItemExact"), batch_item(MESSAGE_LIMIT + 1, "ItemOver")]})
    reply = http("POST", collector.url + "/v1/batch", body, JSON)
    assert reply.status == 200
    answer = reply.json()
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert [(e["index"], e["code"]) for e in answer["errors"]] == [(1, "message_too_large")]
    assert archived_events(collector, "ItemExact") == 1 and archived_events(collector, "ItemOver") == 0


def test_a_batch_body_of_exactly_500_kb_is_accepted(collector: Collector) -> None:
    reply = http("POST", collector.url + "/v1/batch", batch_call(REQUEST_LIMIT, "BatchExact"), JSON)
    assert (reply.status, reply.json()) == (200, {"success": True})
    assert archived_events(collector, "BatchExact") == 25


def test_a_batch_body_one_byte_over_500_kb_is_refused(collector: Collector) -> None:
    reply = http("POST", collector.url + "/v1/batch", batch_call(REQUEST_LIMIT + 1, "BatchOver"), JSON)
    assert_refused(reply, "request_too_large")
    assert archived_events(collector, "BatchOver") == 0


def test_a_gzipped_batch_is_measured_inflated_to_the_byte(collector: Collector) -> None:
    """Compressed, both bodies are far under the limit: only the inflated size decides."""
    headers = {**JSON, "Content-Encoding": "gzip"}
    exact = gzip.compress(batch_call(REQUEST_LIMIT, "GzipExact"))
    over = gzip.compress(batch_call(REQUEST_LIMIT + 1, "GzipOver"))
    assert len(over) < MESSAGE_LIMIT
    assert http("POST", collector.url + "/v1/batch", exact, headers).status == 200
    assert_refused(http("POST", collector.url + "/v1/batch", over, headers), "request_too_large")
    assert archived_events(collector, "GzipExact") == 25 and archived_events(collector, "GzipOver") == 0
