"""The event list: a line-rendered view of the model's listed events (at most 500).

Row text and layout are debugger.tui.rows; this module draws, caches and moves the cursor.

Not a DataTable: DataTable drops every cached cell whenever a row is added, so a live stream
re-rendered the whole visible table on each flush. Here each row is rendered once into a
Strip, cached by the event's id, and only the visible lines are drawn (`render_line`); the
cursor is a style laid over the cached line. The cursor follows new events only when it is
on the newest one.
"""

from __future__ import annotations

from typing import Any, Iterable

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from debugger.tui.delivery_log import DeliveryLog
from debugger.tui.model import Flush, Item, follows
from debugger.tui.rows import cells_of, column_widths, header_text, row_of, row_text

HEADER_LINES = 1


class EventTable(ScrollView, can_focus=True):
    """The list of events. Holds no events of its own: rows point at the model's items."""

    COMPONENT_CLASSES = {"event-table--header", "event-table--cursor"}
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "oldest", "Oldest", show=False),
        Binding("end", "newest", "Newest", show=False),
        Binding("enter", "select", "Detail", show=False),
    ]

    class Highlighted(Message):
        """The cursor is on another event (or on none); `following`: moved by new arrivals,
        not by the user."""

        def __init__(self, following: bool = False) -> None:
            super().__init__()
            self.following = following

    class Selected(Message):
        """Enter (or a double click) on an event: the user wants its detail."""

    def __init__(self, mask_keys: bool = False, deliveries: DeliveryLog | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_keys = mask_keys
        self.deliveries = deliveries
        self.rows: list[Item] = []
        self.cursor_row = 0
        self._strips: dict[int, tuple[Strip, Strip]] = {}  # id -> (bare, with base style)
        self._cached: dict[str, list[int]] = {}  # messageId -> ids of its cached rows
        self._cache_width = 0
        self._empty_text: Text | None = None  # drawn (wrapped) while no row is listed
        self._empty_lines: list[Strip] = []

    # --- what the app reads -------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def selected(self) -> Item | None:
        return self.rows[self.cursor_row] if 0 <= self.cursor_row < len(self.rows) else None

    def cells_at(self, index: int) -> tuple[str, ...]:
        """The text of row `index` as shown, cell by cell (for tests and captures)."""
        item = self.rows[index]
        return cells_of(row_of(item.envelope, self.mask_keys, self._undelivered(item)))

    def marks_changed(self, message_ids: set[str]) -> None:
        """Delivery news changed these events' marks: only their cached rows are dropped (a
        visible one is drawn again), every other row stays as rendered."""
        dropped = False
        for message_id in message_ids:
            for item_id in self._cached.pop(message_id, ()):
                dropped = self._strips.pop(item_id, None) is not None or dropped
        if dropped:
            self.refresh()

    @property
    def empty_text(self) -> Text | None:
        """What the list says while it lists nothing (a search that matches none of the kept
        events says why, see rows.nothing_found_text); None: blank."""
        return self._empty_text

    @empty_text.setter
    def empty_text(self, text: Text | None) -> None:
        if text is not self._empty_text:
            self._empty_text, self._empty_lines = text, []
            self.refresh()

    # --- updates ------------------------------------------------------------------------

    def apply(self, flush: Flush) -> None:
        """Show one flush: drop evicted rows, append new ones, keep or follow the cursor."""
        following = follows(self.cursor_row, self.row_count)
        gone = {item.id for item in flush.evicted}
        if gone:
            before = len(self.rows)
            above = sum(1 for item in self.rows[: self.cursor_row] if item.id in gone)
            self.rows = [item for item in self.rows if item.id not in gone]
            for item_id in gone:
                self._strips.pop(item_id, None)
            for item in flush.evicted:
                self._forget(item)
            self.cursor_row = max(0, self.cursor_row - above)
            if not following:  # keep the same events in view
                self._scroll(max(0, self.scroll_y - (before - len(self.rows))))
        self.rows.extend(flush.added)
        self._resized_rows()
        self.move_cursor(row=self.row_count - 1 if following else self.cursor_row, force=True,
                         following=following)

    def rebuild(self, items: Iterable[Item]) -> None:
        """Show exactly `items` (a new filter, or clear), following the newest."""
        self.rows = list(items)
        self._strips.clear()
        self._cached.clear()
        self._resized_rows()
        self.move_cursor(row=self.row_count - 1, force=True)

    def move_cursor(self, *, row: int, force: bool = False, following: bool = False) -> None:
        """Put the cursor on `row` (clamped), scroll it into view, say so if it moved."""
        before = self.selected
        self.cursor_row = max(0, min(row, self.row_count - 1))
        visible = max(1, self.scrollable_content_region.height - HEADER_LINES)
        if self.cursor_row < self.scroll_y:
            self._scroll(self.cursor_row)
        elif self.cursor_row >= self.scroll_y + visible:
            self._scroll(self.cursor_row - visible + 1)
        self.refresh()
        if force or self.selected is not before:
            self.post_message(self.Highlighted(following))

    def _scroll(self, y: float) -> None:
        """Scroll now, and even before the scrollbar exists: the first rows into an empty list
        arrive before a layout pass has shown it, and a deferred or refused scroll left the
        cursor (and the detail's event) below the visible rows."""
        self.scroll_to(y=y, animate=False, immediate=True, force=True)

    def _resized_rows(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count + HEADER_LINES)

    # --- keys and mouse -----------------------------------------------------------------

    def action_move(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        page = max(1, self.scrollable_content_region.height - HEADER_LINES - 1)
        self.move_cursor(row=self.cursor_row + direction * page)

    def action_oldest(self) -> None:
        self.move_cursor(row=0)

    def action_newest(self) -> None:
        self.move_cursor(row=self.row_count - 1)

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected())

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y - HEADER_LINES
        if event.y >= HEADER_LINES and 0 <= index < self.row_count:
            self.move_cursor(row=index)
            if event.chain > 1:
                self.post_message(self.Selected())

    def on_resize(self) -> None:
        self._resized_rows()

    # --- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._cache_width:
            self._strips.clear()
            self._cached.clear()
            self._cache_width = width
        base = self.rich_style
        if y < HEADER_LINES:
            header = header_text(column_widths(width))
            style = self.get_component_rich_style("event-table--header")
            return self._bare(header, width).apply_style(base + style)
        index = int(self.scroll_y) + y - HEADER_LINES
        if not self.rows and self._empty_text is not None:
            return self._empty_line(y - HEADER_LINES, width).apply_style(base)
        if not 0 <= index < self.row_count:
            return Strip.blank(width, base)
        item = self.rows[index]
        cached = self._strips.get(item.id)
        if cached is None:
            text = row_text(item, column_widths(width), self.mask_keys, self._undelivered(item))
            bare = self._bare(text, width)
            cached = self._strips[item.id] = (bare, bare.apply_style(base))
            message_id = _message_id(item)
            if message_id is not None:
                self._cached.setdefault(message_id, []).append(item.id)
        if index == self.cursor_row:
            # Under the row's own colours, over the widget's background.
            return cached[0].apply_style(base + self.get_component_rich_style("event-table--cursor"))
        return cached[1]

    def _undelivered(self, item: Item) -> str:
        return self.deliveries.failure(_message_id(item)) if self.deliveries is not None else ""

    def _forget(self, item: Item) -> None:
        message_id = _message_id(item)
        ids = self._cached.get(message_id) if message_id is not None else None
        if ids is not None and item.id in ids:
            ids.remove(item.id)
            if not ids and message_id is not None:
                del self._cached[message_id]

    def _empty_line(self, line: int, width: int) -> Strip:
        """Line `line` of the empty-list text, wrapped to the width (one space at each edge)."""
        if self._empty_text is None:
            return Strip.blank(width)
        if not self._empty_lines or self._empty_lines[0].cell_length != width:
            console = self.app.console
            wrapped = console.render_lines(self._empty_text, console.options.update_width(max(1, width - 2)))
            self._empty_lines = [Strip([Segment(" "), *segments]).adjust_cell_length(width) for segments in wrapped]
        return self._empty_lines[line] if line < len(self._empty_lines) else Strip.blank(width)

    def _bare(self, text: Text, width: int) -> Strip:
        return Strip(list(text.render(self.app.console))).adjust_cell_length(width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._cached.clear()


def _message_id(item: Item) -> str | None:
    message = item.envelope.get("message")
    found = message.get("messageId") if isinstance(message, dict) else None
    return found if isinstance(found, str) else None
