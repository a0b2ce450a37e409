"""The search bar: a query, the quick toggles (call types, accepted/refused) and inline errors.

Results follow the typing: a short pause after the last key applies the query (Enter applies
at once and goes back to the list). It parses here so a bad query never reaches the screen:
the error is shown under the input and the previous filter stays in force.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Input, Static

from debugger.message import CALL_TYPES
from debugger.query import Query, QueryError, parse
from debugger.tui.search import STATUSES, compose_query, shown_query


class Toggle(Static, can_focus=True):
    """A one-line check box ("■ track" / "□ track"): narrower than Checkbox, so all eight fit
    in 80 columns, and its state reads in plain text too."""

    BINDINGS = [Binding("space,enter", "flip", "Toggle", show=False)]

    class Changed(Message):
        pass

    value: reactive[bool] = reactive(False, init=False)

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label

    def render(self) -> Text:
        return Text(("■ " if self.value else "□ ") + self.label,
                    style="bold" if self.value else "dim")

    def watch_value(self) -> None:
        self.post_message(self.Changed())

    def on_click(self) -> None:
        self.action_flip()

    def action_flip(self) -> None:
        self.value = not self.value


class QueryInput(Input):
    """The search's input. Input draws its value as it is, so whatever sets it (a screen's
    search made from a payload, a paste, code) gets each control character replaced by the
    query language's wildcard (debugger.tui.search.shown_query): nothing it holds can move
    the cursor, clear the screen or set the terminal's title."""

    def validate_value(self, value: str) -> str:
        return shown_query(value)


TYPING_PAUSE = 0.15  # seconds after the last key before the query applies


class SearchBar(Vertical):
    """Hidden until `/`. Posts `Applied` with the parsed query when it is valid."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._typing: Timer | None = None
        self.applied_text = ""  # the query text in force

    class Done(Message):
        """Enter on a good query: back to the list."""

    class Applied(Message):
        """A valid query: the screen filters its list, the app resubscribes with it."""

        def __init__(self, query: Query) -> None:
            super().__init__()
            self.query = query

    def compose(self) -> ComposeResult:
        yield QueryInput(placeholder="search: type:track user:42 is:refused \"Order Completed\" (esc clears)", id="search-input")
        yield Static(id="search-error")
        with Horizontal(id="toggles"):
            for name in (*CALL_TYPES, *STATUSES):
                yield Toggle(name, id=f"toggle-{name}")

    @property
    def input(self) -> Input:
        return self.query_one("#search-input", Input)

    def query_text(self) -> str:
        """The search text combined with the toggles that are on."""
        on_ = {box.id.removeprefix("toggle-") for box in self.query(Toggle) if box.value and box.id}
        return compose_query(self.input.value, on_ & set(CALL_TYPES), on_ & set(STATUSES))

    def apply(self) -> bool:
        """Parse and post the query (unless it is the one in force); on a bad one show why
        and keep the current filter."""
        self._stop_typing()
        text = self.query_text()
        error = self.query_one("#search-error", Static)
        try:
            query = parse(text)
        except QueryError as problem:
            error.update(Text(f"{problem}  (filter unchanged)", style="bold red"))
            error.display = True
            return False
        error.display = False
        if query.text != self.applied_text:
            self.applied_text = query.text
            self.post_message(self.Applied(query))
        return True

    def reset(self) -> None:
        self._stop_typing()
        self.input.value = ""
        for box in self.query(Toggle):
            box.set_reactive(Toggle.value, False)
            box.refresh()
        self.query_one("#search-error", Static).display = False

    def _stop_typing(self) -> None:
        if self._typing is not None:
            self._typing.stop()
            self._typing = None

    @on(Input.Changed, "#search-input")
    def _typed(self) -> None:
        self._stop_typing()
        self._typing = self.set_timer(TYPING_PAUSE, self.apply)

    @on(Input.Submitted, "#search-input")
    def _submitted(self) -> None:
        if self.apply():
            self.post_message(self.Done())

    @on(Toggle.Changed)
    def _toggled(self) -> None:
        self.apply()
