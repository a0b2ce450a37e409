"""Untrusted text made safe for a terminal line, for the plain-text outputs (tail, validate)."""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with every non-printable character (escape sequences, newlines, bidi) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")
