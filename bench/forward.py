"""Ingest throughput of `segdebug collect` forwarding to one destination, against the same
collector not forwarding, measured in one run; and whether forwarding keeps up.

The destination is a null endpoint in its own process (bench/collector.py's baseline server:
read, orjson-parse, answer 200). The load is bench/collector.py's load client (its own
process). While the load runs, the forwarder's backlog (archive bytes not yet read) and the
messages not yet delivered are sampled from GET /segdebug/delivery; after it, how long the
forwarder takes to deliver the rest. Goal: ratio >= 0.6 with the backlog bounded.

    .venv/bin/python bench/forward.py                 # full run
    .venv/bin/python bench/forward.py --requests 300  # quick run
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
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


def run(args: argparse.Namespace, forward_to: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        extra = ["--forward", f"null={forward_to}"] if forward_to else []
        collector = start_collector(Path(directory), "--fsync", args.fsync, *extra)
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
            result: dict[str, Any] = LOAD.measure(collector.url, collector.process.pid, args)
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
                result["max_backlog_bytes"] = max((b for b, _ in samples), default=0)
                final = destination(collector.url)
                assert final["not_delivered"] == 0, final["errors"]
                result["p95_ms"] = final["p95_ms"]
        finally:
            collector.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="batches per measurement")
    parser.add_argument("--size", type=int, default=100, help="events per batch")
    parser.add_argument("--in-flight", type=int, default=8, help="concurrent requests")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; best of each")
    parser.add_argument("--fsync", default="interval", choices=["always", "interval", "never"])
    args = parser.parse_args()

    null = subprocess.Popen([sys.executable, str(ROOT / "bench" / "collector.py"), "--baseline-server"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert null.stdout is not None
        url = null.stdout.readline().strip()
        print(f"{args.requests} x /v1/batch of {args.size} events, {args.in_flight} in flight, "
              f"{os.cpu_count()} CPUs, fsync={args.fsync}, best of {args.rounds} interleaved rounds; "
              f"null destination {url}")
        alone = forwarding = 0.0
        worst: dict[str, Any] = {}
        for _ in range(args.rounds):
            alone = max(alone, run(args, None)["per_second"])
            result = run(args, url)
            forwarding = max(forwarding, result["per_second"])
            if not worst or result["max_backlog_bytes"] > worst["max_backlog_bytes"]:
                worst = result
            print("  round:", orjson.dumps({k: round(v, 3) if isinstance(v, float) else v
                                             for k, v in result.items()}).decode(), flush=True)
    finally:
        null.send_signal(signal.SIGTERM)
        null.wait(timeout=10)
    print(f"{'segdebug collect:':<38}{alone:>10,.0f} events/s")
    print(f"{'segdebug collect --forward (null):':<38}{forwarding:>10,.0f} events/s   ratio {forwarding / alone:.2f}")
    print(f"forwarding backlog: at most {worst['max_backlog_bytes']:,} bytes unread while loading; "
          f"{worst['behind_at_end']:,} of {worst['sent']:,} messages not yet delivered when the load "
          f"ended, all delivered {worst['catch_up_seconds']:.2f} s later (p95 end to end "
          f"{worst['p95_ms']} ms)")


if __name__ == "__main__":
    main()
