"""The text of one row of the event list, how a row is laid out in a line of a given width, and
what the list says when a search lists nothing.

Pure: the list widget (widgets/event_table.py) renders these lines and caches them. Every
payload-derived cell is made visible (debugger.text) before it gets here, and a line is
assembled from plain strings, so nothing in a payload is read as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from debugger.message import call_type, name_of, parse_time, shown_key, user_of
from debugger.text import pictured, visible
from debugger.tui.keys import as_shown
from debugger.tui.model import CAPACITY, Item


@dataclass(frozen=True, slots=True)
class Row:
    """The text of one table row, control characters already made visible."""

    time: str
    mark: str
    type: str
    name: str
    user: str
    source: str
    problem: str  # the first problem not already shown as the name ("" when none)


COLUMNS: tuple[str, ...] = ("Time", "", "Type", "Name", "User", "Source", "Problem")

MARK_ACCEPTED = "✓"
MARK_WARNING = "!"
MARK_REFUSED = "✗"
MARK_UNDELIVERED = "↯"  # accepted, but a forwarding destination failed it (live --forward)

_MARK_STYLES = {MARK_ACCEPTED: "bold green", MARK_REFUSED: "bold red", MARK_UNDELIVERED: "bold magenta"}
_PROBLEM_STYLES = {MARK_REFUSED: "red", MARK_UNDELIVERED: "magenta"}
_CELL_STYLES = ("dim", "", "bold", "", "", "dim", "yellow")
# Source: wide enough for two keys that share a prefix and a suffix ("dev_py_key",
# "dev_node_key") to read apart; a longer key is cut at its end (random keys differ early).
_FIXED_WIDTHS = {"Time": 8, "": 1, "Type": 8, "Source": 12}
_SOURCE_GIVES = 5  # cells Source gives up on a very narrow line
_SOURCE_TAKES = 12  # cells Source takes from Problem on a wide line
_MIN_NAME, _MAX_NAME = 12, 48
_MIN_USER, _MAX_USER = 14, 40
_MIN_PROBLEM = 24


def mark_of(envelope: Mapping[str, Any]) -> str:
    """✓ accepted, ! accepted with warnings, ✗ refused."""
    if envelope.get("status") == "rejected":
        return MARK_REFUSED
    return MARK_WARNING if envelope.get("problems") else MARK_ACCEPTED


def row_of(envelope: Mapping[str, Any], mask_keys: bool = False, undelivered: str = "") -> Row:
    """The row for an event envelope; a refused call without a message shows its first reason.
    Write keys are shown in full unless `mask_keys`: then masked as every tab masks them (the
    Source, a value equal to a key, a key a problem quotes). `undelivered` (how a destination failed the event, see
    DeliveryLog.failure) makes the mark ↯ and comes first in Problem."""
    envelope = as_shown(envelope, mask_keys)
    message = envelope.get("message")
    received = parse_time(envelope.get("receivedAt"))
    time = received.astimezone().strftime("%H:%M:%S") if received else ""
    # Rules quote payload text with repr (`\x1b`): drawn as the Problems tab draws it (␛).
    problems = [pictured(str(p.get("message", ""))) for p in envelope.get("problems") or () if isinstance(p, Mapping)]
    if isinstance(message, Mapping):
        kind, name, user = call_type(message).upper() or "?", name_of(message), user_of(message)
    else:
        kind, name, user = "—", problems[0] if problems else "", ""
        problems = problems[1:]
    if undelivered and envelope.get("status") != "rejected":
        problems.insert(0, undelivered)
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    mark = mark_of(envelope)
    return Row(
        time=time,
        mark=MARK_UNDELIVERED if undelivered and mark != MARK_REFUSED else mark,
        type=visible(kind),
        name=visible(_clip(name)),
        user=visible(_clip(user)),
        source=visible(shown_key(_as_text(envelope.get("writeKey")), mask_keys)),
        problem=visible(_clip(problems[0]) + more) if problems else "",
    )


def cells_of(row: Row) -> tuple[str, ...]:
    """A row's cells in COLUMNS order."""
    return (row.time, row.mark, row.type, row.name, row.user, row.source, row.problem)


def column_widths(total: int) -> list[int]:
    """Widths of the columns for a line of `total` cells (one space between columns, one at
    each edge); Name and User share what is left, User a third of it within limits. A wide
    line stops Name at _MAX_NAME and gives the rest to Problem, which is 0 (hidden) otherwise."""
    fixed = sum(_FIXED_WIDTHS.values()) + len(COLUMNS)  # the spaces of every column but Problem
    # A very narrow line takes what Name and User lack from Source first.
    source = _FIXED_WIDTHS["Source"] - min(_SOURCE_GIVES, max(0, _MIN_NAME + _MIN_USER - (total - fixed)))
    flexible = max(_MIN_NAME + _MIN_USER, total - fixed + _FIXED_WIDTHS["Source"] - source)
    user = min(_MAX_USER, max(_MIN_USER, flexible // 3))
    name, problem = flexible - user, 0
    if name - _MAX_NAME - 1 >= _MIN_PROBLEM:
        name, problem = _MAX_NAME, name - _MAX_NAME - 1
        wider = min(_SOURCE_TAKES, problem - _MIN_PROBLEM)  # a wide line shows longer keys whole
        source, problem = source + wider, problem - wider
    widths = {**_FIXED_WIDTHS, "Source": source, "Name": name, "User": user, "Problem": problem}
    return [widths[label] for label in COLUMNS]


def fit(text: str, width: int) -> str:
    """`text` padded or cut (with "…") to exactly `width` terminal cells (wide characters too)."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def line_text(values: Sequence[str], widths: list[int], styles: Sequence[str]) -> Text:
    """Cells as one line of Text assembled from plain strings (nothing in a payload is read
    as markup); a column of width 0 is left out."""
    text = Text(" ", no_wrap=True)
    for value, width, style in zip(values, widths, styles, strict=True):
        if width:
            text.append(fit(value, width), style=style)
            text.append(" ")
    return text


def header_text(widths: list[int]) -> Text:
    """The column titles as a line."""
    return line_text(COLUMNS, widths, ("",) * len(COLUMNS))


def row_text(item: Item, widths: list[int], mask_keys: bool = False, undelivered: str = "") -> Text:
    """One event's row: its mark and problem coloured by acceptance (and delivery); an event
    the collector sent as history (it arrived before this viewer connected) has its time in
    italics."""
    row = row_of(item.envelope, mask_keys, undelivered)
    styles = list(_CELL_STYLES)
    if item.envelope.get("history"):
        styles[0] = "dim italic"
    styles[1] = _MARK_STYLES.get(row.mark, "bold yellow")
    styles[6] = _PROBLEM_STYLES.get(row.mark, "yellow")
    return line_text(cells_of(row), widths, styles)


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def nothing_found_text(kept: int, query: str, archive: str = "", http: str = "", hard_filter: str = "") -> Text:
    """What the list says when a search matches none of the events it keeps: the list keeps
    only the newest CAPACITY, while the Schema screen (whose "find in events" often leads
    here) counts the whole session; and where the older ones are (the collector's query API,
    the archive). Under `live --filter` (`hard_filter`) the view holds only what the filter
    lets through, so it says that first: the likeliest reason a search finds nothing is a
    filter the developer started with and forgot. The collector's query is then the search
    alone, which lists the events the filter hid as well."""
    if kept > 1:
        first = f"None of the {kept:,} events this view keeps match the search."
    else:
        first = "The one event this view keeps does not match the search." if kept else \
            "This view keeps no events to search."
    text = Text(first, style="bold")
    if hard_filter:
        text.append(" This view shows only events matching --filter ")
        text.append(visible(hard_filter), style="bold")
        text.append(", so the search may be looking for events the filter hides.")
    if not http:  # an archive opened with --file: the Schema screen folds all of it
        text.append(f" This view reads the newest {CAPACITY:,} lines of the archive; the Schema"
                    " screen counts all of it. Older events are only in ")
        text.append(visible(archive) or "the archive", style="bold")
        return text.append(".")
    text.append(f" The list keeps the newest {CAPACITY:,} events; the Schema screen counts the"
                " whole session. This session's matches")
    text.append(", the filtered-out ones too: " if hard_filter else ": ")
    text.append(f"curl '{visible(http)}/segdebug/events?q={quote(query, safe=':')}'", style="bold")
    if archive:
        text.append(" (all events are in ")
        text.append(visible(archive), style="bold")
        text.append(")")
    return text.append(".")
