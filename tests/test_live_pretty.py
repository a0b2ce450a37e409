"""The Pretty tab never dresses an invalid call up as an SDK call (QA: batch items with `type`
123, {"a": 1}, "" or a string with escapes showed `analytics.track({ userId: 't1' });`, and
"bogus" `analytics.bogus(...)`): it says the type is missing or not a call type, and shows the
message as JSON, control characters drawn as everywhere else. Pilot against a real collector."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import Static

from debugger.tui.app import create_app
from debugger.tui.pretty import pretty_call
from debugger.tui.sources import SocketSource
from tests.support import Collector, post_json, wait_for

BAD_TYPES: list[Any] = [123, {"a": 1}, "", "bogus", "tr\x1b]0;X\x07ack", None]



@pytest.mark.parametrize("kind", BAD_TYPES)
@pytest.mark.parametrize("library", ["analytics-python", "analytics-node", "analytics.js"])
def test_an_invalid_type_is_said_not_called(kind: Any, library: str) -> None:
    message = {"userId": "t1", "context": {"library": {"name": library}}}
    if kind is not None:
        message["type"] = kind
    code = pretty_call(message)
    assert not re.search(r"analytics\.\w+\(", code), code
    first, _, rest = code.partition("\n")
    comment = "#" if library == "analytics-python" else "//"
    assert first.startswith(comment) and "not a Segment call" in first, first
    assert first.isprintable() and "\x1b" not in code
    assert '"userId": "t1"' in rest


async def test_pretty_tab_of_invalid_batch_items(collector: Collector, tmp_path: Path) -> None:
    app = create_app(SocketSource(collector.socket), copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(headless=True, size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.model.connection == "connected")
        items = [{"type": kind, "userId": "t1"} for kind in BAD_TYPES[:-1]]
        assert post_json(collector.url + "/v1/batch", {"batch": items, "writeKey": "wk"}).status in (200, 400)
        await wait_for(pilot, lambda: app.table.row_count == len(items))
        for index in range(len(items)):
            app.table.move_cursor(row=index)
            await pilot.pause()
            content = app.detail.query_one("#pretty-body", Static).content
            text = content.plain if isinstance(content, Text) else str(content)
            assert not re.search(r"analytics\.\w+\(", text) and "not a Segment call" in text, text
            assert "\x1b" not in text and "\x07" not in text
        assert "␛]0;X␇" in text  # the last one: its type drawn as the list draws it
