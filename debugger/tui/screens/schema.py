"""The Schema screen (key `s`): every event, property and trait this session sent, flagged.

The schema is folded from the collector's archive and refusal log (debugger.tui.schema_source)
in a thread worker of this process, about once a second, so it covers everything the
collector received this session (not only the 500 events the list keeps, nor only what the
socket sends this viewer, sampled) and costs the collector nothing. The fold starts when the
screen is first shown and keeps up while it is hidden (so coming back is instant); the tables
are only redrawn while it is shown, and then only for events that changed.

Enter on an event goes back to the events screen with its search set to that event.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from debugger.query import MATCH_ALL, QueryError, parse
from debugger.schema import Schema
from debugger.text import visible
from debugger.tui.schema_rows import event_query, event_summary, headline
from debugger.tui.schema_source import SchemaFeed, Where
from debugger.tui.screens.base import HelpKeys, Host, ViewScreen
from debugger.tui.screens.events import EventsScreen
from debugger.tui.widgets.schema_tables import SchemaEvents, SchemaProperties

REFRESH = 1.0  # seconds between snapshots shown
WAIT_STEP = 0.2  # the worker's longest sleep: it notices cancellation within this


class SchemaScreen(ViewScreen):
    """Events of the schema over the properties of the highlighted one."""

    BINDINGS = [
        Binding("enter", "find", "Find in events"),
        Binding("escape", "back", "Events", show=False),  # the footer shows e
    ]

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.headline = Static(Text("Schema · waiting for the collector's archive"), id="schema-headline")
        self.where_line = Static(Text(""), id="schema-where")
        self.events_table = SchemaEvents(id="schema-events")
        self.summary = Static(Text(""), id="schema-summary")
        self.properties = SchemaProperties(id="schema-properties")
        self.schema: Schema | None = None
        self._wake = threading.Event()

    def compose(self) -> ComposeResult:
        yield self.headline
        yield self.where_line
        yield self.events_table
        yield self.summary
        yield self.properties
        yield Footer()

    def on_mount(self) -> None:
        self.events_table.focus()
        self._fold()

    def on_screen_resume(self) -> None:
        self._wake.set()  # show what was folded while hidden at once

    def help_keys(self) -> HelpKeys:
        return (
            ("up down pgup pgdn", "select an event; its properties (traits) are listed below"),
            ("tab", "between the events and the properties"),
            ("enter", "the events screen, searching for the selected event"),
            ("esc", "back to the events screen"),
            ("!", "flagged: type drift, sometimes missing, naming, near-duplicate names"),
        )

    # --- folding (a thread) --------------------------------------------------------------

    def _locate(self) -> tuple[Where | None, str]:
        """Which archive to fold, from where, and how the header names that scope: from the
        hello the app received (a collector says where its session starts; an archive file
        opened with --file is folded whole)."""
        model = self.host.model
        if not model.archive:
            return None, ""  # no hello yet
        where = Where(Path(model.archive), model.archive_start)
        if where.start is not None:
            return where, "this session"
        if model.http:
            return where, "the whole archive (this collector does not say where its session starts)"
        return where, "the whole archive"

    @work(thread=True, exclusive=True, group="schema-fold", exit_on_error=False)
    def _fold(self) -> None:
        worker = get_current_worker()
        feed: SchemaFeed | None = None
        scope = ""
        shown_at = 0.0
        problem = ""
        try:
            only = parse(self.host.model.hard_filter) if self.host.model.hard_filter else MATCH_ALL
        except QueryError:
            only = MATCH_ALL
        while not worker.is_cancelled:
            if feed is None:
                where, scope = self._locate()
                if where is None:
                    self._wait(WAIT_STEP)
                    continue
                feed = SchemaFeed(where, only)
            try:
                more = feed.step()
                problem = ""
            except OSError as error:
                more, problem = False, f"cannot read {error.filename}: {error.strerror or error}"
            now = time.monotonic()
            if self.is_current and (now - shown_at >= REFRESH or self._wake.is_set()):
                self._wake.clear()
                shown_at = now
                schema = feed.snapshot()
                if not self._post(schema, scope, feed, problem):
                    break
            if not more:
                self._wait(REFRESH)
        if feed is not None:
            feed.close()

    def _wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking early when the screen is shown again or cancelled."""
        worker = get_current_worker()
        deadline = time.monotonic() + seconds
        while not worker.is_cancelled and not self._wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wake.wait(min(left, WAIT_STEP))

    def _post(self, schema: Schema, scope: str, feed: SchemaFeed, problem: str) -> bool:
        """Hand a snapshot to the UI thread; False when the app is gone."""
        where = _where_text(feed, problem)
        try:
            self.app.call_from_thread(self._show, schema, scope, where)
        except RuntimeError:  # the app's loop has closed
            return False
        return True

    # --- drawing (the UI thread) ---------------------------------------------------------

    def _show(self, schema: Schema, scope: str, where: Text) -> None:
        self.headline.update(headline(schema, scope))
        self.where_line.update(where)
        first = self.schema is None
        self.schema = schema
        if self.events_table.show(schema) or first:
            self._show_selected()

    def _show_selected(self) -> None:
        event = self.events_table.selected
        self.summary.update(event_summary(event))
        self.properties.show(event)

    @on(DataTable.RowHighlighted, "#schema-events")
    def _highlighted(self) -> None:
        self._show_selected()

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_find()

    # --- keys ----------------------------------------------------------------------------

    def action_find(self) -> None:
        """The events screen, its search set to the selected event."""
        event = self.events_table.selected
        if event is None:
            self.notify("No event selected.", severity="warning")
            return
        text = event_query(event.kind, event.name)
        self.app.switch_mode("events")
        self.app.get_screen("events", EventsScreen).search_for(text)

    def action_back(self) -> None:
        self.app.switch_mode("events")


def _where_text(feed: SchemaFeed, problem: str) -> Text:
    """The second header line: which files are folded, from where, and how far behind."""
    if problem:
        return Text(problem, style="bold red")
    archive, refusals = feed.archive, feed.refusals
    line = Text(archive.path.name, style="dim")
    start = feed.where.start
    if start is not None and start["archive"]:
        line.append(f" from byte {start['archive']:,}", style="dim")
    line.append(f" + {refusals.path.name}", style="dim")
    if archive.restarted:
        line.append(" · the archive was replaced: folded again from its top", style="yellow")
    behind = feed.behind
    if behind:
        line.append(f" · catching up: {behind / 1e6:,.1f} MB to fold", style="yellow")
    if feed.bad_lines:
        line.append(f" · {feed.bad_lines:,} unreadable lines", style="yellow")
    if not feed.only.matches_all:
        line.append(f" · filter {visible(feed.only.text)}", style="dim")
    return line
