"""Latencies in log buckets (pure): fixed memory however long a run or a session lasts."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

_BUCKETS_PER_E = 40  # ~2.5 % latency resolution


@dataclass
class LatencyHistogram:
    """Latencies in seconds; percentiles within ~2.5 %, never above the largest seen."""

    buckets: Counter[int] = field(default_factory=Counter)
    count: int = 0
    maximum: float = 0.0

    def add(self, seconds: float, times: int = 1) -> None:
        self.buckets[int(math.log(max(seconds, 1e-6) * 1e6) * _BUCKETS_PER_E)] += times
        self.count += times
        self.maximum = max(self.maximum, seconds)

    def merge(self, other: LatencyHistogram) -> None:
        """Add another histogram's latencies (a window is the merge of its minutes)."""
        self.buckets.update(other.buckets)
        self.count += other.count
        self.maximum = max(self.maximum, other.maximum)

    def percentile(self, fraction: float) -> float:
        if not self.count:
            return 0.0
        rank, seen = fraction * self.count, 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                return min(math.exp((bucket + 0.5) / _BUCKETS_PER_E) / 1e6, self.maximum)
        return self.maximum

    def milliseconds(self, fraction: float, digits: int = 1) -> float | None:
        """A percentile in milliseconds, rounded, as summaries and reports show it; None when
        nothing was measured (no latency is not a latency of 0)."""
        return round(self.percentile(fraction) * 1000, digits) if self.count else None
