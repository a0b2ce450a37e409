"""End to end: segment-analytics-python sends all six call types to a real collector process;
the archive holds them in order, and a socket subscriber got them as envelopes after hello."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from segment.analytics import Client

from debugger.socket_client import subscribe
from tests.support import Collector, http, start_collector

WRITE_KEY = "wk_python_e2e"


def send_six_calls(url: str, gzip: bool, tag: str) -> list[Any]:
    """The six calls through the real SDK; returns the errors it reported (none expected)."""
    errors: list[Any] = []
    client = Client(WRITE_KEY, host=url, gzip=gzip, on_error=lambda e, batch: errors.append(e),
                    max_retries=1, upload_interval=0.05)
    client.identify(f"user-{tag}", {"email": "ada@example.com", "plan": "pro"})
    client.track(f"user-{tag}", "Order Completed", {"order_id": tag, "total": 42.5})
    client.page(f"user-{tag}", "Docs", "Quickstart", {"path": "/docs"})
    client.screen(f"user-{tag}", "Settings", "Profile")
    client.group(f"user-{tag}", f"group-{tag}", {"name": "Acme"})
    client.alias(f"old-{tag}", f"user-{tag}")
    client.flush()
    client.join()
    return errors


EXPECTED_TYPES = ["identify", "track", "page", "screen", "group", "alias"]


async def collect_envelopes(collector: Collector, count: int, sender: Any) -> list[dict]:
    """Subscribe, run `sender` in a thread once hello arrived, gather `count` event envelopes."""
    lines: list[dict] = []
    sending: asyncio.Future[Any] | None = None

    async def listen() -> None:
        nonlocal sending
        events = 0
        async for line in subscribe(collector.socket):
            lines.append(line)
            if line["kind"] == "hello":
                sending = asyncio.get_running_loop().run_in_executor(None, sender)
            elif line["kind"] == "event":
                events += 1
                if events == count:
                    return

    try:
        await asyncio.wait_for(listen(), timeout=30)
    finally:
        if sending is not None and sending.done():
            sending.result()  # a sender that failed says why, instead of a bare timeout
    if sending is not None:
        await sending
    return lines


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
async def test_python_sdk_all_six_calls(collector: Collector, gzip: bool) -> None:
    tag = "gz" if gzip else "plain"
    errors: list[Any] = []
    lines = await collect_envelopes(
        collector, 6, lambda: errors.extend(send_six_calls(collector.url, gzip, tag))
    )
    assert errors == []
    archived = collector.archived()
    assert [m["type"] for m in archived] == EXPECTED_TYPES
    for message in archived:
        assert message["writeKey"] == WRITE_KEY
        assert message["receivedAt"].endswith("Z") and message["sentAt"]
        assert message["originalTimestamp"] and message["timestamp"].endswith("Z")
        assert message["context"]["library"]["name"] == "analytics-python"
        assert message["messageId"]
    assert archived[1]["event"] == "Order Completed" and archived[1]["properties"]["order_id"] == tag
    assert archived[5]["previousId"] == f"old-{tag}"

    assert lines[0]["kind"] == "hello" and lines[0]["http"] == collector.url
    assert lines[0]["archive"] == str(collector.archive)
    events = [line for line in lines if line["kind"] == "event"]
    assert [e["status"] for e in events] == ["accepted"] * 6
    assert [e["message"] for e in events] == archived  # exactly what was archived
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert {e["writeKey"] for e in events} == {WRITE_KEY}
    request = events[0]["request"]
    assert request["path"] == "/v1/batch" and request["method"] == "POST"
    assert request["contentEncoding"] == ("gzip" if gzip else None)
    assert request["userAgent"].startswith("analytics-python/")


async def test_refused_call_reaches_the_socket_with_reason_and_raw(collector: Collector) -> None:
    raw = b'{"event": "Order Completed", "properties": {"total": 1}}'
    lines = await collect_envelopes(
        collector, 1, lambda: http("POST", collector.url + "/v1/track", raw)
    )
    [event] = [line for line in lines if line["kind"] == "event"]
    assert event["status"] == "rejected" and event["raw"] == raw.decode()
    assert event["problems"][0]["code"] == "no_user_anon_id"
    assert event["message"]["event"] == "Order Completed"
    assert collector.refused()[0]["raw"] == raw.decode()


async def test_viewer_sees_warnings_on_accepted_messages(collector: Collector) -> None:
    lines = await collect_envelopes(collector, 1, lambda: http(
        "POST", collector.url + "/v1/track", b'{"userId": "u1", "event": "order_completed_42"}'))
    [event] = [line for line in lines if line["kind"] == "event"]
    assert event["status"] == "accepted" and event["message"] == collector.archived()[0]
    assert event["problems"] and {p["level"] for p in event["problems"]} == {"warning"}


async def test_mixed_batch_envelopes_keep_the_batch_order(collector: Collector) -> None:
    batch = [{"type": "track", "userId": "u", "event": "First Thing"}, {"type": "track", "userId": "u"},
             {"type": "track", "userId": "u", "event": "Third Thing"}]
    body = orjson.dumps({"batch": batch, "writeKey": "wk"})
    lines = await collect_envelopes(collector, 3, lambda: http("POST", collector.url + "/v1/b", body))
    events = [line for line in lines if line["kind"] == "event"]
    assert [e["status"] for e in events] == ["accepted", "rejected", "accepted"]
    assert orjson.loads(events[1]["raw"]) == batch[1]
    assert [e["message"] for e in events if e["status"] == "accepted"] == collector.archived()


async def test_tracking_plan_violations_reach_the_viewer(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_bytes(orjson.dumps({"Order Completed": {
        "type": "object", "required": ["properties"],
        "properties": {"properties": {"type": "object", "required": ["order_id"]}}}}))
    collector = start_collector(tmp_path / "c", "--plan", str(plan))
    try:
        body = orjson.dumps({"userId": "u1", "event": "Order Completed", "properties": {"total": 5}})
        lines = await collect_envelopes(collector, 1, lambda: http("POST", collector.url + "/v1/t", body))
    finally:
        collector.stop()
    [event] = [line for line in lines if line["kind"] == "event"]
    assert event["status"] == "accepted"
    assert "plan_violation" in {p["code"] for p in event["problems"]}
    assert collector.archived()[0]["properties"] == {"total": 5}
