"""`segdebug demo`: real HTTP into a real collector, at the rate asked."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from debugger import demo
from debugger.demo import MISTAKE_EVERY, NoCollector, Traffic, load_journeys, send_demo
from debugger.rules import check
from tests.support import Collector

ROOT = Path(__file__).resolve().parent.parent


def segdebug(*args: str) -> list[str]:
    return [sys.executable, "-m", "debugger.cli", *args]


def test_demo_delivers_the_rate_asked(collector: Collector) -> None:
    done = subprocess.run(
        segdebug("demo", "--to", collector.url, "--rate", "100", "--duration", "3"),
        capture_output=True, cwd=ROOT, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert b"sent 300 demo events" in done.stderr
    archived, refused = collector.archived(), collector.refused()
    assert 270 <= len(archived) + len(refused) <= 330
    assert refused, "the deliberate missing-id calls should be refused"
    users = Counter(message.get("userId") or message.get("anonymousId") for message in archived)
    assert len(users) >= 6
    warned = Counter(p["code"] for message in archived for p in check(message))
    assert warned, "the deliberate mistakes should show as warnings"


async def test_send_demo_stops_when_asked(collector: Collector) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, stop.set)
    sent = await asyncio.wait_for(send_demo(collector.url, rate=40, duration=None, stop=stop), timeout=10)
    assert 10 <= sent <= 30
    assert len(collector.archived()) + len(collector.refused()) >= sent - 3


async def test_no_collector_is_a_clear_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NoCollector, match=f"no collector answers at http://127.0.0.1:{port}"):
        await send_demo(f"http://127.0.0.1:{port}", rate=10, duration=1)
    done = subprocess.run(
        segdebug("demo", "--to", f"http://127.0.0.1:{port}", "--duration", "1"),
        capture_output=True, cwd=ROOT, timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.decode().splitlines()[-1].startswith("segdebug: error: no collector answers")
    assert b"Traceback" not in done.stderr


async def test_a_url_without_the_tracking_api_is_a_clear_error(collector: Collector) -> None:
    """QA: `demo --to http://127.0.0.1:PORT/nope` got a 404 for every call and said it sent them."""
    with pytest.raises(NoCollector, match=r"no collector answers at .*/nope \(POST /v1/\w+ answers 404\)"):
        await send_demo(collector.url + "/nope", rate=50, duration=0.5)


def test_ctrl_c_stops_cleanly(collector: Collector) -> None:
    process = subprocess.Popen(
        segdebug("demo", "--to", collector.url, "--rate", "20"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while not collector.archived() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert b"Traceback" not in err
    assert err.decode().splitlines()[-1].startswith("sent ")


def test_bad_url_is_a_usage_error() -> None:
    done = subprocess.run(segdebug("demo", "--to", "localhost:8088"), capture_output=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        "segdebug: error: --to: invalid URL 'localhost:8088': expected http(s)://host[:port][/path]")


def test_the_samples_are_package_data_so_an_installed_demo_finds_them() -> None:
    """The demo reads its archives as `debugger.samples` (the repository's samples/, mapped in
    pyproject.toml), never by a path relative to the source tree that a wheel would not have."""
    shipped = resources.files("debugger.samples")
    names = sorted(entry.name for entry in shipped.iterdir() if entry.name.endswith(".ndjson"))
    assert names == sorted(path.name for path in (ROOT / "samples").glob("*.ndjson")) and names
    assert demo.SAMPLES == Path(str(shipped))


def test_traffic_mixes_users_fresh_ids_and_mistakes() -> None:
    journeys = load_journeys()
    sample_ids = {m.get("anonymousId") for journey in journeys for m in journey} | {
        m.get("userId") for journey in journeys for m in journey
    }
    traffic = Traffic(journeys, random.Random(7))
    messages = [traffic.next() for _ in range(MISTAKE_EVERY * 30)]
    assert len({m["messageId"] for m in messages}) == len(messages)
    ids = {m.get("userId") for m in messages} | {m.get("anonymousId") for m in messages}
    assert not (ids - {None}) & (sample_ids - {None}), "ids must be fresh, not the samples'"
    codes = Counter(p["code"] for m in messages for p in check(m))
    assert codes["no_user_anon_id"] >= 1
    assert codes["reserved_type"] >= 1
    assert codes["event_name_case"] + codes["dynamic_event_name"] >= 1
    clean = sum(1 for m in messages if not check(m))
    assert clean >= len(messages) * (1 - 1.5 / MISTAKE_EVERY)
