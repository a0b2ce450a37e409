"""A paced replay (--rate, --speed) interrupted by Ctrl-C or killed, then resumed, loses nothing.

Real parts throughout: a real `segdebug collect` process is the target, a real `segdebug
replay` process is interrupted (SIGINT) or killed (SIGKILL) once it has written its first
checkpoint, and run again with --resume. Every input messageId must end up in the collector's
archive or in the failed file; a message may arrive twice only when the checkpoint the first
run left did not claim it as done (a request in flight or retried, or one acknowledged after
the last checkpoint a killed run wrote). The dry run of the resume promises what it sends.

The checkpoint must be true at every moment, not only at the few a tick happens to save it: a
run watched in-process (against a real aiohttp endpoint) is checked at every switch of its
event loop, on the fast and the slow path, paced or not, interrupted and resumed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from debugger.delivery.sender import DeliveryOptions
from debugger.delivery.target import resolve
from replay import checkpoint as checkpoints
from replay.reader import Selection
from replay.run import ReplayOptions, Run, prepare
from replay.transform import Transformation
from tests.support import Collector
from tests.test_replay_e2e import Endpoint

COUNT = 400
PACES = {"rate": ["--rate", "200"], "speed": ["--speed", "1"]}  # both about 200 events/s
GAP_MS = 5  # between events' receivedAt: --speed 1 sends 200 a second


def write_input(path: Path) -> list[str]:
    """Lines as a collector archives them (receivedAt last); their messageIds, in order."""
    ids = [f"rt-{n}" for n in range(COUNT)]
    with open(path, "wb") as out:
        for n, mid in enumerate(ids):
            at = f"2024-05-01T10:00:{n * GAP_MS // 1000:02d}.{n * GAP_MS % 1000:03d}Z"
            out.write(orjson.dumps({"type": "track", "userId": "r", "event": "Resume Test", "messageId": mid,
                                    "timestamp": at, "sentAt": at, "writeKey": "wk_resume", "receivedAt": at}) + b"\n")
    return ids


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    """Until `path` exists (the run's first checkpoint: about a second in), or the run ended."""
    deadline = time.monotonic() + 30
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists(), "the first run wrote no checkpoint"


@pytest.mark.parametrize("pace", sorted(PACES))
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_an_interrupted_paced_run_resumed_delivers_every_message(
        tmp_path: Path, collector: Collector, pace: str, stop: signal.Signals) -> None:
    archive, cp, failed = tmp_path / "in.ndjson", tmp_path / "cp.json", tmp_path / "failed.ndjson"
    ids = write_input(archive)
    command = [sys.executable, "-m", "debugger.cli", "replay", str(archive), "--to", collector.url,
               *PACES[pace], "--checkpoint", str(cp), "--failed", str(failed)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(cp, first)
    first.send_signal(stop)
    out, err = first.communicate(timeout=30)
    if stop == signal.SIGINT:
        assert first.returncode == 130, err
        assert "resume with: segdebug replay" in out
    else:
        assert first.returncode == -signal.SIGKILL
    left = checkpoints.load(cp)
    assert left is not None
    claimed = checkpoints.DoneBefore(left.position, left.pending)

    dry = subprocess.run([*command, "--resume", "--dry-run"], capture_output=True, text=True, timeout=60)
    resumed = subprocess.run([*command, "--resume", "--report", "json"], capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    left_over = COUNT - sum(map(claimed, range(COUNT)))
    assert orjson.loads(resumed.stdout)["selected"] == left_over  # what the checkpoint did not claim
    assert dry.stdout.startswith(f"would send {left_over} messages "), dry.stdout  # the dry run agrees
    assert not cp.exists()
    assert collector.stop() == 0  # its archive is complete once it has stopped

    arrived = Counter(message["messageId"] for message in collector.archived())
    refused = [orjson.loads(line) for line in failed.read_bytes().splitlines()] if failed.exists() else []
    assert not refused, refused
    missing = sorted(ids.index(mid) for mid in set(ids) - set(arrived))
    assert not missing, f"{len(missing)} never arrived, from line {missing[0]} (checkpoint: {left})"
    assert arrived.keys() <= set(ids)
    twice = sorted(ids.index(mid) for mid, count in arrived.items() if count > 1)
    assert not [n for n in twice if claimed(n)], "sent again although the checkpoint claimed it done"
    assert "Traceback" not in err + resumed.stderr
    print(f"{pace} {stop.name}: checkpoint position {left.position}, pending {left.pending}; "
          f"{len(twice)} of {COUNT} arrived twice")


# The checkpoint at every moment: a run watched in-process at every switch of its event loop.

def mixed_input(path: Path, count: int) -> dict[int, str]:
    """Good lines (receivedAt 2 ms apart) with a line that is not JSON, one that looks like
    an object but is not JSON (a refused batch finds it) and one over 32 KB among them; the
    messageIds of the good lines by ordinal."""
    ids: dict[int, str] = {}
    with open(path, "wb") as out:
        for n in range(count):
            at = f"2024-05-01T10:00:{n * 2 // 1000:02d}.{n * 2 % 1000:03d}Z"
            message = {"type": "track", "userId": "r", "event": "Watched", "messageId": f"w-{n}",
                       "timestamp": at, "sentAt": at, "writeKey": "wk_watch", "receivedAt": at}
            if n == 40:
                out.write(b"not json at all\n")
            elif n == 130:
                out.write(b'{"type":"track", oops}\n')
            elif n == 170:
                message["properties"] = {"blob": "x" * 40_000}
                out.write(orjson.dumps(message) + b"\n")
            else:
                ids[n] = message["messageId"]
                out.write(orjson.dumps(message) + b"\n")
    return ids


def run_options(tmp_path: Path, archive: Path, url: str, **chosen: Any) -> ReplayOptions:
    return ReplayOptions(
        archives=[str(archive)], target=resolve(url, "batch"), selection=chosen.pop("selection", Selection()),
        transformation=Transformation(), delivery=DeliveryOptions(concurrency=4),
        failed=tmp_path / "failed.ndjson", checkpoint=tmp_path / "cp.json", fingerprint="watched",
        batch_size=20, **chosen)


def failed_ordinals(path: Path) -> set[int]:
    """Input ordinals the failed file holds (a line that is not JSON by its line number: one
    archive, no blank lines)."""
    if not path.exists():
        return set()
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return {record["input"] if "input" in record else record["line"] - 1 for record in records}


async def watched(run: Run, endpoint: Endpoint, ids: dict[int, str], stop_after: int | None) -> list[str]:
    """Run `run` to its end, interrupted (a real SIGINT) once the endpoint acknowledged
    `stop_after` messages; at every switch of its loop, every line the checkpoint would claim
    as done must be acknowledged or in the failed file. The claims that were not."""
    wrong: list[str] = []

    async def watch() -> None:
        interrupt = stop_after is not None
        while True:
            state = run.snapshot()
            claimed = checkpoints.DoneBefore(state.position, state.pending)
            run.failed.flush()
            acknowledged, failed = set(endpoint.acknowledged), failed_ordinals(run.options.failed)
            lost = [n for n in range(state.position)
                    if claimed(n) and n not in failed and ids.get(n) not in acknowledged]
            if lost:
                wrong.append(f"lines {lost[0]}..{lost[-1]} ({len(lost)}) claimed at position {state.position}")
            if interrupt and len(acknowledged) >= (stop_after or 0):
                interrupt = False
                os.kill(os.getpid(), signal.SIGINT)  # the run's own handler takes it
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        await run.main()
    finally:
        watcher.cancel()
    return wrong


PATHS: dict[str, dict[str, Any]] = {
    "unpaced": {},
    "rate": {"rate": 1000.0},
    "speed": {"speed": 1.0},
    "slow-rate": {"rate": 1000.0, "selection": Selection(since=datetime(2000, 1, 1, tzinfo=timezone.utc))},
    "slow-speed": {"speed": 1.0, "selection": Selection(since=datetime(2000, 1, 1, tzinfo=timezone.utc))},
}


@pytest.mark.parametrize("path", list(PATHS))
def test_the_checkpoint_claims_only_what_is_acknowledged_or_failed_at_every_moment(tmp_path: Path, path: str) -> None:
    """Fast and slow path, paced or not; interrupted, then resumed (which reads line by
    line, paced as the first run was), to the end: every message delivered or failed."""
    archive = tmp_path / "in.ndjson"
    ids = mixed_input(archive, 600)
    with Endpoint() as endpoint:
        first = prepare(run_options(tmp_path, archive, endpoint.url, **PATHS[path]))
        wrong = asyncio.run(watched(first, endpoint, ids, stop_after=150))
        assert not wrong, wrong[:3]
        assert (tmp_path / "cp.json").exists()
        resumed = prepare(run_options(tmp_path, archive, endpoint.url, resume=True, **PATHS[path]))
        wrong = asyncio.run(watched(resumed, endpoint, ids, stop_after=None))
        assert not wrong, wrong[:3]
    assert not (tmp_path / "cp.json").exists()
    assert set(endpoint.acknowledged) == set(ids.values())
    assert failed_ordinals(tmp_path / "failed.ndjson") == {40, 130, 170}
    twice = len(endpoint.acknowledged) - len(set(endpoint.acknowledged))
    print(f"{path}: {first.stats.delivered} then {resumed.stats.delivered} delivered, {twice} twice")
