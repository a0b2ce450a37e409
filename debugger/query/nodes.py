"""The parsed form of a query: a small tree of immutable nodes.

The parser builds it, the compiler turns it into a Python function and `evaluate` (the
reference semantics the tests compare the compiled function against) walks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Union

Scope = Literal["message", "envelope"]
CompareOp = Literal[">", ">=", "<", "<="]
IsKind = Literal["accepted", "refused", "valid", "invalid", "warning"]


@dataclass(frozen=True)
class Path:
    """Where a field lives: dotted keys into the message (or the envelope, for `source:`)."""

    keys: tuple[str, ...]
    scope: Scope = "message"


@dataclass(frozen=True)
class Pattern:
    """One value to match, split at its unescaped `*` wildcards and lowercased.

    `parts == ("track",)` is an exact match; `("test", "")` is the prefix `test*`."""

    parts: tuple[str, ...]

    @property
    def wildcard(self) -> bool:
        return len(self.parts) > 1

    @property
    def literal(self) -> str:
        return "*".join(self.parts)

    def regex(self) -> re.Pattern[str]:
        return re.compile(".*".join(re.escape(part) for part in self.parts), re.DOTALL)


@dataclass(frozen=True)
class Equals:
    """`path:a,b*` : some value at one of the paths matches one of the patterns."""

    paths: tuple[Path, ...]
    patterns: tuple[Pattern, ...]


@dataclass(frozen=True)
class Compare:
    """`path>100`, `path<=2024-01-01`: a number or a moment; other value types are false."""

    paths: tuple[Path, ...]
    op: CompareOp
    threshold: float | datetime


@dataclass(frozen=True)
class Has:
    """`has:path`: some non-null value is at one of the paths."""

    paths: tuple[Path, ...]


@dataclass(frozen=True)
class Is:
    """`is:accepted|refused|valid|invalid|warning` on the envelope's status and problems."""

    kind: IsKind


@dataclass(frozen=True)
class Time:
    """`after:` (>=) and `before:` (<) on the event time."""

    op: Literal[">=", "<"]
    moment: datetime


@dataclass(frozen=True)
class Text:
    """A bare word or "quoted phrase": a case-insensitive substring of the raw JSON.

    `needles` are the forms to look for: as typed, and as JSON encoders escape it."""

    needles: tuple[Pattern, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class All:
    """The empty query: matches everything."""


Node = Union[Equals, Compare, Has, Is, Time, Text, Not, And, Or, All]
