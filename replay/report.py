"""What a run did: counters, live progress and the final (vegeta-like) report, which ends with
Event Delivery's key metrics (delivered, not delivered, p95 latency, errors grouped by status
and reason) from the delivery engine's error table."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from debugger.delivery.exchange import Exchange
from debugger.delivery.latency import LatencyHistogram
from debugger.delivery.sender import Outgoing
from debugger.delivery.summary import ErrorTable, Example

__all__ = ["LatencyHistogram", "Progress", "ReplayStats", "Summary"]

MAX_DISTINCT_ERRORS = 20


@dataclass
class ReplayStats:
    """Counts for this run (events unless named otherwise)."""

    delivered: int = 0
    failed: int = 0
    bad_lines: int = 0
    too_big: int = 0
    requests: int = 0
    retried: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # the run's own (reading, checkpoint)
    table: ErrorTable = field(default_factory=ErrorTable)  # delivery errors by status and reason
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def request(self, seconds: float, status: int | None, error: str | None) -> None:
        """The sender's Observer: every attempt."""
        self.requests += 1
        self.latency.add(seconds)
        self.statuses[str(status) if status is not None else "error"] += 1

    def failed_attempt(self, batch: Outgoing, exchange: Exchange, final: bool) -> None:
        """The sender's Observer: a failed attempt, grouped by status and reason (write keys
        a server echoes are masked); an example keeps the first message as You sent."""
        if not final:
            self.retried += 1
        example = Example.of(batch.items[0].decode(errors="replace"), exchange)
        self.table.add(exchange.status, exchange.hide(exchange.reason), len(batch.items), final=final,
                       now=time.time(), example=example)

    def error(self, error: str) -> None:
        if error in self.errors or len(self.errors) < MAX_DISTINCT_ERRORS:
            self.errors[error] += 1

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def events_per_second(self) -> float:
        return self.delivered / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class Summary:
    """Everything the final report shows; `as_dict` is the --report json document."""

    stats: ReplayStats
    selected: int
    lines: int
    unselected: int
    already_done: int
    failed_file: str | None
    interrupted: bool
    write_keys: list[str]
    resume_command: str | None = None
    earlier: dict[str, int] = field(default_factory=dict)  # totals of the runs this one resumes

    def as_dict(self) -> dict[str, Any]:
        s = self.stats
        lat = s.latency
        return {
            "selected": self.selected, "delivered": s.delivered,
            "failed": s.failed + s.too_big, "bad_lines": s.bad_lines,
            "lines": self.lines, "not_selected": self.unselected,
            "already_done": self.already_done, "retried": s.retried, "requests": s.requests,
            "seconds": round(s.elapsed, 3), "events_per_second": round(s.events_per_second, 1),
            "latency_ms": {name: round(value * 1000, 3) for name, value in (
                ("p50", lat.percentile(0.5)), ("p90", lat.percentile(0.9)),
                ("p99", lat.percentile(0.99)), ("max", lat.maximum))},
            "statuses": dict(sorted(s.statuses.items())),
            "not_delivered": s.failed + s.too_big + s.bad_lines,
            "p95_ms": lat.milliseconds(0.95, 3),
            "errors": s.table.rows() + [{"status": None, "reason": text, "count": count}
                                        for text, count in s.errors.most_common()],
            "failed_file": self.failed_file, "interrupted": self.interrupted,
            "write_keys": self.write_keys, "resume": self.resume_command,
            "earlier_runs": self.earlier,
        }

    def text(self) -> str:
        d = self.as_dict()
        lat = d["latency_ms"]
        lines = [
            f"selected    {d['selected']}   (lines read {d['lines']}: {d['bad_lines']} bad, "
            f"{d['not_selected']} not selected, {d['already_done']} done by an earlier run)",
            f"delivered   {d['delivered']}",
            f"failed      {d['failed'] + d['bad_lines']}"
            + (f"   -> {d['failed_file']}" if d["failed_file"] else ""),
            f"not delivered {d['not_delivered']}   p95 latency "
            + (f"{d['p95_ms']:.1f} ms" if d["p95_ms"] is not None else "-"),
            f"requests    {d['requests']}   retried {d['retried']}   in {d['seconds']:.2f} s, "
            f"{d['events_per_second']:,.0f} events/s",
            f"latency     p50 {lat['p50']:.1f} ms   p90 {lat['p90']:.1f} ms   "
            f"p99 {lat['p99']:.1f} ms   max {lat['max']:.1f} ms",
            "statuses    " + ("  ".join(f"{k}:{v}" for k, v in d["statuses"].items()) or "-"),
            f"write keys  {', '.join(d['write_keys']) or '-'}",
        ]
        if self.earlier:
            lines.append("earlier runs " + "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.earlier.items()))
        if d["errors"]:
            lines.append("errors (messages, by status and reason; retried attempts included)")
            lines.extend(error_line(row) for row in d["errors"])
        if self.interrupted:
            lines.append("interrupted: " + (f"resume with: {self.resume_command}"
                                            if self.resume_command else "nothing left to resume"))
        return "\n".join(lines)

    def json(self) -> str:
        return orjson.dumps(self.as_dict()).decode()


class Progress:
    """A one-line bar on a terminal, a plain line every few seconds otherwise (on stderr)."""

    def __init__(self, stream: IO[str] | None = None, plain_every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.plain_every = plain_every
        self._last_plain = time.monotonic()

    def update(self, stats: ReplayStats, fraction: float | None) -> None:
        rate = stats.events_per_second
        done = stats.delivered + stats.failed
        if self.tty:
            bar = ""
            eta = ""
            if fraction is not None and fraction > 0:
                filled = int(min(fraction, 1.0) * 24)
                bar = "[" + "#" * filled + "." * (24 - filled) + "] "
                remaining = stats.elapsed * max(0.0, 1 - fraction) / fraction  # a gzip estimate may be short
                eta = f"  ETA {remaining:,.0f} s"
            self.stream.write(f"\r{bar}{done:,} events  {rate:,.0f} events/s{eta}   ")
            self.stream.flush()
        elif time.monotonic() - self._last_plain >= self.plain_every:
            self._last_plain = time.monotonic()
            self.stream.write(f"replay: {stats.delivered} delivered, {stats.failed} failed, "
                              f"{rate:,.0f} events/s\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


def error_line(row: dict[str, Any]) -> str:
    """One row of an error table as text: count, status (or `-` for no answer), reason."""
    status = row["status"] if row["status"] is not None else "-"
    final = f"  ({row['not_delivered']} not delivered)" if row.get("not_delivered") else ""
    return f"  {row['count']:>7}  {status!s:>3}  {row['reason']}{final}"
