"""The hub without a socket: what each subscriber is queued for a call's messages, with the
clock given. Refusals never sampled away (within their budget), priority matches kept,
history on open, and the full spec rules run only for what a viewer is sent (issue 16)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

import orjson

from debugger import rules
from debugger.hub import REFUSED_PER_SECOND, Hub, Subscriber
from debugger.ingest import Accepted, Refused
from debugger.pending import CallContext
from debugger.protocol import Problem, Subscription, problem
from debugger.query import parse
from debugger.sampling import WINDOW


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingCheck:
    """The full checker, counting the messages it was run on."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, message: Mapping[str, Any]) -> list[Problem]:
        self.calls += 1
        return rules.check(message)


def accepted(n: int, name: str = "Flood") -> Accepted:
    message = {"type": "track", "event": name, "userId": f"u{n}", "n": n}
    return Accepted(message, orjson.dumps(message), "wk", [])


def refused(n: int) -> Refused:
    message = {"type": "track", "event": "No User", "n": n}
    return Refused(message, orjson.dumps(message).decode(), "wk",
                   [problem("error", "no_user_anon_id", "missing", "userId")])


def context(check: CountingCheck | None = None) -> CallContext:
    return CallContext("2024-05-01T10:00:00.000Z", "/v1/batch", None, check)


def make_hub() -> tuple[Hub, Clock]:
    clock = Clock()
    return Hub(version="1", http_url="http://x", archive="a", clock=clock), clock


def subscribed(hub: Hub, **subscription: Any) -> Subscriber:
    subscriber = hub.subscribe()
    body: Subscription = subscription  # type: ignore[assignment]
    query = parse(body["filter"]) if "filter" in body else None
    priority = parse(body["priority"]) if "priority" in body else None
    hub.settle(subscriber, body, query, priority)
    return subscriber


def lines(subscriber: Subscriber) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in subscriber.take().splitlines()]


def events(subscriber: Subscriber) -> list[dict[str, Any]]:
    return [line for line in lines(subscriber) if line["kind"] == "event"]


def settle_windows(hub: Hub, clock: Clock, seconds: float = 2.0) -> None:
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 0.05
        hub.flush(clock.now)


def test_every_refused_call_of_a_sampled_batch_reaches_the_viewer() -> None:
    hub, clock = make_hub()
    viewer = subscribed(hub, max_rate=50)
    results = [refused(n) if n % 100 == 42 else accepted(n) for n in range(2000)]
    hub.publish_call(1, context(), results, 20)
    settle_windows(hub, clock)
    got = events(viewer)
    assert sum(e["status"] == "rejected" for e in got) == 20
    assert len(got) <= 20 + 51
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)  # in order


def test_refused_calls_beyond_the_budget_are_counted_not_sent() -> None:
    hub, clock = make_hub()
    viewer = subscribed(hub, max_rate=50)
    hub.publish_call(1, context(), [refused(n) for n in range(300)], 300)
    settle_windows(hub, clock)
    got = events(viewer)
    assert len(got) == REFUSED_PER_SECOND
    hub.tick(clock.now)
    hub.tick(clock.now + 1)
    stats = [line for line in lines(viewer) if line["kind"] == "stats"][-1]
    assert stats["refused_dropped"] == 300 - REFUSED_PER_SECOND
    assert stats["rejected"] == 300


def test_an_unsampled_viewer_gets_every_refusal() -> None:
    hub, _ = make_hub()
    viewer = subscribed(hub)
    hub.publish_call(1, context(), [refused(n) for n in range(300)], 300)
    assert len(events(viewer)) == 300


def test_priority_matches_are_never_sampled_away_and_the_rest_still_arrives() -> None:
    hub, clock = make_hub()
    viewer = subscribed(hub, max_rate=5, priority='event:"Rare Thing"')
    results = [accepted(n, "Rare Thing" if n % 97 == 0 else "Flood") for n in range(1000)]
    hub.publish_call(1, context(), results, 0)
    settle_windows(hub, clock)
    got = events(viewer)
    rare = [e for e in got if e["message"]["event"] == "Rare Thing"]
    assert len(rare) == len([n for n in range(1000) if n % 97 == 0])
    assert 0 < len(got) - len(rare) <= 5 + 1  # the rest: sampled, not gone


def test_a_filter_keeps_its_meaning_only_matching_events() -> None:
    hub, clock = make_hub()
    viewer = subscribed(hub, max_rate=50, filter="is:refused")
    results = [refused(n) if n % 10 == 0 else accepted(n) for n in range(100)]
    hub.publish_call(1, context(), results, 10)
    settle_windows(hub, clock)
    assert [e["seq"] for e in events(viewer)] == list(range(1, 101, 10))


def test_a_300_item_batch_reaches_a_sampled_viewer_from_its_whole_span() -> None:
    hub, clock = make_hub()
    viewer = subscribed(hub, max_rate=50)
    hub.publish_call(1, context(), [accepted(n) for n in range(300)], 0)
    settle_windows(hub, clock)
    seqs = [e["seq"] for e in events(viewer)]
    assert 45 <= len(seqs) <= 51 and max(seqs) > 270


def test_sampled_shows_while_it_happens_and_returns_to_one() -> None:
    hub, clock = make_hub()
    viewer = subscribed(hub, max_rate=50)
    hub.tick(clock.now)
    hub.publish_call(1, context(), [accepted(n) for n in range(300)], 0)
    clock.now += WINDOW
    hub.flush(clock.now)
    hub.tick(clock.now)
    stats = [line for line in lines(viewer) if line["kind"] == "stats"]
    assert stats[-1]["sampled"] == 6
    settle_windows(hub, clock, 2.0)
    hub.tick(clock.now)
    stats = [line for line in lines(viewer) if line["kind"] == "stats"]
    assert stats[-1]["sampled"] == 1


def test_full_rules_run_only_for_what_is_sent() -> None:
    hub, clock = make_hub()
    viewer = subscribed(hub, max_rate=50)
    check = CountingCheck()
    results = [accepted(n) for n in range(5000)]
    hub.publish_call(1, context(check), results, 0)
    settle_windows(hub, clock)
    sent = events(viewer)
    assert check.calls == len(sent) <= 51
    # and the problems sent are the full checker's (a warning the refusing one never finds)
    assert all(e["problems"] == rules.check(e["message"]) for e in sent)


def test_a_problem_query_computes_problems_only_for_candidates() -> None:
    hub, clock = make_hub()
    viewer = subscribed(hub, max_rate=50, filter="name:Rare is:warning")
    check = CountingCheck()
    results = [accepted(n, "Rare" if n % 100 == 0 else "Flood") for n in range(1000)]
    hub.publish_call(1, context(check), results, 0)
    settle_windows(hub, clock)
    assert check.calls == 10  # the 990 "Flood" events never had their problems computed
    assert all(e["message"]["event"] == "Rare" for e in events(viewer))


def test_no_rules_and_no_envelopes_while_nobody_watches() -> None:
    hub, _ = make_hub()
    check = CountingCheck()
    hub.publish_call(1, context(check), [accepted(n) for n in range(1000)], 0)
    assert check.calls == 0
    assert (hub.received, hub.accepted, hub.rejected) == (1000, 1000, 0)


def test_history_on_open_is_the_last_n_marked_then_the_live_stream() -> None:
    hub, clock = make_hub()
    results = [refused(n) if n % 50 == 0 else accepted(n) for n in range(700)]
    hub.publish_call(1, context(), results, 14)
    viewer = subscribed(hub, max_rate=50, history=500)
    got = events(viewer)
    assert [e["seq"] for e in got] == list(range(201, 701))
    assert all(e["history"] is True for e in got)
    assert sum(e["status"] == "rejected" for e in got) == 10  # refused included
    hub.publish_call(701, context(), [accepted(700)], 0)
    live = events(viewer)
    assert [e["seq"] for e in live] == [701] and "history" not in live[0]


def test_history_applies_the_filter() -> None:
    hub, _ = make_hub()
    hub.publish_call(1, context(), [refused(n) if n % 50 == 0 else accepted(n) for n in range(400)], 8)
    viewer = subscribed(hub, history=5, filter="is:refused")
    assert [e["seq"] for e in events(viewer)] == [101, 151, 201, 251, 301, 351][-5:]


def test_history_comes_from_the_store_when_there_is_one() -> None:
    from debugger.store import RecentStore

    store = RecentStore(1000, rules.check)
    hub = Hub(version="1", http_url="http://x", archive="a", store=store)
    results = [accepted(n) for n in range(800)]
    store.append_call(1, CallContext("2024-05-01T10:00:00.000Z", "/v1/batch", None, rules.check), results, 0)
    hub.publish_call(1, context(), results, 0)
    viewer = subscribed(hub, history=3)
    assert [e["seq"] for e in events(viewer)] == [798, 799, 800]


def test_received_at_and_request_facts_reach_the_envelope() -> None:
    hub, _ = make_hub()
    viewer = subscribed(hub)
    facts = {"method": "POST", "path": "/v1/batch"}
    hub.publish_call(7, CallContext("2024-05-01T10:00:00.000Z", "/v1/batch", facts, None),
                     [accepted(1)], 0)
    (got,) = events(viewer)
    assert got["seq"] == 7 and got["request"] == facts and got["receivedAt"].startswith("2024")
    assert datetime.fromisoformat(got["receivedAt"].replace("Z", "+00:00")).tzinfo == timezone.utc


def test_a_delivery_line_reaches_every_settled_viewer_whatever_its_filter() -> None:
    """Hub.broadcast (what forwarding's delivery lines use): past filter and sampling, never
    to a viewer still deciding or refused, through each bounded queue."""
    from debugger import protocol

    hub, _ = make_hub()
    filtered = subscribed(hub, filter='event = "Nothing Matches"', max_rate=1)
    plain = subscribed(hub)
    deciding = hub.subscribe()
    refused_viewer = subscribed(hub)
    refused_viewer.refuse(protocol.error("no"))
    tiny = Subscriber(queue_size=2)
    tiny.settle(None, None, 0.0)
    hub.subscribers.add(tiny)
    line = protocol.delivery("https://example.test", "delivered", 1, [])
    for _ in range(3):
        hub.broadcast(line)
    assert [x["kind"] for x in lines(filtered)] == ["delivery"] * 3
    assert [x["kind"] for x in lines(plain)] == ["delivery"] * 3
    assert deciding.take() == b"" and not deciding.queue
    assert orjson.loads(refused_viewer.take())["kind"] == "error"
    assert len(lines(tiny)) == 2 and tiny.dropped == 1


def test_a_flood_builds_few_pending_events_for_a_slow_viewer_and_still_spreads_its_picks() -> None:
    """Every message a viewer's sampler pools becomes a Pending: at max_rate 50 the pool is
    128 (not sampling.POOL's 1024), so a 20,000-message window builds about a thousand, not
    thousands, and the viewer still gets its 50 from the whole span."""
    from debugger import pending

    built = 0
    original = pending.Run.__getitem__

    def counting(run: pending.Run, index: slice) -> list[pending.Pending]:
        nonlocal built
        found = original(run, index)
        built += len(found)
        return found

    hub, clock = make_hub()
    viewer = subscribed(hub, max_rate=50)
    pending.Run.__getitem__ = counting  # type: ignore[method-assign]
    try:
        for start in range(1, 20_001, 100):  # 200 calls of 100 within one window
            hub.publish_call(start, context(), [accepted(n) for n in range(start, start + 100)], 0)
    finally:
        pending.Run.__getitem__ = original  # type: ignore[method-assign]
    settle_windows(hub, clock)
    seqs = [e["seq"] for e in events(viewer)]
    assert built < 1100, built
    assert 45 <= len(seqs) <= 51 and min(seqs) < 1000 and max(seqs) > 19_000
