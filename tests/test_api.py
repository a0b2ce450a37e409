"""The /segdebug/ local API against a real `segdebug collect` process: queries, the status
filter, limits, arrival order, reset windows, bad requests, and windows that reach back past
the in-memory bound (read back from the archive, or reported as cut)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest

from tests.support import Collector, http, post_json, running_collector, start_collector

RECENT = 20  # messages the collector keeps in memory: small, so going past it is cheap


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    yield from running_collector(tmp_path_factory.mktemp("api"), "--recent", str(RECENT))


@pytest.fixture
def fresh(api: Collector) -> Collector:
    """The shared collector with a new window: this test sees only what it sends."""
    assert http("POST", f"{api.url}/segdebug/reset").status == 200
    return api


def track(name: str, user: str | None = "u1", **properties: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "track", "event": name, "properties": properties, "messageId": f"m-{name}"}
    if user is not None:
        message["userId"] = user
    return message


def send(collector: Collector, *messages: dict[str, Any]) -> None:
    post_json(f"{collector.url}/v1/batch", {"batch": list(messages)})


def events(collector: Collector, **params: Any) -> dict[str, Any]:
    reply = http("GET", f"{collector.url}/segdebug/events?{urlencode(params)}")
    assert reply.status == 200, reply.body
    return reply.json()


def names(answer: dict[str, Any]) -> list[str]:
    return [e["message"]["event"] for e in answer["events"]]


def test_a_query_selects_in_arrival_order(fresh: Collector) -> None:
    send(fresh, track("Order Completed", total=30), track("Product Viewed"),
         track("Order Completed", total=120), {"type": "page", "name": "Home", "userId": "u1"})
    answer = events(fresh, q='event:"Order Completed" properties.total>100')
    assert names(answer) == ["Order Completed"] and answer["total"] == 1
    assert answer["events"][0]["message"]["properties"]["total"] == 120
    everything = events(fresh)
    seqs = [e["seq"] for e in everything["events"]]
    assert everything["total"] == 4 and seqs == sorted(seqs) and len(set(seqs)) == 4
    assert [e["message"]["type"] for e in everything["events"]] == ["track"] * 3 + ["page"]


def test_the_status_filter(fresh: Collector) -> None:
    send(fresh, track("Signed Up"), track("No User", user=None), track("Logged In"))
    assert names(events(fresh, status="accepted")) == ["Signed Up", "Logged In"]
    refused = events(fresh, status="refused")
    assert names(refused) == ["No User"] and refused["events"][0]["status"] == "rejected"
    assert refused["events"][0]["problems"][0]["code"] == "no_user_anon_id"
    assert names(events(fresh, status="rejected")) == ["No User"]  # the wire word works too
    assert names(events(fresh, status="all")) == ["Signed Up", "No User", "Logged In"]
    assert events(fresh, q="is:rejected", status="accepted")["total"] == 0


def test_limit_keeps_the_newest_in_arrival_order_and_total_counts_all(fresh: Collector) -> None:
    send(fresh, *(track(f"Step {n} Done") for n in range(6)))
    answer = events(fresh, limit=2)
    assert names(answer) == ["Step 4 Done", "Step 5 Done"] and answer["total"] == 6
    assert events(fresh, limit=0) == {**events(fresh, limit=0), "events": [], "total": 6}


def test_reset_starts_a_window_and_says_where_it_starts(fresh: Collector) -> None:
    send(fresh, track("Before Reset"), track("No User Before", user=None))
    window = http("POST", f"{fresh.url}/segdebug/reset").json()["window"]
    assert events(fresh)["total"] == 0
    send(fresh, track("After Reset"), track("No User After", user=None))
    assert names(events(fresh)) == ["After Reset", "No User After"]
    lines = fresh.archive.read_text().splitlines()
    assert '"After Reset"' in lines[window["archive_line"] - 1]
    refusals = fresh.rejected.read_text().splitlines()
    assert '"No User After"' in refusals[window["rejected_line"] - 1]
    assert window["start_seq"] == events(fresh)["events"][0]["seq"]
    assert "Before Reset" in fresh.archive.read_text()  # nothing deleted


def test_summary_of_the_window(fresh: Collector) -> None:
    send(fresh, track("Order Completed"), track("Order Completed"), track("No User", user=None),
         {"type": "identify", "userId": "u1", "traits": {}}, {"type": "bogus", "userId": "u1"})
    summary = http("GET", f"{fresh.url}/segdebug/summary").json()
    assert {k: summary[k] for k in ("received", "accepted", "refused")} == {"received": 5, "accepted": 3, "refused": 2}
    assert summary["by_type"] == {"track": 3, "identify": 1, "bogus": 1}
    assert summary["by_event"] == {"Order Completed": 2, "No User": 1}
    assert summary["refused_by_code"] == {"no_user_anon_id": 1, "invalid_type": 1}


@pytest.mark.parametrize(("query", "column"), [("type:", 6), ('event:"open', 7), ("(a OR b", 8)])
def test_a_bad_query_is_a_400_with_message_and_column(fresh: Collector, query: str, column: int) -> None:
    reply = http("GET", f"{fresh.url}/segdebug/events?{urlencode({'q': query})}")
    body = reply.json()
    assert reply.status == 400 and reply.headers["content-type"].startswith("application/json")
    assert body["code"] == "bad_query" and body["message"].startswith("bad query: ")
    assert body["column"] == column


@pytest.mark.parametrize("params", [{"status": "maybe"}, {"limit": "-1"}, {"limit": "ten"}])
def test_bad_parameters_are_400(fresh: Collector, params: dict[str, str]) -> None:
    reply = http("GET", f"{fresh.url}/segdebug/events?{urlencode(params)}")
    assert reply.status == 400 and reply.json()["code"] in ("bad_status", "bad_limit")


def test_envelopes_are_the_sockets_envelopes(fresh: Collector) -> None:
    from debugger.socket_client import subscribe

    async def one_event() -> dict[str, Any]:
        async for line in subscribe(fresh.socket):
            if line["kind"] == "hello":
                await asyncio.get_running_loop().run_in_executor(
                    None, send, fresh, track("order completed", plan="pro"))
            elif line["kind"] == "event":
                return dict(line)
        raise AssertionError("no event")

    seen = asyncio.run(asyncio.wait_for(one_event(), 20))
    assert events(fresh)["events"] == [seen]
    assert "event_name_case" in {p["code"] for p in seen["problems"]}


def test_a_window_past_the_memory_bound_is_read_back_from_the_files(fresh: Collector) -> None:
    sent = [track(f"Item {n} Added", user=None if n % 7 == 3 else "u1") for n in range(3 * RECENT)]
    for start in range(0, len(sent), 9):
        send(fresh, *sent[start:start + 9])
    answer = events(fresh, limit=1000)
    assert names(answer) == [m["event"] for m in sent] and answer["total"] == len(sent)
    seqs = [e["seq"] for e in answer["events"]]
    assert seqs == list(range(seqs[0], seqs[0] + len(sent)))
    statuses = [e["status"] for e in answer["events"]]
    assert statuses == ["rejected" if n % 7 == 3 else "accepted" for n in range(len(sent))]
    window = answer["window"]
    assert window["oldest_in_memory"] == window["next_seq"] - RECENT and "cut" not in window
    refused = events(fresh, status="refused")
    assert [e["problems"][0]["code"] for e in refused["events"]] == ["no_user_anon_id"] * len(refused["events"])
    summary = http("GET", f"{fresh.url}/segdebug/summary").json()
    assert summary["received"] == len(sent) and summary["refused"] == sum(n % 7 == 3 for n in range(len(sent)))


def test_what_cannot_be_read_back_is_reported_as_cut(tmp_path: Path) -> None:
    collector = start_collector(tmp_path, "--recent", "5")
    try:
        send(collector, *(track(f"Early {n} Sent") for n in range(4)))
        http("GET", f"{collector.url}/segdebug/summary")  # the archive is counted once, here
        collector.archive.unlink()  # the user clears the archive while the collector runs
        deadline = time.monotonic() + 10
        while not collector.archive.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # the writer starts a new one within a second
        for n in range(6):
            send(collector, track(f"Late {n} Sent"))
        answer = events(collector)
        cut = answer["window"]["cut"]
        assert (cut["from_seq"], cut["to_seq"], cut["count"]) == (1, 5, 5)
        assert names(answer) == [f"Late {n} Sent" for n in range(1, 6)]
        assert "archive" in cut["reason"]
    finally:
        collector.stop()
