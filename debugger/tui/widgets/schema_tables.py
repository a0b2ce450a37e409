"""The Schema screen's two tables: every event of the schema, and the properties (or traits) of
the highlighted one.

Each refresh hands a whole `Schema` snapshot to `SchemaEvents.show`; only rows of events whose
`generation` changed are rewritten, and the table is rebuilt only when an event appears (its
place in the sorted order is new). The properties table is rebuilt only when the highlighted
event, or its generation, changes. The cursor stays on the same event across refreshes.
Both tables post DataTable's own messages (RowHighlighted, RowSelected).
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable

from debugger.schema import EventView, Schema, path_text
from debugger.tui.schema_rows import EVENT_COLUMNS, PROPERTY_COLUMNS, event_cells, property_cells

EventKey = tuple[str, str]


def row_key(key: EventKey) -> str:
    """A table row key for an event (call types hold no colon, so this is unique)."""
    return f"{key[0]}:{key[1]}"


class SchemaEvents(DataTable[Any]):
    """One row per event: call type, name, counts, flags, last seen."""

    BINDINGS = [Binding("enter", "select_cursor", "Find in events")]  # shown in the footer

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.shown: dict[str, EventView] = {}  # row key -> the view on screen
        self._order: list[str] = []

    def on_mount(self) -> None:
        for number, title in enumerate(EVENT_COLUMNS):
            self.add_column(title, key=f"c{number}")

    @property
    def selected(self) -> EventView | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self.shown.get(self._order[self.cursor_row])

    def show(self, schema: Schema) -> bool:
        """Bring the rows up to the snapshot; True when something on screen changed."""
        order = [row_key(event.key) for event in schema.events]
        if order != self._order:
            selected = self._order[self.cursor_row] if 0 <= self.cursor_row < len(self._order) else None
            self.clear()
            for event, key in zip(schema.events, order, strict=True):
                self.add_row(*event_cells(event), key=key)
            self.shown = dict(zip(order, schema.events, strict=True))
            self._order = order
            if selected in self.shown:
                self.move_cursor(row=order.index(selected), animate=False)
            return True
        changed = False
        for event, key in zip(schema.events, order, strict=True):
            before = self.shown[key]
            if before.generation == event.generation and before.similar == event.similar:
                continue
            self.shown[key] = event
            changed = True
            for number, cell in enumerate(event_cells(event)):
                self.update_cell(key, f"c{number}", cell, update_width=True)
        return changed


class SchemaProperties(DataTable[Any]):
    """The properties (traits for Identify and Group) of one event, flagged ones marked."""

    BINDINGS = [Binding("enter", "select_cursor", "Find event")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.event: EventView | None = None

    def on_mount(self) -> None:
        for number, title in enumerate(PROPERTY_COLUMNS):
            self.add_column(title, key=f"p{number}")

    def show(self, event: EventView | None) -> None:
        """The event's properties, rebuilt only when the event or its statistics changed."""
        before = self.event
        if before is not None and event is not None and before.key == event.key \
                and before.generation == event.generation:
            return
        row = self.cursor_row if before is not None and event is not None and before.key == event.key else 0
        self.event = event
        self.clear()
        if event is None:
            return
        for view in event.properties:
            self.add_row(*property_cells(view), key=path_text(view.path))  # one text per path
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1), animate=False)
