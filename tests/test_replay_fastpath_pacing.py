"""Paced replay on the fast path: runs of lines admitted to the hold window at once
(HoldWindow.admit_run) decide exactly what admitting them one by one decides, and a paced run
over a mixed-layout archive with broken and oversized lines in it sends every good message
once, none early."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.pacing import HoldWindow, RateSchedule, SpeedSchedule
from tests.test_replay_e2e import Endpoint, failed_records, replay

gaps = st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.01, 0.03, 0.049, 0.05, 0.051, 0.2, 1.0]), min_size=1, max_size=60)


def one_by_one(dues: list[float], hold: float) -> list[tuple[int, float]]:
    """(index of the event that closed the window, moment the held events go) per closing."""
    window = HoldWindow(hold)
    closings = []
    for index, due in enumerate(dues):
        closing = window.admit(due)
        if closing is not None:
            closings.append((index, closing))
    return closings


def in_runs(dues: list[float], hold: float, cuts: list[int]) -> list[tuple[int, float]]:
    """The same, with the dues handed over in runs (cut where `cuts` say), as chunks are."""
    window = HoldWindow(hold)
    closings = []
    bounds = sorted({0, len(dues), *(cut % (len(dues) + 1) for cut in cuts)})
    for low, high in itertools.pairwise(bounds):
        run, position = dues[low:high], 0
        while position < len(run):
            end, closing = window.admit_run(run, position)
            if closing is not None:
                closings.append((low + position, closing))
                continue
            assert end > position and all(due - window.first <= hold for due in run[position:end])  # type: ignore[operator]
            position = end
    return closings


@settings(max_examples=300, deadline=None)
@given(gaps, st.sampled_from([0.0, 0.05]), st.lists(st.integers(0, 60), max_size=4))
def test_admitting_a_run_decides_what_admitting_each_event_decides(steps: list[float], hold: float,
                                                                   cuts: list[int]) -> None:
    dues, moment = [], 0.0
    for step in steps:
        moment += step
        dues.append(moment)
    assert in_runs(dues, hold, cuts) == one_by_one(dues, hold)


def test_schedules_give_a_run_of_dues_as_they_give_each_one() -> None:
    times = [None, 10.0, 10.5, 10.2, None, 14.0]
    one = SpeedSchedule(2, max_wait=1.0)
    assert SpeedSchedule(2, max_wait=1.0).dues(times) == [one.due(t) for t in times] == [
        0.0, 0.0, 0.25, 0.25, 0.25, 1.25]
    rate = RateSchedule(4)
    first, second = rate.dues([None] * 3, 10.0), rate.dues([None] * 2, 10.0)
    assert [*map(first.__getitem__, range(3)), *map(second.__getitem__, range(2))] == [10.0, 10.25, 10.5, 10.75, 11.0]
    assert (len(first), len(second)) == (3, 2)


def mixed_line(index: int) -> bytes:
    """Field order by call type, sentAt and writeKey at the front, as exports have them."""
    at = f"2024-05-01T10:00:{index % 60:02d}.000Z"
    message: dict[str, Any]
    if index % 3 == 0:
        message = {"type": "track", "sentAt": at, "writeKey": "wk_one", "messageId": f"m-{index}",
                   "event": "Order Completed", "userId": "u", "properties": {"sentAt": "nested"}, "context": {}}
    elif index % 3 == 1:
        message = {"writeKey": "wk_one", "sentAt": at, "type": "page", "messageId": f"m-{index}",
                   "name": "Pricing", "userId": "u", "context": {"page": {"path": "/"}}}
    else:
        message = {"sentAt": at, "messageId": f"m-{index}", "type": "identify", "writeKey": "wk_one",
                   "userId": "u", "traits": {"writeKey": "in traits"}, "context": {}}
    return orjson.dumps(message)


def test_a_paced_mixed_archive_sends_each_good_message_once_and_none_early(tmp_path: Path) -> None:
    """Small batches (10) at 1,000 events/s: five fill up within each 50 ms window, and each
    must wait until its newest event is due rather than leave with the first."""
    rate = 1000
    lines = [mixed_line(index) for index in range(600)]
    lines[100] = b"{broken}"  # looks like an object: refused by the endpoint, then found
    lines[250] = b"not json"  # caught before sending
    lines[400] = orjson.dumps({"type": "track", "writeKey": "wk_one", "messageId": "big", "p": "x" * 40_000})
    archive = tmp_path / "mixed.ndjson"
    archive.write_bytes(b"\n".join(lines) + b"\n")
    with Endpoint() as endpoint:
        assert replay(tmp_path, str(archive), "--to", endpoint.url, "--rate", str(rate), "--batch-size", "10") == 1
    good = [f"m-{index}" for index in range(600) if index not in (100, 250, 400)]
    assert sorted(endpoint.acknowledged) == sorted(good)
    for body, _ in endpoint.bodies:
        assert body["writeKey"] == "wk_one"
        assert all("sentAt" not in message and message.get("writeKey") == "wk_one" for message in body["batch"])
    assert {record.get("raw", "")[:8] or record["message"]["messageId"] for record in failed_records(tmp_path)} == {
        "{broken}", "not json", "big"}
    start, first = endpoint.arrivals[0]  # the first request left when its newest event was due
    sent = 0
    for at, count in endpoint.arrivals:
        sent += count
        assert sent <= rate * (at - start) + first + 15, (sent, at - start)
    assert endpoint.arrivals[-1][0] - start >= (597 - first - 15) / rate
