"""Backoff: what mutation testing found unguarded (`make mutate`): the ceiling doubles from
the second failure on, and a server that says "now" is retried now."""

from __future__ import annotations

import random

from debugger.delivery.backoff import backoff_delay, server_wait


def test_the_ceiling_doubles_after_each_failure() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.6)]:
        delays = [backoff_delay(attempt, rng, base=0.2, cap=10.0) for _ in range(200)]
        assert max(delays) <= ceiling
        assert max(delays) > ceiling * 0.9  # full jitter reaches up to the ceiling


def test_a_wait_of_zero_or_in_the_past_means_retry_now() -> None:
    assert server_wait({"Retry-After": "0"}, 1000.0) == 0.0
    assert server_wait({"Retry-After": "Thu, 01 Jan 1970 00:00:10 GMT"}, 1000.0) == 0.0
    assert server_wait({"X-RateLimit-Reset": "1999999990"}, 2e9) == 0.0
