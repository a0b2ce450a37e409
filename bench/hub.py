"""What the hub costs ingest: publish() with viewers attached vs serialising each event alone.

The collector calls `hub.publish()` for every message, on its event loop; the hub's writer
tasks run on that loop too. So the figure that matters is events/s through publish() plus
the fan-out work it causes, with the loop yielding every 100 events as a busy collector does.
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
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debugger.hub import Hub  # noqa: E402
from debugger.protocol import event as event_envelope  # noqa: E402
from debugger.socket_server import serve  # noqa: E402

CHUNK = 100
READER = """
import socket, sys
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.connect(sys.argv[1])
client.sendall(sys.argv[2].encode() + b"\\n")
while client.recv(1 << 20):
    pass
"""


def envelope(seq: int) -> dict:
    message = {
        "type": "track", "event": "Order Completed" if seq % 50 else "Checkout Started",
        "userId": f"user_{seq % 5000}", "messageId": f"m-{seq}",
        "timestamp": "2024-05-01T10:00:00.000Z", "receivedAt": "2024-05-01T10:00:00.010Z",
        "properties": {"order_id": f"o-{seq}", "total": 27.5, "currency": "USD",
                       "products": [{"product_id": "507f", "sku": "G-32", "price": 19.0}]},
        "context": {"library": {"name": "analytics.js", "version": "2.11.1"},
                    "page": {"path": "/checkout", "url": "https://shop.example/checkout"}},
    }
    return dict(event_envelope(
        seq=seq, received_at="2024-05-01T10:00:00.010Z", endpoint="/v1/batch",
        write_key="wk_live_123", status="accepted", problems=[], message=message, raw=None,
    ))


async def baseline(events: list[dict]) -> float:
    start = time.perf_counter()
    for index in range(0, len(events), CHUNK):
        for item in events[index:index + CHUNK]:
            orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE)
        await asyncio.sleep(0)
    return len(events) / (time.perf_counter() - start)


async def through_hub(events: list[dict], directory: Path) -> tuple[float, list[int]]:
    """Events/s through publish() with three viewers, and each viewer's drops."""
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
    for index in range(0, len(events), CHUNK):
        for item in events[index:index + CHUNK]:
            hub.publish(item)
        await asyncio.sleep(0)
    rate = len(events) / (time.perf_counter() - start)
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
    events = [envelope(seq) for seq in range(args.events)]
    base = await baseline(events)
    with tempfile.TemporaryDirectory(prefix="segdebug-bench-") as directory:
        rate, dropped = await through_hub(events, Path(directory))
    print(f"baseline, orjson.dumps per event: {base:12,.0f} events/s")
    print(f"hub.publish, 3 viewers:           {rate:12,.0f} events/s"
          "  (1 reading, 1 filtered + sampled, 1 stuck)")
    print(f"ratio hub/baseline: {rate / base:.2f}; dropped of {len(events):,}: "
          + ", ".join(f"{n:,}" for n in dropped))


if __name__ == "__main__":
    asyncio.run(main())
