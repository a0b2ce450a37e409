"""The text of the live Schema screen: cells of its two tables, its header, and the search that
finds an event's messages in the events list. Pure (Rich Text, no Textual), so it is tested
without a terminal.

Names and example values come from the traffic: they are made `Text` directly (never parsed
as markup) and drawn as `debugger.text.visible` draws them, control characters as pictures.
Property paths are written by `debugger.schema.path_text`, as in every other output (a key
holding a dot reads `"a.b"`); the `\u001b` of a quoted key is drawn as its picture.
Flags are highlighted: a `!` in the first column and the flag words in the warning colour.
"""

from __future__ import annotations

from typing import Any

import orjson
from rich.text import Text

from debugger.schema import (
    NAMING, NEAR_DUPLICATE, NO_EVENT, SOMETIMES_MISSING, TYPE_DRIFT, EventView, PropertyView, Schema,
    path_text,
)
from debugger.schema_report import flags_text, property_flags_text, types_text, utc
from debugger.text import pictured, visible
from debugger.tui.search import quoted
from debugger.tui.words import counted

NAME_CELLS = 40  # a name longer than this is cut (a payload's names can be any length)
EXAMPLE_CELLS = 48
FLAG_STYLE = "bold yellow"
MARK_STYLE = "bold red"

EVENT_COLUMNS = ("", "Type", "Event", "Total", "Blocked", "Flags", "Last seen (UTC)")
PROPERTY_COLUMNS = ("", "Property", "Types", "Present", "Blocked", "Flags", "Examples")


def _name(text: str, cells: int = NAME_CELLS, flagged: bool = False) -> Text:
    shown = Text(visible(text), style=FLAG_STYLE if flagged else "", no_wrap=True)
    shown.truncate(cells, overflow="ellipsis")
    return shown


def _mark(flagged: bool) -> Text:
    return Text("!", style=MARK_STYLE) if flagged else Text(" ")


def _count(value: int) -> Text:
    return Text(f"{value:,}", justify="right")


def event_flag_words(event: EventView) -> str:
    """The event's flags in a few words for its row, e.g. `near-dup, drift 1, missing 1`
    (how many properties drift or are sometimes missing); the summary line spells them out."""
    words: list[str] = []
    if NAMING in event.flags:
        words.append("naming")
    if NEAR_DUPLICATE in event.flags:
        words.append("near-dup")
    for flag, label in ((TYPE_DRIFT, "drift"), (SOMETIMES_MISSING, "missing")):
        count = sum(1 for view in event.properties if flag in view.flags)
        if count:
            words.append(f"{label} {count}")
    return ", ".join(words)


def event_cells(event: EventView) -> tuple[Text, ...]:
    """One row of the events table."""
    flags = event_flag_words(event)
    return (
        _mark(bool(flags)), Text(event.kind), _name(event.label, flagged=bool(flags)),
        _count(event.count), _count(event.refused), Text(flags, style=FLAG_STYLE, no_wrap=True),
        Text(utc(event.last_seen)),
    )


def _example(value: Any) -> str:
    return visible(pictured(orjson.dumps(value).decode()))


def property_cells(view: PropertyView) -> tuple[Text, ...]:
    """One row of the properties table (a property, or a trait of Identify / Group)."""
    flags = pictured(property_flags_text(view))
    examples = Text(", ".join(_example(value) for value in view.examples), no_wrap=True)
    examples.truncate(EXAMPLE_CELLS, overflow="ellipsis")
    return (
        _mark(bool(flags)), _name(pictured(path_text(view.path)), flagged=bool(flags)),
        Text(types_text(view), style=FLAG_STYLE if TYPE_DRIFT in view.flags else ""),
        Text(f"{view.percent:.0f}%", justify="right",
             style=FLAG_STYLE if SOMETIMES_MISSING in view.flags else ""),
        _count(view.blocked), Text(visible(flags), style=FLAG_STYLE, no_wrap=True), examples,
    )


def _ranked(pairs: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(visible(name) for name, _ in pairs[:3]) + (" …" if len(pairs) > 3 else "")


def event_summary(event: EventView | None) -> Text:
    """The line over the properties: the highlighted event in total, its own flags spelled out."""
    if event is None:
        return Text("No event selected.", style="dim")
    what = "traits" if event.kind in ("identify", "group") else "properties"
    line = Text.assemble(
        (visible(event.label), "bold"), f" ({event.kind}) · {counted(event.count, 'message')}, ",
        (f"{event.refused:,} blocked", "bold red" if event.refused else ""),
    )
    own = tuple(flag for flag in event.flags if flag in (NAMING, NEAR_DUPLICATE))
    if own:
        line.append(" · " + visible(flags_text(own, event.naming, event.similar)), style=FLAG_STYLE)
    line.append(f" · last {utc(event.last_seen) or '-'}")
    if event.write_keys:
        line.append(f" · keys {_ranked(event.write_keys)}")
    if event.libraries:
        line.append(f" · {_ranked(event.libraries)}")
    if not event.properties:
        line.append(f" · no {what}", style="dim")
    if event.cut_properties:
        line.append(f" · {event.cut_properties:,} {what} past the cap not listed", style=FLAG_STYLE)
    line.append(f" · first {utc(event.first_seen) or '-'}")
    line.no_wrap, line.overflow = True, "ellipsis"  # one line: the most useful first
    return line


def headline(schema: Schema, scope: str) -> Text:
    """The first header line: totals of what was folded, and how much is flagged."""
    flagged = sum(1 for event in schema.events if event_flag_words(event))
    line = Text.assemble(
        ("Schema", "bold"), f" · {scope} · {counted(schema.messages, 'message')}, ",
        (f"{schema.refused:,} refused", "bold red" if schema.refused else ""),
        f" · {counted(len(schema.events), 'event')}",
    )
    if flagged:
        line.append(f" · {flagged:,} flagged", style=FLAG_STYLE)
    if schema.cut_events:
        line.append(f" · {counted(schema.cut_events, 'event')} past the cap", style=FLAG_STYLE)
    return line


def event_query(kind: str, name: str) -> str:
    """The events list's search for one event of the schema: `type:track event:"..."` for a
    Track event, `type:page` and the like for the calls listed by their fixed name. The name
    came from a payload: its control characters are wildcards (debugger.tui.search.quoted),
    since the search input shows the query as it is."""
    if kind != "track":
        return f"type:{kind}"
    if name == NO_EVENT:
        return "type:track -has:event"
    return f"type:track event:{quoted(name)}"
