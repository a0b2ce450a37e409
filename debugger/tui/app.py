"""The live debugger app. `create_app` is the one factory that `run_live`, the tests, the
snapshots and the bench share; what differs is the Source the lines come from."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Footer

from debugger.paths import COPY_NAME, data_dir
from debugger.tui.detail import ndjson_lines, payload_bytes
from debugger.tui.header import StatusBar
from debugger.tui.help import HelpScreen
from debugger.tui.model import MATCH_ALL, LiveModel, Matcher
from debugger.tui.search import SearchBar
from debugger.tui.sources import Source
from debugger.tui.table import EventTable
from debugger.tui.tabs import TABS, DetailTabs

FLUSH_INTERVAL = 0.2  # seconds: a burst between two ticks becomes one table update
DEMO_RATE = 5.0
# While the list follows a stream, the detail (a full re-render and layout pass, the costliest
# thing on screen) catches up with the newest event at most this often; user moves are at once.
FOLLOW_DETAIL_INTERVAL = 0.5


class LiveApp(App[None]):
    """Header, search bar, event list, detail tabs, footer; lines come from `source`."""

    CSS_PATH = "live.tcss"
    TITLE = "segdebug live"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("space", "toggle_pause", "Pause/Live"),
        Binding("slash", "search", "Search"),
        Binding("escape", "escape", "Clear search", show=False),
        Binding("1", "tab('pretty')", "Pretty", show=False),
        Binding("2", "tab('raw')", "Raw", show=False),
        Binding("3", "tab('problems')", "Problems", show=False),
        Binding("4", "tab('request')", "Request", show=False),
        Binding("y", "copy", "Copy"),
        Binding("w", "write", "Write"),
        Binding("c", "clear", "Clear"),
        Binding("g", "oldest", "Oldest", show=False),
        Binding("G", "newest", "Newest", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),  # as any live tail
    ]

    def __init__(
        self,
        source: Source,
        *,
        query: Matcher = MATCH_ALL,
        demo: bool = False,
        copy_path: Path | None = None,
        save_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.model = LiveModel(query=query)
        self.demo = demo
        self.copy_path = copy_path or data_dir() / COPY_NAME
        self.save_dir = save_dir or Path.cwd()
        self._demo_stop = asyncio.Event()
        self._demo_started = False
        self._header_shown: tuple[Any, ...] = ()
        self._detail_at = 0.0  # monotonic time of the last detail update
        self._detail_timer: Timer | None = None
        # Held, not queried: App.query_one looks at the active screen, which may be Help.
        self.status_bar = StatusBar(id="status", markup=False)
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
        self._update_header()
        self.detail.show(None, None)
        self.set_interval(FLUSH_INTERVAL, self._tick)
        self._consume(self.model.query.text)

    def on_unmount(self) -> None:
        self._demo_stop.set()

    # --- lines in ------------------------------------------------------------------------

    @work(exclusive=True, group="source")
    async def _consume(self, query_text: str) -> None:
        remote = query_text if self.source.remote_filter else None
        async for line in self.source.lines(remote):
            try:
                self.take(line)
            except (TypeError, ValueError, AttributeError) as error:  # one odd line, not a crash
                self.notify(f"Skipped a line the viewer could not read: {error}",
                            severity="warning", markup=False)

    def take(self, line: dict[str, Any]) -> None:
        """One protocol line: events are buffered, the rest updates the header."""
        kind = line.get("kind")
        if kind == "event":
            self.model.arrive(line)
        elif kind == "stats":
            self.model.take_stats(line)
        elif kind == "hello":
            self.model.http = str(line.get("http") or "")
            self.model.archive = str(line.get("archive") or "")
            self.model.connection = "connected"
            if self.demo and not self._demo_started and self.model.http:
                self._demo_started = True
                self._run_demo(self.model.http)
        elif kind == "disconnected":
            self.model.connection = f"disconnected ({line.get('error')}), reconnecting…"
        if kind != "event":
            self._update_header()

    @work(group="demo", exit_on_error=False)
    async def _run_demo(self, url: str) -> None:
        from debugger.demo import send_demo

        try:
            await send_demo(url, DEMO_RATE, None, self._demo_stop)
        except Exception as error:  # demo traffic is a nicety: say why it stopped, keep going
            self.notify(f"Demo traffic stopped: {error}", severity="warning", markup=False)

    def _tick(self) -> None:
        flush = self.model.flush()
        if flush.added or flush.evicted:
            self.table.apply(flush, self.model)
        self._update_header()

    def _update_header(self) -> None:
        model = self.model
        shown = (model.paused, model.new_while_paused, model.connection, model.http,
                 model.archive, model.stats)
        if shown != self._header_shown:
            self._header_shown = shown
            self.status_bar.show(model)

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
        self.detail.query_one(f"#{self.detail.active}-scroll").focus()

    # --- search --------------------------------------------------------------------------

    @on(SearchBar.Applied)
    def _filter(self, event: SearchBar.Applied) -> None:
        self.model.query = event.query
        self.table.rebuild(self.model.listed())
        self._show_selected()
        if self.source.remote_filter:  # resubscribe so the collector filters before sampling
            self._consume(event.query.text)

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
        if pane_id in dict(TABS):
            self.detail.active = pane_id

    def action_oldest(self) -> None:
        self.table.action_oldest()

    def action_newest(self) -> None:
        self.table.action_newest()

    def action_clear(self) -> None:
        self.model.clear()
        self.table.rebuild([])
        self._show_selected()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_copy(self) -> None:
        """OSC 52 to the terminal's clipboard, and the exact bytes to a file for terminals
        that ignore OSC 52."""
        item = self.table.selected
        if item is None:
            self.notify("No event selected.", severity="warning")
            return
        data = payload_bytes(item.envelope)
        self.copy_to_clipboard(data.decode("utf-8", "replace"))
        try:
            self.copy_path.parent.mkdir(parents=True, exist_ok=True)
            self.copy_path.write_bytes(data)
        except OSError as error:
            self.notify(f"Copied to the clipboard; could not write {self.copy_path}: {error.strerror}",
                        severity="warning", markup=False)
            return
        self.notify(f"Copied {len(data):,} bytes (also in {self.copy_path})", markup=False)

    def action_write(self) -> None:
        """The listed accepted messages as an archive `segdebug replay` can read."""
        data, written, refused = ndjson_lines(item.envelope for item in self.model.listed())
        stem = datetime.now().strftime("segdebug-%Y%m%d-%H%M%S")
        try:
            path = write_new_file(self.save_dir, stem, ".ndjson", data)
        except OSError as error:
            self.notify(f"Could not write to {self.save_dir}: {error.strerror}", severity="error", markup=False)
            return
        left_out = f" ({refused:,} refused left out)" if refused else ""
        self.notify(f"Wrote {written:,} events to {path}{left_out}", markup=False)


def write_new_file(directory: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Write `data` to `stem + suffix` in `directory`, or `stem-2 + suffix`, ... if that exists:
    two writes within a second must not overwrite the first."""
    path, attempt = directory / (stem + suffix), 1
    while True:
        try:
            with open(path, "xb") as out:
                out.write(data)
            return path
        except FileExistsError:
            attempt += 1
            path = directory / f"{stem}-{attempt}{suffix}"


def create_app(source: Source, **options: Any) -> LiveApp:
    """The app, wired to a source; `options` are LiveApp's (query, demo, copy_path, save_dir).
    run_live, the tests, the snapshots and the bench all start here."""
    return LiveApp(source, **options)
