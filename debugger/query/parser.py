"""Build the node tree from tokens: OR binds loosest, then AND (implicit or written), then
`-`/NOT; parentheses group. Field terms are checked here (is:, has:, after:, comparisons)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from debugger.message import parse_time
from debugger.query.errors import QueryError
from debugger.text import masked
from debugger.query.lexer import Token, Value, tokenize
from debugger.query.nodes import (
    All, And, Compare, Equals, Has, Is, Node, Not, Or, Path, Text, Time,
)
from debugger.query.values import needles_for, number

# Limits keep one parse well under a millisecond per term: the hub parses a subscriber's
# filter on the collector's event loop.
MAX_DEPTH = 40
MAX_TERMS = 200
MAX_LENGTH = 10_000
IS_KINDS = ("accepted", "refused", "valid", "invalid", "warning")
# Older words that still parse: `is:rejected` (the wire status of a refused call) is `is:refused`.
IS_ALIASES = {"rejected": "refused"}

# Shortcut fields: the name users type, the paths it looks at (any may match).
SHORTCUTS: dict[str, tuple[Path, ...]] = {
    "user": (Path(("userId",)), Path(("anonymousId",))),
    "name": (Path(("event",)), Path(("name",))),
    "id": (Path(("messageId",)),),
    "source": (Path(("writeKey",), "envelope"), Path(("writeKey",))),
}


def parse_tree(query: str) -> Node:
    """The node tree of `query` (All for a blank query), or QueryError."""
    if len(query) > MAX_LENGTH:
        raise QueryError(f"query too long ({len(query)} characters, at most {MAX_LENGTH})",
                         query=query, position=MAX_LENGTH, expected="a shorter query")
    tokens = tokenize(query)
    terms = [token for token in tokens if token.kind in ("word", "field")]
    if len(terms) > MAX_TERMS:
        raise QueryError(f"too many terms (at most {MAX_TERMS})", query=query,
                         position=terms[MAX_TERMS].position, expected="fewer terms")
    return _Parser(query, tokens).run()


class _Parser:
    def __init__(self, query: str, tokens: list[Token]) -> None:
        self.query = query
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def fail(self, message: str, position: int, expected: str) -> QueryError:
        return QueryError(message, query=self.query, position=position, expected=expected)

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def run(self) -> Node:
        if not self.tokens:
            return All()
        node = self.any_of()
        token = self.peek()
        if token is not None:  # only a stray ')' stops any_of early
            raise self.fail("unexpected ')': no '(' to close", token.position, "a term")
        return node

    def any_of(self) -> Node:
        items = [self.all_of()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.index += 1
            self.expect_term_after(token)
            items.append(self.all_of())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def all_of(self) -> Node:
        items: list[Node] = []
        while (token := self.peek()) is not None and token.kind not in (")", "OR"):
            if token.kind == "AND":
                if not items:
                    raise self.fail("expected a term before 'AND'", token.position, "a term")
                self.index += 1
                self.expect_term_after(token)
                continue
            items.append(self.unary())
        if not items:
            if token is None:
                raise self.fail("expected a term before the end of the query", len(self.query),
                                "a term")
            what = "')'" if token.kind == ")" else "'OR'"
            raise self.fail(f"expected a term before {what}", token.position, "a term")
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        token = self.tokens[self.index]
        self.index += 1
        if token.kind in ("-", "NOT"):
            self.expect_term_after(token)
            return Not(self.nested(self.unary, token))
        if token.kind == "(":
            return self.nested(self.group, token)
        if token.kind == "word":
            assert token.word is not None
            return Text(needles_for(token.word.pattern))
        if token.kind == "field":
            return self.field(token)
        raise AssertionError(token.kind)  # pragma: no cover - all_of filters the rest

    def nested(self, inner: Callable[[], Node], token: Token) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"query nested too deeply (more than {MAX_DEPTH} levels)",
                            token.position, "fewer nested terms")
        node = inner()
        self.depth -= 1
        return node

    def group(self) -> Node:
        opening = self.tokens[self.index - 1]
        following = self.peek()
        if following is not None and following.kind == ")":
            raise self.fail("expected a term inside '()'", following.position, "a term")
        node = self.any_of()
        closing = self.peek()
        if closing is None:
            raise self.fail(f"expected ')' to close the '(' at column {opening.position + 1}",
                            len(self.query), "')'")
        self.index += 1
        return node

    def expect_term_after(self, token: Token) -> None:
        following = self.peek()
        if following is None or following.kind in (")", "OR", "AND"):
            raise self.fail(f"expected a term after '{token.source}'", self.end_of(token),
                            "a term")

    def end_of(self, token: Token) -> int:
        return token.position + len(token.source)

    # Field terms -------------------------------------------------------------------------

    def field(self, token: Token) -> Node:
        name, op, values = token.name, token.op, token.values
        if name in ("is", "has", "after", "before"):
            if op != ":":
                raise self.fail(f"'{name}:' takes a value, not a comparison ('{name}{op}')",
                                token.position + len(name), "':'")
            if name == "is":
                return self.is_term(values)
            if name == "has":
                return Has(tuple(path for value in values for path in self.paths(
                    value.source, value.position, value)))
            return self.time_term(name, values)
        paths = self.paths(name, token.position)
        if op == ":":
            return Equals(paths, tuple(value.pattern for value in values))
        return Compare(paths, op, self.threshold(name, op, values[0]))  # type: ignore[arg-type]

    def paths(self, name: str, position: int, value: Value | None = None) -> tuple[Path, ...]:
        if value is not None and (value.pattern.wildcard or value.quoted or "\\" in name):
            raise self.fail("'has:' takes a field path, without quotes or '*'", position,
                            "a field path")
        if name in SHORTCUTS:
            return SHORTCUTS[name]
        keys = tuple(name.split("."))
        offset = position
        for key in keys:
            if not key:
                raise self.fail(f"empty part in the field path '{masked(name)}'", offset,
                                "a field name between the dots")
            offset += len(key) + 1
        return (Path(keys),)

    def is_term(self, values: list[Value]) -> Node:
        kinds = [self.is_kind(value) for value in values]
        nodes: list[Node] = [Is(kind) for kind in kinds]  # type: ignore[arg-type]
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def is_kind(self, value: Value) -> str:
        kind = value.pattern.literal
        kind = IS_ALIASES.get(kind, kind)
        if value.pattern.wildcard or kind not in IS_KINDS:
            raise self.fail(f"unknown 'is:' value '{masked(value.source)}': expected one of "
                            + ", ".join(IS_KINDS), value.position, " or ".join(IS_KINDS))
        return kind

    def time_term(self, name: str, values: list[Value]) -> Node:
        if len(values) > 1:
            raise self.fail(f"'{name}:' takes one date or time", values[1].position - 1,
                            "one value")
        value = values[0]
        moment = None if value.pattern.wildcard else parse_time(value.pattern.literal)
        if moment is None:
            raise self.fail(f"expected an ISO date or time after '{name}:' (like 2024-05-01"
                            " or 2024-05-01T12:30:00Z)", value.position, "an ISO date or time")
        return Time(">=" if name == "after" else "<", moment)

    def threshold(self, name: str, op: str, value: Value) -> int | float | datetime:
        text = value.pattern.literal
        if not value.pattern.wildcard:
            found = number(text)
            if found is not None:
                return found
            moment = parse_time(text)
            if moment is not None:
                return moment
        raise self.fail(f"expected a number or an ISO date/time after '{masked(name)}{op}'",
                        value.position, "a number or an ISO date/time")
