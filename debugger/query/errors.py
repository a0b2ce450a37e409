"""The one error a query can raise: where it went wrong and what was expected there."""

from __future__ import annotations

import unicodedata

from debugger.text import masked


class QueryError(ValueError):
    """A syntax error in a query. `str(e)` is one line ("column 6: expected ..."); `caret()`
    adds the query with a caret under the position, for a terminal."""

    def __init__(self, message: str, *, query: str, position: int, expected: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.query = query
        self.position = max(0, min(position, len(query)))
        self.expected = expected

    def __str__(self) -> str:
        return f"column {self.position + 1}: {self.message}"

    def caret(self) -> str:
        """Two lines: the query (control characters shown as '?') and '^' under the error."""
        shown = masked(self.query)
        width = sum(_width(char) for char in shown[: self.position])
        return f"{shown}\n{' ' * width}^"


def _width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
