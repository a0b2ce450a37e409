"""The event list: a DataTable mirroring the model's listed events, updated incrementally.

Rows are keyed by the model's item id. New rows are appended and evicted ones removed, so a
flush costs what changed, not the 500 rows; the cursor follows only when it was on the newest.
"""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual.widgets import DataTable

from debugger.tui.model import (
    COLUMNS, MARK_ACCEPTED, MARK_REFUSED, Flush, Item, LiveModel, follows, row_of,
)

_MARK_STYLES = {MARK_ACCEPTED: "bold green", MARK_REFUSED: "bold red"}
_FIXED_WIDTHS = {"Time": 8, "": 1, "Type": 8, "Source": 7}
_MIN_NAME = 12
_MIN_USER, _MAX_USER = 14, 40


def cells(item: Item) -> tuple[Text, ...]:
    """Rich Text built from plain strings: payload text is never parsed as markup."""
    row = row_of(item.envelope)
    return (
        Text(row.time, style="dim"),
        Text(row.mark, style=_MARK_STYLES.get(row.mark, "bold yellow")),
        Text(row.type, style="bold"),
        Text(row.name, no_wrap=True, overflow="ellipsis"),
        Text(row.user, no_wrap=True, overflow="ellipsis"),
        Text(row.source, style="dim"),
    )


class EventTable(DataTable):
    """The list of events. Holds no events of its own: `items` maps row keys to the model's."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.items: dict[str, Item] = {}
        self._scroll_pending = False

    def on_mount(self) -> None:
        for label in COLUMNS:
            self.add_column(label, width=_FIXED_WIDTHS.get(label, _MIN_NAME), key=label or "mark")

    def on_resize(self) -> None:
        """Name and User share what the fixed columns leave (User gets a third, within limits)."""
        fixed = sum(_FIXED_WIDTHS.values()) + 2 * self.cell_padding * len(COLUMNS)
        flexible = max(_MIN_NAME + _MIN_USER, self.size.width - fixed - 2)
        user = min(_MAX_USER, max(_MIN_USER, flexible // 3))
        changed = False
        for key, width in (("Name", flexible - user), ("User", user)):
            column = self.columns.get(key)  # type: ignore[call-overload]
            if column is not None and column.width != width:
                column.width = width
                changed = True
        if changed:
            self._require_update_dimensions = True
            self.refresh()

    @property
    def selected(self) -> Item | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.items.get(key or "")

    def apply(self, flush: Flush, model: LiveModel) -> None:
        """Show one flush: drop evicted rows, append matching new ones, keep or follow the cursor."""
        following = follows(self.cursor_row, self.row_count)
        keep = self.selected
        for item in flush.evicted:
            key = str(item.id)
            if self.items.pop(key, None) is not None:
                self.remove_row(key)
        self._append(model.matching(flush.added))
        self._place_cursor(following, keep)

    def rebuild(self, items: Iterable[Item]) -> None:
        """Show exactly `items` (a new filter, or clear), following the newest."""
        self.clear()
        self.items.clear()
        self._append(items)
        self._place_cursor(True, None)

    def _append(self, items: Iterable[Item]) -> None:
        for item in items:
            key = str(item.id)
            self.items[key] = item
            self.add_row(*cells(item), key=key)

    def _place_cursor(self, following: bool, keep: Item | None) -> None:
        if not self.row_count:
            return
        if following or keep is None or str(keep.id) not in self.items:
            target = self.row_count - 1 if following or keep is None else 0
        else:
            target = self.get_row_index(str(keep.id))
        if target != self.cursor_row:
            self.move_cursor(row=target, animate=False)
        self._scroll_pending = following

    def settle(self) -> None:
        """Scroll to the newest row once the table has measured the rows it was given (it does
        so when idle, so a scroll right after adding rows can fall short)."""
        if self._scroll_pending and not self._require_update_dimensions:
            self._scroll_pending = False
            self.scroll_end(animate=False)
