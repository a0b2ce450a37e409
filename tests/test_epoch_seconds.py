"""`message.epoch_seconds` (replay --speed's time of a line) reads what `parse_time` reads,
float for float, on Segment's own form and on every other string."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.message import epoch_seconds, parse_time


def slow(value: Any) -> float | None:
    moment = parse_time(value)
    return moment.timestamp() if moment is not None else None


DIGIT = st.sampled_from("0123456789")
segment_form = st.builds(
    lambda y, mo, d, h, mi, s, ms: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms}Z",
    st.integers(1, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 24), st.integers(0, 60),
    st.integers(0, 60), st.text(DIGIT, min_size=3, max_size=3) | st.sampled_from(["١٢٣", "12a", "1 2"]),
)


@settings(max_examples=600, deadline=None)
@given(segment_form | st.text(max_size=30) | st.none() | st.integers())
def test_epoch_seconds_is_parse_time_timestamp(value: Any) -> None:
    assert epoch_seconds(value) == slow(value)
    assert epoch_seconds(value) == slow(value)  # again, from the remembered second


def test_known_values() -> None:
    assert epoch_seconds("2024-05-01T10:00:00.500Z") == 1714557600.5
    assert epoch_seconds("1970-01-01T00:00:00.000Z") == 0.0
    assert epoch_seconds("2024-05-01T12:00:00.123+02:00") == slow("2024-05-01T12:00:00.123+02:00")
    assert epoch_seconds("2024-02-30T10:00:00.000Z") is None
