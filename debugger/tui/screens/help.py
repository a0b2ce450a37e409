"""The `?` screen: every key of the screen it was opened over, so nothing has to be remembered."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from debugger.tui.screens.base import HelpKeys


def help_text(keys: HelpKeys) -> Group:
    """The keys as a two-column grid: a long meaning wraps inside its own column."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(justify="right", style="bold cyan", no_wrap=True)
    grid.add_column(ratio=1)
    for key, meaning in keys:
        grid.add_row(key, meaning)
    mouse = Text("\nMouse: click a row to select it, a tab to switch. Press esc, q or ? to close.")
    return Group(Text("Keys\n", style="bold"), grid, mouse)


class HelpScreen(ModalScreen[None]):
    """A modal over the current view; `keys` are that view's own followed by the app's."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, keys: HelpKeys) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text(self.keys))
