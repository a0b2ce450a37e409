"""The rate sampler: about max_rate events per second, evenly spread, never more."""

from __future__ import annotations

from itertools import pairwise

import pytest

from debugger.sampling import RateSampler


def offer(sampler: RateSampler, rate: float, seconds: float, start: float = 0.0) -> list[float]:
    """Offer a steady flow of `rate` events/s; return the times of the events kept."""
    total = int(rate * seconds)
    times = [start + i / rate for i in range(total)]
    return [t for t in times if sampler.admit(t)]


def per_second(times: list[float]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for t in times:
        counts[int(t)] = counts.get(int(t), 0) + 1
    return counts


def test_slow_traffic_is_kept_whole() -> None:
    sampler = RateSampler(50)
    assert len(offer(sampler, rate=20, seconds=5)) == 100
    assert sampler.every == 1


def test_a_flood_is_held_to_max_rate_every_second() -> None:
    sampler = RateSampler(10)
    kept = offer(sampler, rate=1000, seconds=5)
    counts = per_second(kept)
    assert all(count <= 10 for count in counts.values())
    assert all(count >= 9 for second, count in counts.items() if second >= 1)
    assert sampler.every == 100


def test_kept_events_are_spread_evenly_not_bunched_at_the_start() -> None:
    sampler = RateSampler(10)
    offer(sampler, rate=1000, seconds=1)  # learn the rate
    kept = offer(sampler, rate=1000, seconds=1, start=1.0)
    gaps = [round(b - a, 3) for a, b in pairwise(kept)]
    assert gaps and set(gaps) == {0.1}


def test_the_first_window_of_a_sudden_flood_is_capped() -> None:
    sampler = RateSampler(5)
    kept = [t for t in [0.0] * 10_000 if sampler.admit(t)]
    assert len(kept) == 5


def test_sampling_relaxes_when_the_flood_stops() -> None:
    sampler = RateSampler(10)
    offer(sampler, rate=1000, seconds=3)
    assert sampler.every > 1
    kept = offer(sampler, rate=5, seconds=4, start=10.0)
    assert len(kept) >= 15  # the first slow window may still use the old N, later ones keep all
    assert sampler.every == 1


def test_a_rate_under_one_per_second_keeps_one_per_window() -> None:
    sampler = RateSampler(0.5)
    kept = offer(sampler, rate=100, seconds=10)
    assert 4 <= len(kept) <= 5
    assert min(b - a for a, b in pairwise(kept)) >= 1.9


@pytest.mark.parametrize("bad", [0, -1.0])
def test_max_rate_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError):
        RateSampler(bad)
