"""The `?` screen: every key, so nothing has to be remembered."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("space", "pause / resume (arrivals are counted while paused)"),
    ("/", "search with the query language (segdebug help query)"),
    ("esc", "clear the search / back to the list"),
    ("enter, tab", "to the detail of the selected event"),
    ("1 2 3 4", "Pretty / Raw / Problems / Request tab"),
    ("up down pgup pgdn", "select an event (the list follows only from the newest)"),
    ("g, G", "oldest / newest event"),
    ("y", "copy the selected payload (clipboard and a file)"),
    ("w", "write the listed accepted messages to an NDJSON file"),
    ("c", "clear the list"),
    ("?", "this help"),
    ("q, ctrl+c", "quit"),
)


def help_text() -> Group:
    """The keys as a two-column grid: a long meaning wraps inside its own column."""
    keys = Table.grid(padding=(0, 2))
    keys.add_column(justify="right", style="bold cyan", no_wrap=True)
    keys.add_column(ratio=1)
    for key, meaning in KEYS:
        keys.add_row(key, meaning)
    mouse = Text("\nMouse: click a row to select it, a tab to switch. Press esc, q or ? to close.")
    return Group(Text("Keys\n", style="bold"), keys, mouse)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_text())
