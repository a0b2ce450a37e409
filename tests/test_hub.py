"""The hub on a real Unix socket in tmp_path: fan-out, filters, sampling, drops, stats, binding."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import aiohttp
import orjson
import pytest

from debugger.protocol import event as event_envelope, problem
from debugger.errors import CliError
from debugger.hub import Hub
from debugger.socket_server import serve
from debugger.socket_client import CollectorGone, SubscriptionRefused, subscribe
from tests.support import Collector, read_hello

TIMEOUT = 10


def event(seq: int, name: str = "Page Viewed", status: str = "accepted", **extra: Any) -> dict:
    message = {"type": "track", "event": name, "userId": f"u{seq}", **extra}
    problems = [problem("error", "no_user_anon_id", "missing")] if status == "rejected" else []
    return dict(event_envelope(
        seq=seq, received_at="2024-05-01T10:00:00.000Z", endpoint="/v1/track",
        write_key="wk_secret", status=status, problems=problems,  # type: ignore[arg-type]
        message=message, raw=None,
    ))


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0.01)


async def settled(hub: Hub, count: int) -> None:
    """Wait until `count` subscribers are connected and have said what they want."""
    await until(lambda: len(hub.subscribers) == count
                and not any(s.pending for s in hub.subscribers))


async def events(stream: AsyncIterator[dict], count: int) -> list[dict]:
    """The next `count` event lines (stats lines skipped)."""
    found: list[dict] = []
    async with asyncio.timeout(TIMEOUT):
        while len(found) < count:
            item = await anext(stream)
            if item["kind"] == "event":
                found.append(item)
    return found


def stuck_viewer(path: Path) -> socket.socket:
    """A subscribed viewer that reads nothing (a plain socket: a stream reader would buffer)."""
    viewer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    viewer.connect(str(path))
    viewer.sendall(b'{"subscribe": {}}\n')
    return viewer


async def read_until_accounted(viewer: socket.socket, total: int) -> tuple[int, dict]:
    """Read a stuck viewer until events delivered + dropped == total; (delivered, stats)."""
    viewer.setblocking(False)
    reader, writer = await asyncio.open_unix_connection(sock=viewer, limit=2**20)
    delivered = 0
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                item = orjson.loads(await reader.readline())
                if item["kind"] == "event":
                    delivered += 1
                elif item["kind"] == "stats" and delivered + item["dropped"] == total:
                    return delivered, item
    finally:
        writer.close()


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    hub = Hub(version="9.9", http_url="http://127.0.0.1:1", archive=str(tmp_path / "a.ndjson"))
    server = await serve(tmp_path / "s.sock", hub)
    yield hub
    await server.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "s.sock"


async def test_hello_first_then_every_event_in_order(hub: Hub, path: Path) -> None:
    stream = subscribe(path)
    hello = await anext(stream)
    assert hello == {"kind": "hello", "version": "9.9", "http": "http://127.0.0.1:1",
                     "archive": hub.hello["archive"]}
    await settled(hub, 1)
    for seq in range(5):
        hub.publish(event(seq, status="rejected" if seq == 3 else "accepted"))
    got = await events(stream, 5)
    assert [e["seq"] for e in got] == [0, 1, 2, 3, 4]
    assert got[3]["status"] == "rejected" and got[3]["problems"][0]["code"] == "no_user_anon_id"
    assert got[0] == event(0)
    await stream.aclose()


async def test_a_viewer_that_sends_no_subscribe_line_gets_everything(hub: Hub, path: Path) -> None:
    reader, writer = await asyncio.open_unix_connection(str(path))
    assert orjson.loads(await reader.readline())["kind"] == "hello"
    for seq in range(3):  # published while the hub still waits for a subscribe line
        hub.publish(event(seq))
    async with asyncio.timeout(TIMEOUT):
        lines = [orjson.loads(await reader.readline()) for _ in range(3)]
    assert [line["seq"] for line in lines] == [0, 1, 2]
    writer.close()


async def test_stats_about_once_a_second_count_what_was_published(hub: Hub, path: Path) -> None:
    stream = subscribe(path)
    await anext(stream)
    await settled(hub, 1)
    for seq, status in enumerate(["accepted", "rejected", "accepted"]):
        hub.publish(event(seq, status=status))
    hub.tally(4, 1)  # what the collector counted while nobody watched
    async with asyncio.timeout(TIMEOUT):
        stats = [item async for item in _until_kind(stream, "stats", 2)]
    last = stats[-1]
    assert {k: last[k] for k in ("received", "accepted", "rejected", "dropped")} == {
        "received": 8, "accepted": 6, "rejected": 2, "dropped": 0}
    assert last["matched"] == 3 and last["sampled"] == 1
    await stream.aclose()


def test_the_rate_is_what_arrived_between_two_ticks_per_second() -> None:
    """`rate` on stats lines: messages counted since the last tick over the seconds since it
    (times given to `tick`, as the server's ticker does), published or only tallied."""
    hub = Hub(version="9.9", http_url="http://127.0.0.1:1", archive="a.ndjson")
    hub.tally(50, 0)  # before the first tick: not part of any measured interval
    hub.tick(100.0)
    for seq in range(3):
        hub.publish(event(seq))
    hub.tally(4, 1)
    hub.tick(102.0)
    assert hub.stats()["rate"] == 4.0  # 8 in 2 s
    hub.tick(102.5)
    assert hub.stats()["rate"] == 0.0
    hub.tally(1, 0)
    hub.tick(103.0)
    assert hub.stats()["rate"] == 2.0


async def _until_kind(stream: AsyncIterator[dict], kind: str, count: int) -> AsyncIterator[dict]:
    seen = 0
    async for item in stream:
        if item["kind"] == kind:
            yield item
            seen += 1
            if seen == count:
                return


async def test_a_viewer_that_never_reads_loses_only_its_own_events(tmp_path: Path) -> None:
    hub = Hub(version="1", http_url="http://x", archive="a", queue_size=64)
    path = tmp_path / "s.sock"
    server = await serve(path, hub)
    try:
        fast = subscribe(path)
        await anext(fast)
        slow_socket = stuck_viewer(path)
        await settled(hub, 2)
        total, chunk, pad = 3000, 50, "x" * 2000
        for start in range(0, total, chunk):
            for seq in range(start, start + chunk):
                hub.publish(event(seq, padding=pad))
            # The reading viewer is served in full while the other one is stuck.
            assert [e["seq"] for e in await events(fast, chunk)] == list(range(start, start + chunk))
        (slow,) = [s for s in hub.subscribers if s.dropped]
        assert slow.dropped > 0
        # Once it reads again, what it got plus what it was told it lost is everything.
        delivered, _ = await read_until_accounted(slow_socket, total)
        assert delivered < total
        await fast.aclose()
    finally:
        await server.close()


async def test_a_filtered_rare_event_survives_sampling_of_a_flood(tmp_path: Path) -> None:
    # A hand-moved clock: max_rate 1 sends the flood's first event at once, then nothing more
    # until its credit grows back.
    now = [100.0]
    hub = Hub(version="1", http_url="http://x", archive="a", clock=lambda: now[0])
    path = tmp_path / "s.sock"
    server = await serve(path, hub)
    try:
        rare = subscribe(path, query='event:"Rare Thing"', max_rate=1)
        sampled = subscribe(path, max_rate=1)
        await anext(rare)
        await anext(sampled)
        await settled(hub, 2)
        for seq in range(500):
            hub.publish(event(seq, name="Flood"))
        hub.publish(event(500, name="Rare Thing"))
        for seq in range(501, 1001):
            hub.publish(event(seq, name="Flood"))
        assert [e["seq"] for e in await events(rare, 1)] == [500]
        now[0] += 0.3  # the window closes: 0.3 s earn no whole event at 1/s
        await asyncio.sleep(0.2)
        now[0] += 1.5  # and the next stats tick comes
        # Without the filter, the same max_rate keeps one event of the flood.
        got: list[dict] = []
        async with asyncio.timeout(TIMEOUT):
            async for item in sampled:
                if item["kind"] == "event":
                    got.append(item)
                elif item["kind"] == "stats" and item["matched"] == 1001:
                    break
        assert [e["seq"] for e in got] == [0]
        await rare.aclose()
        await sampled.aclose()
    finally:
        await server.close()


async def test_events_held_before_a_late_subscribe_line_are_filtered_too(
    hub: Hub, path: Path
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(path))
    assert orjson.loads(await reader.readline())["kind"] == "hello"
    await until(lambda: len(hub.subscribers) == 1)
    hub.publish(event(0, name="Noise"))
    hub.publish(event(1, name="Wanted"))
    writer.write(b'{"subscribe": {"filter": "name:Wanted"}}\n')
    await settled(hub, 1)
    hub.publish(event(2, name="Noise"))
    hub.publish(event(3, name="Wanted"))
    async with asyncio.timeout(TIMEOUT):
        lines = [orjson.loads(await reader.readline()) for _ in range(2)]
    assert [line["seq"] for line in lines] == [1, 3]
    writer.close()


async def test_history_on_open_then_the_live_stream(hub: Hub, path: Path) -> None:
    for seq in range(1, 11):
        hub.publish(event(seq, status="rejected" if seq == 9 else "accepted"))
    stream = subscribe(path, max_rate=50, history=5)
    await anext(stream)
    got = await events(stream, 5)
    assert [e["seq"] for e in got] == [6, 7, 8, 9, 10]
    assert all(e["history"] is True for e in got) and got[3]["status"] == "rejected"
    await settled(hub, 1)
    hub.publish(event(11))
    (live,) = await events(stream, 1)
    assert live["seq"] == 11 and "history" not in live
    await stream.aclose()


async def test_priority_over_the_socket(hub: Hub, path: Path) -> None:
    stream = subscribe(path, max_rate=1, priority='event:"Rare Thing"')
    await anext(stream)
    await settled(hub, 1)
    for seq in range(300):
        hub.publish(event(seq, name="Rare Thing" if seq in (150, 299) else "Flood"))
    got = await events(stream, 3)
    assert [e["seq"] for e in got] == [0, 150, 299]
    await stream.aclose()


async def test_history_over_500_is_refused(hub: Hub, path: Path) -> None:
    stream = subscribe(path, history=501)
    await anext(stream)
    with pytest.raises(SubscriptionRefused, match="at most 500"):
        await anext(stream)


async def test_a_bad_filter_is_refused_with_its_position(hub: Hub, path: Path) -> None:
    stream = subscribe(path, query="type:")
    assert (await anext(stream))["kind"] == "hello"
    with pytest.raises(SubscriptionRefused) as refused:
        await anext(stream)
    assert refused.value.line["position"] == 5
    assert str(refused.value).startswith("bad query: column 6")


@pytest.mark.parametrize("line", [
    b"not json\n",
    b'{"subscribe": "everything"}\n',
    b'{"subscribe": {"max_rate": -1}}\n',
    b'{"subscribe": {"max_rate": true}}\n',
    b'{"subscribe": {"filter": 3}}\n',
])
async def test_a_bad_subscribe_line_gets_one_error_line_and_the_end(
    hub: Hub, path: Path, line: bytes
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(line)
    async with asyncio.timeout(TIMEOUT):
        assert orjson.loads(await reader.readline())["kind"] == "hello"
        error = orjson.loads(await reader.readline())
        assert await reader.read() == b""
    assert error["kind"] == "error" and error["message"]
    writer.close()


async def test_a_vanished_viewer_is_forgotten(hub: Hub, path: Path) -> None:
    stream = subscribe(path)
    await anext(stream)
    await settled(hub, 1)
    await stream.aclose()
    hub.publish(event(0))
    await until(lambda: not hub.subscribers)


async def test_publish_never_raises(hub: Hub, path: Path, capsys: pytest.CaptureFixture) -> None:
    stream = subscribe(path)
    await anext(stream)
    await settled(hub, 1)
    hub.publish({"kind": "event", "message": {"unserialisable": {1, 2}}})
    hub.publish(event(7))
    assert [e["seq"] for e in await events(stream, 1)] == [7]
    assert "dropped an envelope" in capsys.readouterr().err
    await stream.aclose()


async def test_socket_is_0600_in_a_private_new_directory(tmp_path: Path) -> None:
    path = tmp_path / "run" / "s.sock"
    hub = Hub(version="1", http_url="http://x", archive="a")
    server = await serve(path, hub)
    try:
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        await server.close()
    assert not path.exists()


async def test_a_second_hub_on_a_live_socket_gets_a_clear_error(hub: Hub, path: Path) -> None:
    other = Hub(version="1", http_url="http://x", archive="a")
    with pytest.raises(CliError) as refused:
        await serve(path, other)
    assert refused.value.code == 2
    assert "already running" in str(refused.value)
    assert f"segdebug tail --socket {path}" in str(refused.value)
    stream = subscribe(path)  # the first one still serves
    assert (await anext(stream))["kind"] == "hello"
    await stream.aclose()


async def test_a_stale_socket_file_is_replaced(path: Path) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: a collector that was killed
    hub = Hub(version="1", http_url="http://x", archive="a")
    server = await serve(path, hub)
    try:
        stream = subscribe(path)
        assert (await anext(stream))["kind"] == "hello"
        await stream.aclose()
    finally:
        await server.close()


async def test_a_file_that_is_not_a_socket_is_left_alone(path: Path) -> None:
    path.write_text("mine")
    with pytest.raises(CliError, match="not a socket"):
        await serve(path, Hub(version="1", http_url="http://x", archive="a"))
    assert path.read_text() == "mine"


async def test_viewers_learn_when_the_hub_closes(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    hub = Hub(version="1", http_url="http://x", archive="a")
    server = await serve(path, hub)
    stream = subscribe(path)
    await anext(stream)
    await settled(hub, 1)
    await server.close()
    with pytest.raises(CollectorGone):
        async with asyncio.timeout(TIMEOUT):
            await anext(stream)
    assert not os.path.exists(path)


async def test_close_does_not_wait_for_a_stuck_viewer(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    hub = Hub(version="1", http_url="http://x", archive="a")
    server = await serve(path, hub)
    stuck = stuck_viewer(path)
    await settled(hub, 1)
    for seq in range(2000):  # far more than the socket buffers hold
        hub.publish(event(seq, padding="x" * 1000))
        if seq % 100 == 0:
            await asyncio.sleep(0)
    async with asyncio.timeout(TIMEOUT):
        await server.close()
    assert not hub.subscribers and not path.exists()
    stuck.close()


# End to end: the real collector process and its socket.


def test_a_second_collector_on_the_same_socket_is_refused(collector: Collector) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "debugger.cli", "collect", "--port", "0",
         "--archive", str(collector.archive.with_name("other.ndjson")),
         "--socket", str(collector.socket)],
        capture_output=True, timeout=30,
    )
    assert second.returncode == 2
    lines = second.stderr.decode().splitlines()
    assert len(lines) == 1 and "already running on socket" in lines[0], lines
    assert f"segdebug tail --socket {collector.socket}" in lines[0]
    assert read_hello(collector.socket)["http"] == collector.url  # the first one still serves


async def test_a_viewer_that_never_reads_does_not_hold_up_ingest(collector: Collector) -> None:
    stuck = stuck_viewer(collector.socket)
    batches, size = 30, 100
    async with aiohttp.ClientSession() as http:
        for batch in range(batches):
            items = [{"type": "track", "event": "Order Completed", "userId": f"u{batch}-{n}",
                      "properties": {"note": "x" * 500}} for n in range(size)]
            async with http.post(f"{collector.url}/v1/batch",
                                 json={"writeKey": "wk", "batch": items}) as answer:
                assert answer.status == 200
    assert len(collector.archived()) == batches * size  # every event archived
    _, stats = await read_until_accounted(stuck, batches * size)
    assert stats["dropped"] > 0 and stats["received"] == batches * size


@pytest.mark.parametrize("published", ["one at a time", "as one call"])
async def test_a_new_subscription_loses_nothing_the_sampler_was_holding(published: str) -> None:
    """QA: every search change in `live` (a new subscribe line: new priority) dropped the
    events the viewer's sampler held in its open 0.25 s window, refused calls among them.
    They are handed to the new subscription instead (which still filters them)."""
    from debugger.ingest import Accepted, Refused
    from debugger.pending import CallContext
    from debugger.query import parse

    now = [100.0]
    hub = Hub(version="1", http_url="http://x", archive="a", clock=lambda: now[0])
    viewer = hub.subscribe()
    hub.settle(viewer, {"max_rate": 50}, None, None)
    if published == "one at a time":
        for seq in range(1, 301):
            hub.publish(event(seq, status="rejected" if seq % 3 == 0 else "accepted"))
    else:
        results: list[Accepted | Refused] = [
            Refused({"type": "track", "userId": None, "event": "E"}, None, "wk", [problem("error", "no_user_anon_id", "x")])
            if seq % 3 == 0 else Accepted({"type": "track", "userId": "u", "event": "E"}, b"{}", "wk", [])
            for seq in range(1, 301)]
        hub.publish_call(1, CallContext("2024-05-01T10:00:00.000Z", "/v1/batch", {}, None), results, 100)
    now[0] += 0.1  # the window is still open when the viewer changes its search
    hub.settle(viewer, {"max_rate": 50, "priority": "user:u7*"}, None, parse("user:u7*"))
    now[0] += 5
    hub.flush(now[0])
    got = [orjson.loads(line) for line in viewer.queue]
    seqs = [item["seq"] for item in got if item.get("kind") == "event"]
    refused = [item["seq"] for item in got if item.get("status") == "rejected"]
    assert refused == list(range(3, 301, 3))  # every refused call, in order
    assert seqs == sorted(seqs) and len(seqs) > len(refused)  # and a sample of the rest
