"""Promises `segdebug replay` makes in the README, checked black-box.

Each test runs the real `segdebug replay` as a subprocess (signals are real signals) against a
real aiohttp endpoint on a 127.0.0.1 ephemeral port that records every request it gets: when it
arrived (`time.monotonic()` in the endpoint, the same clock as the test), the path, headers, the
messages and what it answered. Nothing here imports replay's internals: only the CLI and files.

Time bounds are generous lower bounds on waits the product promises (a 429's `Retry-After`),
or upper bounds far above a pass and far below what the planted bug would take.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Callable

import orjson
import pytest
from aiohttp import web

from tests import support

PATIENCE = 20.0  # seconds an awaited effect may take on a loaded machine before a test fails
START = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


@dataclass
class Seen:
    """One request as the endpoint saw it."""

    at: float  # time.monotonic() when the handler started
    wall: float  # time.time() then
    path: str
    headers: dict[str, str]
    messages: list[dict[str, Any]]
    status: int = 0  # what the endpoint answered (0: not yet)

    @property
    def numbers(self) -> list[int]:
        """properties.n of the messages: which archive lines this request carried."""
        return [m["properties"]["n"] for m in self.messages]


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: bool = False  # wait until the endpoint is released (or PATIENCE) before answering


Respond = Callable[["Endpoint", Seen], Answer]


def healthy(endpoint: "Endpoint", seen: Seen) -> Answer:
    return Answer()


class Endpoint(support.Endpoint):
    """A real HTTP endpoint in a background thread that records every request.

    `respond` decides each answer and may be swapped between runs (the URL, which a
    checkpoint remembers, stays the same); `delay` slows every answer a little."""

    shutdown_timeout = 1.0

    def __init__(self, respond: Respond = healthy, delay: float = 0.0) -> None:
        super().__init__()
        self.respond = respond
        self.delay = delay
        self.seen: list[Seen] = []
        self.released = asyncio.Event()

    def __exit__(self, *exc: object) -> None:
        self.release()
        super().__exit__(*exc)

    def release(self) -> None:
        """Answer the held requests now."""
        self.loop.call_soon_threadsafe(self.released.set)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        at, wall = time.monotonic(), time.time()
        messages = support.messages_of(orjson.loads(await request.read()))
        seen = Seen(at, wall, request.path, dict(request.headers), messages)
        self.seen.append(seen)
        answer = self.respond(self, seen)
        if answer.hold:
            try:
                await asyncio.wait_for(self.released.wait(), PATIENCE)
            except asyncio.TimeoutError:
                pass
            answer = Answer(503)  # whoever held on that long is not acknowledged
        elif self.delay:
            await asyncio.sleep(self.delay)
        seen.status = answer.status
        return web.json_response({"success": answer.status == 200}, status=answer.status,
                                 headers=answer.headers)

    def requests(self) -> list[Seen]:
        return list(self.seen)

    def acknowledged(self) -> list[dict[str, Any]]:
        """Messages of the requests answered 200, in arrival order."""
        return [m for seen in self.requests() if seen.status == 200 for m in seen.messages]


def write_archive(path: Path, count: int, *, gap: float = 0.5,
                  extra: Callable[[int], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """An archive as the collector writes it (line n: messageId m-n, properties.n = n)."""
    messages = []
    for n in range(count):
        moment = START + timedelta(seconds=n * gap)
        stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        received = (moment + timedelta(milliseconds=40)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        messages.append({
            "type": "track", "event": "Order Completed", "userId": f"u{n % 7}", "messageId": f"m-{n}",
            "properties": {"n": n}, "timestamp": stamp, "originalTimestamp": stamp, "sentAt": stamp,
            "receivedAt": received, "writeKey": "wk_promises", **(extra(n) if extra else {}),
        })
    path.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in messages))
    return messages


def command(tmp_path: Path, archive: Path, url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "debugger.cli", "replay", str(archive), "--to", url,
            "--failed", str(tmp_path / "failed.ndjson"), "--checkpoint", str(tmp_path / "cp.json"), *args]


def replay(tmp_path: Path, archive: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(tmp_path, archive, url, *args), capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.01)


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# 1. Retry-After ------------------------------------------------------------------------------

def rate_limit_headers(kind: str) -> dict[str, str]:
    if kind == "retry-after-date":  # HTTP-date two seconds ahead, whole seconds: 1 to 2 s from now
        return {"Retry-After": format_datetime(datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True)}
    return {"Retry-After": "1"} if kind == "retry-after" else {"X-RateLimit-Reset": "1"}


@pytest.mark.parametrize("kind", ["retry-after", "retry-after-date", "x-ratelimit-reset"])
def test_a_429_is_retried_no_sooner_than_the_server_asked(tmp_path: Path, kind: str) -> None:
    def limit_first(endpoint: Endpoint, seen: Seen) -> Answer:
        if len(endpoint.seen) == 1:
            return Answer(429, rate_limit_headers(kind))
        return Answer()

    archive = tmp_path / "a.ndjson"
    write_archive(archive, 30)
    with Endpoint(limit_first) as endpoint:
        done = replay(tmp_path, archive, endpoint.url, "--batch-size", "10", "--concurrency", "1")
    assert done.returncode == 0, done.stderr
    first, retry = [seen for seen in endpoint.requests() if seen.numbers[0] == 0]
    assert first.status == 429 and retry.status == 200
    # the backoff alone would retry after 0.1-0.2 s; the server asked for (at least) 1 s
    assert retry.at - first.at >= 0.9, f"retried {retry.at - first.at:.3f} s after the 429"
    assert sorted(m["properties"]["n"] for m in endpoint.acknowledged()) == list(range(30))


# 2. a 429 pauses every sender ----------------------------------------------------------------

PAUSE_MARGIN = 0.3  # requests already under way when the 429 was answered may still arrive


def test_a_429_pauses_the_other_senders_too(tmp_path: Path) -> None:
    def limit_once(endpoint: Endpoint, seen: Seen) -> Answer:
        if len(endpoint.seen) == 12:
            return Answer(429, {"Retry-After": "1"})
        return Answer()

    archive = tmp_path / "a.ndjson"
    write_archive(archive, 2000)
    # 400 requests, 4 in flight, 20 ms each: about 2 s of steady arrivals without a pause
    with Endpoint(limit_once, delay=0.02) as endpoint:
        done = replay(tmp_path, archive, endpoint.url, "--batch-size", "5", "--concurrency", "4")
    assert done.returncode == 0, done.stderr
    seen = endpoint.requests()
    [limited] = [s for s in seen if s.status == 429]
    during = [round(s.at - limited.at, 3) for s in seen
              if limited.at + PAUSE_MARGIN < s.at < limited.at + 0.9]
    assert during == [], f"requests arrived {during} s after the 429 (Retry-After: 1)"
    after = [s for s in seen if s.at > limited.at]
    assert len(after) > 300  # the run went on after the pause
    assert sorted(m["properties"]["n"] for m in endpoint.acknowledged()) == list(range(2000))


# 3 and 6. Ctrl-C while a batch is being retried, then --resume ---------------------------------

RETRIED = 100  # the first line of the batch the endpoint refuses with 500 until the resume


def interrupt_during_a_retry(tmp_path: Path, archive: Path, endpoint: Endpoint, *args: str) -> int:
    """Run replay until every batch but RETRIED's is acknowledged and RETRIED's was tried at
    least twice (so it sits in its backoff between attempts), send SIGINT, then make the
    endpoint healthy and run the same command with --resume. Returns how many requests the
    interrupted run made (the resumed run's come after them in `endpoint.seen`)."""
    def refuse_one(endpoint: Endpoint, seen: Seen) -> Answer:
        return Answer(500) if RETRIED in seen.numbers else Answer()

    def in_retry() -> bool:
        tries = [seen for seen in endpoint.requests() if RETRIED in seen.numbers and seen.status]
        return len(tries) >= 2 and len(endpoint.acknowledged()) + len(tries[0].messages) == lines

    endpoint.respond = refuse_one
    lines = len(archive.read_bytes().splitlines())
    words = command(tmp_path, archive, endpoint.url, "--batch-size", "10", "--concurrency", "2",
                    "--max-retries", "50", *args)
    process = subprocess.Popen(words, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        wait_for(in_retry, "the other batches delivered and the refused one retried")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=PATIENCE)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "resume with: segdebug replay" in out and (tmp_path / "cp.json").exists()
    assert "Traceback" not in err
    interrupted_run = len(endpoint.seen)
    endpoint.respond = healthy
    resumed = subprocess.run([*words, "--resume"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return interrupted_run


def test_a_batch_in_retry_at_ctrl_c_is_sent_by_resume(tmp_path: Path) -> None:
    archive = tmp_path / "a.ndjson"
    ids = [m["messageId"] for m in write_archive(archive, 300)]
    with Endpoint(delay=0.01) as endpoint:
        interrupt_during_a_retry(tmp_path, archive, endpoint)
        delivered = {m["messageId"] for m in endpoint.acknowledged()}
    missing = [mid for mid in ids if mid not in delivered]
    assert missing == [], f"never delivered across both runs: {missing}"
    # it was interrupted, not given up on: nothing went to the failed file
    assert not (tmp_path / "failed.ndjson").exists() or not (tmp_path / "failed.ndjson").read_bytes()


def test_new_message_ids_are_fixed_per_run_and_kept_by_resume(tmp_path: Path) -> None:
    archive = tmp_path / "a.ndjson"
    originals = {m["properties"]["n"]: m["messageId"] for m in write_archive(archive, 300)}
    with Endpoint(delay=0.01) as endpoint:
        interrupted_run = interrupt_during_a_retry(tmp_path, archive, endpoint, "--new-message-ids")
        requests = endpoint.requests()
        first_run, resumed = requests[:interrupted_run], requests[interrupted_run:]
        fresh_from = len(endpoint.seen)
        again = replay(tmp_path, archive, endpoint.url, "--batch-size", "10", "--concurrency", "2",
                       "--new-message-ids")
        assert again.returncode == 0, again.stderr
        fresh = {m["properties"]["n"]: m["messageId"] for seen in endpoint.requests()[fresh_from:]
                 for m in seen.messages}

    given: dict[int, set[str]] = {}  # every id the first run sent for each line, retries included
    for seen in first_run:
        for message in seen.messages:
            given.setdefault(message["properties"]["n"], set()).add(message["messageId"])
    assert all(len(ids) == 1 for ids in given.values()), "a retry in the same run changed the ids"
    first = {n: ids.pop() for n, ids in given.items()}
    assert sorted(first) == list(range(300))
    assert len(set(first.values())) == 300 and not set(first.values()) & set(originals.values())
    kept = {m["properties"]["n"]: m["messageId"] for seen in resumed for m in seen.messages}
    assert set(range(RETRIED, RETRIED + 10)) <= set(kept)
    assert kept == {n: first[n] for n in kept}, "--resume sent other ids than the interrupted run"
    assert sorted(fresh) == list(range(300))
    assert not set(fresh.values()) & set(first.values()), "a new run reused the earlier run's ids"


# 4. the second Ctrl-C ------------------------------------------------------------------------

def test_a_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    def hold(endpoint: Endpoint, seen: Seen) -> Answer:
        return Answer(hold=True)  # answers only when released, or after PATIENCE seconds

    archive = tmp_path / "a.ndjson"
    ids = [m["messageId"] for m in write_archive(archive, 200)]
    words = command(tmp_path, archive, "", "--batch-size", "10", "--concurrency", "2")
    with Endpoint(hold) as endpoint:
        words[words.index("--to") + 1] = endpoint.url
        process = subprocess.Popen(words, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        try:
            wait_for(lambda: len(endpoint.seen) >= 2, "two requests in flight")
            process.send_signal(signal.SIGINT)
            assert "Ctrl-C again" in (process.stderr.readline() if process.stderr else "")
            time.sleep(0.3)
            assert process.poll() is None  # the first Ctrl-C waits for the requests in flight
            process.send_signal(signal.SIGINT)
            stopped = time.monotonic()
            try:
                process.wait(timeout=5)  # the held requests would keep it PATIENCE seconds
            except subprocess.TimeoutExpired:
                raise AssertionError("still running 5 s after the second Ctrl-C") from None
            elapsed = time.monotonic() - stopped
            out = process.stdout.read() if process.stdout else ""
        finally:
            process.kill()
            process.communicate()
        assert process.returncode == 130 and elapsed < 5
        assert "resume with: segdebug replay" in out
        # what was in flight stays pending: the resume sends everything
        endpoint.respond = healthy
        endpoint.release()
        resumed = subprocess.run([*words, "--resume"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert sorted(m["messageId"] for m in endpoint.acknowledged()) == sorted(ids)


# 5. --timestamps shift -----------------------------------------------------------------------

def test_timestamps_shift_moves_the_last_event_to_now_and_keeps_the_gaps(tmp_path: Path) -> None:
    archive = tmp_path / "a.ndjson"
    originals = {m["messageId"]: m for m in write_archive(archive, 40, gap=0.75)}  # 29.25 s of events
    with Endpoint() as endpoint:
        done = replay(tmp_path, archive, endpoint.url, "--timestamps", "shift")
    assert done.returncode == 0, done.stderr
    shifts = set()
    for seen in endpoint.requests():
        for message in seen.messages:
            original = originals[message["messageId"]]
            for name in ("timestamp", "originalTimestamp", "receivedAt"):
                shifts.add(parse(message[name]) - parse(original[name]))
    assert len(shifts) == 1, f"the gaps changed: shifts {sorted(shifts)}"
    [shift] = shifts
    latest = max(parse(m["timestamp"]) for m in originals.values()) + shift
    arrived = datetime.fromtimestamp(endpoint.requests()[0].wall, timezone.utc)
    assert abs((arrived - latest).total_seconds()) < 5, f"the last event is at {latest}, now is {arrived}"
    assert len(endpoint.acknowledged()) == 40


# 7. --set and --header -----------------------------------------------------------------------

def test_set_and_header_reach_the_endpoint(tmp_path: Path) -> None:
    archive = tmp_path / "a.ndjson"

    def integrations(n: int) -> dict[str, Any]:
        return {"integrations": {"All": True, "Mixpanel": False}} if n % 2 else {}

    originals = {m["messageId"]: m for m in write_archive(archive, 50, extra=integrations)}
    with Endpoint() as endpoint:
        done = replay(tmp_path, archive, endpoint.url, "--set", "integrations.Amplitude=false",
                      "--set", 'context.app={"name": "shop"}', "--header", "X-Token:abc")
    assert done.returncode == 0, done.stderr
    tokens = [seen.headers.get("X-Token") for seen in endpoint.requests()]
    assert tokens and set(tokens) == {"abc"}, f"X-Token per request: {tokens}"
    delivered = endpoint.acknowledged()
    assert len(delivered) == 50
    for message in delivered:
        original = originals[message["messageId"]]
        assert message.get("integrations") == {**original.get("integrations", {}), "Amplitude": False}
        assert message.get("context") == {"app": {"name": "shop"}}
        assert message["properties"] == original["properties"] and message["event"] == original["event"]

