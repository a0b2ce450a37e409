"""`segdebug tail` as a real process against a real collector, plus its line format."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from debugger.message import mask_key
from debugger.tail import Layout, _Tail, cells, format_event, printable
from tests.support import Collector

KEY = "wk_live_0123456789"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def segdebug(*args: str) -> list[str]:
    return [sys.executable, "-m", "debugger.cli", *args]


def start_tail(collector: Collector, *args: str) -> subprocess.Popen[bytes]:
    """Start `segdebug tail` and wait until it is subscribed (its note on stderr)."""
    process = subprocess.Popen(
        segdebug("tail", "--socket", str(collector.socket), *args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    first = process.stderr.readline()
    assert b"tailing the collector at " + collector.url.encode() in first, first
    return process


def post(collector: Collector, path: str, body: dict) -> int:
    request = urllib.request.Request(
        collector.url + path, data=orjson.dumps({"writeKey": KEY, **body}),
        headers={"Content-Type": "application/json"},
    )
    try:
        with OPENER.open(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=20)
    return process.returncode, out.decode(), err.decode()


def test_readable_lines_for_accepted_and_refused_calls(collector: Collector) -> None:
    tail = start_tail(collector, "--count", "3")
    assert post(collector, "/v1/track", {"userId": "u-42", "event": "Order Completed"}) == 200
    assert post(collector, "/v1/identify", {"traits": {"plan": "pro"}}) == 200  # as Segment answers
    hostile = "Evil\x1b[2J\x1b]0;pwned\x07\u202e\x9b31m\nNext"
    assert post(collector, "/v1/track", {"anonymousId": "a-1", "event": hostile}) == 200
    code, out, err = finish(tail)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    accepted, refused, escaped = (line.split() for line in lines)
    assert accepted[1:5] == ["accepted", "track", "Order", "Completed"] and "u-42" in accepted
    assert refused[1:3] == ["REFUSED", "identify"] and "no_user_anon_id:" in refused
    assert KEY in lines[0].split()  # the developer's own machine: the key in full
    assert escaped[1] == "accepted" and "a-1" in escaped
    for control in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert control not in out
    assert "Evil\\x1b[2J\\x1b]0;pwned\\x07\\u202e\\x9b31m\\nNext" in lines[2]


def test_json_prints_the_event_envelopes_as_archived(collector: Collector) -> None:
    tail = start_tail(collector, "--json", "--count", "2")
    for user in ("u-1", "u-2"):
        assert post(collector, "/v1/page", {"userId": user, "name": "Home"}) == 200
    code, out, err = finish(tail)
    assert code == 0, err
    envelopes = [orjson.loads(line) for line in out.splitlines()]
    assert [e["kind"] for e in envelopes] == ["event", "event"]
    assert [e["message"] for e in envelopes] == collector.archived()


def test_filter_keeps_only_matching_events(collector: Collector) -> None:
    tail = start_tail(collector, "--filter", 'event:"Rare Thing"', "--count", "1", "--json")
    for n in range(20):
        post(collector, "/v1/track", {"userId": f"u{n}", "event": "Noise"})
    post(collector, "/v1/track", {"userId": "u-rare", "event": "Rare Thing"})
    code, out, err = finish(tail)
    assert code == 0, err
    (line,) = out.splitlines()
    assert orjson.loads(line)["message"]["userId"] == "u-rare"


def test_collector_going_away_is_one_clear_line(collector: Collector) -> None:
    tail = start_tail(collector)
    collector.stop()
    code, out, err = finish(tail)
    assert code == 1
    assert out == ""
    assert err.strip().splitlines() == [
        f"segdebug: error: the collector on {collector.socket} went away "
        "(connection closed); start it again with `segdebug collect`"
    ]


def test_ctrl_c_exits_quietly(collector: Collector) -> None:
    tail = start_tail(collector)
    tail.send_signal(signal.SIGINT)
    code, _, err = finish(tail)
    assert code == 130
    assert "Traceback" not in err


def test_no_collector_running_says_how_to_start_one(tmp_path: Path) -> None:
    result = subprocess.run(
        segdebug("tail", "--socket", str(tmp_path / "none.sock")), capture_output=True, timeout=30
    )
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "no collector is listening on" in lines[0]
    assert "segdebug collect" in lines[0]


def test_bad_filter_is_one_line_and_a_caret(tmp_path: Path) -> None:
    result = subprocess.run(
        segdebug("tail", "--socket", str(tmp_path / "none.sock"), "--filter", "type:"),
        capture_output=True, timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "segdebug: error: bad query: column 6: expected a value after 'type:'",
        "type:",
        "     ^",
    ]


@pytest.mark.parametrize(("text", "shown"), [
    ("plain text", "plain text"),
    ("tab\there", "tab\\there"),
    ("\x1b[31mred", "\\x1b[31mred"),
    ("bidi\u202eflip", "bidi\\u202eflip"),
    ("emoji 🎉 ok", "emoji 🎉 ok"),
])
def test_printable_escapes_control_characters_only(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_a_refused_call_without_a_message_shows_its_endpoint() -> None:
    line = format_event({
        "kind": "event", "receivedAt": "not a time", "endpoint": "/v1/batch",
        "writeKey": None, "status": "rejected", "message": None, "raw": "{",
        "problems": [{"level": "error", "code": "invalid_json", "message": "bad\x1bjson",
                      "path": ""}],
    })
    assert line.split() == ["-", "REFUSED", "/v1/batch", "-", "-", "-", "invalid_json:",
                            "bad\\x1bjson"]


def envelope(name: str, user: str, key: str | None = "wk_dev_python_key", problem: str = "") -> dict:
    problems = [{"level": "warning", "code": "naming", "message": problem, "path": ""}] if problem else []
    return {"kind": "event", "receivedAt": "2024-05-01T10:00:00.000Z", "endpoint": "/v1/track",
            "writeKey": key, "status": "accepted", "problems": problems, "raw": None,
            "message": {"type": "track", "event": name, "userId": user}}


def test_keys_are_shown_in_full_and_masked_on_request() -> None:
    python, node = envelope("A", "u", "dev_py_key"), envelope("A", "u", "dev_node_key")
    assert "dev_py_key" in format_event(python) and "dev_node_key" in format_event(node)
    masked = [format_event(e, Layout(mask_keys=True)) for e in (python, node)]
    assert "dev_py_key" not in masked[0] and "dev_node_key" not in masked[1]


def test_wide_characters_keep_the_columns_aligned() -> None:
    lines = [format_event(envelope(name, user)) for name, user in [
        ("Order Completed", "ada"), ("注文完了", "ユーザー"), ("Party 🎉🎉", "😀 user"),
        ("x" * 40, "y" * 40), ("日本語" * 20, "u")]]
    key_columns = {cells(line[: line.index("wk_dev_python_key")]) for line in lines}
    assert len(key_columns) == 1, [cells(line) for line in lines]


def test_a_long_problem_text_is_cut_to_the_line() -> None:
    long = "the event name should be Object Action in Title Case, " * 10
    line = format_event(envelope("Order Completed", "u", problem=long), Layout(width=120))
    assert cells(line) <= 120 and line.endswith("…")
    wide = format_event(envelope("Order Completed", "u", problem="名前" * 100), Layout(width=131))
    assert 129 <= cells(wide) <= 131 and wide.endswith("…")
    assert format_event(envelope("A", "u", problem=long)).endswith("Case,")  # a pipe: all of it


def test_tail_last_prints_the_newest_events_before_following(collector: Collector) -> None:
    for n in range(8):
        assert post(collector, "/v1/track", {"userId": f"u-{n}", "event": "Order Completed"}) == 200
    tail = start_tail(collector, "--last", "3", "--count", "4", "--json")
    assert post(collector, "/v1/track", {"userId": "u-live", "event": "Order Completed"}) == 200
    code, out, err = finish(tail)
    assert code == 0, err
    got = [orjson.loads(line) for line in out.splitlines()]
    assert [e["message"]["userId"] for e in got] == ["u-5", "u-6", "u-7", "u-live"]
    assert [e.get("history", False) for e in got] == [True, True, True, False]


def test_tail_last_over_500_is_a_clear_usage_error(collector: Collector) -> None:
    result = subprocess.run(segdebug("tail", "--socket", str(collector.socket), "--last", "501"),
                            capture_output=True, timeout=20)
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert len(result.stderr.decode().strip().splitlines()) == 1


def test_json_with_mask_keys_masks_them_too(collector: Collector) -> None:
    """QA: `tail --json --mask-keys` printed the write key in full, in the envelope, the
    message and a refused call's raw text."""
    tail = start_tail(collector, "--count", "2", "--json", "--mask-keys")
    assert post(collector, "/v1/track", {"userId": "u-1", "event": "Order Completed"}) == 200
    assert post(collector, "/v1/track", {"userId": "u-1"}) == 200  # refused: no event
    code, out, _ = finish(tail)
    assert code == 0 and len(out.splitlines()) == 2
    assert KEY not in out and mask_key(KEY) in out
    refused = orjson.loads(out.splitlines()[1])
    assert refused["status"] == "rejected" and mask_key(KEY) in refused["raw"]


WIDTHS = [40, 60, 67, 68, 79, 80, 81, 100, 120, 133, 200]


def lines_to_fit() -> list[dict]:
    """Events whose every column is long somewhere: names, users, keys, problems, wide text."""
    refused_item = {**envelope("-", "-", "wk_live_0123456789abcdef0123456789", problem="no type"),
                    "status": "rejected", "endpoint": "/v1/batch", "message": None}
    return [
        envelope("Order Completed", "user_1234"),
        envelope("Order Completed With A Much Longer Name Than Fits", "a-very-long-user-id-of-40-characters-xx",
                 key="0123456789abcdef0123456789abcdef", problem="event name should be Title Case " * 4),
        envelope("注文完了" * 10, "ユーザー" * 10, key="鍵" * 20, problem="名前" * 60),
        envelope("Party 🎉" * 8, "😀 user" * 8, problem="🎉" * 90),
        refused_item,
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_line_fits_the_terminal_and_keeps_its_columns(width: int) -> None:
    """At 80 columns every line wrapped: time, status, type, name (30) and user (22) already
    took 90 cells before the key."""
    lines = [format_event(e, Layout(width=width)) for e in lines_to_fit()]
    assert all(cells(line) <= width for line in lines), [(cells(line), line) for line in lines]
    if width >= 68:  # wide enough for every column at its narrowest: they line up
        users = {at(line, user) for line, user in zip(lines[:4], ["user_1234", "a-very", "ユ", "😀"], strict=True)}
        keys = {at(line, key) for line, key in zip(lines, ["wk_dev_", "0123456", "鍵", "wk_dev_", "wk_live"], strict=True)}
        assert len(users) == 1 and len(keys) == 1, (users, keys, lines)


def at(line: str, text: str) -> int:
    """The cell where `text` starts in `line`."""
    return cells(line[: line.index(text)])


def test_the_least_useful_column_is_cut_first() -> None:
    """The key goes first (down to 8 cells), then the user (to 10), then the name (to 12);
    the time, status and type are never cut."""
    event = envelope("Order Completed With A Much Longer Name", "a-very-long-user-id-xx",
                     key="wk_live_0123456789abcdef")
    wide = format_event(event, Layout(width=200)).split("  ")
    assert [part.strip() for part in wide if part.strip()][2:] == [
        "track", "Order Completed With A Much L…", "a-very-long-user-id-xx", "wk_live_0123456789abcdef"]
    at_100 = format_event(event, Layout(width=100))
    assert "a-very-long-user-id-xx" in at_100 and at_100.endswith("  wk_live_0…")
    at_80 = format_event(event, Layout(width=80))
    assert at_80.endswith("  Order Completed With A …  a-very-lo…  wk_live…") and cells(at_80) == 80
    at_68 = format_event(event, Layout(width=68))
    assert at_68.endswith("  Order Compl…  a-very-lo…  wk_live…") and cells(at_68) == 68
    at_40 = format_event(event, Layout(width=40))
    assert at_40.split()[1:3] == ["accepted", "track"] and cells(at_40) == 40 and at_40.endswith("…")


@pytest.mark.parametrize("width", [0, 60, 80])
def test_a_refused_batch_item_keeps_its_endpoint_as_type_and_fits(width: int) -> None:
    """The type column shows the endpoint of a refused call without a type, on purpose: it is
    one cell wider than the column, and takes it from the name ("-"), so the columns after it
    stay where the other lines have them."""
    refused = {**envelope("-", "-", problem="no type"), "status": "rejected", "endpoint": "/v1/batch",
               "message": None}
    accepted = envelope("Order Completed", "u-1")
    line, other = (format_event(e, Layout(width=width)) for e in (refused, accepted))
    assert line.split()[1:3] == ["REFUSED", "/v1/batch"]
    assert not width or cells(line) <= width
    assert width == 60 or at(line, "wk_dev") == at(other, "wk_dev")  # at 60 the key is cut off


def test_json_lines_are_never_cut_and_a_resized_terminal_is_followed() -> None:
    out = io.BytesIO()
    widths = iter([200, 80])
    tail = _Tail(False, None, out, Layout(), measure=lambda: next(widths))
    event = envelope("Order Completed", "user_1234", problem="event name should be Title Case " * 4)
    tail.event(event)
    tail.event(event)
    first, second = out.getvalue().decode().splitlines()
    assert cells(first) == 200 and cells(second) == 80
    out = io.BytesIO()
    _Tail(True, None, out, Layout(width=40), measure=lambda: 40).event(event)
    assert orjson.loads(out.getvalue()) == event
