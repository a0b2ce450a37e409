"""Moving between the screens of `segdebug live`: every screen's key from every other, the help
listing them, the events screen's public search, and the Schema screen reading where the
session starts from the hello the app received (no second connection)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator

import orjson
from rich.console import Console
from textual.widgets import Static

from debugger.tui.app import LiveApp, create_app
from debugger.tui.screens import SCREENS
from debugger.tui.screens.delivery import DeliveryScreen
from debugger.tui.screens.help import HelpScreen
from debugger.tui.screens.schema import SchemaScreen
from tests.support import wait_for
from tests.test_live_snapshots import EVENTS, HELLO, FixedSource



def app_of(tmp_path: Path, source: Any = None) -> LiveApp:
    return create_app(source or FixedSource(), copy_path=tmp_path / "c.json", save_dir=tmp_path)


async def test_every_screen_is_reachable_from_every_other(tmp_path: Path) -> None:
    app = app_of(tmp_path)
    kinds = {"events": type(app.events), "schema": SchemaScreen, "delivery": DeliveryScreen}
    async with app.run_test(headless=True, size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.table.row_count == len(EVENTS))
        for start in SCREENS:
            for goal in SCREENS:
                assert start.key and goal.key
                await pilot.press(start.key)
                assert isinstance(app.screen, kinds[start.name])
                await pilot.press(goal.key)
                assert isinstance(app.screen, kinds[goal.name]), (start.name, goal.name)


async def test_help_lists_the_screens_keys(tmp_path: Path) -> None:
    app = app_of(tmp_path)
    async with app.run_test(headless=True, size=(100, 40)) as pilot:
        for key in ("e", "s", "d"):
            await pilot.press(key, "question_mark")
            assert isinstance(app.screen, HelpScreen)
            console = Console(width=90, record=True)
            console.print(app.screen.query_one(Static).content)
            text = console.export_text()
            assert "e s d  Events / Schema / Delivery screen" in text, key
            await pilot.press("escape")


async def test_search_for_filters_the_list_as_typed(tmp_path: Path) -> None:
    app = app_of(tmp_path)
    async with app.run_test(headless=True, size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.table.row_count == len(EVENTS))
        app.events.search_for("type:track")
        await wait_for(pilot, lambda: app.table.row_count == 2)
        assert app.search_bar.applied_text == "type:track" and app.table.has_focus
        assert {item.envelope["message"]["event"] for item in app.table.rows} == {
            "Order Completed", "order_completed"}


class HelloFromArchive:
    """What a collector sends: a hello naming its archive and where this session starts."""

    def __init__(self, archive: Path, start: int) -> None:
        self.archive, self.start = archive, start

    def prioritise(self, query: str | None) -> None:
        pass

    async def lines(self, query: str | None) -> AsyncIterator[dict[str, Any]]:
        yield {**HELLO, "archive": str(self.archive), "archive_start": {"archive": self.start, "rejected": 0}}
        await asyncio.Event().wait()


async def test_schema_folds_this_session_from_the_hello_the_app_got(tmp_path: Path) -> None:
    archive = tmp_path / "archive.ndjson"
    old = {"type": "track", "event": "Old Session", "userId": "u", "receivedAt": "2024-05-01T12:00:00.000Z"}
    new = {**old, "event": "This Session"}
    archive.write_bytes(orjson.dumps(old) + b"\n")
    start = archive.stat().st_size
    with open(archive, "ab") as handle:
        handle.write(orjson.dumps(new) + b"\n")
    app = app_of(tmp_path, HelloFromArchive(archive, start))
    async with app.run_test(headless=True, size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.model.archive_start is not None)
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SchemaScreen)
        await wait_for(pilot, lambda: screen.schema is not None and screen.schema.events)
        assert screen.schema is not None
        assert [event.name for event in screen.schema.events] == ["This Session"]
        assert "this session" in str(screen.headline.content)
