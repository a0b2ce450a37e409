"""Counts in words: "1 message", "2 messages". One helper, so no header, title or notification
of the live view reads "1 messages"."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str = "") -> str:
    """`count` (with thousands separators) and `noun`, plural unless it is exactly one;
    `plural` for nouns that do not just take an "s"."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
