"""Issue 11: `segdebug live` tells the whole truth. Each numbered problem of the issue, driven
with Textual's Pilot against a real `segdebug collect` process.

Bursts are sent by a separate process (tests/test_live_truth.py's SENDER) so the app's event
loop only does what it does for a user.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from textual._compositor import CompositorUpdate

from debugger.tui.app import LiveApp, create_app
from debugger.tui.launcher import EmbeddedCollector
from debugger.tui.screens.help import HelpScreen
from debugger.tui.sources import SocketSource
from debugger.tui.tabs import TABS_BY_ID
from tests.support import Collector, start_collector
from tests.test_live_app import batch, body, header, live_app, post, rows, track, wait_for, wait_rows

SIZE = (120, 40)

# argv: url, count, refused_every (0: none), rate (0: as fast as possible), key, mode
# mode "single": one /v1/track per event; "batch": one /v1/batch of all of them.
# Events are tracks numbered by `properties.n`; a refused one has no userId/anonymousId;
# every odd one has no messageId (a warning), so consecutive rows have different problems.
SENDER = r"""
import asyncio, sys, time, aiohttp, orjson
url, count, refused_every, rate, key, mode = sys.argv[1:7]
count, refused_every, rate = int(count), int(refused_every), float(rate)
def message(n):
    m = {"type": "track", "event": "Button Clicked", "properties": {"n": n}}
    if not (refused_every and n % refused_every == refused_every - 1):
        m["userId"] = f"user-{n}"
    if n % 2 == 0:
        m["messageId"] = f"m-{n}"
    return m
async def main():
    limit = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as session:
        async def send(path, body):
            async with limit:
                async with session.post(url + path, data=orjson.dumps(body),
                                        headers={"Content-Type": "application/json"}) as answer:
                    await answer.read()
        if mode == "batch":
            await send("/v1/batch", {"batch": [message(n) for n in range(count)], "writeKey": key})
            return
        start, tasks = time.monotonic(), []
        for n in range(count):
            if rate:
                await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(send("/v1/track", {**message(n), "writeKey": key})))
        await asyncio.gather(*tasks)
asyncio.run(main())
"""


async def send(url: str, count: int, *, refused_every: int = 0, rate: float = 0,
               key: str = "wk_truth", mode: str = "single") -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", SENDER, url, str(count), str(refused_every), str(rate), key, mode)


def numbers(app: LiveApp) -> list[int]:
    """properties.n of the listed accepted events, and of refused ones from their raw text."""
    found = []
    for item in app.model.listed():
        message = item.envelope["message"]
        if message is None:
            message = orjson.loads(item.envelope["raw"] or "{}")
        found.append(message["properties"]["n"])
    return found


def refused_numbers(app: LiveApp) -> set[int]:
    return {orjson.loads(item.envelope["raw"] or "{}").get("properties", {}).get("n", -1)
            if item.envelope["message"] is None else item.envelope["message"]["properties"]["n"]
            for item in app.model.listed() if item.envelope["status"] == "rejected"}


async def connected(pilot: Any, app: LiveApp) -> None:
    await wait_for(pilot, lambda: app.model.connection == "connected")


# --- 1. a burst is sampled uniformly, and its refusals all arrive ---------------------------


async def test_a_300_event_batch_shows_its_whole_span_and_its_refused_item(
        collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path, max_rate=50)  # live's default
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        sender = await send(collector.url, 300, mode="batch")
        await sender.wait()
        await wait_for(pilot, lambda: "sampled: 1 in" in header(app))
        await wait_for(pilot, lambda: app.table.row_count >= 40)
        listed = numbers(app)
        assert max(listed) >= 270, listed  # the last tenth of the burst is there
        assert min(listed) < 30
        assert len(listed) < 300  # it was sampled
        await wait_for(pilot, lambda: "sampled" not in header(app), timeout=6)


async def test_a_batch_with_a_refused_item_shows_it_whatever_the_sampling(
        collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path, max_rate=50)
    messages = [track(n) for n in range(300)]
    messages[250] = {"type": "track", "event": "No User", "properties": {"n": 250}}
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(*messages))
        await wait_for(pilot, lambda: any(row[1] == "✗" for row in rows(app)))
        assert [row[3] for row in rows(app) if row[1] == "✗"] == ["No User"]
        await wait_for(pilot, lambda: max(numbers(app)) >= 270)


async def test_2000_single_calls_show_the_whole_span_and_every_refused_call(
        collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path, max_rate=50)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        sender = await send(collector.url, 2000, refused_every=100)  # 20 refused
        await sender.wait()
        await wait_for(pilot, lambda: app.model.stats.received >= 2000)
        await wait_for(pilot, lambda: len(refused_numbers(app)) == 20, timeout=20)
        assert refused_numbers(app) == set(range(99, 2000, 100))
        await wait_for(pilot, lambda: max(numbers(app)) >= 1800)  # the last tenth
        assert min(numbers(app)) < 200 and len(numbers(app)) < 2000


# --- 2. search filters what is shown, not what arrives --------------------------------------


async def test_search_as_you_type_then_clear_shows_what_arrived_meanwhile(
        collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path, max_rate=10)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(
            track(1), {"type": "page", "userId": "u", "name": "Before", "properties": {"n": -1}}))
        await wait_rows(pilot, app, 2)
        await pilot.press("slash", *"type:page")  # no Enter: results follow the typing
        await wait_rows(pilot, app, 1)
        assert rows(app)[0][3] == "Before"
        # While searching, a burst far over the max rate: 300 tracks and 10 pages in between.
        burst = [track(n) for n in range(100, 400)]
        for n in range(10):
            burst[n * 30 + 7] = {"type": "page", "userId": "u", "name": f"During {n}", "properties": {"n": n}}
        await post(collector.url, "/v1/batch", batch(*burst))
        await wait_for(pilot, lambda: app.table.row_count == 11)  # every match: never sampled away
        assert [row[3] for row in rows(app)] == ["Before", *(f"During {n}" for n in range(10))]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.table.row_count > 11)
        during = [row for row in rows(app) if row[2] == "TRACK" and row[4] != "user-1"]
        assert during, "the tracks that arrived during the search are listed after it"


async def test_a_bad_query_keeps_the_previous_search_and_says_why(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(track(1), {"type": "page", "userId": "u", "name": "P"}))
        await wait_rows(pilot, app, 2)
        await pilot.press("slash", *"type:page")
        await wait_rows(pilot, app, 1)
        await pilot.press(*" AND (")
        await wait_for(pilot, lambda: app.query_one("#search-error").display)
        assert "filter unchanged" in str(app.query_one("#search-error").render())
        assert app.model.query.text == "type:page" and app.table.row_count == 1


# --- 3. the detail belongs to the highlighted row, in every frame ---------------------------


async def test_a_search_finding_nothing_under_live_filter_says_the_filter_may_hide_it(
        collector: Collector, tmp_path: Path) -> None:
    """QA: under `live --filter`, a search that found nothing gave the collector's query and no
    word of the filter, the likeliest reason. The hint now names the filter first, and its query
    (the search alone) really lists the event the filter hid."""
    import re
    import urllib.request

    app = create_app(SocketSource(collector.socket), filter_text="type:identify",
                     copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(
            track(1, event="Order Completed"), {"type": "identify", "userId": "u-2", "messageId": "m-i"}))
        await wait_rows(pilot, app, 1)  # the identify: the filter keeps the track away
        await pilot.press("slash", *'event:"Order Completed"', "enter")
        await wait_for(pilot, lambda: app.table.empty_text is not None)
        said = app.table.empty_text.plain
        assert said.startswith("The one event this view keeps does not match the search. This view shows"
                               " only events matching --filter type:identify, so the search may be"
                               " looking for events the filter hides."), said
        [url] = re.findall(r"This session's matches, the filtered-out ones too: curl '([^']+)'", said)
        with urllib.request.urlopen(url, timeout=10) as answer:  # the collector on 127.0.0.1
            found = orjson.loads(answer.read())
        assert [event["message"]["event"] for event in found["events"]] == ["Order Completed"]
        drawn = "".join(app.table.render_line(y).text for y in range(app.table.size.height))
        assert "type:identify" in drawn


class FrameCheck:
    """At every frame the app paints: the detail shows the highlighted event, with its
    Problems label."""

    def __init__(self, app: LiveApp) -> None:
        self.app = app
        self.frames = 0
        self.mismatches: list[str] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if isinstance(renderable, CompositorUpdate):
                self.check()

        app._display = display  # type: ignore[method-assign]

    def check(self) -> None:
        app = self.app
        selected = app.table.selected
        if selected is None:
            return
        self.frames += 1
        label = str(app.detail.query_one("TabbedContent").get_tab("problems").label)
        expected = TABS_BY_ID["problems"].label(selected.envelope)
        if app.detail.shown_id != selected.id or label != expected:
            self.mismatches.append(f"row {selected.id} ({expected}) but detail {app.detail.shown_id} ({label})")


@pytest.mark.parametrize("rate", [5, 50, 500])
async def test_the_detail_is_the_highlighted_row_after_every_arrival(
        collector: Collector, tmp_path: Path, rate: int) -> None:
    app = live_app(collector, tmp_path, max_rate=1000)
    count = {5: 12, 50: 100, 500: 1000}[rate]
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        frames = FrameCheck(app)
        sender = await send(collector.url, count, rate=rate)
        await wait_for(pilot, lambda: app.model.arrived >= count, timeout=30)
        await sender.wait()
        await pilot.pause(0.5)
        assert frames.frames > 5
        assert not frames.mismatches, frames.mismatches[:5]
        assert app.table.cursor_row == app.table.row_count - 1  # followed to the end


# --- 4. history on open, and the cursor on a visible row -----------------------------------


async def test_opening_live_on_a_collector_with_events_shows_them(collector: Collector, tmp_path: Path) -> None:
    await post(collector.url, "/v1/batch", batch(*(track(n) for n in range(3)),
                                                {"type": "track", "event": "No User"}))
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_rows(pilot, app, 4)
        assert [row[4] for row in rows(app)] == ["user-0", "user-1", "user-2", ""]
        assert rows(app)[3][1] == "✗"  # refused ones too
        assert all(item.envelope.get("history") for item in app.model.listed())
        await post(collector.url, "/v1/batch", batch(track(3)))
        await wait_rows(pilot, app, 5)
        assert not app.model.listed()[-1].envelope.get("history")


async def test_a_reconnect_does_not_list_history_twice(tmp_path: Path) -> None:
    collector = start_collector(tmp_path / "c")
    try:
        await post(collector.url, "/v1/batch", batch(track(1), track(2)))
        app = live_app(collector, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await wait_rows(pilot, app, 2)
            source = app.source
            assert isinstance(source, SocketSource) and source._connection is not None
            source._connection.close()  # the connection drops; the collector still has both events
            await wait_for(pilot, lambda: "RECONNECTING" in header(app) or app.model.arrived > 2)
            await wait_for(pilot, lambda: app.model.connection == "connected")
            await post(collector.url, "/v1/batch", batch(track(3)))
            await wait_for(pilot, lambda: app.model.arrived >= 3)
            await pilot.pause(0.5)
            assert [row[4] for row in rows(app)] == ["user-1", "user-2", "user-3"]
    finally:
        collector.stop()


async def test_the_first_rows_put_the_cursor_on_a_visible_row(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path, max_rate=50)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(*(track(n) for n in range(14))))
        await wait_rows(pilot, app, 14)
        await pilot.pause(0.3)
        table = app.table
        visible = table.scrollable_content_region.height - 1  # under the column titles
        assert table.cursor_row == 13
        assert table.scroll_y <= table.cursor_row < table.scroll_y + visible
        assert app.detail.shown_id == table.selected.id  # type: ignore[union-attr]
        assert "user-13" in app.export_screenshot()


async def test_resuming_from_pause_goes_to_the_newest(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(*(track(n) for n in range(5))))
        await wait_rows(pilot, app, 5)
        await pilot.press("up", "up", "space")
        await post(collector.url, "/v1/batch", batch(*(track(n) for n in range(5, 10))))
        await wait_for(pilot, lambda: "PAUSED +5 new" in header(app))
        await pilot.press("space")
        await wait_rows(pilot, app, 10)
        assert app.table.cursor_row == 9
        await wait_for(pilot, lambda: app.detail.shown_id == app.table.selected.id)  # type: ignore[union-attr]


# --- 5. Raw is the exact text; payload text is never markup, ESC is drawn one way -------------


async def test_raw_of_a_refused_call_is_the_exact_text(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    sent = b'{"type":"track","event":"No User","properties":{"price":1.50,"price":2,"n":1}}'
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/track", sent, Authorization="Basic d2s6")
        await wait_rows(pilot, app, 1)
        await pilot.press("2")
        await wait_for(pilot, lambda: body(app, "raw") == sent.decode())


async def test_payload_text_is_never_markup_and_esc_is_drawn_one_way(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    name = "[bold]Boom[/bold] \x1b[31m"
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(track(1, event=name, properties={"[b]k[/b]": 1})))
        await post(collector.url, "/v1/track", b"[red]not json[/red] \x1b[2J", Authorization="Basic d2s6")
        await wait_rows(pilot, app, 2)
        shown = "[bold]Boom[/bold] ␛[31m"
        await pilot.press("up")
        assert rows(app)[0][3] == shown
        for pane, key in (("pretty", "1"), ("raw", "2"), ("problems", "3")):
            await pilot.press(key)
            await pilot.pause(0.1)
            text = body(app, pane)
            assert shown in text, (pane, text)
            assert "\\u001b" not in text and "\\x1b" not in text and "\x1b" not in text, (pane, text)
            assert shown in app.export_screenshot().replace("&#160;", " "), pane  # drawn, not read as markup
        assert "properties.[b]k[/b]" in body(app, "problems")
        await pilot.press("down", "2")  # the refused call that is not JSON
        await wait_for(pilot, lambda: body(app, "raw") == "[red]not json[/red] ␛[2J")
        assert "[red]not json[/red] ␛[2J" in app.export_screenshot().replace("&#160;", " ")
        await pilot.press("3")
        await pilot.pause(0.1)
        assert "invalid_json" in body(app, "problems")


async def test_c1_and_bidi_controls_are_drawn_as_esc_is(collector: Collector, tmp_path: Path) -> None:
    """QA: the list drew ESC as ␛ but CSI (U+009B) as `\\x9b` and RLO (U+202E) as `\\u202e`,
    and let LRM (U+200E) through. One rule: a one-cell picture in the list and every tab."""
    app = live_app(collector, tmp_path)
    name = "Order\x1b[1m \x9b31mDone\u202e \u200e\u061c"
    shown = "Order␛[1m ␦31mDone⇄ ⇄⇄"
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(track(1, event=name, properties={name: 1})))
        await wait_rows(pilot, app, 1)
        assert rows(app)[0][3] == shown
        assert shown in app.table.render_line(1).text  # drawn so, under the column titles
        for pane, key in (("pretty", "1"), ("raw", "2"), ("problems", "3")):
            await pilot.press(key)
            await pilot.pause(0.1)
            text = body(app, pane)
            assert shown in text, (pane, text)
            for sent in ("\x1b", "\x9b", "\u202e", "\u200e", "\u061c", "\\x9b", "\\u009b", "\\u202e"):
                assert sent not in text, (pane, sent, text)
        screen = app.export_screenshot()
        assert "\x9b" not in screen and "\u202e" not in screen


# --- 6. write keys in full ------------------------------------------------------------------


async def test_keys_sharing_a_prefix_and_a_suffix_read_apart(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(track(1), key="dev_py_key"))
        await post(collector.url, "/v1/batch", batch(track(2), key="dev_node_key"))
        await wait_rows(pilot, app, 2)
        assert [row[5] for row in rows(app)] == ["dev_py_key", "dev_node_key"]
        screen = app.export_screenshot().replace("&#160;", " ")
        assert "dev_py_key" in screen and "dev_node_key" in screen
        await pilot.press("4")
        await wait_for(pilot, lambda: "dev_node_key" in body(app, "request"))


async def test_mask_keys_masks_them(collector: Collector, tmp_path: Path) -> None:
    app = create_app(SocketSource(collector.socket), mask_keys=True,
                     copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(track(1), key="dev_py_key"))
        await wait_rows(pilot, app, 1)
        assert rows(app)[0][5] == "dev_…ey"
        await pilot.press("4")
        await wait_for(pilot, lambda: "dev_…ey" in body(app, "request"))
        assert "dev_py_key" not in body(app, "request")


# --- 7, 9 and the rest: side files, one word, help, w, c ------------------------------------


def test_live_passes_archive_and_strict_to_its_collector(tmp_path: Path) -> None:
    import http.client
    from urllib.parse import urlsplit

    archive = tmp_path / "mine.ndjson"
    embedded = EmbeddedCollector(0, tmp_path / "s.sock", archive=archive, strict=True)
    try:
        hello = embedded.wait_ready()
        assert hello["archive"] == str(archive)
        where = urlsplit(hello["http"])
        connection = http.client.HTTPConnection(where.hostname or "", where.port)
        connection.request("POST", "/v1/track", b'{"type":"track","event":"No User"}',
                           {"Content-Type": "application/json", "Authorization": "Basic d2s6"})
        assert connection.getresponse().status == 400  # --strict
        connection.close()
        assert (tmp_path / "mine.rejected.ndjson").exists()
    finally:
        embedded.stop()


def test_live_refuses_archive_with_file(tmp_path: Path) -> None:
    import subprocess

    archive = tmp_path / "a.ndjson"
    archive.write_bytes(b"")
    done = subprocess.run([sys.executable, "-m", "debugger.cli", "live", "--file", str(archive),
                           "--archive", str(tmp_path / "b.ndjson")], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "--archive" in done.stderr


async def test_help_lists_the_toggles_and_says_refused(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(" ".join(pair) for pair in app.screen.keys)
        for word in ("identify", "track", "page", "screen", "group", "alias", "accepted", "is:refused"):
            assert word in text
        assert "rejected" not in text


async def test_write_on_an_empty_list_writes_nothing_and_says_so(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await pilot.press("w")
        await pilot.pause(0.1)
        assert not list(tmp_path.glob("segdebug-*.ndjson"))
        assert any("Nothing written" in str(note.message) for note in app._notifications)


async def test_clear_can_be_undone(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot, app)
        await post(collector.url, "/v1/batch", batch(track(1), track(2)))
        await wait_rows(pilot, app, 2)
        await pilot.press("c")
        assert app.table.row_count == 0
        await post(collector.url, "/v1/batch", batch(track(3)))
        await wait_rows(pilot, app, 1)
        await pilot.press("u")
        assert [row[4] for row in rows(app)] == ["user-1", "user-2", "user-3"]


async def test_header_says_how_many_refused_calls_were_left_out(collector: Collector, tmp_path: Path) -> None:
    app = live_app(collector, tmp_path, max_rate=50)
    async with app.run_test(size=(200, 30)) as pilot:
        await connected(pilot, app)
        messages = [{"type": "track", "event": "No User", "properties": {"n": n}} for n in range(400)]
        await post(collector.url, "/v1/batch", batch(*messages))
        await wait_for(pilot, lambda: app.model.stats.refused_dropped > 0)
        await wait_for(pilot, lambda: f"{app.model.stats.refused_dropped:,} refused not shown" in header(app))
        assert app.model.refused_arrived + app.model.stats.refused_dropped == 400

