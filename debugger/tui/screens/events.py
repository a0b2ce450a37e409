"""The events screen: status bar, search bar, the event list over the detail tabs, footer.

It shows the app's buffer (`host.model`): a timer flushes arrivals into the list about five
times a second, so a burst costs one table update; the detail always shows the highlighted
row; keys act on the list and the selected event.
"""

from __future__ import annotations

import time
from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Footer

from debugger.tui.export import ndjson_lines, payload_bytes, write_new_file
from debugger.tui.screens.base import HelpKeys, Host, ViewScreen
from debugger.tui.tabs import tab_bindings, tab_help
from debugger.tui.widgets.detail_tabs import DetailTabs
from debugger.tui.widgets.event_table import EventTable
from debugger.tui.widgets.search_bar import SearchBar
from debugger.tui.widgets.status_bar import StatusBar

FLUSH_INTERVAL = 0.2  # seconds: a burst between two ticks becomes one table update
# While the list follows a stream, the detail (a full re-render and layout pass, the costliest
# thing on screen) catches up with the newest event at most this often; user moves are at once.
FOLLOW_DETAIL_INTERVAL = 0.5


class EventsScreen(ViewScreen):
    """The list of events and the detail of the highlighted one."""

    BINDINGS = [
        Binding("space", "toggle_pause", "Pause/Live"),
        Binding("slash", "search", "Search"),
        Binding("escape", "escape", "Clear search", show=False),
        *tab_bindings(),
        Binding("y", "copy", "Copy"),
        Binding("w", "write", "Write"),
        Binding("c", "clear", "Clear"),
        Binding("g", "oldest", "Oldest", show=False),
        Binding("G", "newest", "Newest", show=False),
    ]

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.model = host.model
        self._detail_at = 0.0  # monotonic time of the last detail update
        self._detail_timer: Timer | None = None
        self.status_bar = StatusBar(self.model, id="status", markup=False)
        self.search_bar = SearchBar(id="search")
        self.table = EventTable(id="events")
        self.detail = DetailTabs(id="detail")

    def compose(self) -> ComposeResult:
        yield self.status_bar
        yield self.search_bar
        yield self.table
        yield self.detail
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()
        if self.model.query.text:
            self.search_bar.input.value = self.model.query.text
            self.search_bar.add_class("-open")
        self.host.stream_changed.subscribe(self, self._stream_changed)
        self.status_bar.refresh_if_changed()
        self.detail.show(None, None)
        self.set_interval(FLUSH_INTERVAL, self._tick)

    def help_keys(self) -> HelpKeys:
        return (
            ("space", "pause / resume (arrivals are counted while paused)"),
            ("/", "search with the query language (segdebug help query)"),
            ("esc", "clear the search / back to the list"),
            ("enter, tab", "to the detail of the selected event"),
            tab_help(),
            ("up down pgup pgdn", "select an event (the list follows only from the newest)"),
            ("g, G", "oldest / newest event"),
            ("y", "copy the selected payload (clipboard and a file)"),
            ("w", "write the listed accepted messages to an NDJSON file"),
            ("c", "clear the list"),
        )

    # --- the buffer to the list ----------------------------------------------------------

    def _stream_changed(self, _: None) -> None:
        self.status_bar.refresh_if_changed()

    def _tick(self) -> None:
        flush = self.model.flush()
        if flush.added or flush.evicted:
            self.table.apply(flush, self.model)
        self.status_bar.refresh_if_changed()

    def _show_selected(self) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        self._detail_at = time.monotonic()
        item = self.table.selected
        self.detail.show(item.id if item else None, item.envelope if item else None)

    @on(EventTable.Highlighted)
    def _highlighted(self, event: EventTable.Highlighted) -> None:
        wait = self._detail_at + FOLLOW_DETAIL_INTERVAL - time.monotonic()
        if not event.following or wait <= 0:
            self._show_selected()
        elif self._detail_timer is None:  # one catch-up, showing whatever is selected then
            self._detail_timer = self.set_timer(wait, self._show_selected)

    @on(EventTable.Selected)
    def _selected(self) -> None:
        self.detail.focus_active()

    # --- search --------------------------------------------------------------------------

    @on(SearchBar.Applied)
    def _filter(self, event: SearchBar.Applied) -> None:
        """Filter what is buffered; the message goes on to the app, which resubscribes."""
        self.model.query = event.query
        self.table.rebuild(self.model.listed())
        self._show_selected()

    @on(SearchBar.Done)
    def _search_done(self) -> None:
        self.table.focus()

    def action_search(self) -> None:
        self.search_bar.add_class("-open")
        self.search_bar.input.focus()

    def action_escape(self) -> None:
        """Clear the search (if any) and go back to the list."""
        bar = self.search_bar
        if bar.has_class("-open"):
            had_filter = bool(self.model.query.text)
            bar.reset()
            bar.remove_class("-open")
            if had_filter:
                bar.apply()
        self.table.focus()

    # --- keys ----------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self.model.toggle_pause()
        self._tick()

    def action_tab(self, pane_id: str) -> None:
        self.detail.active = pane_id

    def action_oldest(self) -> None:
        self.table.action_oldest()

    def action_newest(self) -> None:
        self.table.action_newest()

    def action_clear(self) -> None:
        self.model.clear()
        self.table.rebuild([])
        self._show_selected()

    def action_copy(self) -> None:
        """OSC 52 to the terminal's clipboard, and the exact bytes to a file for terminals
        that ignore OSC 52."""
        item = self.table.selected
        if item is None:
            self.notify("No event selected.", severity="warning")
            return
        data = payload_bytes(item.envelope)
        self.app.copy_to_clipboard(data.decode("utf-8", "replace"))
        path = self.host.copy_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as error:
            self.notify(f"Copied to the clipboard; could not write {path}: {error.strerror}",
                        severity="warning", markup=False)
            return
        self.notify(f"Copied {len(data):,} bytes (also in {path})", markup=False)

    def action_write(self) -> None:
        """The listed accepted messages as an archive `segdebug replay` can read."""
        data, written, refused = ndjson_lines(item.envelope for item in self.model.listed())
        stem = datetime.now().strftime("segdebug-%Y%m%d-%H%M%S")
        directory = self.host.save_dir
        try:
            path = write_new_file(directory, stem, ".ndjson", data)
        except OSError as error:
            self.notify(f"Could not write to {directory}: {error.strerror}", severity="error", markup=False)
            return
        left_out = f" ({refused:,} refused left out)" if refused else ""
        self.notify(f"Wrote {written:,} events to {path}{left_out}", markup=False)
