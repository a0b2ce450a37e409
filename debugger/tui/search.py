"""The search bar: a query, the quick toggles (call types, accepted/refused) and inline errors.

It parses here so a bad query never reaches the app: the error is shown under the input and
the previous filter stays in force.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Static

from debugger.message import CALL_TYPES
from debugger.tui.model import STATUSES, Matcher, compose_query


class SearchBar(Vertical):
    """Hidden until `/`. Posts `Applied` with the parsed query when it is valid."""

    class Applied(Message):
        def __init__(self, query: Matcher) -> None:
            super().__init__()
            self.query = query

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search: type:track user:42 \"Order Completed\" (enter applies, esc clears)", id="search-input")
        yield Static(id="search-error")
        with Horizontal(id="toggles"):
            for kind in CALL_TYPES:
                yield Checkbox(kind, id=f"toggle-{kind}", compact=True)
            for status in STATUSES:
                yield Checkbox(status, id=f"toggle-{status}", compact=True)

    @property
    def input(self) -> Input:
        return self.query_one("#search-input", Input)

    def query_text(self) -> str:
        """The search text combined with the toggles that are on."""
        on_ = {box.id.removeprefix("toggle-") for box in self.query(Checkbox) if box.value and box.id}
        return compose_query(self.input.value, on_ & set(CALL_TYPES), on_ & set(STATUSES))

    def apply(self) -> bool:
        """Parse and post the query; on a bad one show why and keep the current filter."""
        from debugger.query import QueryError, parse

        text = self.query_text()
        error = self.query_one("#search-error", Static)
        try:
            query = parse(text)
        except QueryError as problem:
            error.update(Text(f"{problem}  (filter unchanged)", style="bold red"))
            error.display = True
            return False
        error.display = False
        self.post_message(self.Applied(query))
        return True

    def reset(self) -> None:
        self.input.value = ""
        for box in self.query(Checkbox):
            box.value = False
        self.query_one("#search-error", Static).display = False

    @on(Input.Submitted, "#search-input")
    def _submitted(self) -> None:
        self.apply()

    @on(Checkbox.Changed)
    def _toggled(self) -> None:
        self.apply()
