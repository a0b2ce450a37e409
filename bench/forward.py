"""Ingest throughput of `segdebug collect` forwarding to one destination, against the same
collector not forwarding, measured in one run; and whether forwarding keeps up.

The destination is a null endpoint in its own process (bench/collector.py's baseline server:
read, orjson-parse, answer 200). The load is bench/collector.py's load client (its own
process). While the load runs, the forwarder's backlog (archive bytes not yet read) and the
messages not yet delivered are sampled from GET /segdebug/delivery; after it, how long the
forwarder takes to deliver the rest. Goal: ratio >= 0.6 with the backlog bounded.

Wall-clock rates on a shared two-core machine swing by 2x between rounds, so rounds are
interleaved and medians reported, with CPU per event of each process (the collector's from
the load's start until everything is delivered), which other load disturbs less, and the two
ceilings they imply: the collector's one thread (ingest and forwarding share its event loop)
and the two cores shared by load client, collector and destination.

    .venv/bin/python bench/forward.py                 # full run
    .venv/bin/python bench/forward.py --requests 300 --rounds 3  # quick run
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import http, start_collector  # noqa: E402


def _load_module() -> ModuleType:
    """bench/collector.py (its load client and null server), imported, not copied."""
    spec = importlib.util.spec_from_file_location("bench_collector", ROOT / "bench" / "collector.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOAD = _load_module()


def destination(url: str) -> dict[str, Any]:
    reply = http("GET", url + "/segdebug/delivery")
    found: dict[str, Any] = reply.json()["destinations"][0]
    return found


def children_cpu() -> float:
    """CPU seconds of waited-for children so far (the load client, once it has finished)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: argparse.Namespace, forward_to: str | None, null_pid: int | None) -> dict[str, Any]:
    """One measurement; CPU per event (us) of the collector (from the load's start until all
    is delivered), the load client and the null destination."""
    with tempfile.TemporaryDirectory() as directory:
        extra = ["--forward", f"null={forward_to}"] if forward_to else []
        collector = start_collector(Path(directory), "--fsync", args.fsync, *extra)
        pid = collector.process.pid
        samples: list[tuple[int, int]] = []  # (backlog bytes, sent minus delivered so far)
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.25):
                d = destination(collector.url)
                samples.append((d["backlog_bytes"], d["in_flight"]))

        sampler = threading.Thread(target=sample, daemon=True)
        try:
            if forward_to:
                sampler.start()
            cpu = (LOAD.cpu_seconds(pid), children_cpu(), LOAD.cpu_seconds(null_pid) if null_pid else 0.0)
            result: dict[str, Any] = LOAD.measure(collector.url, pid, args)
            loader = children_cpu() - cpu[1]
            if forward_to:
                stop.set()
                sampler.join()
                end = time.perf_counter()
                at_end = destination(collector.url)
                result["behind_at_end"] = result["sent"] - at_end["delivered"]
                while destination(collector.url)["delivered"] < result["sent"]:
                    assert time.perf_counter() - end < 120, destination(collector.url)
                    time.sleep(0.05)
                result["catch_up_seconds"] = time.perf_counter() - end
                # counting the catch-up: a forwarder that fell behind did part of its work later
                result["with_catch_up"] = result["events"] / (result["seconds"] + result["catch_up_seconds"])
                result["max_backlog_bytes"] = max((b for b, _ in samples), default=0)
                final = destination(collector.url)
                assert final["not_delivered"] == 0, final["errors"]
                result["p95_ms"] = final["p95_ms"]
            sent = result["sent"]
            result["collector_us"] = (LOAD.cpu_seconds(pid) - cpu[0]) / sent * 1e6
            result["load_us"] = loader / sent * 1e6
            if null_pid:
                result["null_us"] = (LOAD.cpu_seconds(null_pid) - cpu[2]) / sent * 1e6
        finally:
            collector.stop()
    return result


def main() -> None:
    parser = LOAD.load_options(__doc__, requests=3000, rounds=5)
    parser.add_argument("--fsync", default="interval", choices=["always", "interval", "never"])
    args = parser.parse_args()

    null = subprocess.Popen([sys.executable, str(ROOT / "bench" / "collector.py"), "--baseline-server"],
                            stdout=subprocess.PIPE, text=True)
    alone: list[dict[str, Any]] = []
    forwarding: list[dict[str, Any]] = []
    try:
        assert null.stdout is not None
        url = null.stdout.readline().strip()
        print(f"{args.requests} x /v1/batch of {args.size} events, {args.in_flight} in flight, "
              f"{os.cpu_count()} CPUs, fsync={args.fsync}, medians of {args.rounds} interleaved rounds; "
              f"null destination {url}; load average {os.getloadavg()[0]:.2f}")
        for _ in range(args.rounds):
            alone.append(run(args, None, None))
            forwarding.append(run(args, url, null.pid))
            for label, result in (("alone", alone[-1]), ("forward", forwarding[-1])):
                print(f"  {label:8}", orjson.dumps({k: round(v, 3) if isinstance(v, float) else v
                                                    for k, v in result.items()}).decode(), flush=True)
    finally:
        null.send_signal(signal.SIGTERM)
        null.wait(timeout=10)

    def mid(results: list[dict[str, Any]], name: str) -> float:
        return float(statistics.median(r[name] for r in results))

    wall_alone, wall_forward = mid(alone, "per_second"), mid(forwarding, "per_second")
    cpu_alone, cpu_forward = mid(alone, "collector_us"), mid(forwarding, "collector_us")
    load_us, null_us = mid(alone + forwarding, "load_us"), mid(forwarding, "null_us")
    print(f"{'segdebug collect:':<38}{wall_alone:>10,.0f} events/s   collector {cpu_alone:.1f} us CPU/event")
    print(f"{'segdebug collect --forward (null):':<38}{wall_forward:>10,.0f} events/s   collector "
          f"{cpu_forward:.1f} us CPU/event (forwarding {cpu_forward - cpu_alone:.1f})")
    print(f"ratio (median events/s): {wall_forward / wall_alone:.2f};  collector CPU ratio "
          f"(alone / forwarding, per event): {cpu_alone / cpu_forward:.2f};  median of round ratios "
          f"{statistics.median(f['per_second'] / a['per_second'] for a, f in zip(alone, forwarding, strict=True)):.2f}")
    print(f"ratio counting the catch-up after the load (median events / (load + catch-up seconds)): "
          f"{mid(forwarding, 'with_catch_up') / wall_alone:.2f}")
    print(f"CPU per event: load client {load_us:.1f} us, null destination {null_us:.1f} us")
    print(f"ceilings: the collector's one thread, {cpu_alone / cpu_forward:.2f} (its CPU per event alone / "
          f"forwarding); 2 cores shared by the four processes, "
          f"{2e6 / (load_us + cpu_forward + null_us) / wall_alone:.2f} (2 / (load + collector + destination "
          "CPU per event), over ingest alone)")
    worst = max(forwarding, key=lambda r: r["max_backlog_bytes"])
    print(f"forwarding backlog: at most {worst['max_backlog_bytes']:,} bytes unread while loading; "
          f"{worst['behind_at_end']:,} of {worst['sent']:,} messages not yet delivered when the load "
          f"ended, all delivered {worst['catch_up_seconds']:.2f} s later (p95 end to end "
          f"{worst['p95_ms']} ms)")


if __name__ == "__main__":
    main()
