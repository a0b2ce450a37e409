"""Split a query into tokens: parentheses, operators, bare words/phrases and field terms.

Quoting and escapes live here: `"..."` with `\\"` and `\\\\` inside, `\\x` for a literal x
anywhere, and an unescaped `*` is a wildcard (kept apart in `Pattern.parts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

from debugger.query.errors import QueryError
from debugger.text import masked
from debugger.query.nodes import Pattern

Kind = Literal["(", ")", "OR", "AND", "NOT", "-", "word", "field"]
KEYWORDS = ("OR", "AND", "NOT")

_NAME_STOP = frozenset('():<>",\\*')
_WORD_STOP = frozenset('()"')
_VALUE_STOP = frozenset('()",')


@dataclass(frozen=True)
class Value:
    """One value as written: its pattern, where it starts, and its source text."""

    pattern: Pattern
    position: int
    source: str
    quoted: bool


@dataclass
class Token:
    kind: Kind
    position: int
    source: str = ""
    word: Value | None = None
    name: str = ""
    op: str = ""
    values: list[Value] = field(default_factory=list)


def tokenize(query: str) -> list[Token]:
    """The tokens of `query`, or QueryError at the first thing that cannot be a token."""
    return _Lexer(query).run()


class _Lexer:
    def __init__(self, query: str) -> None:
        self.query = query
        self.at = 0
        self.tokens: list[Token] = []

    def fail(self, message: str, position: int, expected: str = "") -> QueryError:
        return QueryError(message, query=self.query, position=position, expected=expected)

    def peek(self, offset: int = 0) -> str:
        index = self.at + offset
        return self.query[index] if index < len(self.query) else ""

    def run(self) -> list[Token]:
        while True:
            while self.peek().isspace():
                self.at += 1
            char = self.peek()
            if not char:
                return self.tokens
            start = self.at
            if char in "()":
                self.at += 1
                self.tokens.append(Token(char, start, char))  # type: ignore[arg-type]
            elif char == "-":
                self.minus()
            elif char == '"':
                value = self.quoted()
                self.expect_separator(value.position, "phrase")
                self.tokens.append(Token("word", start, value.source, word=value))
            else:
                self.term()

    def minus(self) -> None:
        start = self.at
        self.at += 1
        following = self.peek()
        if not following or following.isspace() or following == ")":
            raise self.fail("expected a term right after '-'", self.at, "a term")
        self.tokens.append(Token("-", start, "-"))

    def term(self) -> None:
        start = self.at
        while self.peek() and not self.peek().isspace() and self.peek() not in _NAME_STOP:
            self.at += 1
        name = self.query[start : self.at]
        if self.peek() in (":", "<", ">") and self.peek():
            if not name:
                raise self.fail(
                    f"expected a field name before {self.peek()!r} (quote the text to search"
                    " for it)", start, "a field name")
            self.field_term(start, name)
            return
        self.at = start
        value = self.unquoted(_WORD_STOP, "word")
        if value.source in KEYWORDS:
            self.tokens.append(Token(value.source, start, value.source))  # type: ignore[arg-type]
        else:
            self.tokens.append(Token("word", start, value.source, word=value))

    def field_term(self, start: int, name: str) -> None:
        op = self.operator()
        values = [self.value(name, op)]
        while self.peek() == ",":
            self.at += 1
            if op != ":":
                raise self.fail(
                    f"a comparison takes one value; use OR for more ({name}{op}...)",
                    self.at - 1, "one value")
            values.append(self.value(name, op, after=","))
        token = Token("field", start, self.query[start : self.at], name=name, op=op,
                      values=values)
        self.tokens.append(token)

    def operator(self) -> str:
        op = self.peek()
        self.at += 1
        if op == ":" and self.peek() in ("<", ">") and self.peek():
            op = self.peek()
            self.at += 1
        if op in ("<", ">") and self.peek() == "=":
            op += "="
            self.at += 1
        return op

    def value(self, name: str, op: str, after: str = "") -> Value:
        char = self.peek()
        if char == '"':
            value = self.quoted()
            self.expect_separator(value.position, "value", allow_comma=True)
            return value
        if not char or char.isspace() or char in _VALUE_STOP:
            shown = after or f"{name}{op}"
            raise self.fail(f"expected a value after '{masked(shown)}'", self.at, "a value")
        return self.unquoted(_VALUE_STOP, "value")

    def unquoted(self, stop: frozenset[str], what: str) -> Value:
        start = self.at
        pattern = self.pattern_until(lambda char: not char or char.isspace() or char in stop)
        if self.peek() == '"':
            raise self.fail(
                f"unexpected '\"' inside a {what}: quote the whole {what} or write \\\"",
                self.at, "a space or the end of the " + what)
        return Value(pattern, start, self.query[start : self.at], quoted=False)

    def quoted(self) -> Value:
        start = self.at
        self.at += 1
        pattern = self.pattern_until(lambda char: not char or char == '"')
        if not self.peek():
            raise self.fail("unterminated quote: expected a closing '\"'", start,
                            "a closing '\"'")
        self.at += 1
        return Value(pattern, start, self.query[start : self.at], quoted=True)

    def pattern_until(self, ends: Callable[[str], bool]) -> Pattern:
        """Characters up to the first where `ends(char)` ("" at the end of the query):
        `\\x` is a literal x and an unescaped `*` is a wildcard."""
        parts, current = [], []
        while not ends(char := self.peek()):
            self.at += 1
            if char == "\\":
                current.append(self.escaped())
            elif char == "*":
                parts.append("".join(current))
                current = []
            else:
                current.append(char)
        parts.append("".join(current))
        return Pattern(tuple(part.lower() for part in parts))

    def escaped(self) -> str:
        char = self.peek()
        if not char:
            raise self.fail("expected a character after '\\'", self.at, "a character")
        self.at += 1
        return char

    def expect_separator(self, start: int, what: str, allow_comma: bool = False) -> None:
        char = self.peek()
        if not char or char.isspace() or char in "()" or (allow_comma and char == ","):
            return
        raise self.fail(f"expected a space after the quoted {what}", self.at,
                        "a space or the end")
