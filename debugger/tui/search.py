"""The search's own text: the query the search bar's words and quick toggles add up to.

Pure; parsing and matching are the query language's (debugger.query), the bar itself is
widgets/search_bar.py.
"""

from __future__ import annotations

from typing import Iterable

from debugger.message import CALL_TYPES

STATUSES: tuple[str, ...] = ("accepted", "refused")


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
