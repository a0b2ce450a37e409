"""The rate sampler: about max_rate events per second, chosen evenly over any burst (even one
shorter than a window), refusals and priority matches never sampled away, deterministic."""

from __future__ import annotations

from itertools import pairwise

import pytest

from debugger.sampling import WINDOW, RateSampler, evenly_spaced

TICK = 0.05  # how often the hub polls `due`


def run(sampler: RateSampler[int], offers: list[tuple[float, int]], until: float) -> list[tuple[float, int]]:
    """Offer (time, item) one by one, polling like the hub's ticker; (sent time, item) out."""
    sent: list[tuple[float, int]] = []
    poll = 0.0
    for when, item in offers:
        while poll <= when:
            sent += [(poll, kept) for kept in sampler.due(poll)]
            poll += TICK
        sent += [(when, kept) for kept in sampler.offer(item, when)]
    while poll <= until:
        sent += [(poll, kept) for kept in sampler.due(poll)]
        poll += TICK
    return sent


def steady(rate: float, seconds: float, start: float = 0.0) -> list[tuple[float, int]]:
    return [(start + i / rate, i) for i in range(int(rate * seconds))]


def tenths(items: list[int], total: int) -> set[int]:
    return {item * 10 // total for item in items}


def test_slow_traffic_is_kept_whole_and_promptly() -> None:
    sampler: RateSampler[int] = RateSampler(50)
    offers = steady(rate=20, seconds=5)
    sent = run(sampler, offers, until=6)
    assert [item for _, item in sent] == [item for _, item in offers]
    offered_at = dict((item, when) for when, item in offers)
    assert max(when - offered_at[item] for when, item in sent) <= WINDOW + TICK
    assert sampler.every(6) == 1


def test_a_lone_event_is_sent_at_once() -> None:
    sampler: RateSampler[str] = RateSampler(50)
    assert sampler.offer("a", 0.0) == ["a"]
    assert sampler.due(1.0) == []
    assert sampler.offer("b", 5.0) == ["b"]


def test_a_300_item_batch_at_one_instant_is_sampled_over_its_whole_span() -> None:
    sampler: RateSampler[int] = RateSampler(50)
    ready = sampler.offer_run(list(range(300)), 0.0)
    kept = ready + sampler.due(WINDOW)
    assert 45 <= len(kept) <= 51
    assert tenths(kept, 300) == set(range(10))  # the last tenth included
    assert max(kept) >= 290
    assert max(b - a for a, b in pairwise(kept)) <= 7  # evenly spread, not a run of the first
    assert kept == sorted(kept)
    assert sampler.every(WINDOW) == 6


def test_2000_calls_in_0_7_seconds_give_events_from_the_whole_span() -> None:
    sampler: RateSampler[int] = RateSampler(50)
    offers = [(i * 0.7 / 2000, i) for i in range(2000)]
    sent = run(sampler, offers, until=2.0)
    kept = [item for _, item in sent]
    assert tenths(kept, 2000) == set(range(10))
    assert kept == sorted(kept)
    # about 50 a second: one second's credit at most at once, then the refill
    assert len(kept) <= 50 + 50 * 1.0 + 1
    assert len(kept) >= 50


def test_picks_are_deterministic() -> None:
    picks = []
    for _ in range(2):
        sampler: RateSampler[int] = RateSampler(50)
        offers = [(i * 0.7 / 2000, i) for i in range(2000)]
        picks.append(run(sampler, offers, until=2.0))
    assert picks[0] == picks[1]


def test_n_is_rounded_up_so_a_viewer_sees_at_most_one_in_n() -> None:
    sampler: RateSampler[int] = RateSampler(50)
    kept = sampler.offer_run(list(range(310)), 0.0) + sampler.due(WINDOW)
    assert len(kept) == 51  # one sent at once, then a full second's credit
    assert sampler.every(WINDOW) == 7  # 310 / 51 = 6.08: "1 in 6" would be untrue


def test_sampled_returns_to_one_within_two_seconds_of_calm() -> None:
    sampler: RateSampler[int] = RateSampler(50)
    run(sampler, [(i / 1000, i) for i in range(3000)], until=3.0)
    assert sampler.every(2.9) > 1
    sampler.due(4.0)
    assert sampler.every(4.9) == 1


def test_the_budget_grows_with_the_time_that_really_passed() -> None:
    sampler: RateSampler[int] = RateSampler(40)
    sampler.offer_run(list(range(1000)), 0.0)
    assert len(sampler.due(0.25)) == 40  # the first window spends the whole burst credit
    sampler.offer_run(list(range(1000)), 0.3)
    assert len(sampler.due(0.5)) == 10  # a quarter second: 40/s * 0.25 s
    sampler.offer_run(list(range(1000)), 0.6)
    assert len(sampler.due(1.25)) == 30  # polled late: 0.75 s passed, 30 earned


def test_memory_is_bounded_and_the_pick_still_spans_the_window() -> None:
    sampler: RateSampler[int] = RateSampler(20, pool_size=64)
    sampler.offer_run(range(1_000_000), 0.0)  # a range slices like a run
    assert len(sampler._pool) < 64
    kept = sampler.due(WINDOW)
    assert tenths(kept, 1_000_000) == set(range(10))


@pytest.mark.parametrize("sizes", [[1], [300], [5, 700, 3], [1, 1, 2000, 1], [64, 64, 64]])
def test_offering_a_run_picks_what_offering_one_by_one_picks(sizes: list[int]) -> None:
    one: RateSampler[int] = RateSampler(30, pool_size=64)
    many: RateSampler[int] = RateSampler(30, pool_size=64)
    start, by_one, by_run = 0, [], []
    for size in sizes:
        items = list(range(start, start + size))
        start += size
        by_run += many.offer_run(items, 0.1)
        for item in items:
            by_one += one.offer(item, 0.1)
    assert by_one + one.due(1.0) == by_run + many.due(1.0)


def test_kept_events_are_never_sampled_away_and_stay_in_order() -> None:
    sampler: RateSampler[int] = RateSampler(5)
    sent: list[int] = []
    for item in range(1000):
        sent += sampler.offer(item, item / 2000, keep=item % 100 == 42)
    sent += sampler.due(1.0)
    assert {42, 142, 242, 342, 442, 542, 642, 742, 842, 942} <= set(sent)
    assert sent == sorted(sent)
    assert len(sent) <= 10 + (5 + 5 * 1.0) + 1  # the kept ten, a burst's credit, the refill


def test_a_rate_under_one_per_second() -> None:
    sampler: RateSampler[int] = RateSampler(0.5)
    sent = run(sampler, steady(rate=100, seconds=10), until=11)
    assert 5 <= len(sent) <= 7
    assert min(b - a for (a, _), (b, _) in pairwise(sent)) >= 1.5


def test_evenly_spaced_takes_the_middle_of_each_share() -> None:
    assert evenly_spaced(list(range(10)), 2) == [2, 7]
    assert evenly_spaced(list(range(3)), 5) == [0, 1, 2]
    assert evenly_spaced(list(range(3)), 0) == []


@pytest.mark.parametrize("bad", [0, -1.0])
def test_max_rate_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError):
        RateSampler(bad)


def test_a_high_max_rate_keeps_a_whole_burst_it_has_credit_for() -> None:
    sampler: RateSampler[int] = RateSampler(100_000)
    kept = sampler.offer_run(list(range(2000)), 0.0) + sampler.due(WINDOW)
    assert kept == list(range(2000))
