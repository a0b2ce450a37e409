"""Unit tests for replay's pure parts: target, byte-level edits, batching, pacing, backoff,
checkpoint, transformations and the report."""

from __future__ import annotations

import gzip
import io
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay import checkpoint as checkpoints
from debugger.delivery.backoff import backoff_delay, is_retryable, server_wait
from debugger.delivery.exchange import answer_reason
from replay.batching import Batcher
from replay.cli import _header, resume_command
from debugger.errors import CliError
from replay.pacing import HoldWindow, RateSchedule, SpeedSchedule
from debugger.delivery.rawjson import AMBIGUOUS, drop_key, edit_line, edit_lines, prepend_field, string_value
from replay.reader import SelectedLine
from replay.report import LatencyHistogram, Progress, ReplayStats
from replay.run import _total_bytes
from debugger.delivery.target import resolve
from replay.transform import Transformation, Transformer, new_message_id, parse_assignment, set_path


def test_target_base_url_posts_to_batch() -> None:
    assert resolve("http://127.0.0.1:8088", "batch").url == "http://127.0.0.1:8088/v1/batch"
    assert resolve("https://api.segment.io/", "batch").url == "https://api.segment.io/v1/batch"
    assert resolve("http://h/v1/import", "batch").url == "http://h/v1/import"
    assert resolve("http://h/v1/batch/", "batch").url == "http://h/v1/batch"


def test_target_single_mode_keeps_webhooks_and_types_segment_paths() -> None:
    assert resolve("https://hooks.example.com/in", "single").url_for("track") == "https://hooks.example.com/in"
    assert resolve("http://127.0.0.1:8088", "single").url_for("page") == "http://127.0.0.1:8088/v1/page"


@pytest.mark.parametrize("url", ["nope", "ftp://h/x", "http://", "http://h:99999999/"])
def test_target_rejects_non_urls(url: str) -> None:
    with pytest.raises(ValueError):
        resolve(url, "batch")


COLLECTOR_LINE = orjson.dumps({"type": "track", "event": "A", "properties": {"sentAt": "nested"},
                               "sentAt": "2024-01-01T00:00:00Z", "writeKey": "wk1",
                               "receivedAt": "2024-01-01T00:00:01Z"})


def test_edit_line_drops_top_level_sent_at_only() -> None:
    key, raw = edit_line(COLLECTOR_LINE, drop_sent_at=True)
    message = orjson.loads(raw)
    assert key == "wk1" and "sentAt" not in message
    assert message["properties"] == {"sentAt": "nested"}


@pytest.mark.parametrize("message", [
    {"sentAt": "x", "a": 1}, {"a": 1, "sentAt": "x"}, {"sentAt": "x"}, {"sentAt": None, "a": 2},
])
def test_drop_key_positions(message: dict) -> None:
    assert orjson.loads(drop_key(orjson.dumps(message), b"sentAt")) == {k: v for k, v in message.items() if k != "sentAt"}


def test_byte_edits_give_up_when_unsure() -> None:
    assert drop_key(b'{"sentAt":"x","context":{"a":1}}', b"sentAt") is AMBIGUOUS
    assert string_value(b'{"writeKey":"a\\"b"}', b"writeKey") is AMBIGUOUS
    assert drop_key(b'{"p":{"sentAt":"x"}}', b"sentAt") is AMBIGUOUS
    assert string_value(b'{"a":1}', b"writeKey") is None
    assert prepend_field(b"{}", "sentAt", b'"t"') == b'{"sentAt":"t"}'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["sentAt", "writeKey", "a", "b{", "}"]), inner, max_size=3),
    max_leaves=8,
)
messages = st.dictionaries(st.sampled_from(["sentAt", "writeKey", "type", "context", "x}", "{y"]),
                           json_values, max_size=5)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_edit_line_agrees_with_the_parser_or_defers(message: dict) -> None:
    """The byte-level path is either exactly what parse-edit-serialise gives, or declines."""
    result = edit_line(orjson.dumps(message), drop_sent_at=True)
    if result is None:
        return
    key, raw = result
    expected_key = message.get("writeKey") if isinstance(message.get("writeKey"), str) else None
    assert key == expected_key
    assert orjson.loads(raw) == {k: v for k, v in message.items() if k != "sentAt"}


shared_keys = st.sampled_from(["k", "k2", "kk", "", 'k"x', "k\\", "ü", "k}"])
keyed_messages = st.builds(
    lambda message, key, where: ({**message, "writeKey": key} if where == "last" else
                                 {"writeKey": key, **message} if where == "first" else message),
    messages, shared_keys, st.sampled_from(["last", "first", "none"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(keyed_messages, min_size=1, max_size=6))
def test_edit_lines_over_a_run_agrees_with_the_parser_or_defers(run: list[dict]) -> None:
    """The run loop (which reuses the previous line's decoded key) gives, line by line, what
    parse-edit-serialise gives, or defers that line to the parser; neighbours never leak."""
    lines = [orjson.dumps(message) for message in run]
    keys, items, undecided = edit_lines(lines, drop_sent_at=True)
    assert len(keys) == len(items) == len(lines)
    for index, message in enumerate(run):
        single = edit_line(lines[index], drop_sent_at=True)
        assert (index in undecided) == (single is None)
        if index in undecided:
            continue
        expected_key = message.get("writeKey") if isinstance(message.get("writeKey"), str) else None
        assert keys[index] == expected_key
        assert orjson.loads(items[index]) == {k: v for k, v in message.items() if k != "sentAt"}


def test_transformer_falls_back_to_parsing_and_rewrites() -> None:
    raw = b'{"sentAt":"x","context":{"a":1},"writeKey":"old","messageId":"m"}'
    item = SelectedLine(3, "f", 1, raw, None)
    key, out = Transformer(Transformation(write_key="new"))(item)
    assert key == "new" and orjson.loads(out) == {"context": {"a": 1}, "messageId": "m"}
    spec = Transformation(sent_at="keep", new_ids_seed="s", shift=timedelta(hours=1),
                          sets=(("integrations.All", False),))
    key, out = Transformer(spec)(SelectedLine(3, "f", 1, raw.replace(b'"x"', b'"2024-01-01T00:00:00Z"'), None))
    message = orjson.loads(out)
    assert key == "old" and message["sentAt"] == "2024-01-01T01:00:00.000Z"
    assert message["messageId"] == new_message_id("s", 3) != new_message_id("s", 4)
    assert message["integrations"] == {"All": False}


def test_set_path_and_assignment_parsing() -> None:
    message = {"integrations": "x"}
    set_path(message, "integrations.Amplitude", False)
    assert message == {"integrations": {"Amplitude": False}}
    assert parse_assignment('context.app.name="shop"') == ("context.app.name", "shop")
    for bad in ("novalue", "a=not json", "=1", "a..b=1"):
        with pytest.raises(ValueError):
            parse_assignment(bad)


def test_batcher_limits_and_never_mixes_keys() -> None:
    batcher = Batcher(max_events=3, max_bytes=1000)
    full = []
    for n in range(7):
        full += batcher.add("k1" if n % 2 else "k2", "u", b"x" * 10, n)
    full += batcher.add("k3", "u", b"y" * 500, 7)
    full += batcher.add("k3", "u", b"y" * 500, 8)  # does not fit beside the first: a new batch
    full += batcher.flush()
    assert sorted(n for b in full for n in b.ordinals) == list(range(9))
    assert [b.ordinals for b in full if b.key == "k3"] == [[7], [8]]
    assert all(len(b) <= 3 and b.size <= 1000 for b in full)
    assert all(len({b.key}) == 1 for b in full)
    assert [b.ordinals for b in full if b.key == "k2"] == [[0, 2, 4], [6]]


def test_batcher_bounds_open_batches() -> None:
    batcher = Batcher(max_events=100, max_open=2)
    assert batcher.add("a", "u", b"1", 0) == [] and batcher.add("b", "u", b"1", 1) == []
    flushed = batcher.add("c", "u", b"1", 2)
    assert [b.key for b in flushed] == ["a"]


def test_rate_schedule_is_anchored() -> None:
    schedule = RateSchedule(200)
    assert [schedule.due(None) for _ in range(3)] == [0.0, 0.005, 0.01]


def test_hold_window_groups_events_due_close_together_and_sends_them_late_not_early() -> None:
    window = HoldWindow(0.05)
    closing = [window.admit(due) for due in (0.0, 0.02, 0.05, 0.06, 0.2, 0.21)]
    assert closing == [None, None, None, 0.05, 0.06, None]  # groups: 0-0.05, 0.06, 0.2-0.21
    assert window.last == 0.21
    window.emptied()  # a full batch took what was held: the next event opens a new window
    assert window.admit(0.3) is None and window.admit(0.36) == 0.3


def test_speed_schedule_divides_and_caps_gaps() -> None:
    schedule = SpeedSchedule(10, max_wait=2.0)
    dues = [schedule.due(t) for t in (100.0, 101.0, 100.5, None, 200.0, 201.0)]
    assert dues == pytest.approx([0.0, 0.1, 0.1, 0.1, 2.1, 2.2])


def test_retry_decisions_and_backoff_bounds() -> None:
    assert all(is_retryable(s) for s in (None, 500, 502, 503, 408, 429))
    assert not any(is_retryable(s) for s in (400, 401, 403, 404, 413))
    rng = random.Random(1)
    delays = [backoff_delay(attempt, rng, base=0.2, cap=5) for attempt in range(1, 12)]
    assert all(0.1 <= d <= 5 for d in delays) and max(delays) > 1


def test_server_wait_hints() -> None:
    assert server_wait({"Retry-After": "3"}, 0) == 3
    assert server_wait({"Retry-After": "Thu, 01 Jan 1970 00:01:40 GMT"}, 90) == pytest.approx(10)
    assert server_wait({"X-RateLimit-Reset": "2"}, 0) == 2
    assert server_wait({"X-RateLimit-Reset": "1700000005"}, 1700000000) == pytest.approx(5)
    assert server_wait({"Retry-After": "soon"}, 0) is None
    assert server_wait({"Retry-After": "99999"}, 0) == 600


def test_checkpoint_round_trip_and_done_before(tmp_path: Path) -> None:
    assert checkpoints.to_runs([5, 3, 4, 9]) == [[3, 6], [9, 10]]
    path = tmp_path / "cp.json"
    checkpoints.save(path, checkpoints.Checkpoint("fp", "seed", 10, [[3, 6]], None, {"delivered": 7}))
    loaded = checkpoints.load(path)
    assert loaded is not None and loaded.totals == {"delivered": 7}
    done = loaded.done_before()
    assert [n for n in range(12) if done(n)] == [0, 1, 2, 6, 7, 8, 9]
    path.write_text("{garbage")
    with pytest.raises(ValueError):
        checkpoints.load(path)
    assert checkpoints.load(tmp_path / "none.json") is None


@pytest.mark.parametrize(("status", "answer", "shown"), [
    # a single call refused: the code goes in front, as a partial acceptance's refusals read
    (400, {"code": "invalid_event", "message": "event is the number 42, not a string"},
     "invalid_event: event is the number 42, not a string"),
    (400, {"success": False, "code": "invalid_event", "message": "m", "error": "m"}, "invalid_event: m"),
    (400, {"code": "E1", "error": "boom"}, "E1: boom"),
    (400, {"code": "E1"}, "E1"),  # the code alone is the reason already
    (400, {"code": "E1", "message": "E1: said twice"}, "E1: said twice"),
    (400, {"code": "bad\ncode", "message": "m"}, "bad code: m"),  # one line
    (400, {"message": "no code"}, "no code"),
    (400, {"code": 42, "message": "m"}, "m"),
    (500, b"<html>oops</html>", "<html>oops</html>"),
])
def test_a_refusal_reads_code_then_message(status: int, answer: Any, shown: str) -> None:
    """One reading of an error answer for replay and forwarding alike (exchange.answer_reason)."""
    assert answer_reason(status, answer if isinstance(answer, bytes) else orjson.dumps(answer)) == shown


def test_single_mode_refusals_show_their_code_in_the_report_and_failed_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """QA: replay --mode single into an endpoint answering 400 {code, message} reported
    `400  event is the number 42, not a string`, batches `invalid_event: ...`. A real
    `collect --strict` refuses the single calls; the report and the failed file say the code."""
    from debugger.cli import main
    from tests.support import running_collector

    archive = tmp_path / "a.ndjson"
    archive.write_bytes(b"".join(orjson.dumps(
        {"type": "track", "event": 42, "userId": "u", "messageId": f"m-{n}", "writeKey": "wk"}) + b"\n"
        for n in range(2)))
    for collector in running_collector(tmp_path / "collector", "--strict"):
        code = main(["replay", str(archive), "--to", collector.url, "--mode", "single",
                     "--failed", str(tmp_path / "failed.ndjson"), "--checkpoint", str(tmp_path / "cp.json")])
    assert code == 1
    rows = [line for line in capsys.readouterr().out.splitlines() if "  400  " in line]
    assert len(rows) == 1 and "400  invalid_event: " in rows[0], rows
    records = [orjson.loads(line) for line in (tmp_path / "failed.ndjson").read_bytes().splitlines()]
    errors = {record.get("error") for record in records if "error" in record}
    assert len(errors) == 1 and next(iter(errors)).startswith("HTTP 400: invalid_event: "), records


def test_latency_percentiles() -> None:
    histogram = LatencyHistogram()
    for ms in range(1, 101):
        histogram.add(ms / 1000)
    assert histogram.percentile(0.5) == pytest.approx(0.050, rel=0.05)
    assert histogram.percentile(0.99) == pytest.approx(0.099, rel=0.05)
    assert histogram.maximum == 0.1


def test_resume_command_masks_secrets() -> None:
    command = resume_command(["segdebug", "replay", "a.ndjson", "--to", "http://h",
                              "--write-key", "SECRET123", "--header", "Authorization:Bearer x"])
    assert "SECRET123" not in command and "Bearer" not in command
    assert command.endswith("--resume") and "$WRITE_KEY" in command


@pytest.mark.parametrize(("text", "message"), [
    ("nocolon", "--header 'nocolon' has no colon"),
    ("Authorization Bearer s3cret", "--header 'Authorization' (the rest not shown) has no colon"),
    (":value", "--header has no name before its colon"),
    ("X Debug: 1", "--header 'X Debug' has a space in its name"),
    ("X-Debug: a\nb", "--header 'X-Debug' has a line break in its value"),
    # QA: not usage errors before; every request then failed in the HTTP client or was cut
    ("X-\x1b[31mA: b", "--header 'X-\\x1b[31mA' has a character a header name cannot hold"),  # shown escaped
    ("X-Debug: a\x1bb", "--header 'X-Debug' has a control character in its value"),
    ("Content-Length: 5", "--header 'Content-Length' is set by replay itself (it frames each request)"),
])
def test_a_bad_header_says_what_is_wrong_without_its_value(text: str, message: str) -> None:
    """QA: `--header nocolon` read `--header 'nocolon'…: expected NAME:VALUE`, a stray ellipsis."""
    with pytest.raises(CliError) as raised:
        _header(text)
    assert str(raised.value) == f"{message}: expected NAME:VALUE, e.g. --header 'X-Debug: 1'"
    assert "s3cret" not in str(raised.value) and raised.value.code == 2


def test_a_good_header_is_trimmed() -> None:
    assert _header("X-Debug:  1 ") == ("X-Debug", "1")


def read_both_ways(paths: list[Path]) -> list[tuple[int, str]]:
    """(ordinal, text or "bad") per line, checked to be the same whether read in chunks (a first
    run) or line by line (--resume)."""
    from replay.reader import ArchiveReader, BadInputLine, Chunk, Selection

    def numbered(source: ArchiveReader) -> list[tuple[int, str]]:
        found = []
        for entry in source:
            if isinstance(entry, Chunk):
                found += [(entry.first + i, raw.decode()) for i, raw in enumerate(entry.lines)]
            elif isinstance(entry, BadInputLine):
                found.append((entry.ordinal, "bad"))
            else:
                found.append((entry.ordinal, entry.raw.decode()))
        return found

    names = [str(path) for path in paths]
    chunked = numbered(ArchiveReader(names, Selection(), parse_all=False, chunks=True))
    by_line = numbered(ArchiveReader(names, Selection(), parse_all=False, done_before=lambda n: False))
    assert chunked == by_line
    return chunked


def test_chunked_and_line_by_line_reading_agree_on_ordinals(tmp_path: Path) -> None:
    archive = tmp_path / "mixed.ndjson"
    archive.write_bytes(b'{"a":1}\n\n  \n{"a":2}\r\n garbage\n{"a":3}\n {"a":4} \n[5]\n{"a":6}\n{"a":7')
    chunked = read_both_ways([archive])
    assert [text for _, text in chunked] == ['{"a":1}', '{"a":2}', "bad", '{"a":3}', '{"a":4}', "bad",
                                              '{"a":6}', "bad"]


def test_a_failed_file_reads_back_as_the_messages_it_holds(tmp_path: Path) -> None:
    """Records unwrap to their messages' exact bytes; raw-text records are bad lines again;
    an archive after it is read as usual, with ordinals continuing."""
    from replay.failures import FailedFile
    from replay.reader import BadInputLine
    from replay.refeed import read_input

    tricky = b'{"messageId":"m-0","note":",\\"message\\":{}"}'
    path = tmp_path / "a.failed.ndjson"
    failed = FailedFile(path, append=False)
    failed.message(0, tricky, 'HTTP 500: ,"message":{}', 500, 3)
    failed.bad_line(BadInputLine(1, "a.ndjson", 2, b"not json", "invalid JSON: x"))
    failed.bad_item(2, b'{"type":"track", oops}', "invalid JSON: y")
    failed.message(3, b'{"messageId":"m-3"}', "message is 40,000 bytes")
    failed.close()
    with open(path, "ab") as out:  # a run that died while writing its last record
        out.write(b'{"replayFailed":1,"status":500,"error":"e","attempts":1,"input":4,"message":{"a":{}}')
    archive = tmp_path / "b.ndjson"
    archive.write_bytes(b'{"messageId":"b-0"}\n')
    assert read_both_ways([path, archive]) == [
        (0, tricky.decode()), (1, "bad"), (2, "bad"), (3, '{"messageId":"m-3"}'), (4, "bad"),
        (5, '{"messageId":"b-0"}')]
    bad = [(line.raw, line.reason) for line in read_input([str(path)]) if not hasattr(line, "torn")]
    assert bad[:2] == [(b"not json", "invalid JSON: x"), (b'{"type":"track", oops}', "invalid JSON: y")]
    assert "torn last line" in bad[2][1]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_knows_the_size_of_gzip_archives_but_not_of_stdin(tmp_path: Path) -> None:
    content = b'{"type":"track","event":"A"}\n' * 500
    (tmp_path / "a.ndjson").write_bytes(content)
    (tmp_path / "b.ndjson.gz").write_bytes(gzip.compress(content))
    assert _total_bytes([str(tmp_path)]) == 2 * len(content)
    assert _total_bytes([str(tmp_path / "a.ndjson"), "-"]) is None
    terminal = _Terminal()
    Progress(terminal).update(ReplayStats(), 1.2)  # an estimate that fell short: no negative ETA
    assert "[########################]" in terminal.getvalue() and "ETA -" not in terminal.getvalue()


def test_write_keys_whose_masks_are_alike_are_counted_not_listed_twice() -> None:
    """QA: the report listed `d…, d…` for `dev` and `dev2`, which reads as one key twice."""
    from replay.run import report_keys

    assert report_keys(["dev", "dev2", "wk_secret_key_eb", None, "dev"]) == ["d… (2 keys)", "wk_s…eb"]
    assert report_keys(["wk_alpha_1", "wk_beta_22"]) == ["wk_a…_1", "wk_b…22"]
