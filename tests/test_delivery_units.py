"""Unit tests of the delivery engine's pure parts: backoff schedule, integrations filter,
exchanges (masking, 4 KB bodies), the summary (key metrics, error table, windows)."""

from __future__ import annotations

import random
from pathlib import Path

from debugger.delivery.outbox import Outbox
from debugger.delivery.backoff import backoff_delay, is_retryable, server_wait
from debugger.delivery.exchange import BODY_LIMIT, Exchange, clip, hide_key, masked_headers
from debugger.delivery.failures import FailedFile
from debugger.delivery.destinations import parse_destination
from debugger.delivery.integrations import excluded
from debugger.delivery.latency import LatencyHistogram
from debugger.delivery.summary import MAX_ERROR_GROUPS, OTHER_REASON, DestinationSummary, ErrorTable, Example
from replay import refeed


def test_backoff_is_capped_jittered_and_grows() -> None:
    rng = random.Random(3)
    for attempt in range(1, 20):
        ceiling = min(5.0, 0.2 * 2 ** (attempt - 1))
        delays = [backoff_delay(attempt, rng, base=0.2, cap=5.0) for _ in range(50)]
        assert all(0.1 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 40  # jittered, not a fixed schedule
    assert max(backoff_delay(30, rng, 0.2, 5.0) for _ in range(200)) <= 5.0


def test_only_network_5xx_408_429_are_retried() -> None:
    assert all(is_retryable(s) for s in (None, 500, 502, 503, 408, 429))
    assert not any(is_retryable(s) for s in (400, 401, 403, 404, 413, 422))


def test_server_wait_reads_retry_after_then_rate_limit_reset() -> None:
    assert server_wait({"Retry-After": "3"}, 1000.0) == 3.0
    assert server_wait({"Retry-After": "Thu, 01 Jan 1970 00:16:50 GMT"}, 1000.0) == 10.0
    assert server_wait({"X-RateLimit-Reset": "5"}, 1000.0) == 5.0  # a delay, not an epoch
    assert server_wait({"Retry-After": "86400"}, 0.0) == 600.0  # capped
    assert server_wait({"X-RateLimit-Reset": str(2e9 + 7)}, 2e9) == 7.0
    assert server_wait({}, 0.0) is None


def test_integrations_as_segment_honours_them() -> None:
    assert not excluded({}, "segment")
    assert not excluded({"integrations": {}}, "segment")
    assert excluded({"integrations": {"All": False}}, "segment")
    assert not excluded({"integrations": {"All": False, "segment": True}}, "segment")
    assert not excluded({"integrations": {"All": False, "segment": {"opt": 1}}}, "segment")
    assert excluded({"integrations": {"segment": False}}, "segment")
    assert not excluded({"integrations": {"Mixpanel": False}}, "segment")
    assert excluded({"integrations": {"All": False, "Segment": True}}, "segment")  # case sensitive
    assert excluded({"integrations": {"All": True, "segment": False}}, "segment")
    assert not excluded({"integrations": "nonsense"}, "segment")


def test_headers_masked_and_bodies_cut_at_4_kb() -> None:
    shown = masked_headers({"Authorization": "Basic d2tfc2VjcmV0X2tleTo=", "Content-Type": "application/json"})
    assert shown == {"Authorization": "Basic d2tf…o=", "Content-Type": "application/json"}
    assert clip(b"x" * BODY_LIMIT) == ("x" * BODY_LIMIT, False)
    text, cut = clip("é".encode() * BODY_LIMIT)
    assert cut and len(text.encode()) <= BODY_LIMIT + 3
    assert hide_key("write key 'wk_secret_123' is not accepted", "wk_secret_123") == \
        "write key 'wk_s…23' is not accepted"


def exchange(status: int | None, reason: str = "", body: bytes = b"{}") -> Exchange:
    return Exchange("http://h/v1/batch", {"Authorization": "Basic abcdefgh"}, body, status,
                    {"Retry-After": "1"} if status == 429 else {}, b'{"message":"nope"}', reason, 0.25)


def test_exchange_as_a_record_shows_it() -> None:
    failed = exchange(500, "boom", b"y" * 5000)
    assert failed.error == "HTTP 500: boom" and not failed.ok
    request, response = failed.request(), failed.response()
    assert request["headers"]["Authorization"] == "Basic abcd…gh"
    assert request["truncated"] and len(request["body"]) == BODY_LIMIT
    assert response == {"status": 500, "headers": {}, "body": '{"message":"nope"}', "truncated": False,
                        "ms": 250.0, "error": "boom"}
    assert exchange(None, "server disconnected").error == "server disconnected"
    assert exchange(200).error == ""


def test_latency_histogram_percentiles_and_merge() -> None:
    first, second = LatencyHistogram(), LatencyHistogram()
    for ms in range(1, 101):
        (first if ms % 2 else second).add(ms / 1000)
    first.merge(second)
    assert first.count == 100 and first.maximum == 0.1
    assert abs(first.percentile(0.95) - 0.095) < 0.095 * 0.03
    assert LatencyHistogram().percentile(0.95) == 0.0


def test_summary_key_metrics_error_table_and_windows() -> None:
    summary = DestinationSummary("segment", "https://api.segment.io/v1/batch")
    start = 1_700_000_000.0  # on a minute boundary
    summary.delivered(100, [(0.010, 90), (0.500, 10)], start)
    summary.filtered(3, start)
    example = Example.of('{"event":"A"}', exchange(500, "boom"))
    summary.failed_attempt(500, "boom", 20, final=False, now=start + 1, example=example)
    summary.failed_attempt(500, "boom", 20, final=True, now=start + 2, example=example)
    summary.failed_attempt(400, "bad", 1, final=True, now=start + 30 * 60)  # half an hour later
    summary.not_delivered("not JSON", 1, start + 30 * 60, sent="{broken")
    summary.in_flight = 5
    report = summary.as_dict(start + 30 * 60 + 1)
    assert (report["delivered"], report["not_delivered"], report["filtered"], report["retries"],
            report["in_flight"]) == (100, 22, 3, 20, 5)
    assert 480 <= report["p95_ms"] <= 510
    rows = {(row["status"], row["reason"]): row for row in report["errors"]}
    assert rows[(500, "boom")]["count"] == 40 and rows[(500, "boom")]["not_delivered"] == 20
    assert rows[(500, "boom")]["last_seen"] == "2023-11-14T22:13:22.000Z"
    assert rows[(500, "boom")]["example"]["sent"] == '{"event":"A"}'
    assert rows[(500, "boom")]["example"]["request"]["headers"]["Authorization"] == "Basic abcd…gh"
    assert rows[(None, "not JSON")]["example"]["sent"] == "{broken"
    recent = report["windows"]["10m"]
    assert (recent["delivered"], recent["not_delivered"], recent["p95_ms"]) == (0, 2, None)
    assert {(r["status"], r["count"]) for r in recent["errors"]} == {(400, 1), (None, 1)}
    hour = report["windows"]["1h"]
    assert (hour["delivered"], hour["not_delivered"], hour["filtered"]) == (100, 22, 3)
    assert [m["delivered"] for m in report["minutes"]] == [100, 0]
    later = summary.as_dict(start + 3 * 3600)  # the hour has passed: windows empty, session kept
    assert later["windows"]["1h"]["delivered"] == 0 and later["delivered"] == 100


def test_error_table_is_bounded() -> None:
    table = ErrorTable()
    for number in range(MAX_ERROR_GROUPS + 10):
        table.add(500, f"reason {number}", 1, final=True, now=0.0)
    assert len(table.groups) == MAX_ERROR_GROUPS + 1
    assert table.groups[(None, OTHER_REASON)].count == 10


def test_failed_records_are_what_replay_reads_back(tmp_path: Path) -> None:
    """What the failed file writes, refeed reads back: each message's exact bytes (its key
    order, its spacing, a `"message":` inside a string) and a broken line as a bad line."""
    items = [b'{"b":1,  "a":"x\\",\\"message\\":1"}', b'{"type":"track","n":1.50}']
    failed = FailedFile(tmp_path / "f.ndjson", append=False)
    failed.messages([1, 2], items, "HTTP 500", 500, 3)
    failed.raw(b"not json", "invalid JSON", input=3)
    failed.close()
    lines = list(refeed.read_input([str(tmp_path / "f.ndjson")]))
    assert [line.raw for line in lines] == [*items, b"not json"]
    assert [type(line).__name__ for line in lines] == ["RawLine", "RawLine", "BadLine"]


def test_outbox_hands_out_complete_lines_with_their_ends(tmp_path: Path) -> None:
    """Blank lines are read past, the start of a line not complete yet waits, and each line's
    end is the offset just past its newline (what a position may be saved at)."""
    archive = tmp_path / "archive.ndjson"
    archive.write_bytes(b"")
    outbox = Outbox(archive, tmp_path / "position")
    outbox.start()
    archive.write_bytes(b'{"a":1}\n\n{"b":22}\n{"c"')
    block = outbox.read()
    assert block is not None
    assert (block.lines, block.ends, block.end) == ([b'{"a":1}', b'{"b":22}'], [8, 18], 18)
    assert outbox.read() is None  # only an incomplete line left
    with open(archive, "ab") as out:
        out.write(b':3}\n\n')
    block = outbox.read()
    assert block is not None and (block.lines, block.ends, block.end) == ([b'{"c":3}'], [26], 27)
    outbox.close()


def test_segment_itself_is_kept_from_a_message_only_by_segment_io_false() -> None:
    """Forwarding to Segment's tracking API hands the object on for Segment to apply: `All:
    false` is for Segment's destinations, so only `"Segment.io": false` keeps a message back."""
    segment = parse_destination("segment=https://api.segment.io")
    eu = parse_destination("https://events.eu1.segmentapis.com")
    hook = parse_destination("hook=http://127.0.0.1:9/v1/batch")
    assert segment.integration == eu.integration == "Segment.io"
    assert hook.integration == "hook"
    only_mixpanel = {"integrations": {"All": False, "Mixpanel": True}}
    assert not excluded(only_mixpanel, segment.integration)
    assert excluded(only_mixpanel, hook.integration)
    assert excluded({"integrations": {"Segment.io": False}}, segment.integration)
    assert not excluded({"integrations": {"segment": False}}, segment.integration)
