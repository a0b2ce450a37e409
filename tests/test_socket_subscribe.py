"""The collector's socket seen by its clients: a later subscribe line, and a viewer too slow.

Both go through a real collector process: a raw Unix-socket client speaking the NDJSON
protocol by hand, and the real `segdebug tail` stopped with SIGSTOP while a burst arrives.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from tests.support import Collector, post_json

PATIENCE = 20.0  # seconds an awaited effect may take on a loaded machine before the test fails


def subscribe_line(query: str) -> bytes:
    return orjson.dumps({"subscribe": {"filter": query}}) + b"\n"


def pair(round_: int) -> dict[str, Any]:
    """One batch, one Alpha and one Beta event of the same round: published together."""
    return {"writeKey": "wk_sub", "batch": [
        {"type": "track", "userId": "u", "event": name, "properties": {"round": round_}}
        for name in ("Alpha", "Beta")]}


async def test_a_later_subscribe_line_replaces_the_first(collector: Collector) -> None:
    reader, writer = await asyncio.open_unix_connection(str(collector.socket), limit=2**24)
    seen: list[tuple[str, int]] = []

    async def read_events(until: float) -> None:
        """Read event lines (skipping stats) for `until` seconds at most."""
        try:
            async with asyncio.timeout(until):
                while True:
                    item = orjson.loads(await reader.readline())
                    assert item["kind"] != "error", item
                    if item["kind"] == "event":
                        message = item["message"]
                        seen.append((message["event"], message["properties"]["round"]))
        except TimeoutError:
            pass

    try:
        assert orjson.loads(await reader.readline())["kind"] == "hello"
        writer.write(subscribe_line("event:Alpha"))
        await writer.drain()
        assert (await asyncio.to_thread(post_json, collector.url + "/v1/batch", pair(0))).status == 200
        await read_events(1.0)
        assert seen == [("Alpha", 0)]  # the first subscription is applied

        writer.write(subscribe_line("event:Beta"))
        await writer.drain()
        deadline = time.monotonic() + PATIENCE
        round_ = 0
        while ("Beta", round_) not in seen:  # until a round shows the new subscription at work
            assert time.monotonic() < deadline, f"the second subscribe line was not applied: {seen}"
            round_ += 1
            assert (await asyncio.to_thread(post_json, collector.url + "/v1/batch", pair(round_))).status == 200
            await read_events(0.3)
        await read_events(0.5)
    finally:
        writer.close()
    switch = seen.index(("Beta", round_))
    assert all(name == "Alpha" for name, _ in seen[:switch]), seen  # until then, only the first filter
    assert seen[switch:] == [("Beta", round_)], seen  # then only the second: Alpha of that round never


def test_tail_notes_dropped_events_on_stderr(collector: Collector, tmp_path: Path) -> None:
    """`tail` stopped (SIGSTOP) while 10,000 events arrive: its queue overflows. After SIGCONT,
    stderr says how many were dropped, and those plus the lines printed are every event."""
    out = tmp_path / "tail.out"
    with out.open("wb") as stdout:
        tail = subprocess.Popen(
            [sys.executable, "-m", "debugger.cli", "tail", "--socket", str(collector.socket), "--json"],
            stdout=stdout, stderr=subprocess.PIPE, text=True,
        )
    notes: list[str] = []

    def collect_stderr() -> None:
        assert tail.stderr is not None
        notes.extend(tail.stderr)

    reader = threading.Thread(target=collect_stderr, daemon=True)
    reader.start()
    try:
        def printed() -> int:
            return len(out.read_bytes().splitlines())

        def wait_for(condition: Any, what: str) -> None:
            deadline = time.monotonic() + PATIENCE
            while not condition():
                assert time.monotonic() < deadline, f"{what}; stderr: {notes}"
                time.sleep(0.05)

        wait_for(lambda: any("tailing the collector" in note for note in notes), "tail did not connect")
        assert post_json(collector.url + "/v1/track", {"userId": "u", "event": "Marker"}).status == 200
        wait_for(lambda: printed() == 1, "tail never printed the first event")
        tail.send_signal(signal.SIGSTOP)
        burst = [{"type": "track", "userId": "u", "event": "Burst", "properties": {"n": n}} for n in range(2500)]
        for _ in range(4):
            assert post_json(collector.url + "/v1/batch", {"writeKey": "wk", "batch": burst}).status == 200
        tail.send_signal(signal.SIGCONT)
        total = 1 + 4 * len(burst)

        def dropped() -> int:
            return sum(int(m[1]) for note in list(notes)
                       if (m := re.search(r"(\d+) events dropped: this terminal could not keep up", note)))

        wait_for(lambda: dropped() > 0 and printed() + dropped() == total,
                 f"printed + dropped never reached the {total} events sent")
        assert b"dropped" not in out.read_bytes()  # notes go to stderr, stdout is only events
    finally:
        tail.send_signal(signal.SIGCONT)
        tail.terminate()
        tail.wait(timeout=10)
