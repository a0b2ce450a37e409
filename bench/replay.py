"""Replay throughput: `segdebug replay` vs a streaming splice loop, into the same null endpoint.

The null endpoint (aiohttp, reads the body, answers 200 without parsing) runs as its own
process. The baseline is the least any Python replayer on aiohttp must do: read the archive in
1 MB blocks, join 100 raw lines per /v1/batch body (no edits), 8 requests in flight. Replay runs
as a real `segdebug replay` process (default options: stale sentAt dropped, fresh batch sentAt,
100 per batch, 8 in flight); its peak RSS comes from the kernel (wait4).

Two archives: the collector's own layout (sentAt, writeKey, receivedAt last), and a mixed one
like Segment S3 exports or RudderStack (field order differing by call type, sentAt and writeKey
near the front, context at the end). Each round runs, per archive: the splice loop, replay, and
replay paced with `--rate` far above what it reaches (pacing must cost nothing then).

    .venv/bin/python bench/replay.py                   # 500,000 events per archive, one round
    .venv/bin/python bench/replay.py --rounds 5        # the README's figures: medians of 5 rounds
    .venv/bin/python bench/replay.py --against DIR     # also replay from another checkout (A/B)
    .venv/bin/python bench/replay.py --two-at-once     # and the ceiling of splitting the work
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import orjson

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Signed In")
WRITE_KEY = "bench_write_key_0001"
BLOCK = 1 << 20
PER_BODY = 100
IN_FLIGHT = 8
FAR_ABOVE = "100000000"  # --rate for the paced figure: events/s no replay reaches


def moment(index: int) -> str:
    return f"2024-05-01T10:{(index // 1000) % 60:02d}:{index % 60:02d}.{index % 1000:03d}Z"


def collector_message(rng: random.Random, index: int) -> bytes:
    """One archive line as the collector writes it: client fields + sentAt/receivedAt/writeKey."""
    second = moment(index)
    message = {
        "type": "track" if index % 5 else "page", "event": rng.choice(EVENTS),
        "userId": f"user_{rng.randrange(20_000)}", "anonymousId": str(uuid.UUID(int=rng.getrandbits(128))),
        "messageId": f"bench-{index}", "timestamp": second,
        "properties": {"product_id": f"sku-{rng.randrange(5000)}", "price": round(rng.uniform(1, 300), 2),
                       "currency": "EUR", "quantity": rng.randrange(1, 5), "coupon": None},
        "context": {"library": {"name": "analytics-python", "version": "2.3.3"}, "locale": "de-DE",
                    "ip": f"198.51.100.{rng.randrange(255)}", "timezone": "Europe/Berlin"},
        "integrations": {}, "sentAt": second, "receivedAt": second, "writeKey": WRITE_KEY,
    }
    return orjson.dumps(message)


def mixed_message(rng: random.Random, index: int) -> bytes:
    """One line of an export from elsewhere (Segment S3, RudderStack): the field order differs
    by call type, sentAt and writeKey come near the front, the context last (~600 bytes)."""
    second = moment(index)
    context = {"library": {"name": "analytics.js", "version": "4.1.0"}, "locale": "de-DE",
               "ip": f"198.51.100.{rng.randrange(255)}", "timezone": "Europe/Berlin",
               "page": {"path": "/p", "url": "https://shop.example/p?x=1", "title": "Shop"},
               "userAgent": "Mozilla/5.0 (X11; Linux x86_64)"}
    user, anonymous = f"user_{rng.randrange(20_000)}", str(uuid.UUID(int=rng.getrandbits(128)))
    kind = ("track", "track", "track", "page", "identify")[index % 5]
    message: dict[str, Any]
    if kind == "track":
        message = {"type": "track", "sentAt": second, "writeKey": WRITE_KEY, "messageId": f"bench-{index}",
                   "timestamp": second, "userId": user, "anonymousId": anonymous, "event": rng.choice(EVENTS),
                   "properties": {"product_id": f"sku-{rng.randrange(5000)}", "price": round(rng.uniform(1, 300), 2),
                                  "currency": "EUR", "quantity": rng.randrange(1, 5), "coupon": None},
                   "integrations": {}, "receivedAt": second, "context": context}
    elif kind == "page":
        message = {"writeKey": WRITE_KEY, "sentAt": second, "type": "page", "name": "Pricing",
                   "anonymousId": anonymous, "messageId": f"bench-{index}",
                   "properties": {"path": "/pricing", "referrer": ""}, "timestamp": second,
                   "receivedAt": second, "userId": user, "context": context}
    else:
        message = {"sentAt": second, "messageId": f"bench-{index}", "type": "identify", "writeKey": WRITE_KEY,
                   "userId": user, "traits": {"email": f"{user}@example.com", "plan": "pro", "logins": index % 40},
                   "anonymousId": anonymous, "timestamp": second, "receivedAt": second, "context": context}
    return orjson.dumps(message)


LAYOUTS: dict[str, Callable[[random.Random, int], bytes]] = {"collector": collector_message, "mixed": mixed_message}


def write_archive(path: Path, events: int, line: Callable[[random.Random, int], bytes]) -> int:
    rng = random.Random(7)
    size = 0
    with open(path, "wb") as out:
        for index in range(events):
            raw = line(rng, index) + b"\n"
            size += len(raw)
            out.write(raw)
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
    Path(port_file).write_text(str(runner.addresses[0][1]))
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


async def splice_loop(url: str, archive: Path) -> tuple[float, float]:
    """(events/s, CPU seconds) of the baseline: 1 MB blocks read and split, 100 raw lines
    joined per /v1/batch body, 8 requests in flight, no edits."""
    import aiohttp

    tail = b'],"writeKey":"' + WRITE_KEY.encode() + b'","sentAt":"2024-05-01T10:00:00.000Z"}'
    headers = {"Content-Type": "application/json"}
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(IN_FLIGHT * 2)
    sent = 0

    async def post_all(session: aiohttp.ClientSession) -> None:
        while (body := await queue.get()) is not None:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()

    started, cpu = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as session:
        workers = [asyncio.create_task(post_all(session)) for _ in range(IN_FLIGHT)]
        with open(archive, "rb") as handle:
            carry, pending = b"", []
            while data := handle.read(BLOCK):
                lines = data.split(b"\n")
                lines[0] = carry + lines[0]
                carry = lines.pop()
                pending += lines
                whole = len(pending) - len(pending) % PER_BODY
                for start in range(0, whole, PER_BODY):
                    await queue.put(b'{"batch":[' + b",".join(pending[start : start + PER_BODY]) + tail)
                sent += whole
                pending = pending[whole:]
            if pending:
                await queue.put(b'{"batch":[' + b",".join(pending) + tail)
                sent += len(pending)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    return sent / (time.perf_counter() - started), time.process_time() - cpu


def replay_command(archive: Path, url: str, directory: Path, name: str = "", extra: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "debugger.cli", "replay", str(archive), "--to", url,
            "--report", "json", "--failed", str(directory / f"failed{name}.ndjson"),
            "--checkpoint", str(directory / f"checkpoint{name}.json"), *extra]


def run_replay(archive: Path, url: str, directory: Path, extra: tuple[str, ...] = (),
               root: Path = ROOT) -> tuple[dict[str, Any], float, float, float]:
    """(json report, wall seconds, peak RSS in MB, CPU seconds) of a real `segdebug replay`
    process run from the checkout `root` (CPU of all its processes, from the kernel)."""
    started = time.perf_counter()
    process = subprocess.Popen(replay_command(archive, url, directory, extra=extra), stdout=subprocess.PIPE,
                               cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"replay exited {code}: {output.decode()[-500:]}")
    report: dict[str, Any] = orjson.loads(output.strip().splitlines()[-1])
    return report, wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


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
    return float(sum(report["delivered"] for report in reports) / max(report["seconds"] for report in reports))


def measure(label: str, archive: Path, url: str, directory: Path, events: int,
            against: Path | None) -> dict[str, float]:
    """One round on one archive: splice loop, replay, replay paced far above its speed (and
    replay from another checkout); prints them, answers the figures by name."""
    base, base_cpu = asyncio.run(splice_loop(url + "/v1/batch", archive))
    figures = {"splice": base}
    runs: list[tuple[str, tuple[str, ...], Path]] = [("replay", (), ROOT), ("paced", ("--rate", FAR_ABOVE), ROOT),
                                                     ("speed", ("--speed", FAR_ABOVE), ROOT)]
    if against is not None:
        runs.append(("against", (), against))
    per_event = 1e6 / events
    line = f"{label:9} splice {base:9,.0f}/s ({base_cpu * per_event:.2f} us CPU)"
    for name, extra, root in runs:
        report, wall, rss, cpu = run_replay(archive, url, directory, extra, root)
        assert report["delivered"] == events, report
        rate = report["events_per_second"]
        figures[name], figures[name + "_rss"] = rate, rss
        line += f" | {name} {rate:9,.0f}/s ratio {rate / base:.2f} ({cpu * per_event:.2f} us CPU, {rss:.0f} MB)"
    print(line, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000, help="events per archive")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate splice loop and replay this many times; medians are the figures")
    parser.add_argument("--against", type=Path, help="also replay from this checkout (e.g. an older commit)")
    parser.add_argument("--two-at-once", action="store_true",
                        help="also run two replay processes on the two halves at once (the ceiling of splitting)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(null_endpoint(args.serve))
        return
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as temp:
        directory = Path(temp)
        archives = {}
        for label, line in LAYOUTS.items():
            archives[label] = directory / f"{label}.ndjson"
            size = write_archive(archives[label], args.events, line)
            print(f"{label} archive: {args.events:,} events, {size / args.events:.0f} bytes/event")
        endpoint, url = start_endpoint(directory)
        rounds: dict[str, list[dict[str, float]]] = {label: [] for label in archives}
        try:
            for number in range(args.rounds):
                print(f"round {number + 1} (load average {os.getloadavg()[0]:.2f})")
                for label, archive in archives.items():
                    rounds[label].append(measure(label, archive, url, directory, args.events, args.against))
            if args.two_at_once:
                print(f"two replay processes at once, each on half the collector archive: "
                      f"{two_at_once(archives['collector'], url, directory):,.0f} events/s together")
        finally:
            endpoint.terminate()
            endpoint.wait()
    for label, figures in rounds.items():
        ratio = statistics.median(f["replay"] / f["splice"] for f in figures)
        paced = statistics.median(f["paced"] / f["replay"] for f in figures)
        speed = statistics.median(f["speed"] / f["replay"] for f in figures)
        text = (f"{label}: median of {len(figures)} rounds: replay / splice loop {ratio:.2f} (goal >= 0.5), "
                f"replay {statistics.median(f['replay'] for f in figures):,.0f}/s, splice loop "
                f"{statistics.median(f['splice'] for f in figures):,.0f}/s, peak RSS "
                f"{max(f['replay_rss'] for f in figures):.0f} MB (goal <= 150); "
                f"paced (--rate {FAR_ABOVE}) / unpaced {paced:.2f}, (--speed {FAR_ABOVE}) / unpaced {speed:.2f}")
        if args.against is not None:
            text += f"; replay / --against {statistics.median(f['replay'] / f['against'] for f in figures):.2f}"
        print(text)


if __name__ == "__main__":
    main()
