"""`segdebug live --mask-keys`: the write key is masked wherever the viewer shows it, in the list
and in every detail tab (Pretty, Raw, Request, Delivery's You sent and Request to destination),
as the list masks it. Driven with Pilot against a real collector forwarding to a real endpoint
on 127.0.0.1 (QA found the key in full in Raw, Pretty and You sent)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
from rich.text import Text
from textual.widgets import Static

from debugger.message import mask_key
from debugger.tui.app import LiveApp, create_app
from debugger.tui.delivery_text import exchange_text
from debugger.tui.keys import KeyMask
from debugger.tui.screens.help import HelpScreen
from debugger.tui.sources import SocketSource
from tests.support import BatchEndpoint, Collector, post_json, settled, start_collector, wait_for

KEY = "wk_secret_gz_999"
SHOWN = mask_key(KEY)  # wk_s…99


def pane(app: LiveApp, tab: str) -> str:
    content = app.detail.query_one(f"#{tab}-body", Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def panes(pilot: Any, app: LiveApp) -> dict[str, str]:
    shown = {}
    for number, tab in enumerate(("pretty", "raw", "problems", "request", "delivery"), start=1):
        await pilot.press(str(number))
        await pilot.pause()
        shown[tab] = pane(app, tab)
    return shown


async def test_mask_keys_masks_the_key_in_every_detail_tab(tmp_path: Path) -> None:
    with BatchEndpoint() as destination:
        collector = start_collector(tmp_path / "c", "--forward", f"dest={destination.url}")
        try:
            app = create_app(SocketSource(collector.socket), mask_keys=True,
                             copy_path=tmp_path / "c.json", save_dir=tmp_path)
            async with app.run_test(headless=True, size=(120, 50)) as pilot:
                await wait_for(pilot, lambda: app.model.connection == "connected")
                sent = {"type": "track", "event": "Signed Up", "userId": "u-1", "messageId": "m-1",
                        "writeKey": KEY, "context": {"library": {"name": "analytics-python"}}}
                assert post_json(collector.url + "/v1/track", sent).status == 200
                refused = {"type": "track", "event": "No User", "writeKey": KEY}
                assert post_json(collector.url + "/v1/track", refused).status == 200  # refused, as Segment answers
                await wait_for(pilot, lambda: app.table.row_count == 2)
                settled(collector, {"dest": 1})
                await wait_for(pilot, lambda: "dest" in app.deliveries.outcomes("m-1"))
                await pilot.pause(0.3)
                accepted = next(i for i, item in enumerate(app.table.rows) if item.envelope["status"] == "accepted")
                for index in (accepted, 1 - accepted):
                    app.table.move_cursor(row=index)
                    await pilot.pause()
                    assert app.table.cells_at(index)[5] == SHOWN
                    shown = await panes(pilot, app)
                    for tab, text in shown.items():
                        assert KEY not in text, (index, tab, text)
                    assert SHOWN in shown["raw"] and SHOWN in shown["request"], (index, shown)
                    if index == accepted:
                        you_sent = shown["delivery"][shown["delivery"].index("You sent"):]
                        assert f'"writeKey": "{SHOWN}"' in you_sent
                        assert "Request to destination" in you_sent
        finally:
            collector.stop()


def test_a_key_mask_masks_json_strings_not_other_text() -> None:
    mask = KeyMask.of({"writeKey": "dev", "message": {"writeKey": "other_key_42"}})
    text = '{"writeKey": "forward_key_7", "event": "developer dev", "k": "dev", "x": "other_key_42"}'
    assert mask.json_text(text) == (
        '{"writeKey": "forw…_7", "event": "developer dev", "k": "d…", "x": "othe…42"}')
    assert mask.value({"a": ["dev", "devs"], "writeKey": "zzzzzzzz"}) == {"a": ["d…", "devs"], "writeKey": "zzzz…zz"}
    shown = exchange_text({"url": "http://x", "body": '{"batch": [], "writeKey": "dev"}'}, None, mask=mask).plain
    assert '"writeKey": "d…"' in shown and '"dev"' not in shown


async def test_mask_keys_masks_what_copy_and_write_put_out_and_says_so(collector: Collector, tmp_path: Path) -> None:
    """QA: with --mask-keys, `y` copied the payload with the key in full (clipboard and file), and
    `w` wrote it in full: a key pasted into a ticket left the screen the user kept it off. Both
    now put out what the screen shows, and their words say the keys are masked."""
    app = create_app(SocketSource(collector.socket), mask_keys=True, copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(headless=True, size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        sent = {"type": "track", "event": "Signed Up", "userId": "u-1", "messageId": "m-1", "writeKey": KEY,
                "properties": {"echo": KEY, "plan": "developer"}}
        assert post_json(collector.url + "/v1/track", sent).status == 200
        refused = b'{"type": "track", "event": "No User", "writeKey": "%s"}' % KEY.encode()
        assert post_json(collector.url + "/v1/track", orjson.loads(refused)).status == 200  # refused
        await wait_for(pilot, lambda: app.table.row_count == 2)
        archived = collector.archived()[0]
        expected = {**archived, "writeKey": SHOWN, "properties": {"echo": SHOWN, "plan": "developer"}}
        copied = {}
        for index, item in enumerate(app.table.rows):
            app.table.move_cursor(row=index)
            await pilot.pause()
            await pilot.press("y")
            data = (tmp_path / "c.json").read_bytes()
            assert app.clipboard == data.decode()
            copied[item.envelope["status"]] = data
        assert orjson.loads(copied["accepted"]) == expected  # otherwise the message as archived
        assert KEY.encode() not in copied["rejected"] and SHOWN.encode() in copied["rejected"]
        notes = [str(note.message) for note in app._notifications]
        assert notes[-1].startswith("Copied ") and notes[-1].endswith(", write keys masked (--mask-keys)"), notes
        await pilot.press("w")
        [written] = tmp_path.glob("segdebug-*.ndjson")
        assert [orjson.loads(line) for line in written.read_bytes().splitlines()] == [expected]
        note = str(list(app._notifications)[-1].message)
        assert note.endswith("(1 refused left out), write keys masked (--mask-keys): replay them with --write-key")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        said = dict(app.screen.keys)
        assert said["y"] == "copy the selected payload (clipboard and a file), write keys masked (--mask-keys)"
        assert said["w"].endswith("NDJSON file, write keys masked (--mask-keys)")


REFUSED_KEY = "wk_secret_123"


async def test_mask_keys_masks_the_key_a_refusal_names(tmp_path: Path) -> None:
    """QA: a collector with `--write-key good` refuses a call carrying another key, and its
    problem names that key in full ("write key 'wk_secret_123' is not accepted by this
    collector"): --mask-keys left it so in the list's Name column and the Problems tab. The key
    is masked there as everywhere (the refused event carries it as its writeKey), and nothing
    y or w put out holds it."""
    collector = start_collector(tmp_path / "c", "--write-key", "good")
    try:
        app = create_app(SocketSource(collector.socket), mask_keys=True,
                         copy_path=tmp_path / "c.json", save_dir=tmp_path)
        async with app.run_test(headless=True, size=(200, 40)) as pilot:  # wide: the Problem column too
            await wait_for(pilot, lambda: app.model.connection == "connected")
            accepted = {"type": "track", "event": "Signed Up", "userId": "u-1", "writeKey": "good"}
            assert post_json(collector.url + "/v1/track", accepted).status == 200
            in_body = {"type": "track", "event": "Signed Up", "userId": "u-2", "writeKey": REFUSED_KEY}
            assert post_json(collector.url + "/v1/track", in_body).status == 401
            basic = "Basic " + base64.b64encode(f"{REFUSED_KEY}:".encode()).decode()
            assert post_json(collector.url + "/v1/batch", {"batch": [accepted]}, {"Authorization": basic}).status == 401
            await wait_for(pilot, lambda: app.table.row_count == 3)
            said = f"write key '{mask_key(REFUSED_KEY)}' is not accepted by this collector"
            for index, item in enumerate(app.table.rows):
                app.table.move_cursor(row=index)
                await pilot.pause()
                drawn = app.table.render_line(1 + index).text
                assert REFUSED_KEY not in drawn and REFUSED_KEY not in "".join(app.table.cells_at(index))
                shown = await panes(pilot, app)
                assert not [tab for tab, text in shown.items() if REFUSED_KEY in text], shown
                await pilot.press("y")
                assert REFUSED_KEY.encode() not in (tmp_path / "c.json").read_bytes()
                if item.envelope["status"] == "rejected":
                    # a refused call with a message is named by it; one refused whole, by its problem
                    if item.envelope.get("message"):
                        assert app.table.cells_at(index)[3] == "Signed Up"
                    else:
                        assert app.table.cells_at(index)[3] == said and said[:36] in drawn  # Name: 48 cells
                    assert said in shown["problems"]
            await pilot.press("w")
            [written] = tmp_path.glob("segdebug-*.ndjson")
            assert REFUSED_KEY.encode() not in written.read_bytes()
            assert all(REFUSED_KEY not in str(note.message) for note in app._notifications)
    finally:
        collector.stop()


def test_a_key_mask_masks_a_key_quoted_whole_in_words() -> None:
    """Problems quote a key with repr (or JSON); a key inside a longer word or token stays."""
    mask = KeyMask.of({"writeKey": "dev", "message": None})
    words = "developer dev 'dev' \"dev\" x'dev'y 'devs' ('dev')"
    assert mask.words(words) == "developer dev 'd…' \"d…\" x'dev'y 'devs' ('d…')"
    problems = [{"level": "error", "code": "invalid_write_key", "message": "write key 'dev' is not accepted",
                 "hint": "send 'dev'? no", "path": ""}]
    assert mask.problems(problems) == [{**problems[0], "message": "write key 'd…' is not accepted",
                                        "hint": "send 'd…'? no"}]
    assert mask.envelope({"writeKey": "dev", "problems": problems})["problems"] == mask.problems(problems)
    assert KeyMask.of({}).words(words) == words
