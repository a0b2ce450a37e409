"""Snapshots of `segdebug live` (pytest-textual-snapshot): the main screen with events, and help.

Deterministic: a local source replays fixed envelopes with fixed times, rows are shown in UTC,
and the header shows fixed stats; nothing reads the clock.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from debugger.tui.app import LiveApp, create_app

HELLO = {"kind": "hello", "version": "0.1.0", "http": "http://127.0.0.1:8088",
         "archive": "/home/dev/.local/share/segdebug/archive.ndjson"}
STATS = {"kind": "stats", "received": 12840, "accepted": 12831, "rejected": 9, "rate": 612.0,
         "dropped": 0, "sampled": 12}


def event(seq: int, message: dict | None, status: str = "accepted",
          problems: list | None = None, raw: str | None = None) -> dict[str, Any]:
    return {
        "kind": "event", "seq": seq, "receivedAt": f"2024-05-01T12:00:{seq:02d}.000Z",
        "endpoint": "/v1/batch", "writeKey": "wk_demo_1234", "status": status,
        "problems": problems or [], "message": message, "raw": raw,
        "request": {"method": "POST", "path": "/v1/batch", "contentType": "application/json",
                    "contentEncoding": None, "userAgent": "analytics-python/2.4",
                    "remote": "127.0.0.1", "bytes": 312},
    }


PYTHON = {"library": {"name": "analytics-python", "version": "2.4"}}
EVENTS = [
    event(1, {"type": "identify", "userId": "u-1", "traits": {"email": "ada@example.com"}, "context": PYTHON}),
    event(2, {"type": "page", "anonymousId": "anon-7", "name": "Pricing"}),
    event(3, {"type": "track", "userId": "u-1", "event": "Order Completed", "context": PYTHON,
              "properties": {"order_id": "o-1", "total": 42.5, "note": "[bold]not markup[/]"}}),
    event(4, {"type": "track", "userId": "u-2", "event": "order_completed"},
          problems=[{"level": "warning", "code": "event_naming", "path": "event",
                     "message": "event names are Title Case Object Action"}]),
    event(5, None, "rejected", raw='{"type": "track", "blob": "..."}',
          problems=[{"level": "error", "code": "message_too_large", "path": "",
                     "message": "the message is over 32768 bytes"}]),
    event(6, {"type": "group", "userId": "u-1", "groupId": "acme", "traits": {"name": "Acme"},
              "context": PYTHON}),
    event(7, {"type": "alias", "userId": "u-1", "previousId": "anon-7"}),
]


class FixedSource:
    """The lines a collector would send, then silence."""

    def prioritise(self, query: str | None) -> None:
        pass

    async def lines(self, query: str | None) -> AsyncIterator[dict[str, Any]]:
        for line in [HELLO, STATS, *EVENTS]:
            yield line
        await asyncio.Event().wait()


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LiveApp:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield create_app(FixedSource(), copy_path=tmp_path / "c.json", save_dir=tmp_path)
    monkeypatch.undo()
    time.tzset()


async def all_rows(pilot: Any) -> None:
    while pilot.app.table.row_count < len(EVENTS):
        await pilot.pause(0.05)
    await pilot.pause()


def test_main_screen_with_events(app: LiveApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(100, 30), run_before=all_rows)


def test_main_screen_80x24_problems_tab(app: LiveApp, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await all_rows(pilot)
        await pilot.press("up", "up", "up", "3")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_screen(app: LiveApp, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await all_rows(pilot)
        await pilot.press("question_mark")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
