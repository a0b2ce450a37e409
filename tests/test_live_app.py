"""`segdebug live` driven with Textual's Pilot against a real `segdebug collect` process.

Events are sent over loopback with raw HTTP and with the real analytics-python SDK.
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any, Callable

import aiohttp
import orjson
import segment.analytics as segment_analytics
from textual.widgets import Static

from debugger.rules import check
from debugger.tui.app import LiveApp, create_app
from debugger.tui.export import write_new_file
from debugger.tui.sources import SocketSource
from tests.support import Collector, start_collector

SIZE = (120, 40)


def live_app(collector: Collector, tmp_path: Path, max_rate: float = 100_000) -> LiveApp:
    return create_app(
        SocketSource(collector.socket, max_rate=max_rate),
        copy_path=tmp_path / "copied.json", save_dir=tmp_path,
    )


async def wait_for(pilot: Any, condition: Callable[[], object], timeout: float = 15.0) -> None:
    """Let the app run until `condition()` holds (generous: the machine is shared)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause(0.05)


async def post(url: str, path: str, body: bytes | dict, **headers: str) -> int:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with aiohttp.ClientSession() as session:
        async with session.post(url + path, data=data,
                                headers={"Content-Type": "application/json", **headers}) as answer:
            await answer.read()
            return answer.status


def batch(*messages: dict, key: str = "wk_live_test") -> dict:
    return {"batch": list(messages), "writeKey": key}


def track(n: int, **extra: object) -> dict:
    return {"type": "track", "userId": f"user-{n}", "event": "Button Clicked",
            "messageId": f"m-{n}", "properties": {"n": n}, **extra}


def mark(message: dict) -> str:
    """The mark a row should carry: the spec rules decide whether there are warnings."""
    return "!" if check(message) else "✓"


def rows(app: LiveApp) -> list[list[str]]:
    table = app.table
    return [list(table.cells_at(i)) for i in range(table.row_count)]


def header(app: LiveApp) -> str:
    return str(app.query_one("#status").render())


def state_line(app: LiveApp) -> str:
    """The header's second line: the state, then the counters."""
    return header(app).splitlines()[1]


def body(app: LiveApp, pane: str) -> str:
    """The plain text a detail pane shows."""
    content = app.query_one(f"#{pane}-body", Static).content
    return getattr(content, "code", None) or getattr(content, "plain", None) or str(content)


async def wait_rows(pilot: Any, app: LiveApp, count: int) -> None:
    await wait_for(pilot, lambda: app.table.row_count == count)


async def test_events_appear_with_their_row_text(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        assert collector.url in header(app)
        assert str(collector.archive)[-40:] in header(app)  # long paths keep their end
        sent = [
            track(1),
            {"type": "identify", "userId": "u-9", "traits": {"email": "ada@example.com"}, "messageId": "m-i"},
            {"type": "page", "anonymousId": "anon-1", "name": "Pricing", "messageId": "m-p"},
            {"type": "alias", "userId": "u-9", "previousId": "anon-1"},
        ]
        await post(collector.url, "/v1/batch", batch(*sent))
        await wait_rows(pilot, app, 4)
        assert [row[1:] for row in rows(app)] == [
            [mark(sent[0]), "TRACK", "Button Clicked", "user-1", "wk_live_test", ""],
            [mark(sent[1]), "IDENTIFY", "u-9 ada@example.com", "u-9", "wk_live_test", ""],
            [mark(sent[2]), "PAGE", "Pricing", "anon-1", "wk_live_test", ""],
            ["!", "ALIAS", "anon-1 -> u-9", "u-9", "wk_live_test", "messageId is missing"],  # a warning
        ]
        assert mark(sent[0]) == "✓"
        await wait_for(pilot, lambda: "received 4" in header(app))
        assert "accepted 4" in header(app) and "refused 0" in header(app)


async def test_pause_counts_arrivals_and_resume_shows_them(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        await post(collector.url, "/v1/batch", batch(track(0)))
        await wait_rows(pilot, app, 1)
        await pilot.press("space")
        assert "PAUSED +0 new" in header(app)
        await post(collector.url, "/v1/batch", batch(*(track(n) for n in range(1, 31))))
        await wait_for(pilot, lambda: "PAUSED +30 new" in header(app))
        assert app.table.row_count == 1
        await pilot.press("space")
        await wait_rows(pilot, app, 31)
        assert "LIVE" in header(app)
        assert rows(app)[-1][4] == "user-30"
        assert app.table.cursor_row == 30  # following the newest


async def test_the_list_holds_500_after_2000_events(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        for start in range(0, 2000, 250):
            await post(collector.url, "/v1/batch", batch(*(track(n) for n in range(start, start + 250))))
        await wait_for(pilot, lambda: app.table.row_count == 500 and rows(app)[-1][4] == "user-1999")
        assert len(app.model.kept) == 500
        assert rows(app)[0][4] == "user-1500"
        assert len(collector.archived()) == 2000


async def test_search_hides_rows_and_a_bad_query_keeps_the_filter(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        await post(collector.url, "/v1/batch", batch(
            track(1), {"type": "page", "userId": "user-2", "name": "Home"}, track(3),
        ))
        await wait_rows(pilot, app, 3)
        await pilot.press("slash")
        await pilot.press(*"type:page", "enter")
        await wait_rows(pilot, app, 1)
        assert rows(app)[0][2:4] == ["PAGE", "Home"]
        # The search filters what is shown: a matching event is listed, the other one is kept.
        await post(collector.url, "/v1/batch", batch(track(4), {"type": "page", "userId": "u5", "name": "Docs"}))
        await wait_rows(pilot, app, 2)
        await pilot.press("slash")
        app.search_bar.input.value = ""
        await pilot.press(*"type:", "enter")
        error = app.query_one("#search-error")
        assert error.display
        assert "column" in str(error.render()) and "filter unchanged" in str(error.render())
        assert app.model.query.text == "type:page"
        assert [row[3] for row in rows(app)] == ["Home", "Docs"]
        await pilot.press("escape")
        await wait_rows(pilot, app, 5)  # the buffer kept what the search hid, and what arrived


async def test_quick_toggle_for_refused_calls(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        await post(collector.url, "/v1/batch", batch(track(1), {"type": "track", "event": "No user"}))
        await wait_rows(pilot, app, 2)
        await pilot.press("slash")
        await pilot.click("#toggle-refused")
        await wait_rows(pilot, app, 1)
        assert rows(app)[0][1] == "✗"


async def test_detail_tabs_for_a_track_from_analytics_python(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        client = segment_analytics.Client("py_write_key", host=collector.url, sync_mode=True)
        await asyncio.to_thread(client.track, "user-42", "Signed Up", {"plan": "pro", "seats": 3})
        await wait_rows(pilot, app, 1)
        await wait_for(pilot, lambda: app.detail.shown_id is not None)
        assert body(app, "pretty") == (
            "analytics.track('user-42', 'Signed Up', {\n    'plan': 'pro',\n    'seats': 3,\n})"
        )
        await pilot.press("2")
        assert app.detail.active == "raw"
        raw = orjson.loads(body(app, "raw"))
        assert raw == collector.archived()[0]
        assert raw["context"]["library"]["name"] == "analytics-python"
        await pilot.press("3")
        assert body(app, "problems") == "No problems."
        await pilot.press("4")
        request = body(app, "request")
        assert "POST /v1/batch" in request
        assert "py_write_key" in request  # in full (live --mask-keys masks)
        assert "application/json" in request
        assert "analytics-python" in request  # the SDK's user agent
        assert "clock skew" in request and "unknown" not in request.split("clock skew")[1]


async def test_detail_tabs_for_a_refused_oversize_call(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    big = orjson.dumps(track(1, properties={"blob": "x" * 40_000}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        auth = base64.b64encode(b"big_key:").decode()
        assert await post(collector.url, "/v1/track", big, Authorization=f"Basic {auth}") == 400
        await wait_rows(pilot, app, 1)
        assert rows(app)[0][1] == "✗"
        await wait_for(pilot, lambda: app.detail.shown_id is not None)
        tab = app.query_one("#detail").query_one("TabbedContent").get_tab("problems")
        assert str(tab.label) == "Problems (1)"
        assert "Refused" in body(app, "pretty")
        await pilot.press("3")
        assert "message_too_large" in body(app, "problems")
        await pilot.press("2")
        raw = body(app, "raw")
        assert "blob" in raw and len(raw) >= 40_000
        await pilot.press("4")
        assert "/v1/track" in body(app, "request")
        await pilot.press("y")
        assert (tmp_path / "copied.json").read_bytes() == big


async def test_copy_and_write_produce_the_exact_payloads(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        written: list[str] = []
        driver_write = app._driver.write  # type: ignore[union-attr]
        app._driver.write = lambda data: (written.append(data), driver_write(data))  # type: ignore[union-attr]
        await wait_for(pilot, lambda: app.model.connection == "connected")
        await post(collector.url, "/v1/batch", batch(track(1, note="é"), track(2), {"type": "track", "event": "x"}))
        await wait_rows(pilot, app, 3)
        archived = collector.archived()
        await pilot.press("up")
        await pilot.press("y")
        expected = orjson.dumps(archived[1])
        assert (tmp_path / "copied.json").read_bytes() == expected
        assert app.clipboard == expected.decode()
        osc = f"\x1b]52;c;{base64.b64encode(expected).decode()}\a"
        assert osc in written
        await pilot.press("w")
        await pilot.press("w")  # within the same second: a second file, the first one intact
        files = sorted(tmp_path.glob("segdebug-*.ndjson"), key=lambda path: path.stat().st_mtime_ns)
        assert len(files) == 2
        for written_file in files:
            assert written_file.read_bytes() == b"".join(orjson.dumps(m) + b"\n" for m in archived)
        await pilot.press("c")
        assert app.table.row_count == 0 and not app.model.kept


def test_written_files_never_replace_each_other(tmp_path: Path) -> None:
    paths = [write_new_file(tmp_path, "segdebug-x", ".ndjson", bytes([n])) for n in range(3)]
    assert [path.name for path in paths] == ["segdebug-x.ndjson", "segdebug-x-2.ndjson", "segdebug-x-3.ndjson"]
    assert [path.read_bytes() for path in paths] == [b"\x00", b"\x01", b"\x02"]


async def test_markup_and_escape_sequences_stay_literal(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        await post(collector.url, "/v1/batch", batch(
            track(1, event="[bold red]Boom[/] \x1b[2J\x1b]0;pwned\x07", userId="[link=http://x]me"),
        ))
        await wait_rows(pilot, app, 1)
        row = rows(app)[0]
        assert row[3] == "[bold red]Boom[/] ␛[2J␛]0;pwned␇"
        assert row[4] == "[link=http://x]me"
        drawn = app.table.render_line(1).text  # the first line under the column headers
        assert "[bold red]Boom[/] ␛[2J␛]0;pwned␇" in drawn and "[link=http://x]me" in drawn
        await wait_for(pilot, lambda: app.detail.shown_id is not None)
        assert "\x1b" not in body(app, "pretty") and "[bold red]Boom[/]" in body(app, "pretty")
        screen = app.export_screenshot()
        assert "[bold red]Boom[/]" in screen.replace("&#160;", " ")
        assert "\x1b" not in screen


async def test_disconnect_says_reconnecting_within_80_columns_then_live_again(tmp_path: Path) -> None:
    """QA: with the collector killed, the header still said LIVE, and at 80 columns the socket
    path pushed "reconnecting…" off the line. The state comes first and says the truth; the
    path is what gives way. The list stays usable, and a collector back on the same socket
    makes it LIVE again."""
    first = start_collector(tmp_path / "c")
    app = live_app(first, tmp_path)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.model.connection == "connected")
            await post(first.url, "/v1/batch", batch(track(1)))
            await wait_for(pilot, lambda: state_line(app).startswith(" LIVE   received 1  "))
            first.stop()
            await wait_for(pilot, lambda: "no collector is listening" in header(app))
            line = state_line(app)
            assert line.startswith(f" RECONNECTING…   no collector is listening on …/{first.socket.name}  "), line
            assert len(str(first.socket)) > 80 - len(" RECONNECTING…   no collector is listening on ")  # it was cut
            assert "LIVE" not in header(app) and len(line) <= 80
            assert app.table.row_count == 1  # still usable
            await pilot.press("down", "2")
            second = start_collector(tmp_path / "c")
            try:
                await wait_for(pilot, lambda: second.url in header(app))
                assert state_line(app).startswith(" LIVE   received "), header(app)
                assert "RECONNECTING" not in header(app) and "no collector" not in header(app)
                await post(second.url, "/v1/batch", batch(track(2)))
                await wait_rows(pilot, app, 2)
            finally:
                second.stop()
    finally:
        first.stop()


async def test_help_screen_while_events_keep_arriving(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await post(collector.url, "/v1/batch", batch(track(1), track(2)))
        await wait_for(pilot, lambda: app.table.row_count == 2 and "received 2" in header(app))
        await pilot.press("escape")
        assert type(app.screen).__name__ != "HelpScreen"


async def test_follow_only_from_the_newest_and_mouse_selects(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        await post(collector.url, "/v1/batch", batch(*(track(n) for n in range(5))))
        await wait_rows(pilot, app, 5)
        await pilot.press("up")
        assert app.table.selected is not None and rows(app)[app.table.cursor_row][4] == "user-3"
        await post(collector.url, "/v1/batch", batch(*(track(n) for n in range(5, 10))))
        await wait_rows(pilot, app, 10)
        assert rows(app)[app.table.cursor_row][4] == "user-3"  # stayed where the user put it
        assert app.detail.shown_id == app.table.selected.id
        await pilot.press("G")
        await post(collector.url, "/v1/batch", batch(track(10)))
        await wait_rows(pilot, app, 11)
        assert app.table.cursor_row == 10  # on the newest: follows
        await pilot.click("#events", offset=(5, 2))  # the second row under the header
        assert app.table.cursor_row == 1
        await wait_for(pilot, lambda: app.detail.shown_id == app.table.selected.id)
        await pilot.press("g")
        assert app.table.cursor_row == 0
        await pilot.press("enter")
        assert app.focused is not None and app.focused.id == "pretty-scroll"


async def test_demo_traffic_appears_without_sending_anything(collector: Collector, tmp_path: Path) -> None:
    app = create_app(SocketSource(collector.socket, max_rate=1000), demo=True,
                     copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.table.row_count >= 3)
        assert len(collector.archived()) + len(collector.refused()) >= 3
    assert app._demo_stop.is_set()  # the demo stops with the app
