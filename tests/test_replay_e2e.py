"""End-to-end replay tests: the real `segdebug replay` against real aiohttp endpoints on
127.0.0.1 ephemeral ports (healthy, flaky, refusing, slow), and into a real collector."""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable, Iterator

import orjson
import pytest
from aiohttp import web

from debugger.cli import main
from debugger.message import parse_time
from tests import support
from tests.support import Collector

Respond = Callable[["Endpoint", int], Awaitable[web.StreamResponse | None]]


async def ok(endpoint: "Endpoint", number: int) -> web.Response:
    return web.json_response({"success": True})


class Endpoint(support.Endpoint):
    """A real HTTP endpoint in a background thread; records what it acknowledged (200)."""

    def __init__(self, respond: Respond = ok) -> None:
        super().__init__()
        self.respond = respond
        self.requests = 0
        self.acknowledged: list[str] = []  # messageIds, in order
        self.arrivals: list[tuple[float, int]] = []  # (monotonic time, events) per 200
        self.bodies: list[tuple[dict, str]] = []  # (body, Authorization) per 200
        self.paths: list[str] = []  # request path per 200

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return web.json_response({"message": "invalid JSON"}, status=400)
        answer = await self.respond(self, self.requests)
        if answer is None:
            return support.hang_up(request)
        if answer.status == 200:
            messages = support.messages_of(body)
            self.acknowledged.extend(m["messageId"] for m in messages)
            self.arrivals.append((time.monotonic(), len(messages)))
            self.bodies.append((body, request.headers.get("Authorization", "")))
            self.paths.append(request.path)
        return answer


def write_archive(path: Path, count: int, *, gap: float = 0.01, keys: tuple[str, ...] = ("wk_one",)) -> list[str]:
    """An archive as the collector writes it; returns the messageIds in order."""
    ids = []
    with open(path, "wb") as out:
        for n in range(count):
            ids.append(f"m-{n}")
            at = f"2024-05-01T10:00:{n * gap:09.6f}Z" if n * gap < 60 else "2024-05-01T10:01:00.000Z"
            out.write(orjson.dumps({
                "type": "track", "event": "Order Completed", "userId": f"u{n % 7}",
                "messageId": f"m-{n}", "properties": {"n": n}, "timestamp": at, "originalTimestamp": at,
                "sentAt": at, "writeKey": keys[n % len(keys)], "receivedAt": at,
            }) + b"\n")
    return ids


def replay(tmp_path: Path, *args: str) -> int:
    return main(["replay", *args, "--failed", str(tmp_path / "failed.ndjson"),
                 "--checkpoint", str(tmp_path / "cp.json")])


def failed_records(tmp_path: Path) -> list[dict]:
    path = tmp_path / "failed.ndjson"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def test_healthy_endpoint_gets_every_event_exactly_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "a.ndjson"
    ids = write_archive(archive, 1234, keys=("wk_alpha_1", "wk_beta_22"))
    with Endpoint() as endpoint:
        code = replay(tmp_path, str(archive), "--to", endpoint.url, "--batch-size", "50")
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(endpoint.acknowledged) == sorted(ids)
    for body, auth in endpoint.bodies:  # batches never mix keys; the key is sent both ways
        assert {m["writeKey"] for m in body["batch"]} == {body["writeKey"]}
        assert auth == "Basic " + base64.b64encode(f"{body['writeKey']}:".encode()).decode()
        assert "sentAt" in body and all("sentAt" not in m for m in body["batch"])
    assert "delivered   1234" in out and "wk_alpha_1" not in out and "wk_a…_1" in out
    assert not (tmp_path / "cp.json").exists()


def test_gzip_and_stdin_on_the_hot_path_send_each_message_once_without_its_sent_at(tmp_path: Path) -> None:
    """One write key, one tail layout: the whole-run edit; every message arrives as archived,
    minus its stale sentAt, whether read from a .gz file or from a pipe."""
    archive = tmp_path / "a.ndjson"
    ids = write_archive(archive, 2500)
    originals = {m["messageId"]: m for m in map(orjson.loads, archive.read_bytes().splitlines())}
    (tmp_path / "a.ndjson.gz").write_bytes(gzip.compress(archive.read_bytes()))
    for source, stdin in (("a.ndjson.gz", None), ("-", archive.read_bytes())):
        with Endpoint() as endpoint:
            done = subprocess.run([sys.executable, "-m", "debugger.cli", "replay", source, "--to", endpoint.url,
                                   "--failed", "f.ndjson", "--checkpoint", "c.json"],
                                  input=stdin, capture_output=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert sorted(endpoint.acknowledged) == sorted(ids)
        received = [m for body, _ in endpoint.bodies for m in body["batch"]]
        assert all(m == {k: v for k, v in originals[m["messageId"]].items() if k != "sentAt"} for m in received)


def test_flaky_endpoint_ends_with_everything_delivered_or_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(5)

    async def flaky(endpoint: Endpoint, number: int) -> web.Response | None:
        if number in (3, 17):
            return web.json_response({"message": "slow down"}, status=429, headers={"Retry-After": "1"})
        roll = rng.random()
        if roll < 0.25:
            return web.json_response({"message": "boom"}, status=500)
        if roll < 0.35:
            return None
        return web.json_response({"success": True})

    archive = tmp_path / "a.ndjson"
    ids = write_archive(archive, 1500)
    with Endpoint(flaky) as endpoint:
        code = main(["replay", str(archive), "--to", endpoint.url, "--batch-size", "20",
                     "--max-retries", "2", "--report", "json",
                     "--failed", str(tmp_path / "failed.ndjson"), "--checkpoint", str(tmp_path / "cp.json")])
    report = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    failed_ids = [r["message"]["messageId"] for r in failed_records(tmp_path)]
    assert sorted(endpoint.acknowledged + failed_ids) == sorted(ids)  # each exactly once
    assert report["delivered"] == len(endpoint.acknowledged) and report["failed"] == len(failed_ids)
    assert report["selected"] == 1500 and report["retried"] > 0
    assert report["statuses"].get("429") == 2 and report["statuses"].get("500", 0) > 0
    assert report["statuses"].get("error", 0) > 0 and "server disconnected" in {row["reason"] for row in report["errors"]}
    assert all(r["attempts"] == 3 for r in failed_records(tmp_path))
    assert code == (1 if failed_ids else 0)


def test_400_is_not_retried(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def refuse(endpoint: Endpoint, number: int) -> web.Response:
        return web.json_response({"message": "invalid payload"}, status=400)

    archive = tmp_path / "a.ndjson"
    write_archive(archive, 250)
    with Endpoint(refuse) as endpoint:
        code = replay(tmp_path, str(archive), "--to", endpoint.url)
    # narrowed down to each message, none retried: a batch of n takes 2n - 1 requests
    assert code == 1 and endpoint.requests == 2 * 100 - 1 + 2 * 100 - 1 + 2 * 50 - 1
    records = failed_records(tmp_path)
    assert len(records) == 250
    assert {(r["status"], r["attempts"], r["error"]) for r in records} == {(400, 1, "HTTP 400: invalid payload")}
    assert "failed      250" in capsys.readouterr().out


def test_a_refused_batch_is_narrowed_down_to_the_poisoned_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The endpoint refuses (422) every batch holding message m-137, as Segment refuses a batch
    for one bad message: only that message ends in the failed file, all others delivered."""
    poisoned = b'"messageId":"m-137"'

    class Picky(Endpoint):
        async def _handle(self, request: web.Request) -> web.StreamResponse:
            if poisoned in await request.read():
                self.requests += 1
                return web.json_response({"message": "properties.n is poisoned"}, status=422)
            return await super()._handle(request)

    archive = tmp_path / "a.ndjson"
    ids = write_archive(archive, 1000)
    with Picky() as endpoint:
        code = replay(tmp_path, str(archive), "--to", endpoint.url)
    assert code == 1
    assert sorted(endpoint.acknowledged) == sorted(set(ids) - {"m-137"})
    records = failed_records(tmp_path)
    assert [r["message"]["messageId"] for r in records] == ["m-137"]
    assert (records[0]["status"], records[0]["error"]) == (422, "HTTP 422: properties.n is poisoned")
    out = capsys.readouterr().out
    assert "delivered   999" in out and "failed      1" in out


def test_resume_dry_run_agrees_with_the_real_run_about_a_missing_checkpoint(tmp_path: Path) -> None:
    archive = tmp_path / "a.ndjson"
    write_archive(archive, 3)
    with Endpoint() as endpoint:
        command = [sys.executable, "-m", "debugger.cli", "replay", str(archive), "--to", endpoint.url,
                   "--resume", "--checkpoint", str(tmp_path / "cp.json")]
        real = subprocess.run(command, capture_output=True, text=True, timeout=60)
        dry = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert real.returncode == dry.returncode == 2
    assert real.stderr == dry.stderr
    assert "no checkpoint at" in dry.stderr and dry.stderr.count("\n") == 1 and endpoint.requests == 0


def test_resume_after_sigint_sends_the_rest_once(tmp_path: Path) -> None:
    async def slow(endpoint: Endpoint, number: int) -> web.Response:
        await asyncio.sleep(0.03)
        return web.json_response({"success": True})

    archive = tmp_path / "a.ndjson"
    ids = write_archive(archive, 3000)
    command = [sys.executable, "-m", "debugger.cli", "replay", str(archive), "--batch-size", "10",
               "--failed", str(tmp_path / "failed.ndjson"), "--checkpoint", str(tmp_path / "cp.json")]
    with Endpoint(slow) as endpoint:
        process = subprocess.Popen([*command, "--to", endpoint.url], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while len(endpoint.acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        first = len(endpoint.acknowledged)
        assert process.returncode == 130, err
        assert 300 <= first < 3000 and "resume with: segdebug replay" in out
        assert (tmp_path / "cp.json").exists()
        done = subprocess.run([*command, "--to", endpoint.url, "--resume"], capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(endpoint.acknowledged) == sorted(ids)  # the rest, nothing twice
    assert f"earlier runs delivered {first}" in done.stdout
    assert "Traceback" not in err + done.stderr


def test_rate_200_for_5_seconds_sends_about_1000(tmp_path: Path) -> None:
    archive = tmp_path / "a.ndjson"
    write_archive(archive, 1100)
    with Endpoint() as endpoint:
        assert replay(tmp_path, str(archive), "--to", endpoint.url, "--rate", "200") == 0
    start = endpoint.arrivals[0][0]
    in_five = sum(n for at, n in endpoint.arrivals if at - start <= 5.0)
    assert 950 <= in_five <= 1050
    # events due within 50 ms share a request (~20 requests/s, not one per event), never early
    assert len(endpoint.arrivals) <= 150
    sent = 0
    for at, count in endpoint.arrivals:
        sent += count
        assert sent <= 200 * (at - start) + 15


def test_speed_10_on_a_10_second_archive_takes_about_a_second(tmp_path: Path) -> None:
    archive = tmp_path / "a.ndjson"
    write_archive(archive, 11, gap=1.0)  # one event a second, spanning 10 s
    with Endpoint() as endpoint:
        assert replay(tmp_path, str(archive), "--to", endpoint.url, "--speed", "10") == 0
    span = endpoint.arrivals[-1][0] - endpoint.arrivals[0][0]
    assert sum(n for _, n in endpoint.arrivals) == 11
    assert 0.9 <= span <= 2.0


def test_replay_into_a_running_collector_reproduces_the_archive(tmp_path: Path, collector: Collector) -> None:
    archive = tmp_path / "a.ndjson"
    write_archive(archive, 300, keys=("wk_collector",))
    assert replay(tmp_path, str(archive), "--to", collector.url) == 0
    deadline = time.monotonic() + 10
    while len(collector.archived()) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    original = {m["messageId"]: m for m in map(orjson.loads, archive.read_bytes().splitlines())}
    copied = {m["messageId"]: m for m in collector.archived()}
    assert copied.keys() == original.keys()
    for mid, message in original.items():
        for field in ("type", "event", "userId", "properties", "originalTimestamp", "writeKey"):
            assert copied[mid][field] == message[field]
        # fresh batch sentAt: the collector's skew correction moves timestamp by transit time only
        drift = parse_time(copied[mid]["timestamp"]) - parse_time(message["timestamp"])
        assert abs(drift.total_seconds()) < 2


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with Endpoint() as running:
        yield running


def test_garbage_lines_and_a_40kb_message_go_to_the_failed_file(
        tmp_path: Path, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "a.ndjson"
    ids = write_archive(archive, 20)
    good = archive.read_bytes().splitlines(keepends=True)
    big = orjson.dumps({"type": "track", "event": "Big", "userId": "u", "messageId": "big",
                        "properties": {"blob": "x" * 40_000}})
    archive.write_bytes(b"".join(good[:10]) + b'{"type":"track", oops}\n' + b'{"p":{"sentAt":1}, x}\n'
                        + b"".join(good[10:])
                        + b"this is not json\n[1, 2]\n" + big + b"\n" + b'{"type":"track","messageId":"torn"')
    code = replay(tmp_path, str(archive), "--to", endpoint.url)
    assert code == 1 and sorted(endpoint.acknowledged) == sorted(ids)
    reasons = [r["error"] for r in failed_records(tmp_path)]
    assert len(reasons) == 6
    assert any("torn last line" in r for r in reasons) and any("32 KB" in r for r in reasons)
    assert "failed      6" in capsys.readouterr().out
    # the dry run says what the real run sent: the 20 good ones (it counted the 40 KB one in)
    assert replay(tmp_path, str(archive), "--to", endpoint.url, "--dry-run") == 0
    assert capsys.readouterr().out.startswith("would send 20 messages ")


@pytest.mark.parametrize("args, message", [
    (["missing.ndjson", "--to", "URL"], "cannot read archive"),
    (["ARCHIVE", "--to", "not a url"], "invalid URL"),
    (["ARCHIVE", "--to", "http://127.0.0.1:9"], "cannot reach"),
    (["ARCHIVE", "--to", "URL", "--filter", "type:"], "bad query: column 6"),
    (["ARCHIVE", "--to", "URL", "--rate", "5", "--speed", "2"], "cannot be combined"),
    (["ARCHIVE", "--to", "URL", "--since", "yesterday"], "ISO 8601"),
])
def test_bad_input_is_one_clear_line(tmp_path: Path, endpoint: Endpoint, args: list[str], message: str) -> None:
    archive = tmp_path / "a.ndjson"
    write_archive(archive, 3)
    words = [w.replace("ARCHIVE", str(archive)).replace("URL", endpoint.url) for w in args]
    words = [str(tmp_path / w) if w == "missing.ndjson" else w for w in words]
    result = subprocess.run([sys.executable, "-m", "debugger.cli", "replay", *words],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == (1 if message == "cannot reach" else 2)
    assert result.stderr.startswith("segdebug: error: ") and message in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr and endpoint.requests == 0


def test_unreadable_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.ndjson"
    os.mkfifo(fifo)
    assert replay(tmp_path, str(fifo), "--to", "http://127.0.0.1:9") == 2
    assert capsys.readouterr().err.strip() == f"segdebug: error: cannot read archive {fifo}: not a regular file"
    if os.geteuid() != 0:  # root reads any file
        archive = tmp_path / "a.ndjson"
        write_archive(archive, 3)
        archive.chmod(0)
        assert replay(tmp_path, str(archive), "--to", "http://127.0.0.1:9") == 2
        assert "permission denied" in capsys.readouterr().err.lower()


def test_single_mode_posts_each_message_to_its_type_path(tmp_path: Path) -> None:
    archive = tmp_path / "a.ndjson"
    ids = write_archive(archive, 5)
    with Endpoint() as endpoint:
        assert replay(tmp_path, str(archive), "--to", endpoint.url, "--mode", "single",
                      "--write-key", "wk_new_key") == 0
    assert endpoint.acknowledged == ids and endpoint.requests == 5
    assert endpoint.paths == ["/v1/track"] * 5
    for body, auth in endpoint.bodies:
        assert "writeKey" not in body and "sentAt" in body
        assert auth == "Basic " + base64.b64encode(b"wk_new_key:").decode()


def test_stdin_and_dry_run(tmp_path: Path, endpoint: Endpoint) -> None:
    archive = tmp_path / "a.ndjson"
    write_archive(archive, 30)
    dry = subprocess.run([sys.executable, "-m", "debugger.cli", "replay", "-", "--to", endpoint.url,
                          "--dry-run", "--filter", "properties.n<10"], input=archive.read_bytes(),
                         capture_output=True, timeout=60, cwd=tmp_path)
    text = dry.stdout.decode()
    assert dry.returncode == 0 and "would send 10 messages" in text and "track:10" in text
    assert '"writeKey": "w…"' in text and "wk_one" not in text and endpoint.requests == 0
    sent = subprocess.run([sys.executable, "-m", "debugger.cli", "replay", "-", "--to", endpoint.url,
                           "--since", "2024-05-01T10:00:00.100Z", "--limit", "5"],
                          input=archive.read_bytes(), capture_output=True, timeout=60, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert endpoint.acknowledged == ["m-10", "m-11", "m-12", "m-13", "m-14"]


def test_write_keys_echoed_by_the_server_are_masked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def unauthorized(endpoint: Endpoint, number: int) -> web.Response:
        return web.json_response({"message": "write key 'wk_secret_123' is not accepted"}, status=401)

    archive = tmp_path / "a.ndjson"
    write_archive(archive, 3, keys=("wk_secret_123",))
    with Endpoint(unauthorized) as endpoint:
        assert replay(tmp_path, str(archive), "--to", endpoint.url) == 1
    captured = capsys.readouterr()
    assert "wk_secret_123" not in captured.out + captured.err
    assert "write key 'wk_s…23' is not accepted" in captured.out


@pytest.mark.parametrize("sent_at", ["keep", "drop"])
def test_write_key_override_and_sent_at_modes(tmp_path: Path, endpoint: Endpoint, sent_at: str) -> None:
    archive = tmp_path / "a.ndjson"
    ids = write_archive(archive, 120, keys=("wk_a", "wk_b"))
    assert replay(tmp_path, str(archive), "--to", endpoint.url, "--write-key", "wk_new",
                  "--sent-at", sent_at) == 0
    assert sorted(endpoint.acknowledged) == sorted(ids) and endpoint.requests == 2  # one key now
    for body, _auth in endpoint.bodies:
        assert body["writeKey"] == "wk_new" and all("writeKey" not in m for m in body["batch"])
        assert "sentAt" not in body
        assert all(("sentAt" in m) == (sent_at == "keep") for m in body["batch"])


def test_resume_keeps_filter_and_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def interrupt_once(endpoint: Endpoint, number: int) -> web.Response:
        if number == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while requests are in flight
        await asyncio.sleep(0.01)
        return web.json_response({"success": True})

    archive = tmp_path / "a.ndjson"
    write_archive(archive, 1000)
    args = [str(archive), "--filter", "properties.n>=100", "--limit", "500", "--batch-size", "10",
            "--concurrency", "2"]
    with Endpoint(interrupt_once) as endpoint:
        assert replay(tmp_path, *args, "--to", endpoint.url) == 130
        first = len(endpoint.acknowledged)
        assert replay(tmp_path, *args, "--to", endpoint.url, "--resume") == 0
    assert 0 < first < 500
    assert sorted(endpoint.acknowledged) == sorted(f"m-{n}" for n in range(100, 600))
    assert "resume with: segdebug replay" in capsys.readouterr().out


def test_a_hanging_endpoint_times_out_into_the_failed_file(tmp_path: Path) -> None:
    async def hang(endpoint: Endpoint, number: int) -> web.Response:
        await asyncio.sleep(0.8)
        return web.json_response({"success": True})

    archive = tmp_path / "a.ndjson"
    write_archive(archive, 4)
    with Endpoint(hang) as endpoint:
        assert replay(tmp_path, str(archive), "--to", endpoint.url, "--timeout", "0.3",
                      "--max-retries", "1") == 1
    assert [(r["status"], r["error"], r["attempts"]) for r in failed_records(tmp_path)] == [
        (None, "timeout after 0.3 s", 2)] * 4


def test_a_failed_file_resends_exactly_the_failed_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def refuse_some(endpoint: Endpoint, number: int) -> web.Response:
        status = (200, 500, 400)[number % 3]
        return web.json_response({"success": status == 200}, status=status)

    archive = tmp_path / "a.ndjson"
    ids = write_archive(archive, 300)
    with open(archive, "ab") as out:
        out.write(b"this is not json\n")
    failed_file, second_failed = tmp_path / "a.failed.ndjson", tmp_path / "a.failed.failed.ndjson"
    with Endpoint(refuse_some) as refusing:  # default paths: the failed file goes beside the archive
        assert main(["replay", str(archive), "--to", refusing.url, "--batch-size", "10",
                     "--max-retries", "0", "--report", "json"]) == 1
    first = orjson.loads(capsys.readouterr().out)
    failed_ids = [orjson.loads(line)["message"]["messageId"]
                  for line in failed_file.read_bytes().splitlines() if b'"message":' in line]
    assert first["failed"] == len(failed_ids) > 0 and first["bad_lines"] == 1
    assert sorted(refusing.acknowledged + failed_ids) == sorted(ids)

    before = failed_file.read_bytes()
    assert main(["replay", str(failed_file), "--to", "http://127.0.0.1:9", "--failed", str(failed_file)]) == 2
    assert "is also an input" in capsys.readouterr().err and failed_file.read_bytes() == before

    with Endpoint() as healthy:
        assert main(["replay", str(failed_file), "--to", healthy.url, "--report", "json"]) == 1
    second = orjson.loads(capsys.readouterr().out)
    assert sorted(healthy.acknowledged) == sorted(failed_ids)  # each exactly once, nothing else
    assert (second["lines"], second["delivered"], second["failed"], second["bad_lines"]) == (
        len(failed_ids) + 1, len(failed_ids), 0, 1)
    assert second["failed_file"] == str(second_failed)
    [record] = [orjson.loads(line) for line in second_failed.read_bytes().splitlines()]
    assert record["raw"] == "this is not json" and "message" not in record
    assert failed_file.read_bytes() == before


def test_the_report_counts_keys_whose_masks_are_alike(tmp_path: Path, endpoint: Endpoint,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """QA: `write keys  d…, d…` for `dev` and `dev2` read as one key listed twice."""
    archive = tmp_path / "a.ndjson"
    write_archive(archive, 10, keys=("dev", "dev2"))
    assert replay(tmp_path, str(archive), "--to", endpoint.url) == 0
    assert "write keys  d… (2 keys)\n" in capsys.readouterr().out
