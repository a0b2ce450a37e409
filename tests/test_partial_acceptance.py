"""A destination that keeps a batch's good messages and refuses the rest with a 4xx saying which
(`collect --strict`): the sender believes the answer, so nothing is resent or duplicated, and
each refused message fails alone with its own code. Unit tests of reading such an answer and of
cutting the batch, then replay and forwarding into a real `segdebug collect --strict`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from debugger.delivery.destinations import failed_path, parse_destination
from debugger.delivery.exchange import NO_REASON, partial_refusals
from debugger.delivery.forwarder import Forwarder, ForwardOptions
from debugger.delivery.sender import cut_out
from tests.support import Collector, start_collector

BAD = {17: "missing_event", 99: "invalid_type", 150: "missing_event"}


def answer(accepted: Any, rejected: Any, errors: Any, **extra: Any) -> bytes:
    return orjson.dumps({"success": True, "accepted": accepted, "rejected": rejected, "errors": errors, **extra})


def error(index: Any, code: Any = "missing_event", message: Any = "track requires event") -> dict[str, Any]:
    return {"index": index, "code": code, "message": message}


@pytest.mark.parametrize(("status", "body", "sent", "refusals"), [
    (400, answer(48, 2, [error(17), error(30, "invalid_type", "type is 'bogus'")]), 50,
     {17: "missing_event: track requires event", 30: "invalid_type: type is 'bogus'"}),
    (400, answer(0, 1, [error(0)]), 1, {0: "missing_event: track requires event"}),  # a batch of one
    (422, answer(0, 2, [error(1), error(0)]), 2, {0: "missing_event: track requires event",
                                                  1: "missing_event: track requires event"}),
    (400, answer(1, 1, [{"index": 1}]), 2, {1: NO_REASON}),
    (400, answer(1, 1, [error(1, None, "line\nbreak")]), 2, {1: "line break"}),
    (400, answer(1, 1, [error(1, "code", 7)]), 2, {1: "code"}),
    (400, answer(1, 1, [error(1, "c", "m" * 500)]), 2, {1: "c: " + "m" * 197}),
    (200, answer(1, 1, [error(0)]), 2, {0: "missing_event: track requires event"}),  # a collector without --strict
])
def test_an_answer_accounting_for_every_message_is_a_partial_acceptance(
        status: int, body: bytes, sent: int, refusals: dict[int, str]) -> None:
    assert partial_refusals(status, body, sent) == refusals


@pytest.mark.parametrize(("status", "body", "sent"), [
    (429, answer(1, 1, [error(0)]), 2),  # about the rate, not the content
    (500, answer(1, 1, [error(0)]), 2),
    (200, answer(2, 0, []), 2),  # all kept
    (200, orjson.dumps({"success": True}), 2),  # Segment's answer
    (None, b"", 2),
    (400, b"not json", 2),
    (400, b"[1, 2]", 2),
    (400, orjson.dumps({"message": "bad message"}), 2),
    (400, answer(1, 1, [error(0)]), 3),  # counts do not add up to what was sent
    (400, answer(2, 0, []), 2),  # nothing refused: a 4xx that explains nothing
    (400, answer(True, 1, [error(0)]), 2),  # JSON true is no count
    (400, answer("1", 1, [error(0)]), 2),
    (400, answer(-1, 3, [error(0), error(1), error(2)]), 2),
    (400, answer(22, 25, [error(n) for n in range(20)]), 47),  # a capped list cannot say which
    (400, answer(0, 2, [error(0), error(0)]), 2),  # the same index twice
    (400, answer(1, 1, [error(2)]), 2),  # outside the batch
    (400, answer(1, 1, [error(-1)]), 2),
    (400, answer(1, 1, [error(None)]), 2),  # too_many_events names no item
    (400, answer(1, 1, [error(True)]), 2),
    (400, answer(1, 1, [error(1.0)]), 2),
    (400, answer(1, 1, ["index 1"]), 2),
    (400, answer(1, 1, {"1": error(1)}), 2),
])
def test_any_other_answer_is_not(status: int | None, body: bytes, sent: int) -> None:
    assert partial_refusals(status, body, sent) is None


@dataclass
class Part:
    items: list[int]


def halves(part: Part) -> tuple[Part, Part]:
    middle = len(part.items) // 2
    return Part(part.items[:middle]), Part(part.items[middle:])


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), min_size=1))))
def test_a_batch_is_cut_into_kept_runs_and_single_refused_messages(case: tuple[int, set[int]]) -> None:
    size, refused = case
    parts = cut_out(Part(list(range(size))), halves, {n: f"r{n}" for n in refused})
    assert [n for part, _ in parts for n in part.items] == list(range(size))
    assert all(part.items == [int(reason[1:])] for part, reason in parts if reason is not None)
    assert not any(set(part.items) & refused for part, reason in parts if reason is None)
    assert len(parts) <= 2 * len(refused) * (size.bit_length() + 1)  # halving's cut, not message by message


def tracks(count: int) -> list[dict[str, Any]]:
    messages = [{"type": "track", "event": "Order Completed", "userId": "u1", "messageId": f"sx-{n}",
                 "writeKey": "wk_test_key", "receivedAt": "2024-05-01T10:00:00.000Z"} for n in range(count)]
    del messages[17]["event"], messages[150]["event"]
    messages[99]["type"] = "bogus"
    return messages


def archived_ids(path: Path) -> Counter[str]:
    return Counter(orjson.loads(line)["messageId"] for line in path.read_bytes().splitlines())


def failed_codes(path: Path, status: int) -> dict[int, str]:
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert all(record["status"] == status for record in records)
    return {int(record["message"]["messageId"][3:]): record["error"] for record in records}


# a collector answers a batch with refused items 200 (400 with --strict), listing them; QA
# round 2 found replay into the plain one reporting every refused message delivered
TARGETS = pytest.mark.parametrize("options, status", [(("--strict",), 400), ((), 200)], ids=["strict", "plain"])


def good_ids(count: int) -> Counter[str]:
    return Counter(f"sx-{n}" for n in range(count) if n not in BAD)


def replay_into_a_collector(tmp_path: Path, options: tuple[str, ...], count: int,
                            *replay_args: str) -> tuple[Collector, subprocess.CompletedProcess[bytes]]:
    """`count` tracks (BAD among them) replayed by a real `segdebug replay` into a real
    collector started with `options`; the collector, stopped, and the replay's run."""
    target = start_collector(tmp_path / "target", *options)
    try:
        source = tmp_path / "sx.ndjson"
        source.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in tracks(count)))
        run = subprocess.run([sys.executable, "-m", "debugger.cli", "replay", str(source), "--to", target.url,
                              *replay_args, "--report", "json"], capture_output=True, timeout=120)
    finally:
        target.stop()
    return target, run


@TARGETS
def test_replay_into_a_collector_delivers_each_good_message_once(
        tmp_path: Path, options: tuple[str, ...], status: int) -> None:
    strict, run = replay_into_a_collector(tmp_path, options, 200, "--batch-size", "50")
    assert run.returncode == 1, run.stderr
    report = orjson.loads(run.stdout)
    assert archived_ids(strict.archive) == good_ids(200)
    errors = failed_codes(tmp_path / "sx.failed.ndjson", status)
    assert errors.keys() == BAD.keys()
    assert all(errors[n].startswith(f"HTTP {status}: {code}: ") for n, code in BAD.items())
    assert (report["delivered"], report["failed"], report["retried"]) == (197, 3, 0)
    assert report["statuses"] == ({"200": 1, "400": 3} if status == 400 else {"200": 4})  # none resent
    assert sorted((row["reason"].split(":")[0], row["not_delivered"]) for row in report["errors"]) == [
        ("invalid_type", 1), ("missing_event", 2)]


@TARGETS
def test_replay_one_call_a_message_counts_a_refused_200_as_not_delivered(
        tmp_path: Path, options: tuple[str, ...], status: int) -> None:
    """`--mode single` into a collector: a refused call is answered 200 with `success: false`
    and its code (400 with --strict): not delivered either way (helper-37: the plain
    collector's refusals were reported delivered)."""
    target, run = replay_into_a_collector(tmp_path, options, 160, "--mode", "single")
    assert run.returncode == 1, run.stderr
    report = orjson.loads(run.stdout)
    assert archived_ids(target.archive) == good_ids(160)
    assert (report["delivered"], report["failed"]) == (157, 3)
    records = [orjson.loads(line) for line in (tmp_path / "sx.failed.ndjson").read_bytes().splitlines()]
    failed = {int(record["message"]["messageId"][3:]): (record["status"], record["error"]) for record in records}
    assert failed == {  # one call a message: type "bogus" is posted to /v1/bogus
        17: (status, f"HTTP {status}: missing_event: track requires event"),
        99: (404, "HTTP 404: not_found: no such endpoint: POST /v1/bogus"),
        150: (status, f"HTTP {status}: missing_event: track requires event"),
    }


@TARGETS
def test_forwarding_into_a_collector_counts_what_it_kept(tmp_path: Path, options: tuple[str, ...], status: int) -> None:
    strict = start_collector(tmp_path / "strict", *options)
    archive = tmp_path / "archive.ndjson"
    archive.touch()

    async def forward() -> dict[str, Any]:
        forwarder = Forwarder(parse_destination(f"strict={strict.url}"), archive, ForwardOptions(batch_events=50))
        forwarder.start()
        running = asyncio.create_task(forwarder.run())
        with archive.open("ab") as out:
            out.write(b"".join(orjson.dumps(m) + b"\n" for m in tracks(200)))
        deadline = time.monotonic() + 60
        while forwarder.summary.session.delivered + forwarder.summary.session.not_delivered < 200:
            assert time.monotonic() < deadline, forwarder.summary.session.figures()
            await asyncio.sleep(0.02)
        forwarder.stop()
        await running
        return forwarder.summary.as_dict(time.time())

    try:
        figures = asyncio.run(forward())
    finally:
        strict.stop()
    assert archived_ids(strict.archive) == good_ids(200)
    errors = failed_codes(failed_path(archive, "strict"), status)
    assert all(errors[n].startswith(f"HTTP {status}: {code}: ") for n, code in BAD.items()) and len(errors) == 3
    assert (figures["delivered"], figures["not_delivered"], figures["retries"]) == (197, 3, 0)
    assert sorted((row["reason"].split(":")[0], row["not_delivered"]) for row in figures["errors"]) == [
        ("invalid_type", 1), ("missing_event", 2)]
