"""Uniform rate sampling: keep about `max_rate` events per second, spread evenly over the flow.

Pure logic (the clock is passed in), so the hub and its tests agree on what "sampled" means.
A token bucket would keep the first events of every second and drop the rest; a viewer then
sees bursts, not the traffic. Here the sampler keeps 1 event in N, with N chosen from the rate
measured over the previous window, plus a hard cap for the first window of a sudden flood.
"""

from __future__ import annotations

import math


class RateSampler:
    """Admits about `max_rate` events per second: 1 in `every`, re-estimated once a window."""

    def __init__(self, max_rate: float) -> None:
        if not max_rate > 0:
            raise ValueError("max_rate must be a positive number")
        self.max_rate = float(max_rate)
        # A rate under 1/s needs a longer window to keep at least one event per window.
        self.window = max(1.0, 1.0 / self.max_rate)
        self.every = 1
        self._window_start: float | None = None
        self._seen = 0  # offered in the current window
        self._kept = 0  # admitted in the current window
        self._position = 0  # counts offers, to keep every `every`-th one

    @property
    def cap(self) -> int:
        """The most events one window may admit."""
        return max(1, math.floor(self.max_rate * self.window))

    def admit(self, now: float) -> bool:
        """Whether the event offered at `now` (seconds, monotonic) is kept."""
        if self._window_start is None:
            self._window_start = now
        elapsed = now - self._window_start
        if elapsed >= self.window:
            self._start_window(now, elapsed)
        self._seen += 1
        keep = self._position % self.every == 0 and self._kept < self.cap
        self._position += 1
        if keep:
            self._kept += 1
        return keep

    def _start_window(self, now: float, elapsed: float) -> None:
        """Choose N so that the last window's rate, 1 in N, stays within max_rate."""
        rate = self._seen / elapsed
        self.every = max(1, math.ceil(rate / self.max_rate))
        self._window_start = now
        self._seen = 0
        self._kept = 0
        self._position = 0
