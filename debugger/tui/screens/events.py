"""The events screen: status bar, search bar, the event list over the detail tabs, footer.

It shows the app's buffer (`host.model`): a timer flushes arrivals into the list about five
times a second, so a burst costs one table update. The detail always shows the highlighted
row: after a flush it is updated in the same callback as the list (no frame can show the
list's new cursor over the old detail), and it caches what it renders to stay cheap.
Keys act on the list and the selected event.
"""

from __future__ import annotations

from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from debugger.tui.export import ndjson_lines, payload_bytes, write_new_file
from debugger.tui.keys import as_shown
from debugger.tui.rows import nothing_found_text
from debugger.message import CALL_TYPES
from debugger.tui.screens.base import HelpKeys, Host, ViewScreen
from debugger.tui.search import STATUSES
from debugger.tui.tabs import Display, tab_bindings, tab_help
from debugger.tui.widgets.detail_tabs import DetailTabs
from debugger.tui.widgets.event_table import EventTable
from debugger.tui.widgets.search_bar import SearchBar
from debugger.tui.widgets.status_bar import StatusBar
from debugger.tui.words import counted

FLUSH_INTERVAL = 0.2  # seconds: a burst between two ticks becomes one table update


class EventsScreen(ViewScreen):
    """The list of events and the detail of the highlighted one."""

    BINDINGS = [
        # The footer fits 80 columns with every screen's key: Write and the rest are in help (?).
        Binding("space", "toggle_pause", "Pause"),
        Binding("slash", "search", "Search"),
        Binding("escape", "escape", "Clear search", show=False),
        *tab_bindings(),
        Binding("y", "copy", "Copy"),
        Binding("w", "write", "Write", show=False),
        Binding("c", "clear", "Clear"),
        Binding("u", "restore", "Undo clear", show=False),
        Binding("g", "oldest", "Oldest", show=False),
        Binding("G", "newest", "Newest", show=False),
    ]

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.model = host.model
        self.status_bar = StatusBar(self.model, id="status", markup=False)
        self.search_bar = SearchBar(id="search")
        self.table = EventTable(mask_keys=host.mask_keys, deliveries=host.deliveries, id="events")
        self.detail = DetailTabs(Display(mask_keys=host.mask_keys, deliveries=host.deliveries), id="detail")

    def compose(self) -> ComposeResult:
        yield self.status_bar
        yield self.search_bar
        yield self.table
        yield self.detail
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()
        self.host.stream_changed.subscribe(self, self._stream_changed)
        self.status_bar.refresh_if_changed()
        self.detail.show(None, None)
        self.set_interval(FLUSH_INTERVAL, self._tick)

    def help_keys(self) -> HelpKeys:
        return (
            ("space", "pause / resume (arrivals are counted while paused)"),
            ("/", "search as you type (segdebug help query); matches are never sampled away"),
            ("toggles", "type: " + " ".join(CALL_TYPES) + "; status: " + " ".join(STATUSES)
                        + " (is:refused)"),
            ("esc", "clear the search (all that arrived shows) / back to the list"),
            ("enter, tab", "to the detail of the selected event"),
            tab_help(),
            ("up down pgup pgdn", "select an event (the list follows only from the newest)"),
            ("g, G", "oldest / newest event"),
            ("y", "copy the selected payload (clipboard and a file)" + self._masked_note),
            ("w", "write the listed accepted messages to an NDJSON file" + self._masked_note),
            ("c, u", "clear the list / undo the clear"),
        )

    @property
    def _masked_note(self) -> str:
        """What `y` and `w` add to their words under `--mask-keys`: they put out what the
        screen shows, so a key pasted into a ticket is masked too (and the user is told)."""
        return ", write keys masked (--mask-keys)" if self.host.mask_keys else ""

    # --- the buffer to the list ----------------------------------------------------------

    def _stream_changed(self, _: None) -> None:
        self.status_bar.refresh_if_changed()

    def _tick(self) -> None:
        flush = self.model.flush()
        if flush.added or flush.evicted:
            self.table.apply(flush)
            if not self.table.rows:  # the explanation counts what is kept now
                self._say_why_empty()
            self._show_selected()
        self._delivery_news()
        self.status_bar.refresh_if_changed()

    def _delivery_news(self) -> None:
        """Delivery lines since the last tick: rows whose mark changed are drawn again, and
        the detail's Delivery tab if the shown event had news."""
        changed, marked = self.host.deliveries.drain()
        if marked:
            self.table.marks_changed(marked)
        item = self.table.selected
        message = item.envelope.get("message") if item is not None else None
        if changed and isinstance(message, dict) and message.get("messageId") in changed:
            self.detail.refresh_live()

    def _show_selected(self) -> None:
        item = self.table.selected
        self.detail.show(item.id if item else None, item.envelope if item else None)

    @on(EventTable.Highlighted)
    def _highlighted(self) -> None:
        self._show_selected()

    @on(EventTable.Selected)
    def _selected(self) -> None:
        self.detail.focus_active()

    # --- search --------------------------------------------------------------------------

    @on(SearchBar.Applied)
    def _filter(self, event: SearchBar.Applied) -> None:
        """Filter what is buffered; the message goes on to the app, which resubscribes."""
        self.model.set_query(event.query)
        self.table.rebuild(self.model.listed())
        self._say_why_empty()
        self._show_selected()

    def _say_why_empty(self) -> None:
        """A search that lists nothing says so, that `live --filter` may hide what it looks
        for, and where older events are: the list keeps only the newest 500, and the Schema
        screen's "find in events" leads here for any event of the session."""
        model = self.model
        if not model.searching or model.listed():
            self.table.empty_text = None
            return
        self.table.empty_text = nothing_found_text(
            len(model.kept) + len(model.pending), model.query.text, model.archive, model.http, model.hard_filter)

    def search_for(self, text: str) -> None:
        """Search for `text` as if typed (toggles cleared): through the search bar's own
        methods, so the list and the collector's priority subscription follow as they do for
        a typed search. Other screens send the user here with a search (Schema's enter)."""
        bar = self.search_bar
        bar.reset()
        bar.input.value = text
        bar.add_class("-open")
        bar.apply()
        self.table.focus()

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
        """Pause, or resume at the newest event (what arrived meanwhile is listed)."""
        self.model.toggle_pause()
        self._tick()
        if not self.model.paused:
            self.table.action_newest()

    def action_tab(self, pane_id: str) -> None:
        self.detail.active = pane_id

    def action_oldest(self) -> None:
        self.table.action_oldest()

    def action_newest(self) -> None:
        self.table.action_newest()

    def action_clear(self) -> None:
        cleared = self.model.clear()
        self.table.rebuild([])
        self._say_why_empty()
        self._show_selected()
        if cleared:
            self.notify(f"Cleared {counted(cleared, 'event')}: u brings them back.")

    def action_restore(self) -> None:
        """Undo the last clear: its events come back before what arrived since."""
        restored = self.model.restore()
        if not restored:
            self.notify("Nothing to bring back.", severity="warning")
            return
        self.table.rebuild(self.model.listed())
        self._say_why_empty()
        self._show_selected()
        self.notify(f"Brought back {counted(restored, 'event')}.")

    def action_copy(self) -> None:
        """OSC 52 to the terminal's clipboard, and the exact bytes to a file for terminals
        that ignore OSC 52; with `--mask-keys`, the bytes with their write keys masked."""
        item = self.table.selected
        if item is None:
            self.notify("No event selected.", severity="warning")
            return
        data = payload_bytes(as_shown(item.envelope, self.host.mask_keys))
        self.app.copy_to_clipboard(data.decode("utf-8", "replace"))
        path = self.host.copy_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as error:
            self.notify(f"Copied to the clipboard{self._masked_note}; could not write {path}: {error.strerror}",
                        severity="warning", markup=False)
            return
        self.notify(f"Copied {len(data):,} bytes (also in {path}){self._masked_note}", markup=False)

    def action_write(self) -> None:
        """The listed accepted messages as an archive `segdebug replay` can read; with
        `--mask-keys`, their write keys masked (`replay --write-key` then sends them)."""
        mask = self.host.mask_keys
        data, written, refused = ndjson_lines(as_shown(item.envelope, mask) for item in self.model.listed())
        if not written:
            left_out = f" ({counted(refused, 'refused call')}: never written)" if refused else ""
            self.notify(f"Nothing written: no accepted events are listed{left_out}.", severity="warning")
            return
        stem = datetime.now().strftime("segdebug-%Y%m%d-%H%M%S")
        directory = self.host.save_dir
        try:
            path = write_new_file(directory, stem, ".ndjson", data)
        except OSError as error:
            self.notify(f"Could not write to {directory}: {error.strerror}", severity="error", markup=False)
            return
        left_out = f" ({refused:,} refused left out)" if refused else ""
        masked = f"{self._masked_note}: replay them with --write-key" if mask else ""
        self.notify(f"Wrote {counted(written, 'event')} to {path}{left_out}{masked}", markup=False)
