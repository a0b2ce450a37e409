"""Forwarding end to end: a real `segdebug collect --forward ...` process delivering to real
aiohttp endpoints on 127.0.0.1 (healthy, flaky, refusing, slow, dead), the summary it serves,
`segdebug delivery`, the `delivery` socket lines, and a collector killed with SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from debugger.delivery.forwarder import BATCH_EVENTS, ForwardOptions
from tests.support import BatchEndpoint as Endpoint
from tests.support import Collector, post_json, settled, start_collector


async def flaky(endpoint: Endpoint, number: int, batch: list[dict[str, Any]]) -> web.StreamResponse | None:
    if number == 2:
        return web.json_response({"message": "slow down"}, status=429, headers={"Retry-After": "1"})
    if number == 3:
        return None
    if number % 4 == 1:
        return web.json_response({"message": "internal error"}, status=500)
    return web.json_response({"success": True})


async def refusing(endpoint: Endpoint, number: int, batch: list[dict[str, Any]]) -> web.StreamResponse:
    if any(m.get("properties", {}).get("bad") for m in batch):
        return web.json_response({"message": "properties.bad is not allowed"}, status=400)
    return web.json_response({"success": True})


async def slow(endpoint: Endpoint, number: int, batch: list[dict[str, Any]]) -> web.StreamResponse:
    await asyncio.sleep(0.2)
    return web.json_response({"success": True})


def message(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Order Completed", "userId": f"u{n % 7}", "messageId": f"m-{n}",
            "properties": {"n": n, **extra.pop("properties", {})}, **extra}


def send(collector: Collector, messages: list[dict[str, Any]], per_call: int = 50) -> list[str]:
    """Post the messages in batches; the messageIds the collector acknowledged (HTTP 200)."""
    acknowledged = []
    for start in range(0, len(messages), per_call):
        chunk = messages[start:start + per_call]
        reply = post_json(collector.url + "/v1/batch", {"batch": chunk, "writeKey": "wk_test_key"})
        assert reply.status == 200, reply.body
        acknowledged += [m["messageId"] for m in chunk]
    return acknowledged


def failed_ids(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    return Counter(orjson.loads(line)["message"]["messageId"] for line in path.read_bytes().splitlines())


def test_every_acknowledged_message_is_delivered_failed_or_filtered(tmp_path: Path) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()  # nothing listens there
    with Endpoint() as healthy, Endpoint(flaky) as shaky, Endpoint(refusing) as picky, Endpoint(slow) as sleepy:
        collector = start_collector(
            tmp_path / "c", "--forward", f"healthy={healthy.url}", "--forward", f"flaky={shaky.url}",
            "--forward", f"refusing={picky.url}", "--forward", f"slow={sleepy.url}/v1",
            "--forward", f"dead={dead_url}")
        try:
            messages = [message(n) for n in range(240)]
            for n in (5, 77, 150):
                messages[n]["properties"]["bad"] = True
            for n in range(200, 210):
                messages[n]["integrations"] = {"All": False, "healthy": True}
            for n in range(210, 220):
                messages[n]["integrations"] = {"flaky": False, "Healthy": False}  # names are case sensitive
            started = time.monotonic()
            ids = send(collector, messages)
            assert time.monotonic() - started < 10  # a dead destination never holds ingest up
            figures = settled(collector, {"healthy": 240, "flaky": 240, "refusing": 240, "slow": 240})
            assert figures["dead"]["delivered"] == 0 and figures["dead"]["retries"] > 0
            base = tmp_path / "c" / "archive"
            only_healthy = {f"m-{n}" for n in range(200, 210)}
            not_flaky = {f"m-{n}" for n in range(210, 220)}
            bad = {"m-5", "m-77", "m-150"}
            for name, endpoint, filtered in (("healthy", healthy, set()), ("flaky", shaky, only_healthy | not_flaky),
                                             ("refusing", picky, only_healthy), ("slow", sleepy, only_healthy)):
                failed = failed_ids(base.with_name(f"archive.{name}.failed.ndjson"))
                delivered = set(endpoint.acknowledged)
                assert delivered | set(failed) | filtered == set(ids), name
                assert not delivered & set(failed) and not delivered & filtered, name
                assert max(endpoint.acknowledged.values()) == 1, name  # no duplicates without a crash
                d = figures[name]
                assert (d["delivered"], d["not_delivered"], d["filtered"]) == (len(delivered), sum(failed.values()),
                                                                               len(filtered)), name
                assert d["p95_ms"] is not None and d["p95_ms"] > 0
            assert set(failed_ids(base.with_name("archive.refusing.failed.ndjson"))) == bad
            assert picky.refused.keys() >= bad and not picky.acknowledged.keys() & bad
            records = [orjson.loads(line) for line in base.with_name("archive.refusing.failed.ndjson").read_bytes().splitlines()]
            assert {(r["status"], r["attempts"]) for r in records} == {(400, 1)}  # a 400 is never retried
            [row] = figures["refusing"]["errors"]
            assert (row["status"], row["reason"], row["not_delivered"]) == (400, "properties.bad is not allowed", 3)
            assert row["example"]["response"]["status"] == 400
            assert "Basic" in row["example"]["request"]["headers"]["Authorization"]
            assert "wk_test_key" not in orjson.dumps(row["example"]["request"]["headers"]).decode()
            reasons = {(r["status"], r["reason"]) for r in figures["flaky"]["errors"]}
            assert {(429, "slow down"), (500, "internal error"), (None, "server disconnected")} <= reasons
            assert figures["flaky"]["not_delivered"] == 0 and figures["flaky"]["retries"] > 0
            assert figures["slow"]["p95_ms"] >= 200
            text = subprocess.run([sys.executable, "-m", "debugger.cli", "delivery", "--socket", str(collector.socket)],
                                  capture_output=True, text=True, timeout=30)
            assert text.returncode == 0, text.stderr
            assert "refusing" in text.stdout and "properties.bad is not allowed" in text.stdout
            as_json = subprocess.run([sys.executable, "-m", "debugger.cli", "delivery", "--json", "--port",
                                      collector.url.rsplit(":", 1)[1]], capture_output=True, text=True, timeout=30)
            assert {d["name"] for d in orjson.loads(as_json.stdout)["destinations"]} == {
                "healthy", "flaky", "refusing", "slow", "dead"}
        finally:
            collector.stop()


def test_the_failed_file_is_replayable(tmp_path: Path) -> None:
    with Endpoint(refusing) as picky, Endpoint() as healthy:
        collector = start_collector(tmp_path / "c", "--forward", f"picky={picky.url}")
        try:
            ids = send(collector, [message(n, properties={"bad": n % 10 == 0}) for n in range(30)])
            settled(collector, {"picky": 30})
        finally:
            collector.stop()
        failed = tmp_path / "c" / "archive.picky.failed.ndjson"
        replay = subprocess.run([sys.executable, "-m", "debugger.cli", "replay", str(failed), "--to", healthy.url,
                                 "--report", "json", "--failed", str(tmp_path / "again.ndjson"),
                                 "--checkpoint", str(tmp_path / "cp.json")], capture_output=True, timeout=60)
        assert replay.returncode == 0, replay.stderr
        assert set(healthy.acknowledged) == {i for i in ids if int(i[2:]) % 10 == 0}


def test_sigkill_while_forwarding_then_restart_skips_nothing(tmp_path: Path) -> None:
    with Endpoint(slow) as sleepy:
        directory = tmp_path / "c"
        collector = start_collector(directory, "--forward", f"slow={sleepy.url}")
        ids = send(collector, [message(n) for n in range(6000)], per_call=500)
        deadline = time.monotonic() + 30
        while len(sleepy.acknowledged) < 2000 and time.monotonic() < deadline:  # some positions saved
            time.sleep(0.05)
        collector.stop(signal.SIGKILL)
        before = len(sleepy.acknowledged)
        assert 0 < before < len(ids)  # killed in the middle of forwarding
        position = directory / "archive.slow.forward-position"
        assert position.exists()
        collector = start_collector(directory, "--forward", f"slow={sleepy.url}")
        try:
            deadline = time.monotonic() + 90
            failed = directory / "archive.slow.failed.ndjson"
            while set(sleepy.acknowledged) | set(failed_ids(failed)) != set(ids):
                assert time.monotonic() < deadline, len(sleepy.acknowledged)
                time.sleep(0.1)
        finally:
            collector.stop()
        assert not failed_ids(failed)
        duplicates = sum(count - 1 for count in sleepy.acknowledged.values())
        in_flight = ForwardOptions().concurrency * BATCH_EVENTS
        assert duplicates <= in_flight  # only what was in flight when killed is sent twice


def test_viewers_get_delivery_lines(tmp_path: Path) -> None:
    with Endpoint(refusing) as picky:
        collector = start_collector(tmp_path / "c", "--forward", f"picky={picky.url}")
        try:
            with socket.socket(socket.AF_UNIX) as viewer:
                viewer.connect(str(collector.socket))
                viewer.sendall(b'{"subscribe": {"filter": "type:identify"}}\n')
                time.sleep(0.3)
                send(collector, [message(0), message(1, properties={"bad": True})])
                viewer.settimeout(10)
                data = b""
                kinds: list[dict[str, Any]] = []
                while not {"delivered", "failed"} <= {k.get("status") for k in kinds}:
                    data += viewer.recv(65536)
                    *lines, data = data.split(b"\n")
                    kinds += [line for line in map(orjson.loads, lines) if line["kind"] == "delivery"]
        finally:
            collector.stop()
    by_status = {line["status"]: line for line in kinds}
    assert by_status["failed"]["records"][0]["messageId"] == "m-1"
    assert by_status["failed"]["response"]["status"] == 400 and by_status["failed"]["attempts"] == 1
    assert by_status["delivered"]["records"][0]["messageId"] == "m-0"
    assert by_status["delivered"]["records"][0]["latency_ms"] >= 0
