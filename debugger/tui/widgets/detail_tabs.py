"""The detail of the highlighted event: one scrollable pane per entry of the tab registry.

It is updated with every move of the highlighted row, arrivals included (the detail never
belongs to another event than the highlighted row), so what it renders is cached per event and
tab: going back to an event, or showing one again after a search, costs no highlighting."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from debugger.tui.tabs import DETAIL_TABS, TABS_BY_ID, Display


CACHED_VIEWS = 256  # rendered panes kept (event id, tab id)


class DetailTabs(Vertical):
    """A pane per DetailTab; `show` re-renders them for one envelope (or none)."""

    def __init__(self, display: Display | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.display_options = display or Display()
        self._views: OrderedDict[tuple[int, str], RenderableType] = OrderedDict()
        self.shown_id: int | None = None
        self._envelope: Mapping[str, Any] | None = None
        self._stale: set[str] = set()

    def compose(self) -> ComposeResult:
        with TabbedContent(initial=DETAIL_TABS[0].id):
            for tab in DETAIL_TABS:
                with TabPane(tab.title, id=tab.id):
                    with VerticalScroll(id=f"{tab.id}-scroll"):
                        yield Static(id=f"{tab.id}-body")

    @property
    def active(self) -> str:
        return self.query_one(TabbedContent).active

    @active.setter
    def active(self, pane_id: str) -> None:
        if pane_id in TABS_BY_ID:
            self.query_one(TabbedContent).active = pane_id

    def focus_active(self) -> None:
        """Keys now scroll the open pane (enter on the list)."""
        self.query_one(f"#{self.active}-scroll").focus()

    def show(self, item_id: int | None, envelope: Mapping[str, Any] | None) -> None:
        """Show one event: only the visible pane is rendered now, the others when opened
        (while following a busy stream the selection changes up to ten times a second)."""
        if item_id == self.shown_id and item_id is not None:
            return
        self.shown_id = item_id
        self._envelope = envelope
        self._stale = set(TABS_BY_ID)
        tabs = self.query_one(TabbedContent)
        for tab in DETAIL_TABS:
            if tab.count is None:
                continue
            label, shown = tab.label(envelope), tabs.get_tab(tab.id)
            if str(shown.label) != label:  # a new label means a layout pass: only when it changes
                shown.label = label
        self._render_pane(self.active)

    def refresh_live(self) -> None:
        """News for the shown event (its delivery): the tabs that depend on it are drawn again,
        the open one now, where it was scrolled to."""
        for tab in DETAIL_TABS:
            if tab.live:
                self._stale.add(tab.id)
        if TABS_BY_ID[self.active].live:
            self._render_pane(self.active, keep_scroll=True)

    def _render_pane(self, pane_id: str, keep_scroll: bool = False) -> None:
        if pane_id not in self._stale:
            return
        self._stale.discard(pane_id)
        body = self.query_one(f"#{pane_id}-body", Static)
        body.update(self._view(pane_id))
        if not keep_scroll:
            self.query_one(f"#{pane_id}-scroll", VerticalScroll).scroll_home(animate=False)

    def _view(self, pane_id: str) -> RenderableType:
        envelope, item_id = self._envelope, self.shown_id
        if envelope is None or item_id is None:
            return Text("No event selected.", style="dim")
        tab = TABS_BY_ID[pane_id]
        if tab.live:  # never cached: later news changes it
            return tab.view(envelope, self.display_options)
        key = (item_id, pane_id)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = TABS_BY_ID[pane_id].view(envelope, self.display_options)
            if len(self._views) > CACHED_VIEWS:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(key)
        return view

    @on(TabbedContent.TabActivated)
    def _opened(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._render_pane(event.pane.id)
