"""The search's own text: the query the search bar's words and quick toggles add up to, the
quoted value another screen searches for, and what the search input may hold.

Pure; parsing and matching are the query language's (debugger.query), the bar itself is
widgets/search_bar.py.

The search input draws its text as it is: a query made from a payload (the Schema screen's
"find in events") or pasted must hold no control character, or an event named
`"\\x1b]0;PWNED\\x07"` would set the terminal's title. The query language has no escape for
a control character and no one-character wildcard, so each one becomes `*`: the query is
plain text and still finds the event (with, at worst, a few look-alikes).
"""

from __future__ import annotations

from typing import Iterable

from debugger.message import CALL_TYPES
from debugger.text import masked

STATUSES: tuple[str, ...] = ("accepted", "refused")
WILDCARD = "*"


def shown_query(text: str) -> str:
    """`text` as the search input may hold it: each non-printable character (C0, DEL, C1,
    bidi controls, ...) a wildcard, one for one (the cursor keeps its place)."""
    return masked(text, WILDCARD)


def quoted(value: str) -> str:
    """A query value that matches `value` as written: quoted, with `\\`, `"` and `*` escaped,
    and each character the input must not hold a wildcard (see shown_query)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace(WILDCARD, "\\" + WILDCARD)
    return '"' + shown_query(escaped) + '"'


def compose_query(text: str, types: Iterable[str], statuses: Iterable[str]) -> str:
    """The search text plus the quick toggles as query terms; a full or empty set adds nothing."""
    toggles = []
    chosen = [kind for kind in CALL_TYPES if kind in set(types)]
    if chosen and len(chosen) < len(CALL_TYPES):
        toggles.append("type:" + ",".join(chosen))
    wanted = set(statuses)
    if wanted == {"accepted"}:
        toggles.append("-is:refused")
    elif wanted == {"refused"}:
        toggles.append("is:refused")
    text = text.strip()
    if not toggles:
        return text
    return " ".join([f"({text})", *toggles] if text else toggles)
