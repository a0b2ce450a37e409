"""Replay throughput: `segdebug replay` vs a bare aiohttp client, into the same null endpoint.

The null endpoint (aiohttp, reads the body, answers 200 without parsing) runs as its own
process. The baseline posts pre-built /v1/batch bodies of the same archive with 8 requests in
flight: the least any Python sender on aiohttp must do. Replay runs as a real `segdebug replay`
process on an archived NDJSON file (default options: stale sentAt dropped, fresh batch sentAt,
100 per batch, 8 in flight); its peak RSS comes from the kernel (wait4).

    .venv/bin/python bench/replay.py                   # 1,000,000 events (~520 bytes each)
    .venv/bin/python bench/replay.py --events 100000   # quick run
    .venv/bin/python bench/replay.py --rounds 5        # the README's figure: median of 5 rounds
    .venv/bin/python bench/replay.py --two-at-once     # and the ceiling of splitting the work
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, TypeVar

import orjson

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Signed In")
BODY_POOL = 20_000
T = TypeVar("T")  # events pre-built into baseline bodies, cycled


def archived_message(rng: random.Random, index: int) -> bytes:
    """One archive line as the collector writes it: client fields + sentAt/receivedAt/writeKey."""
    second = f"2024-05-01T10:{(index // 1000) % 60:02d}:{index % 60:02d}.{index % 1000:03d}Z"
    message = {
        "type": "track" if index % 5 else "page", "event": rng.choice(EVENTS),
        "userId": f"user_{rng.randrange(20_000)}", "anonymousId": str(uuid.UUID(int=rng.getrandbits(128))),
        "messageId": f"bench-{index}", "timestamp": second,
        "properties": {"product_id": f"sku-{rng.randrange(5000)}", "price": round(rng.uniform(1, 300), 2),
                       "currency": "EUR", "quantity": rng.randrange(1, 5), "coupon": None},
        "context": {"library": {"name": "analytics-python", "version": "2.3.3"}, "locale": "de-DE",
                    "ip": f"198.51.100.{rng.randrange(255)}", "timezone": "Europe/Berlin"},
        "integrations": {}, "sentAt": second, "receivedAt": second, "writeKey": "bench_write_key_0001",
    }
    return orjson.dumps(message)


def write_archive(path: Path, events: int) -> int:
    rng = random.Random(7)
    size = 0
    with open(path, "wb") as out:
        for index in range(events):
            line = archived_message(rng, index) + b"\n"
            size += len(line)
            out.write(line)
    return size


async def null_endpoint(port_file: str) -> None:
    """Answers 200 to anything, after reading (not parsing) the body."""
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b'{"success":true}', content_type="application/json")

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    Path(port_file).write_text(str(site._server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]
    await asyncio.Event().wait()


def start_endpoint(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = directory / "port"
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    deadline = time.monotonic() + 20
    while not (port_file.exists() and port_file.read_text()):
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the null endpoint did not start")
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port_file.read_text()}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(endpoint: int, run: Callable[[], T]) -> tuple[T, float]:
    """`run()`'s answer and the endpoint's CPU seconds meanwhile (what the client cost it)."""
    before = cpu_seconds(endpoint)
    answer = run()
    return answer, cpu_seconds(endpoint) - before


async def baseline(url: str, bodies: list[bytes], per_body: int, events: int) -> tuple[float, float]:
    """(events/s, client CPU seconds) of a bare aiohttp loop posting pre-built bodies, 8 in flight."""
    import aiohttp

    remaining = iter(range(events // per_body))
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as session:
        async def post_all() -> None:
            for index in remaining:
                async with session.post(url, data=bodies[index % len(bodies)], headers=headers) as response:
                    await response.read()

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(post_all() for _ in range(8)))
        rate = (events // per_body) * per_body / (time.perf_counter() - started)
        return rate, time.process_time() - cpu


def prebuilt_bodies(archive: Path, per_body: int) -> list[bytes]:
    with open(archive, "rb") as handle:
        lines = [line.rstrip(b"\n") for _, line in zip(range(BODY_POOL), handle, strict=False)]
    tail = b'],"writeKey":"bench_write_key_0001","sentAt":"2024-05-01T10:00:00.000Z"}'
    return [b'{"batch":[' + b",".join(lines[i : i + per_body]) + tail for i in range(0, len(lines), per_body)]


def replay_command(archive: Path, url: str, directory: Path, name: str = "") -> list[str]:
    return [sys.executable, "-m", "debugger.cli", "replay", str(archive), "--to", url,
            "--report", "json", "--failed", str(directory / f"failed{name}.ndjson"),
            "--checkpoint", str(directory / f"checkpoint{name}.json")]


def run_replay(archive: Path, url: str, directory: Path) -> tuple[dict, float, float, float]:
    """(json report, wall seconds, peak RSS in MB, CPU seconds) of a real `segdebug replay`
    process (CPU of all its processes, from the kernel)."""
    started = time.perf_counter()
    process = subprocess.Popen(replay_command(archive, url, directory), stdout=subprocess.PIPE, cwd=ROOT)
    output = process.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"replay exited {process.returncode}: {output.decode()[-500:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return orjson.loads(output.strip().splitlines()[-1]), wall, usage.ru_maxrss / 1024, cpu


def two_at_once(archive: Path, url: str, directory: Path) -> float:
    """Events/s of two replay processes sending the two halves of the archive at the same
    time: what splitting the work across processes could at best give on this machine."""
    halves = [directory / "first.ndjson", directory / "second.ndjson"]
    with open(archive, "rb") as source:
        lines = source.readlines()
    for half, part in zip(halves, (lines[: len(lines) // 2], lines[len(lines) // 2 :]), strict=True):
        half.write_bytes(b"".join(part))
    del lines
    processes = [subprocess.Popen(replay_command(half, url, directory, half.stem), stdout=subprocess.PIPE, cwd=ROOT)
                 for half in halves]
    reports = [orjson.loads(process.communicate()[0].strip().splitlines()[-1]) for process in processes]
    for half in halves:
        half.unlink()
    return sum(report["delivered"] for report in reports) / max(report["seconds"] for report in reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate baseline and replay this many times; the median ratio is the figure")
    parser.add_argument("--two-at-once", action="store_true",
                        help="also run two replay processes on the two halves at once (the ceiling of splitting)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(null_endpoint(args.serve))
        return
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as temp:
        directory = Path(temp)
        archive = directory / "archive.ndjson"
        size = write_archive(archive, args.events)
        print(f"archive: {args.events:,} events, {size / args.events:.0f} bytes/event")
        endpoint, url = start_endpoint(directory)
        bodies = prebuilt_bodies(archive, 100)
        try:
            startup = directory / "one.ndjson"  # replay's fixed start-up cost, to subtract
            startup.write_bytes(archive.open("rb").readline())
            startup_cpu = run_replay(startup, url, directory)[3]
            rounds = [measure_round(endpoint.pid, url, archive, directory, bodies, args.events, startup_cpu)
                      for _ in range(args.rounds)]
            if args.two_at_once:
                print(f"two replay processes at once, each on half the archive: "
                      f"{two_at_once(archive, url, directory):,.0f} events/s together")
        finally:
            endpoint.terminate()
            endpoint.wait()
    if len(rounds) > 1:
        middle = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
        print(f"median of {len(rounds)} rounds: replay {middle[1]:,.0f} events/s, baseline "
              f"{middle[2]:,.0f}, ratio {middle[0]:.2f}; all ratios "
              + ", ".join(f"{r[0]:.2f}" for r in rounds))


def measure_round(endpoint: int, url: str, archive: Path, directory: Path, bodies: list[bytes],
                  events: int, startup_cpu: float) -> tuple[float, float, float]:
    """One round: baseline, replay, baseline again (a change in machine load hits both alike);
    prints it and answers (ratio, replay events/s, baseline events/s)."""
    target = url + "/v1/batch"
    (before, base_cpu), base_server = measured(endpoint, lambda: asyncio.run(baseline(target, bodies, 100, events)))
    (report, wall, rss, cpu), server = measured(endpoint, lambda: run_replay(archive, url, directory))
    after = asyncio.run(baseline(target, bodies, 100, events))[0]
    rate = report["events_per_second"]
    assert report["delivered"] == events, report
    base = (before + after) / 2
    print(f"baseline (bare aiohttp, pre-built bodies, 8 in flight): {base:,.0f} events/s "
          f"(mean of {before:,.0f} before and {after:,.0f} after replay)")
    print(f"segdebug replay: {rate:,.0f} events/s (process wall {wall:.2f} s incl. start-up, "
          f"{events / wall:,.0f} events/s)")
    print(f"ratio: {rate / base:.2f}  (goal >= 0.4; absolute goal >= 250,000 events/s)")
    print(f"replay peak RSS: {rss:.0f} MB (goal <= 150 MB)")
    per_event = 1e6 / events
    print(f"CPU per event (us): baseline client {base_cpu * per_event:.2f} + endpoint "
          f"{base_server * per_event:.2f}; replay (incl. start-up) {cpu * per_event:.2f} + endpoint "
          f"{server * per_event:.2f}; {os.cpu_count()} cores")
    steady = (cpu - startup_cpu) * per_event
    print(f"ratio by CPU per event (steadier than wall on a shared machine): {base_cpu * per_event:.2f}"
          f" / {steady:.2f} = {base_cpu * per_event / steady:.2f} (replay minus its start-up, "
          f"{startup_cpu:.2f} s CPU on a one-line archive)", flush=True)
    return rate / base, rate, base


if __name__ == "__main__":
    main()
