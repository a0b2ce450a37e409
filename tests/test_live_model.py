"""Pure parts of `segdebug live`: the bounded buffer, pause, rows, pretty SDK code, tab text."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from debugger.query import MATCH_ALL
from debugger.text import pictured, printable, visible
from debugger.tui.detail import problem_lines, raw_text, request_fields
from debugger.tui.export import ndjson_lines, payload_bytes
from debugger.tui.model import Counts as Stats
from debugger.tui.model import LiveModel, follows
from debugger.tui.pretty import pretty_call
from debugger.tui.rows import COLUMNS, column_widths, nothing_found_text, row_of
from debugger.tui.search import compose_query
from debugger.tui.sources import file_event as file_envelope
from debugger.tui.sources import last_lines
from debugger.tui.widgets.status_bar import counters_text, fitted_reason, mode_text, state_labels


def envelope(message: dict | None, status: str = "accepted", problems: list | None = None,
             raw: str | None = None, key: str | None = "writekey123") -> dict:
    return {
        "kind": "event", "seq": 1, "receivedAt": "2024-05-01T12:00:00.000Z",
        "endpoint": "/v1/batch", "writeKey": key, "status": status,
        "problems": problems or [], "message": message, "raw": raw,
    }


def track(n: int = 1, **extra: object) -> dict:
    return {"type": "track", "userId": f"user-{n}", "event": "Order Completed",
            "properties": {"total": n}, **extra}


class Query:
    def __init__(self, text: str, keep: object) -> None:
        self.text = text
        self.keep = keep

    def matches(self, envelope: dict) -> bool:
        return self.keep(envelope)  # type: ignore[operator]


def test_buffer_keeps_the_newest_500_and_reports_evictions() -> None:
    model = LiveModel()
    for n in range(2000):
        model.arrive(envelope(track(n)))
        if n % 300 == 0:
            model.flush()
    flush = model.flush()
    assert len(model.kept) == 500
    assert len(model.pending) == 0
    assert model.kept[-1].envelope["message"]["properties"]["total"] == 1999
    assert model.kept[0].envelope["message"]["properties"]["total"] == 1500
    assert all(item not in model.kept for item in flush.evicted)
    assert all(item in model.kept for item in flush.added)


def test_pause_counts_arrivals_and_resume_shows_the_newest() -> None:
    model = LiveModel()
    model.arrive(envelope(track(0)))
    model.flush()
    model.toggle_pause()
    for n in range(1, 1235):
        model.arrive(envelope(track(n)))
    assert model.flush().added == []
    assert model.new_while_paused == 1234
    assert mode_text(model) == "PAUSED +1,234 new"
    model.toggle_pause()
    added = model.flush().added
    assert mode_text(model) == "LIVE"
    assert len(added) == 500  # what waited is bounded too; the newest win
    assert model.kept[-1].envelope["message"]["properties"]["total"] == 1234


def test_the_state_says_when_no_collector_is_connected_and_the_reason_gives_way() -> None:
    model = LiveModel()
    model.lost("no collector is listening on /run/user/1000/segdebug/collector-8088.sock")
    assert [label for label, _ in state_labels(model)] == ["CONNECTING…"]  # never connected yet
    model.take_hello({"http": "http://127.0.0.1:8088"})
    assert [label for label, _ in state_labels(model)] == ["LIVE"] and model.lost_reason == ""
    model.lost("the collector closed the connection")
    model.toggle_pause()
    assert [label for label, _ in state_labels(model)] == ["RECONNECTING…", "PAUSED +0 new"]
    reason = "no collector is listening on /run/user/1000/segdebug/collector-8088.sock"
    assert fitted_reason(reason, len(reason)) == reason  # the whole path while it fits
    assert fitted_reason(reason, 60) == "no collector is listening on …/collector-8088.sock"
    assert fitted_reason("cannot connect to x.sock: Permission denied", 10) == \
        "cannot connect to x.sock: Permission denied"  # no path to shorten: the line cuts it


def test_clear_and_filter() -> None:
    model = LiveModel()
    for n in range(4):
        model.arrive(envelope(track(n)))
    model.flush()
    model.set_query(Query("even", lambda e: e["message"]["properties"]["total"] % 2 == 0))
    assert [i.envelope["message"]["properties"]["total"] for i in model.listed()] == [0, 2]
    model.clear()
    assert model.listed() == [] and model.flush().added == []


def test_follow_only_from_the_newest_row() -> None:
    assert follows(0, 0)
    assert follows(9, 10)
    assert not follows(3, 10)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (track(7), ("TRACK", "Order Completed", "user-7")),
        ({"type": "page", "anonymousId": "a-1", "name": "Home"}, ("PAGE", "Home", "a-1")),
        ({"type": "identify", "userId": "u9", "traits": {"email": "x@y.z"}}, ("IDENTIFY", "u9 x@y.z", "u9")),
        ({"type": "group", "userId": "u9", "groupId": "g1"}, ("GROUP", "g1", "u9")),
        ({"type": "alias", "userId": "new", "previousId": "old"}, ("ALIAS", "old -> new", "new")),
    ],
)
def test_row_text_per_call_type(message: dict, expected: tuple[str, str, str]) -> None:
    row = row_of(envelope(message))
    assert (row.type, row.name, row.user) == expected
    assert row.mark == "✓"
    assert row.source == "writekey123"  # in full: the developer's own machine
    assert row_of(envelope(message), mask_keys=True).source == "writ…23"


def test_row_marks_warnings_and_refused_calls() -> None:
    warning = {"level": "warning", "code": "naming", "message": "not Title Case", "path": "event"}
    assert row_of(envelope(track(), problems=[warning])).mark == "!"
    refused = envelope(None, "rejected", [{"level": "error", "code": "message_too_large",
                                           "message": "the message is over 32768 bytes", "path": ""}])
    row = row_of(refused)
    assert (row.mark, row.type, row.name, row.problem) == ("✗", "—", "the message is over 32768 bytes", "")


def test_the_problem_cell_shows_the_first_problem_not_already_the_name() -> None:
    def said(text: str) -> dict:
        return {"level": "warning", "code": "c", "message": text, "path": ""}
    assert row_of(envelope(track())).problem == ""
    assert row_of(envelope(track(), problems=[said("a"), said("b"), said("c")])).problem == "a (+2 more)"
    refused = row_of(envelope(None, "rejected", [said("not JSON"), said("[red]x\x1b")]))
    assert (refused.name, refused.problem) == ("not JSON", "[red]x␛")


def test_control_characters_become_visible_and_markup_stays_text() -> None:
    row = row_of(envelope(track(event="[bold]Hi\x1b[31m\n\x9b", userId="[link=x]u")))
    assert row.name == "[bold]Hi␛[31m␊␦"
    assert row.user == "[link=x]u"
    assert visible("a\tb\x7f") == "a␉b␡"
    assert visible("x\u202eevil") == "x⇄evil"


# QA: C0 drawn as pictures (␛), C1 and bidi controls as escapes (\x9b, \u202e), and U+200E/F
# and U+061C not at all. One rule now: every one of them is one cell, a picture.
C0 = [chr(code) for code in (*range(0x20), 0x7F)]
C1 = [chr(code) for code in range(0x80, 0xA0)]
BIDI = ["\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]


@pytest.mark.parametrize("char", C0 + C1 + BIDI, ids=lambda char: f"U+{ord(char):04X}")
def test_every_control_is_one_cell_picture_in_every_form_of_code(char: str) -> None:
    from rich.cells import cell_len

    picture = visible(char)
    assert len(picture) == 1 and cell_len(picture) == 1 and picture.isprintable() and picture != char
    control_picture = "␡" if char == "\x7f" else chr(0x2400 + ord(char))  # Unicode's, for C0 and DEL
    assert picture == ("␦" if char in C1 else "⇄" if char in BIDI else control_picture)
    # The same picture wherever code escapes it: JSON, a JS or Python literal, the rules' repr.
    for code in (orjson.dumps(char).decode(), pretty_call(track(event=char)),
                 pretty_call(track(event=char, context={"library": {"name": "analytics-python"}})), repr(char)):
        if char not in "\n\t\r\b\f":  # short escapes stay as code reads them
            assert picture in visible(pictured(code)), code
        assert char not in visible(pictured(code)), code
    assert printable(char) != char  # tail and validate still name it by its escape


def test_pictures_leave_every_other_escape_and_an_escaped_backslash_alone() -> None:
    assert pictured(r'"\u00e9 \u2028 \ud83d\ude00 \x41 \n"') == r'"\u00e9 \u2028 \ud83d\ude00 \x41 \n"'
    assert pictured(r'"\\u202e \\x9b \u202e \x9b \u009B"') == r'"\\u202e \\x9b ⇄ ␦ ␦"'


def test_counters_show_sampling_and_drops() -> None:
    text = counters_text(Stats(received=5000, accepted=4990, rejected=10, rate=812.5, sampled=12, dropped=3))
    assert text == "received 5,000  accepted 4,990  refused 10 · sampled: 1 in 12 · 812/s · dropped 3"
    assert counters_text(Stats(rate=2.5)) == "received 0  accepted 0  refused 0 · 2.5/s"
    assert counters_text(Stats(received=3, accepted=2, rejected=1)) == "received 3  accepted 2  refused 1"


def test_compose_query_from_toggles() -> None:
    assert compose_query("user:42", ["page", "track"], []) == "(user:42) type:track,page"
    assert compose_query("", ["track"], ["refused"]) == "type:track is:refused"
    assert compose_query("", ["track", "page", "screen", "identify", "group", "alias"],
                         ["accepted", "refused"]) == ""
    assert compose_query("x", [], ["accepted"]) == "(x) -is:refused"


def test_pretty_python_library_uses_positional_sdk_style() -> None:
    message = track(3, context={"library": {"name": "analytics-python", "version": "2.4"}})
    assert pretty_call(message) == (
        "analytics.track('user-3', 'Order Completed', {\n    'total': 3,\n})"
    )
    anonymous = {"type": "identify", "anonymousId": "a1", "traits": {"ok": True, "n": None},
                 "context": {"library": {"name": "analytics-python"}}}
    assert pretty_call(anonymous) == (
        "analytics.identify(traits={\n    'ok': True,\n    'n': None,\n}, anonymous_id='a1')"
    )


def test_pretty_browser_and_node_styles() -> None:
    browser = track(1, context={"library": {"name": "analytics.js"}})
    assert pretty_call(browser) == "analytics.track('Order Completed', {\n  total: 1\n});"
    node = track(1, context={"library": {"name": "@segment/analytics-node"}, "ip": "1.2.3.4"})
    assert pretty_call(node) == (
        "analytics.track({\n  userId: 'user-1',\n  event: 'Order Completed',\n"
        "  properties: {\n    total: 1\n  },\n  context: {\n    ip: '1.2.3.4'\n  }\n});"
    )
    unknown = {"type": "alias", "previousId": "a", "userId": "b"}
    assert pretty_call(unknown) == "analytics.alias({\n  previousId: 'a',\n  userId: 'b'\n});"


def test_pretty_escapes_control_characters_and_quotes() -> None:
    code = pretty_call(track(1, event="it's \x1b[2J\u2028"))
    assert "\x1b" not in code and "\u2028" not in code
    assert "'it\\'s \\u001b[2J\\u2028'" in code
    python = pretty_call(track(1, event="\x1b]0;t\x07", context={"library": {"name": "analytics-python"}}))
    assert "'\\x1b]0;t\\x07'" in python


def test_payload_and_ndjson_are_the_archived_bytes() -> None:
    message = track(1, text="é [b]")
    assert payload_bytes(envelope(message)) == orjson.dumps(message)
    refused = envelope(None, "rejected", raw='{"type": "track", "x": "\x1b"}')
    assert payload_bytes(refused) == '{"type": "track", "x": "\x1b"}'.encode()
    data, written, left_out = ndjson_lines([envelope(message), refused, envelope(track(2))])
    assert data == orjson.dumps(message) + b"\n" + orjson.dumps(track(2)) + b"\n"
    assert (written, left_out) == (2, 1)


def test_raw_text_draws_c1_and_bidi_controls_as_the_list_does() -> None:
    text, is_json = raw_text(envelope(track(1, event="a\x9b31mb\u202ec\u200fd")))
    assert is_json and '"event": "a␦31mb⇄c⇄d"' in text
    assert "\x9b" not in text and "\u202e" not in text and "\\" not in text
    code = pretty_call(track(1, event="\u202e"))
    assert "\u202e" not in code and "\\u202e" in code  # code, escaped; the Pretty tab pictures it


def test_raw_text_of_refused_calls_is_visible_and_bounded() -> None:
    text, is_json = raw_text(envelope(None, "rejected", raw="not json \x1b[31m"))
    assert (text, is_json) == ("not json ␛[31m", False)
    big, _ = raw_text(envelope(None, "rejected", raw="x" * 70000))
    assert big.endswith("… 4,464 more characters (y copies all)")
    exact, is_json = raw_text(envelope(None, "rejected", raw='{"a":1,"a":2,"p":1.50}'))
    assert (exact, is_json) == ('{"a":1,"a":2,"p":1.50}', True)  # as received, not re-serialised


def test_problem_lines_errors_first_with_paths_and_hints() -> None:
    problems = [
        {"level": "warning", "code": "naming", "message": "use Title Case", "path": "event"},
        {"level": "error", "code": "missing_event", "message": "no event", "path": "event",
         "hint": "add an event name"},
    ]
    assert problem_lines(envelope(track(), problems=problems)) == [
        ("error", "error  missing_event at event: no event\n    hint: add an event name"),
        ("warning", "warning  naming at event: use Title Case"),
    ]


def test_request_fields_mask_the_key_and_compute_skew() -> None:
    message = track(1, sentAt="2024-05-01T12:00:02.500Z", timestamp="2024-05-01T11:59:59.000Z")
    item = envelope(message) | {"request": {"method": "POST", "contentType": "application/json",
                                            "contentEncoding": "gzip", "userAgent": "ua\x1b",
                                            "remote": "127.0.0.1", "bytes": 1234}}
    fields = dict(request_fields(item))
    assert fields["endpoint"] == "POST /v1/batch"
    assert fields["write key"] == "writekey123"
    assert dict(request_fields(item, mask_keys=True))["write key"] == "writ…23"
    assert fields["encoding"] == "gzip"
    assert fields["user agent"] == "ua␛"
    assert fields["size"] == "1,234 bytes"
    assert fields["clock skew"] == "+2.500 s (client clock ahead)"


def test_last_lines_reads_the_tail_and_skips_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_bytes(b"".join(orjson.dumps(track(n)) + b"\n" for n in range(3000)) + b'{"torn')
    lines, offset = last_lines(path, 500, block=4096)
    assert len(lines) == 500
    assert orjson.loads(lines[0])["properties"]["total"] == 2500
    assert offset == path.stat().st_size - len(b'{"torn')


def test_file_envelope_checks_with_the_spec_rules() -> None:
    good = file_envelope(orjson.dumps(track(1, receivedAt="2024-05-01T12:00:00.000Z", writeKey="k")))
    assert good is not None and good["status"] == "accepted" and good["writeKey"] == "k"
    bad = file_envelope(orjson.dumps({"type": "track", "event": "X"}))
    assert bad is not None and any(p["code"] == "no_user_anon_id" for p in bad["problems"])
    garbage = file_envelope(b"not json")
    assert garbage is not None and garbage["status"] == "rejected"


@pytest.mark.parametrize("total", [57, 60, 80, 120, 144, 145, 200, 300])
def test_columns_fill_the_line_and_wide_lines_show_problems(total: int) -> None:
    widths = dict(zip(COLUMNS, column_widths(total), strict=True))
    shown = [width for width in widths.values() if width]
    assert sum(shown) + len(shown) + 1 == total  # one space before each column and at the end
    assert (widths["Problem"] > 0) == (total >= 145)
    assert widths["Name"] == 48 if widths["Problem"] else widths["Name"] >= 12


def test_file_event_refuses_what_the_collector_would_refuse() -> None:
    """`live --file` checks as the collector does: a message with errors is refused, not shown
    as accepted with errors (it was, before the file source used checks.make_checker)."""
    refused = file_envelope(orjson.dumps({"type": "track", "event": "No User"}))
    assert refused is not None and refused["status"] == "rejected"
    assert row_of(refused).mark == "✗"


def test_a_search_keeps_its_own_matches_while_the_stream_moves_on() -> None:
    model = LiveModel(capacity=10)
    for n in range(4):
        model.arrive(envelope(track(n)))
    model.flush()
    model.set_query(Query("even", lambda e: e["message"]["properties"]["total"] % 2 == 0))
    assert [i.envelope["message"]["properties"]["total"] for i in model.listed()] == [0, 2]
    for n in range(4, 40):  # far more than the buffer holds
        model.arrive(envelope(track(n)))
    flush = model.flush()
    assert all(item.envelope["message"]["properties"]["total"] % 2 == 0 for item in flush.added)
    totals = [i.envelope["message"]["properties"]["total"] for i in model.listed()]
    assert totals == list(range(20, 40, 2))  # the newest 10 matches, though `kept` moved on
    model.set_query(MATCH_ALL)
    assert [i.envelope["message"]["properties"]["total"] for i in model.listed()] == list(range(30, 40))


def test_clear_is_undone_by_restore_before_what_arrived_since() -> None:
    model = LiveModel()
    for n in range(3):
        model.arrive(envelope(track(n)))
    model.flush()
    assert model.clear() == 3 and model.listed() == []
    model.arrive(envelope(track(3)))
    model.flush()
    assert model.restore() == 3
    assert [i.envelope["message"]["properties"]["total"] for i in model.listed()] == [0, 1, 2, 3]
    assert model.restore() == 0


def test_history_sent_again_after_a_reconnect_is_skipped() -> None:
    model = LiveModel()
    first = [envelope(track(n)) | {"seq": n, "history": True} for n in range(3)]
    for item in first:
        model.arrive(item)
    model.take_hello({"http": "x"})
    for item in first:  # the same history on the next connection
        model.arrive(dict(item))
    model.arrive(envelope(track(3)) | {"seq": 3})
    model.flush()
    assert [i.envelope["seq"] for i in model.listed()] == [0, 1, 2, 3]


def test_counters_say_how_many_refused_calls_were_left_out() -> None:
    text = counters_text(Stats(received=900, rejected=400, sampled=8, refused_dropped=250))
    assert "sampled: 1 in 8 · 250 refused not shown" in text


def test_problem_cells_draw_quoted_control_characters_as_the_problems_tab_does() -> None:
    """Rules quote payload text with repr (`\\x1b`): the list draws it as the Problems tab does."""
    quoted = {"level": "warning", "code": "c", "path": "", "message": "event 'Esc \\x1b]0;X\\x07' is odd"}
    assert row_of(envelope(track(), problems=[quoted])).problem == "event 'Esc ␛]0;X␇' is odd"
    assert row_of(envelope(None, "rejected", [quoted])).name == "event 'Esc ␛]0;X␇' is odd"


def test_nothing_found_under_a_filter_names_it_for_a_file_too() -> None:
    said = nothing_found_text(0, "x", "/w/a.ndjson", "", "user:alice\x1b[2J").plain
    assert "This view shows only events matching --filter user:alice␛[2J, so the search" in said
    assert "curl" not in said and said.endswith("Older events are only in /w/a.ndjson.")
    assert "--filter" not in nothing_found_text(3, "x", "/w/a.ndjson", "http://127.0.0.1:1").plain
