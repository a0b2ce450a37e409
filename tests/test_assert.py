"""`segdebug assert` against a real collector process: exit codes and output for a hold, a
miss, a refusal with --no-refused, a timeout, an unreachable collector and usage errors; and
the pure parts (expectations, nearest misses)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from typing import Any, Iterator

import orjson
import pytest

from debugger.api_client import ApiClient
from debugger.assertion import Expectation, nearest_misses, poll
from debugger.protocol import event
from debugger.query import parse
from tests.support import Collector, http, post_json, running_collector


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    yield from running_collector(tmp_path_factory.mktemp("assert"))


@pytest.fixture
def fresh(shared: Collector) -> Collector:
    assert http("POST", f"{shared.url}/segdebug/reset").status == 200
    return shared


def segdebug_assert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "debugger.cli", "assert", *args],
                          capture_output=True, text=True, timeout=60)


def send(collector: Collector, *messages: dict[str, Any]) -> None:
    post_json(f"{collector.url}/v1/batch", {"batch": list(messages)})


def track(name: str, user: str | None = "u1", **properties: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "track", "event": name, "properties": properties, "messageId": f"m-{name}"}
    if user is not None:
        message["userId"] = user
    return message


ORDER = 'event:"Order Completed"'
REFUSED_LINE = re.compile(r"(REFUSED|REJECTED) +track +Order Completed")  # tail's word for it


def test_a_hold_exits_0(fresh: Collector) -> None:
    send(fresh, track("Order Completed", order_id="o1"), track("Product Viewed"))
    done = segdebug_assert(f"{ORDER} has:properties.order_id", "--count", "1", "--url", fresh.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("holds: expected exactly 1 accepted event(s)") and "found 1" in done.stdout


def test_a_miss_exits_1_and_shows_matches_refusals_and_nearest_misses(fresh: Collector) -> None:
    send(fresh, track("Order Completed", order_id="o1"), track("Order Complete"),
         track("order completed"), track("Signed Up"), track("Order Completed", user=None))
    done = segdebug_assert(ORDER, "--count", "3", "--within", "0", "--url", fresh.url)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    lines = out.splitlines()
    assert lines[0] == (
        "FAILED: expected exactly 3 accepted event(s) matching 'event:\"Order Completed\"': found 2 (after 0.0 s)")
    matched = lines.index("matched (2):")  # the names match case-insensitively
    assert "accepted  track     Order Completed" in lines[matched + 1]
    assert "accepted  track     order completed" in lines[matched + 2]
    refused = lines.index("refused (1):")
    assert REFUSED_LINE.search(lines[refused + 1])
    assert "no_user_anon_id" in lines[refused + 1]
    near = lines.index("nearest misses (1):")
    assert "Order Complete " in lines[near + 1]
    others = lines.index("other events received (1):")
    assert "Signed Up" in lines[others + 1] and len(lines) == others + 2


def test_a_refusal_with_no_refused_exits_1(fresh: Collector) -> None:
    send(fresh, track("Order Completed"), {"type": "identify", "traits": {"email": "a@b.c"}})
    assert segdebug_assert(ORDER, "--url", fresh.url, "--within", "0").returncode == 0
    done = segdebug_assert(ORDER, "--no-refused", "--url", fresh.url, "--within", "0")
    assert done.returncode == 1
    assert "no refused calls: found 1" in done.stdout.splitlines()[0]
    assert re.search(r"(REFUSED|REJECTED) +identify", done.stdout) and "no_user_anon_id" in done.stdout


def test_a_timeout_exits_1_after_waiting(fresh: Collector) -> None:
    started = time.monotonic()
    done = segdebug_assert("event:Never", "--within", "0.5", "--url", fresh.url)
    assert done.returncode == 1 and time.monotonic() - started >= 0.5
    assert "found 0 (after 0." in done.stdout and "matched: none" in done.stdout


def test_polling_sees_events_that_arrive_late(fresh: Collector) -> None:
    timer = threading.Timer(0.5, send, (fresh, track("Late Event Sent")))
    timer.start()
    try:
        done = segdebug_assert('event:"Late Event Sent"', "--within", "20", "--url", fresh.url)
    finally:
        timer.join()
    assert done.returncode == 0, done.stdout


def test_max_and_json(fresh: Collector) -> None:
    send(fresh, track("Step Done"), track("Step Done"), track("Step Done"))
    done = segdebug_assert('event:"Step Done"', "--max", "2", "--within", "0", "--json", "--url", fresh.url)
    verdict = orjson.loads(done.stdout)
    assert done.returncode == 1 and verdict["holds"] is False
    assert verdict["matched"] == 3 and verdict["expectation"] == {"max": 2}
    assert [e["message"]["event"] for e in verdict["events"]] == ["Step Done"] * 3


def test_no_collector_exits_1_with_a_reason(fresh: Collector) -> None:
    done = segdebug_assert("x", "--port", "1", "--within", "0")
    assert done.returncode == 1
    [line] = done.stdout.splitlines()  # QA: "FAILED: expected ... found 0" came first, as if looked at
    assert line.startswith("FAILED: no segdebug collector answers at http://127.0.0.1:1 (")
    assert line.endswith("), so nothing was checked (waited 0.0 s)")


@pytest.mark.parametrize("args", [
    ["event:(", "--port", "1"],
    ["x", "--count", "1", "--min", "1"],
    ["x", "--min", "3", "--max", "1"],
    ["x", "--count", "-1"],
    ["x", "--within", "-1"],
    ["x", "--port", "1", "--url", "http://127.0.0.1:1"],
    ["x", "--count", "many"],
    # bad URLs (QA: a traceback, a 10 s wait on ftp://, or exit 1 "no collector answers")
    ["x", "--url", "notaurl"],
    ["x", "--url", "http://[::1"],
    ["x", "--url", "ftp://127.0.0.1:1"],
    ["x", "--url", "127.0.0.1:8088"],
    ["x", "--url", "http://127.0.0.1:99999"],
    ["x", "--url", "http://ex ample.com"],   # QA round 2: tracebacks from http.client and aiohttp
    ["x", "--url", "http://127.0.0.1.:8088"],
    ["x", "--url", "http://127.0.0.1:0"],
])
def test_usage_errors_exit_2_in_one_line(args: list[str]) -> None:
    done = segdebug_assert(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr.startswith("segdebug")
    assert len(done.stderr.splitlines()) <= 3  # a bad query adds its caret lines


def test_expectations() -> None:
    assert Expectation.of().describe() == "at least 1" and not Expectation.of().holds(0)
    assert Expectation.of(count=0).holds(0) and not Expectation.of(count=0).holds(1)
    assert Expectation.of(low=2, high=3).describe() == "between 2 and 3"
    assert [Expectation.of(high=2).holds(n) for n in (0, 2, 3)] == [True, True, False]
    with pytest.raises(ValueError):
        Expectation.of(count=1, high=2)


def envelope(seq: int, message: dict[str, Any]) -> Any:
    return event(seq=seq, received_at="2024-01-01T00:00:00Z", endpoint="/v1/batch", write_key=None,
                 status="accepted", problems=[], message=message, raw=None)


def test_nearest_misses_same_type_similar_names() -> None:
    window = [
        envelope(1, {"type": "track", "event": "Order Complete"}),
        envelope(2, {"type": "track", "event": "Order Completed"}),  # a match: not a miss
        envelope(3, {"type": "page", "name": "Order Completed"}),
        envelope(4, {"type": "track", "event": "Checkout Started"}),
        envelope(5, {"type": "track", "event": "Orders Completed"}),
    ]
    near = nearest_misses(parse('type:track event:"Order Completed"'), window)
    assert [e["seq"] for e in near] == [1, 5]
    assert [e["seq"] for e in nearest_misses(parse('name:"Order Completed"'), window)] == [1, 5]
    assert nearest_misses(parse("properties.total>3"), window) == []


@pytest.mark.parametrize("expectation, no_refused", [
    (Expectation.of(high=0), False), (Expectation.of(count=1), False), (Expectation.of(low=0), True),
])
def test_a_verdict_no_wait_can_change_is_given_at_once(
    fresh: Collector, expectation: Expectation, no_refused: bool
) -> None:
    """Too many matches, or a refusal under --no-refused: more messages cannot undo it, so
    `--within` does not wait it out (QA: `--max 0 --within 3` failed after the full 3 s)."""
    send(fresh, track("Order Completed"), track("Order Completed", user=None))
    send(fresh, {**track("Order Completed"), "messageId": "m-second"})
    sleeps: list[float] = []
    verdict = poll(ApiClient(fresh.url), ORDER, expectation, no_refused, within=30, sleep=sleeps.append)
    assert not verdict.holds and sleeps == []  # one look, no wait
