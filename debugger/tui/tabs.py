"""The one registry of detail tabs: each entry is a pane of the detail under the list.

The events screen's key bindings (1, 2, ...), the tab bar and the help screen's key list are
all made from DETAIL_TABS, so adding a tab is one `DetailTab(...)` entry plus its view
function. A tab's key is its place in the registry (the first is `1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.binding import Binding

from debugger.text import pictured
from debugger.tui.delivery_log import DeliveryLog
from debugger.tui.delivery_text import delivery_view
from debugger.tui.detail import problem_lines, raw_text, request_fields
from debugger.tui.keys import KeyMask, as_shown
from debugger.tui.pretty import language_of, pretty_call

Envelope = Mapping[str, Any]
THEME = "monokai"


@dataclass(frozen=True)
class Display:
    """How the viewer was asked to show things (`live --mask-keys`), and what it heard beside
    the events themselves (`deliveries`: the collector's delivery news, for the Delivery tab)."""

    mask_keys: bool = False
    deliveries: DeliveryLog | None = None


@dataclass(frozen=True)
class DetailTab:
    """One pane: `view` renders an envelope as plain Text (never markup: payload text stays
    text); `count`, when given, is shown in the title ("Problems (2)") whenever it is not zero."""

    id: str
    title: str
    view: Callable[[Envelope, Display], RenderableType]
    count: Callable[[Envelope], int] | None = None
    live: bool = False  # its view also depends on news that arrives later (DetailTabs.refresh_live)

    def label(self, envelope: Envelope | None) -> str:
        number = self.count(envelope) if self.count and envelope is not None else 0
        return f"{self.title} ({number})" if number else self.title


# --- the views -------------------------------------------------------------------------------


def shown(envelope: Envelope, display: Display) -> Envelope:
    """The envelope a tab draws: with `--mask-keys`, its write keys masked wherever they
    appear (message, raw text), as the list masks them."""
    return as_shown(envelope, display.mask_keys)


def key_mask(envelope: Envelope, display: Display) -> KeyMask | None:
    return KeyMask.of(envelope) if display.mask_keys else None


def pretty_view(envelope: Envelope, display: Display) -> RenderableType:
    message = shown(envelope, display).get("message")
    if not isinstance(message, Mapping):
        return Text("Refused before it was a call: see Raw and Problems.", style="italic")
    return highlighted(pictured(pretty_call(message)), language_of(message))


def raw_view(envelope: Envelope, display: Display) -> RenderableType:
    text, is_json = raw_text(shown(envelope, display))
    if is_json:
        return highlighted(text, "json")
    return Text(text)


def problems_view(envelope: Envelope, display: Display) -> RenderableType:
    lines = problem_lines(shown(envelope, display))
    if not lines:
        return Text("No problems.", style="green")
    styles = {"error": "red", "warning": "yellow"}
    return Text("\n").join(Text(line, style=styles.get(level, "")) for level, line in lines)


def problem_count(envelope: Envelope) -> int:
    return len(envelope.get("problems") or [])


def request_view(envelope: Envelope, display: Display) -> RenderableType:
    fields = request_fields(envelope, display.mask_keys)
    width = max(len(label) for label, _ in fields)
    rows = [Text(f"{label:>{width}}  ", style="bold").append(value) for label, value in fields]
    return Text("\n").join(rows)


def delivery_tab_view(envelope: Envelope, display: Display) -> RenderableType:
    return delivery_view(shown(envelope, display), display.deliveries, key_mask(envelope, display))


def highlighted(code: str, language: str) -> Text:
    """`code` coloured by pygments once, as Text. A Syntax handed to a Static is highlighted
    again on every measure and every render: twice per selection change, five times a second
    while following a live stream."""
    text = Syntax(code, language, theme=THEME, word_wrap=True, background_color="default").highlight(code)
    if not code.endswith("\n"):
        text.remove_suffix("\n")  # pygments ends every text with a newline
    return text


# --- the registry ----------------------------------------------------------------------------

DETAIL_TABS: tuple[DetailTab, ...] = (
    DetailTab("pretty", "Pretty", pretty_view),
    DetailTab("raw", "Raw", raw_view),
    DetailTab("problems", "Problems", problems_view, count=problem_count),
    DetailTab("request", "Request", request_view),
    # Not a pure function of the envelope: redrawn when delivery news of the event arrives.
    DetailTab("delivery", "Delivery", delivery_tab_view, live=True),
)
TABS_BY_ID: dict[str, DetailTab] = {tab.id: tab for tab in DETAIL_TABS}


def tab_key(index: int) -> str:
    """The key of the tab at `index` in the registry."""
    return str(index + 1)


def tab_bindings() -> list[Binding]:
    """`1` .. `n`: show that tab (on the screen that shows the detail)."""
    return [
        Binding(tab_key(index), f"tab('{tab.id}')", tab.title, show=False)
        for index, tab in enumerate(DETAIL_TABS)
    ]


def tab_help() -> tuple[str, str]:
    """The tabs' line in the help screen: ("1 2 3 4", "Pretty / Raw / Problems / Request tab")."""
    keys = " ".join(tab_key(index) for index in range(len(DETAIL_TABS)))
    return keys, " / ".join(tab.title for tab in DETAIL_TABS) + " tab"
