"""`segdebug demo --rate R` spreads its events over time instead of sending them at once.

Observed at a real collector: each message's `receivedAt` is the collector's clock when its
call arrived. The demo sends event i no earlier than i/R seconds after it starts, so the
arrivals span at least (n-1)/R seconds minus however late the first call was. The bounds
below leave most of a second for that lateness, and still fail when everything (or twice the
rate) goes out at once; they only bound the span from below, so a slow machine cannot fail them.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

from tests.support import Collector

RATE = 20
DURATION = 2.5
EVENTS = 50  # RATE * DURATION
FIRST_CALL_LATENESS = 0.85  # seconds the first call may arrive late without failing the test


def arrivals(collector: Collector) -> list[datetime]:
    """When each demo message reached the collector, accepted and refused alike, in order."""
    records = collector.archived() + collector.refused()
    return sorted(datetime.fromisoformat(record["receivedAt"].replace("Z", "+00:00")) for record in records)


def test_the_demo_sends_at_the_rate_asked(collector: Collector) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "debugger.cli", "demo", "--to", collector.url,
         "--rate", str(RATE), "--duration", str(DURATION)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"sent {EVENTS} demo events" in done.stderr
    times = arrivals(collector)
    assert len(times) == EVENTS
    span = (times[-1] - times[0]).total_seconds()
    assert span >= (EVENTS - 1) / RATE - FIRST_CALL_LATENESS, f"{EVENTS} events arrived within {span:.3f} s"
    early = [i for i, moment in enumerate(times)
             if (moment - times[0]).total_seconds() < i / RATE - FIRST_CALL_LATENESS]
    assert early == [], f"events {early} arrived ahead of the schedule"
    # paced calls go one event per request, so arrival times differ (all at once: one batch)
    assert len(set(times)) >= EVENTS // 4

