"""The query language of live search, `tail --filter`, the hub's subscribe filter and
`replay --filter`: `parse(text)` gives a Query whose `matches(envelope)` says yes or no.

Layers, each its own module: lexer (tokens, quoting) -> parser (node tree, errors with a
position) -> compiler (a Python function per query); `values` holds what each term means and
`evaluate` is the slow reference the tests hold the compiled function to.
"""

from __future__ import annotations

from debugger.errors import CliError
from debugger.query.errors import QueryError
from debugger.query.compiler import Predicate, compile_tree
from debugger.query.help import HELP
from debugger.query.nodes import All, Node
from debugger.query.parser import parse_tree

__all__ = ["HELP", "MATCH_ALL", "Query", "QueryError", "parse", "parse_option"]

class Query:
    """A parsed query. `matches(envelope)` takes the socket envelope shape
    ({"message", "raw", "status", "problems", "writeKey", "receivedAt"}; missing keys mean
    accepted, no problems, raw = the message as JSON) and is a plain attribute holding the
    compiled function, so calling it costs one call."""

    __slots__ = ("text", "tree", "matches")

    def __init__(self, text: str, tree: Node) -> None:
        self.text = text
        self.tree = tree
        self.matches: Predicate = compile_tree(tree)

    @property
    def matches_all(self) -> bool:
        """True for the empty query: callers may skip matching altogether."""
        return isinstance(self.tree, All)

    def __repr__(self) -> str:
        return f"Query({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other.tree == self.tree

    def __hash__(self) -> int:
        return hash(self.tree)


def parse(text: str) -> Query:
    """Parse `text` into a Query; a blank text matches everything. Raises QueryError."""
    if not isinstance(text, str):
        raise TypeError(f"a query is text, not {type(text).__name__}")
    return Query(text, parse_tree(text))


MATCH_ALL = parse("")


def parse_option(text: str | None) -> Query | None:
    """The query of a `--filter` option (None when not given), or a CliError that prints one
    line and a caret under the bad column: one behaviour for tail, live and replay."""
    if not text:
        return None
    try:
        return parse(text)
    except QueryError as error:
        raise CliError(f"bad query: {error}\n{error.caret()}") from None
