"""What the hub costs ingest: publish_call() with viewers attached vs serialising each event alone.

The collector calls `hub.publish_call()` for every call with ingest's results (checked only
for refusals; the hub runs the full rules for what it sends), on its event loop; the hub's
writer tasks run on that loop too. So the figure that matters is events/s through
publish_call() plus the fan-out work it causes, with the loop yielding after every call of
100 events as a busy collector does.
The baseline does the least a socket fan-out must do: one orjson.dumps per event. Viewers: one
real reader in its own process (reads and discards), one filtered reader (a query and a max
rate), and one stuck viewer that never reads (its drops are reported).

    .venv/bin/python bench/hub.py                  # full run
    .venv/bin/python bench/hub.py --events 20000   # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debugger import rules  # noqa: E402
from debugger.hub import Hub  # noqa: E402
from debugger.ingest import Accepted, Call, Refused, ingest  # noqa: E402
from debugger.pending import CallContext  # noqa: E402
from debugger.protocol import event as event_envelope  # noqa: E402
from debugger.socket_server import serve  # noqa: E402

CHUNK = 100  # messages per call
CONTEXT = CallContext("2024-05-01T10:00:00.010Z", "/v1/batch", None, rules.check)
READER = """
import socket, sys
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.connect(sys.argv[1])
client.sendall(sys.argv[2].encode() + b"\\n")
while client.recv(1 << 20):
    pass
"""


def message(seq: int) -> dict[str, Any]:
    return {
        "type": "track", "event": "Order Completed" if seq % 50 else "Checkout Started",
        "userId": f"user_{seq % 5000}", "messageId": f"m-{seq}",
        "timestamp": "2024-05-01T10:00:00.000Z", "receivedAt": "2024-05-01T10:00:00.010Z",
        "properties": {"order_id": f"o-{seq}", "total": 27.5, "currency": "USD",
                       "products": [{"product_id": "507f", "sku": "G-32", "price": 19.0}]},
        "context": {"library": {"name": "analytics.js", "version": "2.11.1"},
                    "page": {"path": "/checkout", "url": "https://shop.example/checkout"}},
    }


def calls(count: int) -> list[list[Accepted | Refused]]:
    """The events as the collector hands them to the hub: ingest's results, CHUNK per call
    (ingested by the refusing-only checker, as the collector does; the hub adds the rest)."""
    found = []
    for first in range(0, count, CHUNK):
        body = orjson.dumps({"batch": [message(seq) for seq in range(first, min(first + CHUNK, count))],
                             "writeKey": "wk_live_123", "sentAt": "2024-05-01T10:00:00.005Z"})
        call = Call(kind=None, received=datetime(2024, 5, 1, 10, 0, 0, 10_000, tzinfo=timezone.utc))
        found.append(ingest(body, None, call, rules.check_required).results)
    return found


def envelopes(results: list[list[Accepted | Refused]]) -> list[dict[str, Any]]:
    """What the baseline serialises: each message's envelope, built beforehand."""
    return [dict(event_envelope(seq=seq, received_at=CONTEXT.received_at, endpoint=CONTEXT.endpoint,
                                write_key=item.write_key, status="accepted", problems=[],
                                message=item.message, raw=None))
            for seq, item in enumerate((item for call in results for item in call), 1)]


async def baseline(events: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for index in range(0, len(events), CHUNK):
        for item in events[index:index + CHUNK]:
            orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE)
        await asyncio.sleep(0)
    return len(events) / (time.perf_counter() - start)


async def through_hub(events: list[list[Accepted | Refused]], directory: Path) -> tuple[float, list[int]]:
    """Events/s through publish_call() with three viewers, and each viewer's drops."""
    path = directory / "hub.sock"
    hub = Hub(version="bench", http_url="http://127.0.0.1:0", archive="bench")
    server = await serve(path, hub)
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(path), line])
        for line in ('{"subscribe": {}}',
                     '{"subscribe": {"filter": "event:\\"Checkout Started\\"", "max_rate": 50}}')
    ]
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.connect(str(path))
    stuck.sendall(b'{"subscribe": {}}\n')
    while len(hub.subscribers) < 3 or any(s.pending for s in hub.subscribers):
        await asyncio.sleep(0.01)
    start = time.perf_counter()
    seq = 1
    for results in events:
        hub.publish_call(seq, CONTEXT, results, 0)
        seq += len(results)
        await asyncio.sleep(0)
    rate = (seq - 1) / (time.perf_counter() - start)
    dropped = sorted(s.dropped for s in hub.subscribers)
    await server.close()
    stuck.close()
    for reader in readers:
        reader.wait(timeout=10)
    return rate, dropped


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events to publish")
    args = parser.parse_args()
    results = calls(args.events)
    base = await baseline(envelopes(results))
    with tempfile.TemporaryDirectory(prefix="segdebug-bench-") as directory:
        rate, dropped = await through_hub(results, Path(directory))
    print(f"baseline, orjson.dumps per event: {base:12,.0f} events/s")
    print(f"hub.publish_call, 3 viewers:      {rate:12,.0f} events/s"
          "  (1 reading, 1 filtered + sampled, 1 stuck)")
    print(f"ratio hub/baseline: {rate / base:.2f}; dropped of {args.events:,}: "
          + ", ".join(f"{n:,}" for n in dropped))


if __name__ == "__main__":
    asyncio.run(main())
