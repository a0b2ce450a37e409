"""Ingest throughput of `segdebug collect` against a bare aiohttp app, measured in one run.

Both servers run as their own processes; the load comes from a third process posting
/v1/batch bodies of realistic events with a fixed number of requests in flight. The baseline
only reads each body, parses it with orjson and answers 200: the least any Python collector
on aiohttp must do. The collector does everything it really does (decode, checks, merge,
skew, archive append before answering, socket fan-out), measured alone and with one viewer
subscribed as `segdebug live` subscribes (max_rate 50, history 500). Goals (issue 16): with
the viewer >= 0.3 of the bare app, without >= 0.45 (medians of interleaved rounds).

    .venv/bin/python bench/collector.py                 # full run
    .venv/bin/python bench/collector.py --requests 300  # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import start_collector  # noqa: E402  (real process, port from hello)

PRODUCTS = [("Monopoly: 3rd Edition", "Games", 19.0), ("Uno Card Game", "Games", 3.0),
            ("Lego Castle", "Toys", 129.99), ("Kindle Paperwhite", "Electronics", 139.0)]


def realistic_event(rng: random.Random, index: int) -> dict[str, Any]:
    """An analytics.js/analytics-python style message of a few hundred bytes."""
    user = f"user_{rng.randrange(5000)}"
    context = {
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "ip": f"203.0.113.{rng.randrange(255)}", "locale": "en-US",
        "page": {"path": "/products", "url": "https://shop.example.com/products",
                 "title": "Products", "referrer": "https://www.google.com/"},
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
        "timezone": "Europe/Berlin",
    }
    base = {"messageId": str(uuid.UUID(int=rng.getrandbits(128))), "anonymousId": str(uuid.uuid4()),
            "userId": user, "timestamp": f"2024-05-01T12:00:{index % 60:02d}.{index % 1000:03d}Z",
            "context": context}
    kind = index % 10
    if kind < 7:
        name, category, price = rng.choice(PRODUCTS)
        return {**base, "type": "track", "event": rng.choice(["Product Viewed", "Product Added", "Order Completed"]),
                "properties": {"product_id": f"p{rng.randrange(900)}", "name": name, "category": category,
                               "price": price, "quantity": rng.randrange(1, 4), "currency": "USD"}}
    if kind < 9:
        return {**base, "type": "page", "name": "Products",
                "properties": {"path": "/products", "title": "Products", "url": "https://shop.example.com/products"}}
    return {**base, "type": "identify", "traits": {"email": f"{user}@example.com", "plan": "pro",
                                                    "createdAt": "2023-11-02T10:00:00Z"}}


def make_bodies(count: int, size: int) -> list[bytes]:
    rng = random.Random(7)
    bodies = []
    for number in range(count):
        batch = [realistic_event(rng, number * size + i) for i in range(size)]
        bodies.append(orjson.dumps({"batch": batch, "sentAt": "2024-05-01T12:01:00.000Z",
                                    "writeKey": "wk_bench"}))
    return bodies


# --- the baseline server ----------------------------------------------------------------------


def serve_baseline() -> None:
    """A bare aiohttp app: read, orjson-parse, answer 200. Prints its URL, runs until SIGTERM."""
    from aiohttp import web

    from debugger.serve import start_http

    ok = orjson.dumps({"success": True})

    async def batch(request: web.Request) -> web.Response:
        orjson.loads(await request.read())
        return web.Response(body=ok, content_type="application/json")

    async def main() -> None:
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_post("/v1/batch", batch)
        runner, port = await start_http(app, "127.0.0.1", 0)  # the collector's own start-up
        print(f"http://127.0.0.1:{port}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# --- the load client ----------------------------------------------------------------------------


def run_load(url: str, requests: int, size: int, in_flight: int) -> None:
    """Post `requests` batches with `in_flight` concurrent; print events/s as JSON."""
    import aiohttp

    bodies = make_bodies(min(requests, 50), size)
    headers = {"Content-Type": "application/json"}

    async def main() -> dict[str, Any]:
        connector = aiohttp.TCPConnector(limit=in_flight)
        async with aiohttp.ClientSession(connector=connector) as session:
            async def post(body: bytes) -> None:
                async with session.post(url + "/v1/batch", data=body, headers=headers) as reply:
                    await reply.read()
                    if reply.status != 200:
                        raise RuntimeError(f"HTTP {reply.status}")

            warm_up = bodies[: in_flight * 2]  # connections open, code paths hot
            for body in warm_up:
                await post(body)
            queue = iter(range(requests))

            async def worker() -> None:
                for number in queue:
                    await post(bodies[number % len(bodies)])

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(in_flight)))
            elapsed = time.perf_counter() - started
        return {"events": requests * size, "seconds": elapsed, "per_second": requests * size / elapsed,
                "sent": (requests + len(warm_up)) * size}

    print(orjson.dumps(asyncio.run(main())).decode(), flush=True)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process's threads so far (Linux /proc), in nanoseconds from schedstat:
    /proc/PID/stat counts 10 ms ticks, and the baseline uses only ~20 of them for 100,000
    events, so ticks alone would move the ratio by ~5%. Falls back to ticks without schedstat."""
    try:
        return sum(int((task / "schedstat").read_text().split()[0])
                   for task in Path(f"/proc/{pid}/task").iterdir()) / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, server_pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run the load client; adds the server's events per CPU-second, which other load on
    the machine disturbs far less than wall-clock events/s."""
    command = [sys.executable, __file__, "--load", url, "--requests", str(args.requests),
               "--size", str(args.size), "--in-flight", str(args.in_flight)]
    before = cpu_seconds(server_pid)
    result: dict[str, Any] = orjson.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    result["per_cpu_second"] = result["sent"] / max(cpu_seconds(server_pid) - before, 1e-9)
    return result


def bench_baseline(args: argparse.Namespace) -> dict[str, Any]:
    server = subprocess.Popen([sys.executable, __file__, "--baseline-server"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        return measure(url, server.pid, args)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


LIVE_SUBSCRIPTION = b'{"subscribe": {"max_rate": 50, "history": 500}}\n'  # as tui/sources.py


def watch(socket_path: str) -> None:
    """A viewer like `segdebug live`: subscribes at 50 events/s with history, reads until
    closed, and prints how many event lines it got (to stderr)."""
    import socket

    events = 0
    with socket.socket(socket.AF_UNIX) as viewer:
        viewer.connect(socket_path)
        viewer.sendall(LIVE_SUBSCRIPTION)
        while chunk := viewer.recv(65536):
            events += chunk.count(b'"kind":"event"')
    print(f"viewer received {events} events", file=sys.stderr)


def bench_collector(args: argparse.Namespace, viewer: bool) -> tuple[dict[str, Any], int]:
    with tempfile.TemporaryDirectory() as directory:
        collector = start_collector(Path(directory), "--fsync", args.fsync)
        watcher = None
        if viewer:
            watcher = subprocess.Popen([sys.executable, __file__, "--watch", str(collector.socket)],
                                       stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)  # connected and subscribed before the load starts
        try:
            result = measure(collector.url, collector.process.pid, args)
        finally:
            collector.stop()
            if watcher is not None:
                _, note = watcher.communicate(timeout=10)
                result["viewer"] = note.strip()
        archived = sum(1 for _ in open(collector.archive, "rb"))
    return result, archived


def load_options(doc: str, requests: int, rounds: int) -> argparse.ArgumentParser:
    """The load client's options, shared by the benches that drive a collector with it."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=requests, help="batches per measurement")
    parser.add_argument("--size", type=int, default=100, help="events per batch")
    parser.add_argument("--in-flight", type=int, default=8, help="concurrent requests")
    parser.add_argument("--rounds", type=int, default=rounds, help="interleaved rounds; median of each")
    return parser


def main() -> None:
    parser = load_options(__doc__, requests=3000, rounds=5)
    parser.add_argument("--fsync", default="interval", choices=["always", "interval", "never"])
    parser.add_argument("--no-viewer", dest="viewer", action="store_false",
                        help="skip the measurement with a live-like viewer subscribed")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--watch", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        return serve_baseline()
    if args.load:
        return run_load(args.load, args.requests, args.size, args.in_flight)
    if args.watch:
        return watch(args.watch)

    print(f"{args.requests} x /v1/batch of {args.size} events, {args.in_flight} in flight, "
          f"{os.cpu_count()} CPUs, fsync={args.fsync}, median (best) of {args.rounds} interleaved rounds")
    configs = ("baseline", "collector", "viewer") if args.viewer else ("baseline", "collector")
    rates: dict[str, list[float]] = {config: [] for config in configs}
    cpu: dict[str, list[float]] = {config: [] for config in configs}
    for _ in range(args.rounds):  # interleaved, so a burst of load elsewhere hits both sides
        for config in configs:
            if config == "baseline":
                result = bench_baseline(args)
            else:
                result, archived = bench_collector(args, viewer=config == "viewer")
                if archived != result["sent"]:
                    print(f"WARNING: archive holds {archived} messages, {result['sent']} were sent")
                if "viewer" in result:
                    print(f"  ({result['viewer']})")
            rates[config].append(result["per_second"])
            cpu[config].append(result["per_cpu_second"])
    labels = {"baseline": "baseline (aiohttp + orjson.loads):", "collector": "segdebug collect:",
              "viewer": "segdebug collect + a live viewer:"}
    for title, figures in (("events/s (wall clock)", rates),
                           ("server events per CPU-second (the capacity of one free core)", cpu)):
        print(title + ":")
        base = statistics.median(figures["baseline"])
        for config in configs:
            median, top = statistics.median(figures[config]), max(figures[config])
            line = f"  {labels[config]:<35}{median:>10,.0f}  (best {top:,.0f})"
            if config != "baseline":
                line += f"   ratio {median / base:.2f}  (best/best {top / max(figures['baseline']):.2f})"
            print(line)


if __name__ == "__main__":
    main()
