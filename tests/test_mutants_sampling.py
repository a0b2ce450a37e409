"""The sampler's promises that mutation testing found unguarded (`make mutate`): the budget's
exact arithmetic, "1 in N" counted exactly, order kept across runs and kept events, no event
lost when it waits for credit, evenness under decimation, and when windows open and close.

Each test states a promise of debugger/sampling.py's docstring with a clock passed in; the
numbers are small enough to work out by hand (see the comments).
"""

from __future__ import annotations

import pytest

from debugger.sampling import WINDOW, RateSampler


def test_a_bad_max_rate_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="max_rate must be a positive number"):
        RateSampler(0)


def test_burst_is_seconds_of_credit_a_quiet_viewer_may_spend_at_once() -> None:
    sampler: RateSampler[int] = RateSampler(10, burst=2.0)  # 20 events of credit
    kept = sampler.offer_run(list(range(100)), 0.0) + sampler.due(WINDOW)
    assert len(kept) == 1 + 20  # 1 at once, then 19 left + 2.5 earned, held to the 20 of a burst


def test_a_burst_exactly_as_large_as_the_credit_is_kept_whole() -> None:
    """max_rate 2000 is above the default pool (1024): the pool grows to hold the burst."""
    sampler: RateSampler[int] = RateSampler(2000)
    kept = sampler.offer_run(list(range(2000)), 0.0) + sampler.due(WINDOW)
    assert kept == list(range(2000))
    one: RateSampler[int] = RateSampler(2000)
    by_one = [item for n in range(2000) for item in one.offer(n, 0.0)] + one.due(WINDOW)
    assert by_one == list(range(2000))


def test_the_event_sent_at_once_spends_one_credit() -> None:
    sampler: RateSampler[int] = RateSampler(4)  # 4 credits
    assert sampler.offer(0, 0.0) == [0]  # sent at once: 3 left
    for n in range(1, 8):
        assert sampler.offer(n, 0.0) == []
    assert len(sampler.due(WINDOW)) == 3 + 1  # 3 left + 4/s * 0.25 s


@pytest.mark.parametrize(
    ("burst", "every"),
    [
        (10, 2),  # 1 sent at once + 4 (3 left, 1 earned) = 5 kept of 10: exactly "1 in 2"
        (11, 3),  # 5 of 11: 2.2, rounded up
        (9, 2),  # 5 of 9: 1.8, rounded up
    ],
)
def test_every_counts_each_offer_of_the_window_once(burst: int, every: int) -> None:
    by_one: RateSampler[int] = RateSampler(4)
    for n in range(burst):
        by_one.offer(n, 0.0)
    assert len(by_one.due(WINDOW)) == 4
    assert by_one.every(WINDOW) == every
    by_run: RateSampler[int] = RateSampler(4)
    assert len(by_run.offer_run(list(range(burst)), 0.0) + by_run.due(WINDOW)) == 5
    assert by_run.every(WINDOW) == every


def test_every_counts_the_kept_of_each_window_afresh() -> None:
    sampler: RateSampler[int] = RateSampler(4)
    sent = sampler.offer_run(list(range(20)), 0.0) + sampler.due(0.25)  # 1 + 4 kept of 20
    sent += sampler.offer_run(list(range(20)), 0.3) + sampler.due(0.5)  # 1 earned of 20
    assert len(sent) == 6
    assert sampler.every(0.5) == 7  # 40 offered, 6 kept: 6.67 -> 7


def test_order_is_kept_between_runs_and_kept_events() -> None:
    """Ordinals go on across runs: a kept event after a run is delivered after it."""
    sampler: RateSampler[int] = RateSampler(1000)
    sent = sampler.offer(0, 0.0)  # opens a window
    sent += sampler.offer(1, 0.0, keep=True)
    sent += sampler.offer_run(list(range(2, 12)), 0.1)
    sent += sampler.offer(12, 0.1, keep=True)
    sent += sampler.offer_run(list(range(13, 20)), 0.2)
    sent += sampler.due(WINDOW)
    assert sent == list(range(20))


def test_an_event_that_waits_for_credit_is_delivered_when_a_run_arrives() -> None:
    sampler: RateSampler[str] = RateSampler(1)  # one credit
    assert sampler.offer("a", 0.0) == ["a"]  # credit spent
    assert sampler.offer("b", 0.3) == []  # opens a window with 0.3 credit: b waits
    # 1.2 s later the credit is 1.5: b goes out as the run opens a window of its own
    assert sampler.offer_run(["c"], 1.5) == ["b"]
    assert sampler.due(2.5) == ["c"]


def test_a_refusal_before_a_burst_does_not_let_the_burst_jump_the_window() -> None:
    """A kept event opens a window like any other, so the burst after it is sampled evenly
    rather than its first event sent at once."""
    sampler: RateSampler[int] = RateSampler(1)
    assert sampler.offer(-1, 0.0, keep=True) == [-1]
    sent = [item for n in range(10) for item in sampler.offer(n, 0.01)]
    assert sent == []
    assert sampler.due(WINDOW) == [5]  # the middle of the burst, not its first


@pytest.mark.parametrize("size", [1_000, 4_099, 100_000])
@pytest.mark.parametrize("by_run", [False, True])
def test_decimation_keeps_the_picks_evenly_spread(size: int, by_run: bool) -> None:
    """A pool of 64 decimated again and again still gives 7 picks that each sit within a
    quarter share of the middle of their seventh of the burst."""
    sampler: RateSampler[int] = RateSampler(7, pool_size=64)  # 1 at once, then 6 + 1.75 credit
    if by_run:
        sampler.offer_run(range(size), 0.0)
    else:
        for n in range(size):
            sampler.offer(n, 0.0)
    picks = sampler.due(WINDOW)
    assert len(picks) == 7
    share = size / 7
    for j, item in enumerate(picks):
        assert abs(item - (j + 0.5) * share) <= share / 4, (j, item, share)


def test_a_window_with_only_its_opening_event_lets_the_next_through_at_once() -> None:
    sampler: RateSampler[str] = RateSampler(50)
    assert sampler.offer("a", 0.0) == ["a"]
    assert sampler.due(WINDOW) == []  # polled on time; nothing more came
    assert sampler.offer("b", 0.3) == ["b"]


@pytest.mark.parametrize("keep", [False, True])
def test_a_window_that_saw_more_is_followed_by_another_at_once(keep: bool) -> None:
    sampler: RateSampler[str] = RateSampler(50)
    assert sampler.offer("a", 0.0) == ["a"]
    assert sampler.offer("b", 0.1, keep=keep) == []
    assert sampler.due(WINDOW) == ["b"]
    assert sampler.offer("c", 0.3) == []  # the flood may go on: c waits for its window
    assert sampler.due(2 * WINDOW) == ["c"]


def test_the_next_window_starts_where_the_last_ended_even_when_polled_late() -> None:
    sampler: RateSampler[str] = RateSampler(50)
    sampler.offer_run(["a", "b", "c"], 0.0)
    assert sampler.due(0.3) == ["b", "c"]  # polled 0.05 s late
    assert sampler.offer("d", 0.35) == []
    assert sampler.due(2 * WINDOW) == ["d"]  # the window of 0.25-0.5, not 0.3-0.55


def test_a_window_closed_very_late_is_followed_by_a_full_one() -> None:
    sampler: RateSampler[str] = RateSampler(50)
    sampler.offer_run(["a", "b", "c"], 0.0)
    assert sampler.due(2.0) == ["b", "c"]  # polled long after its end
    assert sampler.offer("d", 2.05) == []  # a fresh window 2.0-2.25, d waits in it
    assert sampler.due(2.2) == []
    assert sampler.due(2.0 + WINDOW) == ["d"]
