"""Benchmark: the /segdebug/ query API against the same query in a plain loop, same run.

    .venv/bin/python bench/api.py [--events 100000] [--repeat 5]
    .venv/bin/python bench/api.py --rss [--events 100000]

Fills the collector's RecentStore with `--events` realistic messages (the sample archives, run
through ingest with the refusing-only checker in batches of 100, as the collector does while
nobody watches), then serves the collector app (with the /segdebug/ routes) on 127.0.0.1 and
times `GET /segdebug/events?q=QUERY` against the same query compiled once and run in a plain
loop over the same envelopes. Prints both, and their ratio (goal: >= 0.5). Also prints what
feeding the store costs per message (`append_call`, the ingest hot path's share), for batches
of 100 and for single-message calls, next to what ingest itself costs per message.

With `--rss`: the memory a broad query leaves behind instead. A real `segdebug collect` process
is fed `--events` realistic events (bench/collector.py's, batches of 100, nobody watching); its
resident size (VmRSS) is printed before and after `GET /segdebug/events` reads them all, twice.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import orjson

from debugger import api, rules
from debugger.archive_writer import ArchiveWriter
from debugger.collector import Collector, make_app
from debugger.ingest import Accepted, Call, Refused, ingest
from debugger.query import parse
from debugger.serve import start_http
from debugger.pending import CallContext
from debugger.store import RecentStore

QUERY = 'type:track name:Product* -user:test*'
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BATCH = 100


def messages(count: int) -> list[bytes]:
    """`count` sample messages, each with its own messageId and one in 50 from a test user."""
    lines = [orjson.loads(line) for path in sorted(SAMPLES.glob("*.ndjson")) for line in path.open("rb")]
    out = []
    for n in range(count):
        message = dict(lines[n % len(lines)])
        message["messageId"] = f"bench-{n}"
        if n % 50 == 0:
            message["userId"] = f"test-{n}"
        out.append(message)
    return [orjson.dumps({"batch": out[i:i + BATCH]}) for i in range(0, count, BATCH)]


def fill(store: RecentStore, bodies: list[bytes]) -> tuple[float, float]:
    """Ingest every body and feed the store; returns (ingest s, append s)."""
    ingest_time = append_time = 0.0
    seq = store.next_seq
    for body in bodies:
        call = Call(kind=None, received=datetime.now(timezone.utc))
        started = time.perf_counter()
        outcome = ingest(body, None, call, rules.check_required)
        middle = time.perf_counter()
        facts = CallContext(call.received_at, "/v1/batch", {"method": "POST", "bytes": len(body)}, rules.check)
        store.append_call(seq, facts, outcome.results, outcome.refusals)
        ended = time.perf_counter()
        seq += len(outcome.results)
        ingest_time += middle - started
        append_time += ended - middle
    return ingest_time, append_time


def single_appends(results: list[Accepted | Refused], capacity: int) -> float:
    """Seconds per message to feed a full store one message per call (/v1/track traffic)."""
    store = RecentStore(capacity)
    for seq, item in enumerate(results[:capacity], 1):  # fill it: later appends also evict
        store.append(seq, item, CallContext("", "/v1/track", None, rules.check))
    seq = store.next_seq
    started = time.perf_counter()
    for item in results:
        store.append_call(seq, CallContext("", "/v1/track", {"method": "POST"}, rules.check), (item,), 0)
        seq += 1
    return (time.perf_counter() - started) / len(results)


async def timed_get(session: aiohttp.ClientSession, url: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    async with session.get(url) as answer:
        body = await answer.read()
    return time.perf_counter() - started, orjson.loads(body)


async def bench_api(store: RecentStore, repeat: int) -> None:
    directory = Path(tempfile.mkdtemp(prefix="segdebug-bench-"))
    writer = ArchiveWriter(directory / "archive.ndjson", "never")
    collector = Collector(writer=writer, check=rules.check, publish=lambda envelope: None, store=store)
    app = make_app(collector, api.ROUTES)
    app[api.STATE] = api.ApiState(store, directory / "archive.ndjson", rules.check)
    runner, port = await start_http(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}/segdebug/events?{urlencode({'q': QUERY, 'limit': 100})}"
    try:
        async with aiohttp.ClientSession() as session:
            cold, first = await timed_get(session, url)
            served = []
            for _ in range(repeat):
                seconds, answer = await timed_get(session, url)
                served.append(seconds)
    finally:
        await runner.cleanup()
        await writer.close()
    envelopes = store.window()
    query = parse(QUERY)
    looped = []
    for _ in range(repeat):
        started = time.perf_counter()
        matches = query.matches
        found = [e for e in envelopes if matches(e)]
        looped.append(time.perf_counter() - started)
    assert answer["total"] == len(found) == first["total"], (answer["total"], len(found))
    api_best, loop_best = min(served), min(looped)
    print(f"query: {QUERY}  ({len(found):,} of {len(envelopes):,} match)")
    print(f"  /segdebug/events, first call (envelopes built)  {cold * 1000:8.1f} ms")
    print(f"  /segdebug/events (best of {repeat})                {api_best * 1000:8.1f} ms"
          f"  {len(envelopes) / api_best:12,.0f} events/s")
    print(f"  plain loop, compiled query (best of {repeat})      {loop_best * 1000:8.1f} ms"
          f"  {len(envelopes) / loop_best:12,.0f} events/s")
    print(f"  ratio (loop time / API time): {loop_best / api_best:.2f}  (goal >= 0.5)")


def resident_kb(pid: int, field: str = "VmRSS") -> int:
    """A process's resident size now (VmRSS) or at its peak (VmHWM), in KB."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


async def bench_memory(events: int) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.collector import make_bodies
    from tests.support import start_collector

    bodies = make_bodies(events // BATCH, BATCH)
    headers = {"Content-Type": "application/json"}
    with tempfile.TemporaryDirectory(prefix="segdebug-bench-") as directory:
        collector = start_collector(Path(directory), "--fsync", "never")
        pid = collector.process.pid
        try:
            async with aiohttp.ClientSession() as session:
                print(f"segdebug collect, resident: started {resident_kb(pid) / 1024:8.0f} MB")
                for body in bodies:
                    async with session.post(collector.url + "/v1/batch", data=body, headers=headers) as answer:
                        assert answer.status == 200, answer.status
                print(f"  {len(bodies) * BATCH:,} events in           {resident_kb(pid) / 1024:8.0f} MB")
                for number in (1, 2):
                    seconds, found = await timed_get(session, collector.url + "/segdebug/events?limit=10")
                    print(f"  after broad query {number} ({found['total']:,} events, {seconds:.2f} s)"
                          f"  {resident_kb(pid) / 1024:8.0f} MB")
                print(f"  peak (VmHWM, while a query holds every envelope) {resident_kb(pid, 'VmHWM') / 1024:6.0f} MB")
        finally:
            collector.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rss", action="store_true", help="measure a real collector's memory instead")
    options = parser.parse_args()
    if options.rss:
        asyncio.run(bench_memory(options.events))
        return
    gc.freeze()  # as collect does once started (serve._tune_gc)
    gc.set_threshold(20_000, *gc.get_threshold()[1:])
    bodies = messages(options.events)
    store = RecentStore(options.events)
    ingest_time, append_time = fill(store, bodies)
    count = store.next_seq - 1
    print(f"feeding the store: {count:,} messages in batches of {BATCH}")
    print(f"  ingest (refusing-only check)   {ingest_time / count * 1e9:8.0f} ns/message")
    print(f"  store.append_call              {append_time / count * 1e9:8.0f} ns/message"
          f"  ({append_time / ingest_time:.1%} of ingest)")
    call = Call(kind=None, received=datetime.now(timezone.utc))
    sample = [item for body in bodies[:200] for item in ingest(body, None, call, rules.check_required).results]
    print(f"  single-message calls, append   {single_appends(sample, 10_000) * 1e9:8.0f} ns/message"
          " (incl. the call's CallContext; evicting)")
    asyncio.run(bench_api(store, options.repeat))


if __name__ == "__main__":
    main()
