"""Ingest with the live Schema screen open against ingest with `segdebug live` alone, same run.

A real collector process takes /v1/batch load from bench/collector.py's load client (imported,
its own process); the viewer is the headless app in this process (Textual's Pilot) subscribed
to the collector as `segdebug live` is. With the Schema screen shown, the viewer also folds
the collector's archive in a thread, about once a second. Rounds are interleaved (live alone,
then with the screen, each on a fresh collector) and medians compared: the goal is a ratio
within the rounds' own spread (noise). Also printed: how far the fold was behind when the
load ended and how long it took to catch up, and the viewer's CPU.

    .venv/bin/python bench/schema_live.py                  # 3 rounds of 1,000 x 100 events
    .venv/bin/python bench/schema_live.py --requests 300   # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import collector as load  # noqa: E402  (bench/collector.py: the load client and its measure)

from debugger.tui.app import create_app  # noqa: E402
from debugger.tui.screens.schema import SchemaScreen  # noqa: E402
from debugger.tui.sources import SocketSource  # noqa: E402
from tests.support import start_collector  # noqa: E402

CONFIGS = ("live", "live + schema")


async def one_round(args: argparse.Namespace, schema: bool, workdir: Path) -> dict[str, float]:
    collector = start_collector(workdir, "--fsync", "interval")
    try:
        app = create_app(SocketSource(collector.socket), copy_path=workdir / "c.json", save_dir=workdir)
        async with app.run_test(headless=True, size=(120, 40)) as pilot:
            while app.model.connection != "connected":
                await pilot.pause(0.05)
            screen = None
            if schema:
                await pilot.press("s")
                screen = app.screen
                assert isinstance(screen, SchemaScreen)
                while screen.schema is None:
                    await pilot.pause(0.05)
            cpu = time.process_time()
            result = await asyncio.to_thread(load.measure, collector.url, collector.process.pid, args)
            cpu = time.process_time() - cpu
            figures = {"per_second": result["per_second"], "per_cpu_second": result["per_cpu_second"],
                       "viewer_cpu": cpu / result["seconds"]}
            if screen is not None:
                ended = time.perf_counter()
                folded = screen.schema.messages if screen.schema else 0
                figures["behind_at_end"] = result["sent"] - folded
                while screen.schema is None or screen.schema.messages < result["sent"]:
                    await pilot.pause(0.05)
                figures["catch_up"] = time.perf_counter() - ended
    finally:
        collector.stop()
    return figures


async def run(args: argparse.Namespace) -> None:
    figures: dict[str, list[dict[str, float]]] = {config: [] for config in CONFIGS}
    for number in range(args.rounds):
        for config in CONFIGS:
            with tempfile.TemporaryDirectory(prefix="segdebug-bench-schema-") as workdir:
                result = await one_round(args, config != "live", Path(workdir))
            figures[config].append(result)
            print(f"  round {number + 1} {config:<14} {result['per_second']:>9,.0f} events/s"
                  f"  viewer CPU {result['viewer_cpu']:.0%}", flush=True)
    print(f"{args.requests} x /v1/batch of {args.size} events, {args.in_flight} in flight, "
          f"median (min-max) of {args.rounds} interleaved rounds")
    for key, title in (("per_second", "collector events/s (wall clock)"),
                       ("per_cpu_second", "collector events per CPU-second")):
        print(title + ":")
        base = statistics.median(item[key] for item in figures["live"])
        for config in CONFIGS:
            values = [item[key] for item in figures[config]]
            median = statistics.median(values)
            line = f"  {config:<14}{median:>10,.0f}  ({min(values):,.0f}-{max(values):,.0f})"
            if config != "live":
                spread = (max(values) - min(values)) / median
                line += f"   ratio {median / base:.2f}  (spread of these rounds ±{spread / 2:.0%})"
            else:
                spread = (max(values) - min(values)) / median
                line += f"   (spread ±{spread / 2:.0%})"
            print(line)
    with_screen = figures["live + schema"]
    print(f"viewer CPU (share of one core while loaded): live {statistics.median(i['viewer_cpu'] for i in figures['live']):.0%},"
          f" with the schema screen {statistics.median(i['viewer_cpu'] for i in with_screen):.0%}")
    print(f"schema fold when the load ended: median {statistics.median(i['behind_at_end'] for i in with_screen):,.0f}"
          f" messages behind, caught up in {statistics.median(i['catch_up'] for i in with_screen):.1f} s")


def main() -> None:
    parser = load.load_options(__doc__ or "", requests=1000, rounds=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
