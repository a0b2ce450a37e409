"""`segdebug live` under load: the headless TUI while the collector takes 10,000 events/s.

A real collector process takes paced /v1/batch posts from a sender process; the TUI (this
process, headless through Textual's Pilot) is subscribed with the default max rate, so the
collector samples for it. While the load runs, keys are pressed (space twice, up, G) and the
time from the press to the updated screen is measured. The baseline is the same presses
with the collector idle, in the same run.

Reported: p50/p95 key latency under load and idle (and the ratio), events displayed in the TUI
vs received by the collector (and the sampling it reported), refused calls sent vs shown (one
item in 200 is refused, 50/s at the default rate: under a viewer's refused budget, so the goal
is all of them), the TUI's peak RSS, and the archive's line count vs accepted events sent.

    .venv/bin/python bench/live.py                               # 10,000 events/s for 20 s
    .venv/bin/python bench/live.py --rate 2000 --duration 5      # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402
from textual._compositor import CompositorUpdate  # noqa: E402

from debugger.tui.app import LiveApp, create_app  # noqa: E402
from debugger.tui.widgets.status_bar import mode_text  # noqa: E402
from debugger.tui.launcher import EmbeddedCollector  # noqa: E402
from debugger.tui.sources import SocketSource  # noqa: E402

KEYS = ("space", "space", "up", "G")
TICK = 0.05  # the sender posts one batch per tick: rate * TICK events

SENDER = r"""
import asyncio, sys, time, aiohttp, orjson
url, rate, duration, tick = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
per_batch = max(1, round(rate * tick))
REFUSED_EVERY = 200
def item(n):
    message = {"type": "track", "event": "Product Viewed", "messageId": f"bench-{n}",
               "properties": {"product_id": "507f", "price": 19.0}}
    if n % REFUSED_EVERY != REFUSED_EVERY - 1:  # the others have no user: refused
        message["userId"] = f"user_{n % 5000}"
    return message
def body(start):
    batch = [item(start + i) for i in range(per_batch)]
    return orjson.dumps({"batch": batch, "writeKey": "wk_bench"})
def refused_in(start):
    return sum(1 for n in range(start, start + per_batch) if n % REFUSED_EVERY == REFUSED_EVERY - 1)
async def main():
    sent = failed = refused = 0
    limit = asyncio.Semaphore(8)
    async with aiohttp.ClientSession() as session:
        async def post(data, count, refusals):
            nonlocal sent, failed, refused
            async with limit:
                try:
                    async with session.post(url + "/v1/batch", data=data,
                                            headers={"Content-Type": "application/json"}) as answer:
                        await answer.read()
                        if answer.status == 200: sent, refused = sent + count, refused + refusals
                        else: failed += count
                except aiohttp.ClientError:
                    failed += count
        tasks, start, n = [], time.monotonic(), 0
        while (elapsed := time.monotonic() - start) < duration:
            due = int(elapsed / tick) + 1
            while n < due:
                tasks.append(asyncio.create_task(post(body(n * per_batch), per_batch,
                                                      refused_in(n * per_batch))))
                n += 1
            tasks = [t for t in tasks if not t.done()]
            await asyncio.sleep(tick / 2)
        await asyncio.gather(*tasks)
    print(sent, failed, time.monotonic() - start, refused)
asyncio.run(main())
"""


class ScreenWatch:
    """Times key presses to the frame that shows their effect: it wraps the app's display
    hook, renders each frame to terminal output as a real terminal would get it, and resolves
    a waiter at the first frame where its condition holds."""

    def __init__(self, app: LiveApp) -> None:
        self.app = app
        self.waiters: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
            now = time.perf_counter()
            for waiter in list(self.waiters):
                condition, future = waiter
                if not future.done() and condition():
                    future.set_result(now)
                    self.waiters.remove(waiter)

        app._display = display  # type: ignore[method-assign]

    async def press(self, key: str) -> float:
        """Seconds from posting `key` to the first frame showing its effect."""
        app, table = self.app, self.app.table
        if key == "space":
            paused = not app.model.paused
            condition = lambda: app.model.paused == paused and mode_text(app.model) in str(app.status_bar.content)  # noqa: E731
            event = events.Key("space", " ")
        else:
            # "up" leaves the newest row (new rows may arrive meanwhile); "G" goes back to it.
            on_newest = key == "G"
            condition = lambda: (  # noqa: E731
                (table.cursor_row == table.row_count - 1) == on_newest
                and table.selected is not None and app.detail.shown_id == table.selected.id
            )
            event = events.Key(key, "G" if key == "G" else None)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters.append((condition, future))
        start = time.perf_counter()
        app.post_message(event)
        try:
            return await asyncio.wait_for(future, timeout=10) - start
        except asyncio.TimeoutError:
            return 10.0


async def press_latencies(watch: ScreenWatch, count: int, gap: float) -> list[float]:
    latencies = []
    for n in range(count):
        latencies.append(await watch.press(KEYS[n % len(KEYS)]))
        await asyncio.sleep(gap)
    return latencies


async def fill(url: str) -> None:
    """500 events in one batch, so the idle baseline has a full list to move through."""
    import aiohttp
    import orjson

    batch = [{"type": "track", "userId": f"user_{n}", "event": "Product Viewed",
              "messageId": f"fill-{n}"} for n in range(500)]
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/v1/batch", data=orjson.dumps({"batch": batch, "writeKey": "wk"}),
                                headers={"Content-Type": "application/json"}) as answer:
            await answer.read()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) >= 2 else values[0]


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


async def run(args: argparse.Namespace, workdir: Path) -> None:
    archive = workdir / "archive.ndjson"
    collector = EmbeddedCollector(0, workdir / "c.sock", archive=archive)
    try:
        hello = collector.wait_ready()
        app = create_app(SocketSource(workdir / "c.sock", max_rate=args.max_rate),
                         copy_path=workdir / "copied.json", save_dir=workdir)
        async with app.run_test(headless=True, size=(120, 40)) as pilot:
            while app.model.connection != "connected":
                await pilot.pause(0.05)
            await fill(hello["http"])  # a full list for the baseline too
            while app.model.stats.received < 500 or app.table.row_count < 2:
                await pilot.pause(0.05)  # the collector samples the batch for this viewer
            await pilot.pause(0.5)
            watch = ScreenWatch(app)
            idle = await press_latencies(watch, args.presses, 0.05)
            sender = subprocess.Popen(
                [sys.executable, "-c", SENDER, hello["http"], str(args.rate), str(args.duration),
                 str(TICK)], stdout=subprocess.PIPE, text=True,
            )
            gap = max(0.05, args.duration / (args.presses * 2))
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            loaded: list[float] = []
            while sender.poll() is None:
                loaded += await press_latencies(watch, 4, gap)
            out, _ = sender.communicate()
            cpu = time.process_time() - cpu_start
            wall = time.perf_counter() - wall_start
            sent, failed, elapsed, refused = out.split()
            await pilot.pause(1.5)  # the last stats line, the last sampling window
            app.events._tick()  # the last arrivals into the list
            model = app.model
    finally:
        collector.stop()
    archived = sum(1 for _ in archive.open("rb")) if archive.exists() else 0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load: {int(sent):,} events sent in {float(elapsed):.1f} s "
          f"({int(sent) / float(elapsed):,.0f}/s asked {args.rate:,.0f}/s), {int(failed):,} failed")
    print(f"key latency idle  (baseline): p50 {ms(statistics.median(idle))}  p95 {ms(p95(idle))}"
          f"  ({len(idle)} presses)")
    print(f"key latency under load      : p50 {ms(statistics.median(loaded))}  p95 {ms(p95(loaded))}"
          f"  ({len(loaded)} presses)  ratio p95 load/idle {p95(loaded) / p95(idle):.1f}x"
          f"  goal <= 100 ms: {'met' if p95(loaded) <= 0.1 else 'NOT met'}")
    print(f"events: collector received {model.stats.received:,}; sent to the TUI {model.arrived:,}"
          f" (sampled: 1 in {model.stats.sampled:,} at max rate {args.max_rate}/s); displayed"
          f" {model.displayed:,}; the list holds {len(model.kept)} (cap 500)")
    refused_goal = "met" if model.refused_displayed == int(refused) else "NOT met"
    print(f"refused calls: sent {int(refused):,}; sent to the TUI {model.refused_arrived:,}; shown"
          f" {model.refused_displayed:,}; left out by the collector (over the refused budget)"
          f" {model.stats.refused_dropped:,}  goal all shown: {refused_goal}")
    print(f"TUI CPU under load: {cpu:.1f} s in {wall:.1f} s ({cpu / wall:.0%} of one core);"
          f" machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"TUI peak RSS: {rss_mb:.0f} MB  goal <= 200 MB: {'met' if rss_mb <= 200 else 'NOT met'}")
    expected = int(sent) - int(refused) + 500  # refused calls go to the rejected file; the fill batch
    print(f"archive: {archived:,} lines vs {expected:,} accepted sent (incl. 500 to fill the list): "
          f"{'nothing missing' if archived == expected else f'{expected - archived:,} MISSING'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000, help="events/s sent (default 10000)")
    parser.add_argument("--duration", type=float, default=20, help="seconds of load (default 20)")
    parser.add_argument("--max-rate", type=int, default=50, help="the TUI's max rate (default 50)")
    parser.add_argument("--presses", type=int, default=40, help="idle presses (default 40)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segdebug-bench-live-") as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
