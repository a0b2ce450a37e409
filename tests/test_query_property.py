"""Properties of the query language on generated text, queries and events."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from debugger.query import Query, QueryError, parse
from debugger.query.evaluate import evaluate

KEYS = ["type", "event", "userId", "total", "tags", "items", "sku", "Ünï"]
WORDS = ["track", "page", "a", "Ünï", "10", "1.5", "true", "null", "x y", 'q"t', "a\\b"]

scalars = st.one_of(
    st.sampled_from(WORDS), st.integers(-20, 20), st.floats(-50, 50, allow_nan=False),
    st.booleans(), st.none(), st.sampled_from(["2024-05-01T12:00:00Z", "2023-01-01"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=8,
)
messages = st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5))
problems = st.lists(st.fixed_dictionaries({
    "level": st.sampled_from(["error", "warning"]), "code": st.just("c"),
    "message": st.just("m"), "path": st.just(""),
}), max_size=2)


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    envelope: dict[str, Any] = {"message": draw(messages)}
    if draw(st.booleans()):
        envelope["status"] = draw(st.sampled_from(["accepted", "rejected"]))
        envelope["problems"] = draw(problems)
    if draw(st.booleans()):
        envelope["writeKey"] = draw(st.sampled_from(["wk", "WK2", None]))
    if draw(st.booleans()):
        envelope["raw"] = draw(st.sampled_from(['{"type":"track"}', "not json", "Ünï x y"]))
    return envelope


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("*", "\\*") + '"'


paths = st.lists(st.sampled_from(KEYS + ["0"]), min_size=1, max_size=3).map(".".join)
values = st.one_of(st.sampled_from(WORDS).map(quoted),
                   st.sampled_from(["tr*", "*a*", "1*", "*"]))
atoms = st.one_of(
    st.builds(lambda p, vs: f"{p}:{','.join(vs)}", paths, st.lists(values, min_size=1, max_size=2)),
    st.builds(lambda p, op, n: f"{p}{op}{n}", paths, st.sampled_from([">", ">=", "<", "<="]),
              st.sampled_from(["0", "1.5", "-3", "2024-01-01"])),
    st.builds(lambda p: f"has:{p}", paths),
    st.sampled_from(["is:accepted", "is:rejected", "is:valid", "is:invalid", "is:warning",
                     "user:a*", "source:wk", "name:track", "after:2024-01-01",
                     "before:2024-01-01"]),
    st.sampled_from(WORDS + ["tr*k"]).map(lambda w: quoted(w) if not w.endswith("k") else w),
)
queries = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} {b}", inner, inner),
        st.builds(lambda a, b: f"({a}) OR ({b})", inner, inner),
        st.builds(lambda a: f"-({a})", inner),
    ),
    max_leaves=6,
)

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def check_parse(text: str) -> None:
    """parse() gives a Query that can match, or a QueryError that can be shown; nothing else."""
    try:
        query = parse(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        assert "\n" not in str(error) and len(error.caret().split("\n")) == 2
        return
    assert isinstance(query, Query)
    query.matches({"message": {"type": "track", "x": [1, {"y": None}]}, "raw": text})


@SETTINGS
@given(st.text(max_size=60))
def test_parse_raises_nothing_but_query_error(text: str) -> None:
    check_parse(text)


@SETTINGS
@given(st.text(alphabet='ab:"()-*, \\OR<>=.1', max_size=30))
def test_parse_raises_nothing_but_query_error_on_query_like_text(text: str) -> None:
    check_parse(text)


@SETTINGS
@given(queries, queries, envelopes())
def test_or_is_the_union_and_minus_the_complement(a: str, b: str, envelope: dict) -> None:
    left, right = parse(a).matches(envelope), parse(b).matches(envelope)
    assert parse(f"({a}) OR ({b})").matches(envelope) == (left or right)
    assert parse(f"{a} OR {b}").matches(envelope) == (left or right)
    assert parse(f"-({a})").matches(envelope) == (not left)
    assert parse(f"({a}) ({b})").matches(envelope) == (left and right)


@SETTINGS
@given(queries, envelopes())
def test_compiled_matcher_agrees_with_the_reference(text: str, envelope: dict) -> None:
    query = parse(text)
    assert query.matches(envelope) == evaluate(query.tree, envelope), query.matches.__doc__
