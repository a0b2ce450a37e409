"""The one error type commands raise for a clear, one-line failure."""

from __future__ import annotations


class CliError(Exception):
    """A failure the user can fix: printed as one line, exits with `code` (2 = usage)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code
