"""Turn a node tree into one Python function, so matching an event costs a few dict lookups
instead of a tree walk.

The generated source never contains user text except through `repr()` of str/int/float
constants; everything else (patterns, regexes, helper closures) is passed in the function's
namespace under generated names. Each field term gets an inline fast path for the common
shape (dicts down the path, a str or number at the end) and hands anything else (lists,
nulls, missing values, other types) to the `values` functions the reference evaluator uses.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from debugger.protocol import REFUSED
from debugger.query import values as v
from debugger.query.nodes import (
    All, And, Compare, Equals, Has, Is, Node, Not, Or, Path, Pattern, Text, Time,
)

# A compiled query: envelope -> does it match. (One name for it: Query.matches holds one.)
Predicate = Callable[[Mapping[str, Any]], bool]
Test = Callable[[Any], bool]

FAST_PATH_KEYS = 4  # longer paths go straight to the general lookup
_MISSING = object()


def compile_tree(tree: Node) -> Predicate:
    """A function `envelope -> bool` equivalent to `evaluate(tree, envelope)`."""
    return _Compiler().build(tree)


class _Compiler:
    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "_message_of": v.message_of, "_haystack": v.haystack, "_MISSING": _MISSING,
            "_NUMBER": (int, float), "_invalid": v.is_invalid, "_has_level": v.has_level,
        }
        self.uses_text = False

    def build(self, tree: Node) -> Predicate:
        body = self.expr(tree)
        lines = [
            "def matches(envelope):",
            "    m = envelope.get('message')",
            "    if m.__class__ is not dict:",
            "        m = _message_of(envelope)",
        ]
        if self.uses_text:
            lines.append("    _h = None")
        lines.append(f"    return {body}")
        source = "\n".join(lines) + "\n"
        exec(compile(source, "<query>", "exec"), self.namespace)  # noqa: S102 - see module doc
        matcher: Predicate = self.namespace["matches"]
        matcher.__doc__ = source
        return matcher

    def bind(self, value: Any) -> str:
        """A name in the namespace holding `value`."""
        name = f"_c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def const(self, value: Any) -> str:
        """A literal for str/int/finite float (repr is always valid source), else a name."""
        if type(value) in (str, int) or (type(value) is float and math.isfinite(value)):
            return repr(value)
        return self.bind(value)

    def expr(self, node: Node) -> str:
        if isinstance(node, All):
            return "True"
        if isinstance(node, And):
            return "(" + " and ".join(self.expr(item) for item in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.expr(item) for item in node.items) + ")"
        if isinstance(node, Not):
            return f"(not {self.expr(node.item)})"
        if isinstance(node, Equals):
            slow = self.bind(lambda value, p=node.patterns: v.matches_any(value, p))
            return self.paths(node.paths, slow, self.equals_fast(node.patterns, slow), True)
        if isinstance(node, Compare):
            slow = self.bind(lambda value, o=node.op, t=node.threshold: v.compare(value, o, t))
            return self.paths(node.paths, slow, self.compare_fast(node, slow), True)
        if isinstance(node, Has):
            slow = self.bind(v.has_value)
            return self.paths(node.paths, slow, lambda value: f"{value} is not None", False)
        if isinstance(node, Is):
            return self.is_kind(node.kind)
        if isinstance(node, Time):
            test = self.bind(lambda e, o=node.op, t=node.moment: _time_matches(e, o, t))
            return f"{test}(envelope)"
        if isinstance(node, Text):
            return self.text(node.needles)
        raise TypeError(f"not a query node: {node!r}")

    # Field terms -------------------------------------------------------------------------

    def paths(self, paths: tuple[Path, ...], slow: str, fast: Callable[[str], str],
              missing_matters: bool) -> str:
        """Any of `paths` holds a value passing the test (`fast` builds the inline form)."""
        parts = [self.lookup(path, slow, fast, missing_matters) for path in paths]
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    def lookup(self, path: Path, slow: str, fast: Callable[[str], str],
               missing_matters: bool) -> str:
        root = "envelope" if path.scope == "envelope" else "m"
        if len(path.keys) > FAST_PATH_KEYS:
            deep = self.bind(_deep(self.namespace[slow]))
            return f"{deep}({root}, {self.const(path.keys)})"
        return self.steps(root, path.keys, slow, fast, missing_matters)

    def steps(self, var: str, keys: tuple[str, ...], slow: str, fast: Callable[[str], str],
              missing_matters: bool) -> str:
        key, rest = self.const(keys[0]), keys[1:]
        if not rest:
            default = ", _MISSING" if missing_matters else ""
            return fast(f"(_v := {var}.get({key}{default}))")
        deep = self.bind(_deep(self.namespace[slow]))
        inner = self.steps("_v", rest, slow, fast, missing_matters)
        return (f"({inner} if (_v := {var}.get({key})).__class__ is dict"
                f" else {deep}(_v, {self.const(rest)}))")

    def equals_fast(self, patterns: tuple[Pattern, ...], slow: str) -> Callable[[str], str]:
        if len(patterns) == 1:
            test = self.string_test("_v.lower()", patterns[0])
        elif not any(p.wildcard for p in patterns):
            test = f"_v.lower() in {self.bind(frozenset(p.parts[0] for p in patterns))}"
        else:
            first, *others = patterns
            tests = [self.string_test("(_l := _v.lower())", first)]
            tests += [self.string_test("_l", p) for p in others]
            test = "(" + " or ".join(tests) + ")"
        return lambda value: f"({test} if {value}.__class__ is str else {slow}(_v))"

    def string_test(self, text: str, pattern: Pattern) -> str:
        parts = pattern.parts
        if len(parts) == 1:
            return f"{text} == {self.const(parts[0])}"
        if len(parts) == 2 and parts[1] == "":
            return f"{text}.startswith({self.const(parts[0])})"
        if len(parts) == 2 and parts[0] == "":
            return f"{text}.endswith({self.const(parts[1])})"
        if len(parts) == 3 and parts[0] == parts[2] == "":
            return f"{self.const(parts[1])} in {text}"
        return f"{self.bind(pattern.regex())}.fullmatch({text}) is not None"

    def compare_fast(self, node: Compare, slow: str) -> Callable[[str], str]:
        if not isinstance(node.threshold, (int, float)):
            return lambda value: f"{slow}({value})"
        test = f"_v {node.op} {self.const(node.threshold)}"
        return lambda value: f"({test} if {value}.__class__ in _NUMBER else {slow}(_v))"

    # Envelope terms ----------------------------------------------------------------------

    def is_kind(self, kind: str) -> str:
        return {
            "accepted": f"(envelope.get('status') != {REFUSED!r})",
            "refused": f"(envelope.get('status') == {REFUSED!r})",
            "invalid": "_invalid(envelope)",
            "valid": "(not _invalid(envelope))",
            "warning": "_has_level(envelope, 'warning')",
        }[kind]

    def text(self, needles: tuple[Pattern, ...]) -> str:
        """Substring tests on the lowercased raw text, computed once per event when needed."""
        self.uses_text = True
        lazy = "(_h if _h is not None else (_h := _haystack(envelope)))"
        tests = []
        for needle in needles:
            if needle.wildcard:
                tests.append(f"{self.bind(needle.regex())}.search({lazy}) is not None")
            else:
                tests.append(f"{self.const(needle.parts[0])} in {lazy}")
        return "(" + " or ".join(tests) + ")"


def _deep(test: Test) -> Callable[[Any, tuple[str, ...]], bool]:
    """The general lookup: every value at `keys` under `value` (lists fan out), any passes."""

    def deep(value: Any, keys: tuple[str, ...]) -> bool:
        return any(test(found) for found in v.resolve(value, keys))

    return deep


def _time_matches(envelope: Mapping[str, Any], op: str, moment: Any) -> bool:
    found = v.moment_of(envelope)
    return found is not None and v.compare_moments(found, op, moment)
