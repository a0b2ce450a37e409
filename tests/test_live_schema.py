"""The live Schema screen: the archive read as it grows, the fold of this session only, the
rows it shows, a Pilot run against a real collector process, and an 80x24 snapshot."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from segment.analytics import Client
from textual import events

from debugger.query import parse
from debugger.schema import NEAR_DUPLICATE, SOMETIMES_MISSING, TYPE_DRIFT, path_text
from debugger.tui.app import LiveApp, create_app
from debugger.tui.rows import nothing_found_text
from debugger.tui.schema_rows import event_cells, event_query, property_cells
from debugger.tui.schema_source import GrowingFile, SchemaFeed, Where
from debugger.tui.screens.schema import SchemaScreen
from debugger.tui.sources import FileSource, SocketSource
from tests.support import post_json, start_collector, wait_for

# --- reading a growing file ------------------------------------------------------------------


def test_growing_file_waits_for_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_bytes(b'{"n": 1}\n{"n": ')
    growing = GrowingFile(path)
    assert growing.read() == [b'{"n": 1}']
    assert growing.read() == []  # nothing new, the torn line still waits
    with open(path, "ab") as handle:
        handle.write(b'2}\n{"n": 3}\n')
    assert growing.read() == [b'{"n": 2}', b'{"n": 3}']


def test_growing_file_reads_from_its_start_and_in_steps(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_bytes(b"old\n")
    start = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(b"one\ntwo\nthree\n")
    growing = GrowingFile(path, start)
    first = growing.read(limit=6)
    assert first == [b"one"] and growing.behind > 0
    assert growing.read(limit=6) + growing.read(limit=6) == [b"two", b"three"]
    assert growing.behind == 0


def test_growing_file_replaced_is_read_from_its_top(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_bytes(b"one\ntwo\n")
    growing = GrowingFile(path)
    assert growing.read() == [b"one", b"two"]
    os.unlink(path)  # `rm archive.ndjson`: the collector starts a new one
    path.write_bytes(b"fresh\n")
    assert growing.read() == [b"fresh"]
    assert growing.restarted == 1


# --- the fold of an archive and its refusal log ----------------------------------------------


def track(name: str, properties: dict[str, Any], second: int = 0, **fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": name, "userId": "u-1", "properties": properties,
            "receivedAt": f"2024-05-01T12:00:{second:02d}.000Z", **fields}


def lines(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(message) + b"\n" for message in messages)


def test_feed_folds_this_session_and_its_refusals(tmp_path: Path) -> None:
    archive, rejected = tmp_path / "x.ndjson", tmp_path / "x.rejected.ndjson"
    archive.write_bytes(lines([track("Old Session", {})]))
    rejected.write_bytes(b"")
    start = {"archive": archive.stat().st_size, "rejected": 0}
    with open(archive, "ab") as handle:
        handle.write(lines([track("Signed Up", {"plan": "pro"})]))
    refusal = {"receivedAt": "2024-05-01T12:00:09.000Z", "endpoint": "/v1/batch", "writeKey": "wk",
               "code": "missing_user", "problems": [{"level": "error", "code": "missing_user"}],
               "message": {"type": "track", "event": "Signed Up"}, "raw": "{}"}
    rejected.write_bytes(orjson.dumps(refusal) + b"\n")
    feed = SchemaFeed(Where(archive, start))  # type: ignore[arg-type]
    while feed.step():
        pass
    schema = feed.snapshot()
    assert [event.name for event in schema.events] == ["Signed Up"]
    signed_up = schema.events[0]
    assert (signed_up.count, signed_up.refused) == (2, 1)


def test_feed_applies_the_hard_filter(tmp_path: Path) -> None:
    archive = tmp_path / "x.ndjson"
    archive.write_bytes(lines([track("Signed Up", {}), track("Order Completed", {})]))
    feed = SchemaFeed(Where(archive), parse('event:"Order Completed"'))
    feed.step()
    assert [event.name for event in feed.snapshot().events] == ["Order Completed"]
    assert feed.filtered_out == 1


# --- rows and the search they lead to --------------------------------------------------------


@pytest.mark.parametrize("name", ["Order Completed", 'say "hi"', "a*b", "back\\slash"])
def test_event_query_finds_exactly_that_event(name: str) -> None:
    query = parse(event_query("track", name))
    assert query.matches({"message": {"type": "track", "event": name}})
    assert not query.matches({"message": {"type": "track", "event": name + "x"}})
    assert not query.matches({"message": {"type": "page", "name": name}})


def test_untrusted_names_stay_text(tmp_path: Path) -> None:
    archive = tmp_path / "x.ndjson"
    archive.write_bytes(lines([track("[bold]Promo[/]\x1b[31m", {"k\x1b": "v\x07"})]))
    feed = SchemaFeed(Where(archive))
    feed.step()
    event = feed.snapshot().events[0]
    name = event_cells(event)[2]
    assert name.plain == "[bold]Promo[/]␛[31m" and not name.spans
    prop = property_cells(event.properties[0])
    assert prop[1].plain == '"k␛"' and prop[6].plain == '"v␇"'  # a key with a control character is quoted


# --- the screen against a real collector -----------------------------------------------------

CRAFTED = [
    *(track("Order Completed", {"order_id": f"o-{n}", "total": "42.50" if n % 10 == 0 else 42.5,
                                **({"coupon": "SAVE10"} if n % 2 else {})}, n) for n in range(20)),
    track("order_completed", {"order_id": "o-x", "total": 3}, 30),
    {"type": "identify", "userId": "u-1", "traits": {"email": "ada@example.com"}},
]



async def test_schema_screen_over_a_real_collector(tmp_path: Path) -> None:
    directory = tmp_path / "collector"
    directory.mkdir()
    (directory / "archive.ndjson").write_bytes(lines([track("Old Session Event", {})]))  # before this session
    collector = start_collector(directory)
    try:
        assert post_json(collector.url + "/v1/batch", {"batch": CRAFTED, "writeKey": "wk_test"}).status == 200
        refused = {"type": "track", "event": "Order Completed", "properties": {"order_id": "o-r", "total": 9.5}}  # no user
        post_json(collector.url + "/v1/track", refused, {"Authorization": "Basic d2tfdGVzdDo="})
        app = create_app(SocketSource(collector.socket), copy_path=tmp_path / "c.json", save_dir=tmp_path)
        async with app.run_test(headless=True, size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.table.row_count >= 23)
            await pilot.press("s")
            screen = app.screen
            assert isinstance(screen, SchemaScreen)
            await wait_for(pilot, lambda: screen.events_table.row_count == 3)
            shown = screen.events_table.shown
            assert set(shown) == {"track:Order Completed", "track:order_completed", "identify:Identify"}
            order = shown["track:Order Completed"]
            assert (order.count, order.refused) == (21, 1)
            assert NEAR_DUPLICATE in order.flags and NEAR_DUPLICATE in shown["track:order_completed"].flags
            views = {path_text(view.path): view for view in order.properties}
            assert TYPE_DRIFT in views["total"].flags and dict(views["total"].types) == {"number": 19, "string": 2}
            assert SOMETIMES_MISSING in views["coupon"].flags and TYPE_DRIFT not in views["coupon"].flags
            assert not views["order_id"].flags
            assert screen.events_table.selected is order  # the first row
            assert screen.events_table.get_row_at(0)[5].plain == "near-dup, drift 1, missing 1"
            assert {row[1].plain: row[0].plain for row in
                    (screen.properties.get_row_at(n) for n in range(screen.properties.row_count))} == {
                        "coupon": "!", "order_id": " ", "total": "!"}
            await pilot.press("enter")
            assert app.screen is app.events
            await wait_for(pilot, lambda: app.search_bar.applied_text == 'type:track event:"Order Completed"')
            names = {item.envelope["message"]["event"] for item in app.table.rows}
            assert names == {"Order Completed"} and app.table.row_count == 21
    finally:
        collector.stop()


async def test_schema_screen_tells_a_dotted_key_from_a_nested_one(tmp_path: Path) -> None:
    """QA: the real SDK sent `{"a.b": 1}` and `{"a": {"b": "x"}}`, and the screen showed one
    row `a.b`, "number 50%, string 50%", flagged as drifting."""
    collector = start_collector(tmp_path / "collector")
    try:
        errors: list[Any] = []
        client = Client("wk_test", host=collector.url, on_error=lambda error, batch: errors.append(error),
                        max_retries=1, upload_interval=0.05)
        client.track("u-1", "Signed Up", {"a.b": 1, "tags": ["x"]})
        client.track("u-1", "Signed Up", {"a": {"b": "x"}, "tags": {"$": 2}, "k\x1b[2J": 3})
        client.flush()
        client.join()
        assert errors == []
        app = create_app(SocketSource(collector.socket), copy_path=tmp_path / "c.json", save_dir=tmp_path)
        async with app.run_test(headless=True, size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.table.row_count == 2)
            await pilot.press("s")
            screen = app.screen
            assert isinstance(screen, SchemaScreen)
            await wait_for(pilot, lambda: screen.properties.row_count == 7)
            table = screen.properties
            rows = {cells[1].plain: (cells[0].plain, cells[2].plain)
                    for cells in (table.get_row_at(n) for n in range(table.row_count))}
            assert rows == {
                "a": ("!", "object"), "a.b": ("!", "string"), '"a.b"': ("!", "number"),  # near-duplicates
                "tags": ("!", "array 50%, object 50%"), "tags.$": ("!", "string"), 'tags."$"': ("!", "number"),
                '"k␛[2J"': ("!", "number"),
            }
            flags = {cells[1].plain: cells[5].plain for cells in (table.get_row_at(n) for n in range(7))}
            assert flags["a.b"] == 'sometimes missing; near-duplicate of "a.b"'
            assert "type drift" not in flags["a.b"] + flags['"a.b"'] + flags["tags.$"]
    finally:
        collector.stop()


# --- snapshot --------------------------------------------------------------------------------


@pytest.fixture
def file_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LiveApp:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    archive = tmp_path / "archive.ndjson"
    messages = [{**message, "receivedAt": message.get("receivedAt", "2024-05-01T12:01:00.000Z")}
                for message in CRAFTED]
    messages.append(track("Promo [bold]Shown[/]\x1b[31m", {"slot\x1b": "top\x07"}, 40))
    archive.write_bytes(lines(messages))
    yield create_app(FileSource(archive), copy_path=tmp_path / "c.json", save_dir=tmp_path)
    monkeypatch.undo()
    time.tzset()


def test_schema_screen_80x24(file_app: LiveApp, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await wait_for(pilot, lambda: file_app.table.row_count >= 23)
        await pilot.press("s")
        screen = file_app.screen
        await wait_for(pilot, lambda: isinstance(screen, SchemaScreen) and screen.events_table.row_count == 4)
        await pilot.pause(0.2)

    assert snap_compare(file_app, terminal_size=(80, 24), run_before=run_before)


# --- untrusted names in the search the Schema screen hands to the events screen (QA) ---------

NASTY = ["Esc \x1b]0;PWNED\x07\x1b[2J end", "AAAA\r\nBBBB\tCCCC", "bidi \u202eevil\x9b end"]


@pytest.mark.parametrize("name", NASTY)
def test_event_query_of_an_untrusted_name_is_printable_and_still_finds_it(name: str) -> None:
    text = event_query("track", name)
    assert text.isprintable(), repr(text)
    query = parse(text)
    assert query.matches({"message": {"type": "track", "event": name}})
    assert not query.matches({"message": {"type": "track", "event": "Esc end"}})


async def test_find_in_events_puts_no_control_character_in_the_search(tmp_path: Path) -> None:
    archive = tmp_path / "archive.ndjson"
    archive.write_bytes(lines([track(name, {}, n) for n, name in enumerate(["Signed Up", *NASTY])]))
    app = create_app(FileSource(archive), copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(headless=True, size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.table.row_count == 4)
        for name in NASTY:
            await pilot.press("s")
            screen = app.screen
            assert isinstance(screen, SchemaScreen)
            await wait_for(pilot, lambda screen=screen: screen.events_table.row_count == 4)
            row = [event.name for event in screen.events_table.shown.values()].index(name)
            screen.events_table.move_cursor(row=row)
            await pilot.pause()
            assert screen.events_table.selected is not None and screen.events_table.selected.name == name
            await pilot.press("enter")
            assert app.screen is app.events
            value = app.search_bar.input.value
            assert value.isprintable(), repr(value)
            await wait_for(pilot, lambda value=value: app.search_bar.applied_text == value)
            assert [item.envelope["message"]["event"] for item in app.table.rows] == [name]


async def test_the_search_input_never_holds_a_control_character(tmp_path: Path) -> None:
    """Whatever sets it (a screen's search, a paste): the input shows text, never a sequence."""
    archive = tmp_path / "archive.ndjson"
    archive.write_bytes(lines([track(NASTY[0], {})]))
    app = create_app(FileSource(archive), copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(headless=True, size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.table.row_count == 1)
        app.events.search_for(f'event:"{NASTY[0]}"')
        await pilot.pause()
        assert app.search_bar.input.value == 'event:"Esc *]0;PWNED**[2J end"'
        await wait_for(pilot, lambda: app.search_bar.applied_text == app.search_bar.input.value)
        assert app.table.row_count == 1
        app.search_bar.input.value = ""
        await pilot.press("slash")
        app.search_bar.input.focus()
        await pilot.pause()
        app.search_bar.input.post_message(events.Paste("x\x1b[2Jy"))
        await pilot.pause()
        assert app.search_bar.input.value == "x*[2Jy"


# --- an event of the session the list no longer keeps (QA) -----------------------------------


def list_text(app: LiveApp) -> str:
    """What the events list draws, line by line (its empty-list text included)."""
    table = app.table
    return "\n".join("".join(segment.text for segment in table.render_line(y)).rstrip()
                     for y in range(table.scrollable_content_region.height))


async def test_find_in_events_says_why_an_older_event_is_not_listed(tmp_path: Path) -> None:
    archive = tmp_path / "archive.ndjson"
    archive.write_bytes(lines([track("Old Event", {}), *(track("New Event", {}, 1) for _ in range(500))]))
    app = create_app(FileSource(archive), copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(headless=True, size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.table.row_count == 500)
        assert "None of" not in list_text(app)
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SchemaScreen)
        await wait_for(pilot, lambda: screen.events_table.row_count == 2)
        row = [event.name for event in screen.events_table.shown.values()].index("Old Event")
        screen.events_table.move_cursor(row=row)
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.search_bar.applied_text == 'type:track event:"Old Event"')
        await pilot.pause()
        assert app.table.row_count == 0
        shown = " ".join(list_text(app).split())
        assert "None of the 500 events this view keeps match" in shown, shown
        assert "the Schema screen counts all of it" in shown
        assert "Older events are only in" in shown and "archive.ndjson" in shown
        await pilot.press("escape")  # the search cleared: the list and no explanation
        await wait_for(pilot, lambda: app.table.row_count == 500)
        assert "None of" not in list_text(app)


def test_nothing_found_text_names_the_collectors_query_and_the_archive() -> None:
    text = nothing_found_text(1, 'type:track event:"Old Event"', "/w/a.ndjson", "http://127.0.0.1:8088").plain
    assert text.startswith("The one event this view keeps does not match the search.")
    assert "curl 'http://127.0.0.1:8088/segdebug/events?q=type:track%20event:%22Old%20Event%22'" in text
    assert "the Schema screen counts the whole session" in text
    assert "(all events are in /w/a.ndjson)." in text
    assert "This view keeps no events" in nothing_found_text(0, "x").plain
