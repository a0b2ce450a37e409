"""The reference semantics: walk the node tree for one envelope. Slow and obvious; the tests
check the compiled matcher against it."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from debugger.query import values as v
from debugger.query.nodes import (
    All, And, Compare, Equals, Has, Is, Node, Not, Or, Path, Text, Time,
)


def evaluate(node: Node, envelope: Mapping[str, Any]) -> bool:
    if isinstance(node, All):
        return True
    if isinstance(node, And):
        return all(evaluate(item, envelope) for item in node.items)
    if isinstance(node, Or):
        return any(evaluate(item, envelope) for item in node.items)
    if isinstance(node, Not):
        return not evaluate(node.item, envelope)
    if isinstance(node, Equals):
        return any(v.matches_any(value, node.patterns) for value in _at(node.paths, envelope))
    if isinstance(node, Compare):
        return any(v.compare(value, node.op, node.threshold)
                   for value in _at(node.paths, envelope))
    if isinstance(node, Has):
        return any(v.has_value(value) for value in _at(node.paths, envelope))
    if isinstance(node, Is):
        return _is(node.kind, envelope)
    if isinstance(node, Time):
        moment = v.moment_of(envelope)
        return moment is not None and v.compare_moments(moment, node.op, node.moment)
    if isinstance(node, Text):
        text = v.haystack(envelope)
        return any(v.contains(text, needle) for needle in node.needles)
    raise TypeError(f"not a query node: {node!r}")


def _at(paths: tuple[Path, ...], envelope: Mapping[str, Any]) -> Iterator[Any]:
    message = v.message_of(envelope)
    for path in paths:
        yield from v.resolve(envelope if path.scope == "envelope" else message, path.keys)


def _is(kind: str, envelope: Mapping[str, Any]) -> bool:
    if kind == "accepted":
        return not v.is_refused(envelope)
    if kind == "refused":
        return v.is_refused(envelope)
    if kind == "invalid":
        return v.is_invalid(envelope)
    if kind == "valid":
        return not v.is_invalid(envelope)
    return v.has_level(envelope, "warning")
