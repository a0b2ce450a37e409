"""The detail of the selected event: Pretty, Raw, Problems and Request tabs."""

from __future__ import annotations

from typing import Any, Mapping

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from debugger.tui.detail import problem_lines, raw_text, request_fields
from debugger.tui.pretty import language_of, pretty_call

TABS: tuple[tuple[str, str], ...] = (
    ("pretty", "Pretty"), ("raw", "Raw"), ("problems", "Problems"), ("request", "Request"),
)
THEME = "monokai"


def pretty_view(envelope: Mapping[str, Any]) -> RenderableType:
    message = envelope.get("message")
    if not isinstance(message, Mapping):
        return Text("Refused before it was a call: see Raw and Problems.", style="italic")
    return highlighted(pretty_call(message), language_of(message))


def raw_view(envelope: Mapping[str, Any]) -> RenderableType:
    text, is_json = raw_text(envelope)
    if is_json:
        return highlighted(text, "json")
    return Text(text)


def highlighted(code: str, language: str) -> Text:
    """`code` coloured by pygments once, as Text. A Syntax handed to a Static is highlighted
    again on every measure and every render: twice per selection change, five times a second
    while following a live stream."""
    text = Syntax(code, language, theme=THEME, word_wrap=True, background_color="default").highlight(code)
    if not code.endswith("\n"):
        text.remove_suffix("\n")  # pygments ends every text with a newline
    return text


def problems_view(envelope: Mapping[str, Any]) -> RenderableType:
    lines = problem_lines(envelope)
    if not lines:
        return Text("No problems.", style="green")
    styles = {"error": "red", "warning": "yellow"}
    return Text("\n").join(Text(line, style=styles.get(level, "")) for level, line in lines)


def request_view(envelope: Mapping[str, Any]) -> RenderableType:
    fields = request_fields(envelope)
    width = max(len(label) for label, _ in fields)
    rows = [Text(f"{label:>{width}}  ", style="bold").append(value) for label, value in fields]
    return Text("\n").join(rows)


_VIEWS = {"pretty": pretty_view, "raw": raw_view, "problems": problems_view, "request": request_view}


class DetailTabs(Vertical):
    """Four scrollable panes; `show` re-renders them for one envelope (or none)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shown_id: int | None = None
        self._envelope: Mapping[str, Any] | None = None
        self._stale: set[str] = set()

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="pretty"):
            for pane_id, title in TABS:
                with TabPane(title, id=pane_id):
                    with VerticalScroll(id=f"{pane_id}-scroll"):
                        yield Static(id=f"{pane_id}-body")

    @property
    def active(self) -> str:
        return self.query_one(TabbedContent).active

    @active.setter
    def active(self, pane_id: str) -> None:
        self.query_one(TabbedContent).active = pane_id

    def show(self, item_id: int | None, envelope: Mapping[str, Any] | None) -> None:
        """Show one event: only the visible pane is rendered now, the others when opened
        (while following a busy stream the selection changes up to ten times a second)."""
        if item_id == self.shown_id and item_id is not None:
            return
        self.shown_id = item_id
        self._envelope = envelope
        self._stale = set(_VIEWS)
        count = len(envelope.get("problems") or []) if envelope else 0
        label = f"Problems ({count})" if count else "Problems"
        tab = self.query_one(TabbedContent).get_tab("problems")
        if str(tab.label) != label:  # a new label means a layout pass: only when it changes
            tab.label = label  # type: ignore[assignment]
        self._render_pane(self.active)

    def _render_pane(self, pane_id: str) -> None:
        if pane_id not in self._stale:
            return
        self._stale.discard(pane_id)
        envelope = self._envelope
        body = self.query_one(f"#{pane_id}-body", Static)
        body.update(_VIEWS[pane_id](envelope) if envelope else Text("No event selected.", style="dim"))
        self.query_one(f"#{pane_id}-scroll", VerticalScroll).scroll_home(animate=False)

    @on(TabbedContent.TabActivated)
    def _opened(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._render_pane(event.pane.id)
