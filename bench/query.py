"""Benchmark: the compiled query matcher against a hand-written predicate, same run.

    .venv/bin/python bench/query.py [--events 200000] [--repeat 5]

Matches `type:track properties.total>100 -user:test*` over parsed events (dicts, as the hub
and replay hold them) and prints events/s for both, and the ratio (goal: >= 1,000,000/s and
>= 0.5 of the hand-written predicate). The tree-walking reference evaluator is timed on a
slice to show what compiling buys.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any, Callable, Mapping

import orjson

from debugger.query import parse
from debugger.query.evaluate import evaluate

QUERY = "type:track properties.total>100 -user:test*"


def hand_written(envelope: Mapping[str, Any]) -> bool:
    """What a developer would write for QUERY."""
    message = envelope.get("message")
    if not isinstance(message, dict) or message.get("type") != "track":
        return False
    properties = message.get("properties")
    total = properties.get("total") if isinstance(properties, dict) else None
    if isinstance(total, bool) or not isinstance(total, (int, float)) or total <= 100:
        return False
    for key in ("userId", "anonymousId"):
        user = message.get(key)
        if isinstance(user, str) and user.lower().startswith("test"):
            return False
    return True


def make_events(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Parsed envelopes with a realistic mix of types, totals and users (some test users)."""
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        kind = rng.choice(["track", "track", "track", "page", "identify", "screen"])
        user = rng.choice(["user-%d" % rng.randrange(5000), "test-%d" % index, "TEST_bot", None])
        message: dict[str, Any] = {
            "type": kind, "messageId": f"m-{index}", "anonymousId": f"anon-{index % 977}",
            "timestamp": "2024-05-01T12:00:00.000Z", "context": {"library": {"name": "bench"}},
            "properties": {"total": round(rng.uniform(0, 250), 2), "currency": "EUR"},
        }
        if user:
            message["userId"] = user
        if kind == "track":
            message["event"] = rng.choice(["Order Completed", "Product Viewed", "Signed Up"])
        lines.append(orjson.dumps({"message": message, "status": "accepted", "problems": []}))
    return [orjson.loads(line) for line in lines]


def rate(predicate: Callable[[Mapping[str, Any]], bool], events: list[dict[str, Any]],
         repeat: int) -> tuple[float, int]:
    """Best events/s over `repeat` runs, and how many matched."""
    best, matched = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        matched = sum(map(predicate, events))
        best = min(best, time.perf_counter() - start)
    return len(events) / best, matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    events = make_events(args.events)
    query = parse(QUERY)
    hand_rate, hand_matched = rate(hand_written, events, args.repeat)
    query_rate, query_matched = rate(query.matches, events, args.repeat)
    if hand_matched != query_matched:
        raise SystemExit(f"disagreement: hand {hand_matched} vs query {query_matched} matches")
    sample = events[: max(1, args.events // 10)]
    walk_rate, _ = rate(lambda envelope: evaluate(query.tree, envelope), sample, 1)

    print(f"query: {QUERY}")
    print(f"events: {args.events:,} ({query_matched:,} match), best of {args.repeat}")
    print(f"hand-written predicate: {hand_rate:>12,.0f} events/s")
    print(f"compiled query:         {query_rate:>12,.0f} events/s")
    print(f"tree-walk reference:    {walk_rate:>12,.0f} events/s")
    print(f"ratio compiled/hand:    {query_rate / hand_rate:.2f}  (goal >= 0.5, >= 1,000,000/s)")


if __name__ == "__main__":
    main()
