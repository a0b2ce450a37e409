"""The query language's promises that mutation testing found unguarded (`make mutate`): the
caret under combining and fullwidth characters, the exact words of two errors a user reads, a
wildcard refused in a date, list values compared item by item, an index just past a list, two
queries equal only when they mean the same, and the reference evaluator on the empty query."""

from __future__ import annotations

from typing import Any

import pytest

from debugger.query import QueryError, parse
from debugger.query.evaluate import evaluate


def _error(text: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "caret"),
    [
        ("e\u0301 :", "  ^"),  # e + a combining accent takes one cell, then the space
        ("\uff21:", "   ^"),  # a fullwidth letter takes two cells, then ':'
    ],
)
def test_the_caret_counts_terminal_cells(text: str, caret: str) -> None:
    assert _error(text).caret().split("\n")[1] == caret


def test_an_unknown_is_value_lists_the_kinds() -> None:
    assert str(_error("is:nope")) == (
        "column 4: unknown 'is:' value 'nope': expected one of accepted, refused, valid, invalid, warning")


@pytest.mark.parametrize("text", ["after:x", "after:2024-05-01*", "before:2024*"])
def test_a_time_term_takes_an_iso_date_and_no_wildcard(text: str) -> None:
    name = text.split(":")[0]
    assert _error(text).message == (
        f"expected an ISO date or time after '{name}:' (like 2024-05-01 or 2024-05-01T12:30:00Z)")


def _match(query: str, message: dict[str, Any]) -> bool:
    compiled = parse(query)
    env = {"message": message}
    result = compiled.matches(env)
    assert result == evaluate(compiled.tree, env)
    return result


def test_a_comparison_on_a_list_holds_when_any_item_holds() -> None:
    message = {"properties": {"totals": [1, 10]}}
    assert _match("properties.totals>5", message)
    assert _match("properties.totals<5", message)
    assert not _match("properties.totals>10", message)


def test_an_index_just_past_a_list_matches_nothing() -> None:
    message = {"properties": {"items": ["a", "b", "c"]}}
    assert _match("properties.items.2:c", message)
    assert not _match("properties.items.3:c", message)
    assert not _match("has:properties.items.3", message)


def test_queries_are_equal_when_they_mean_the_same() -> None:
    assert parse("type:track") == parse("type:track  ")
    assert parse("type:track") != parse("type:page")
    assert parse("type:track") != "type:track"


def test_the_empty_query_matches_everything_in_the_reference_too() -> None:
    assert evaluate(parse("").tree, {"message": {"type": "track"}})


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- type:track", "column 2: expected a term right after '-'"),
        ("a -", "column 4: expected a term right after '-'"),
        ("a OR AND b", "column 5: expected a term after 'OR'"),  # the first thing wrong, not the second
    ],
)
def test_a_missing_term_is_reported_where_it_is_missing(text: str, error: str) -> None:
    assert str(_error(text)) == error


def test_false_matches_a_false_value() -> None:
    assert _match("properties.flag:false", {"properties": {"flag": False}})
    assert not _match("properties.flag:true", {"properties": {"flag": False}})


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("type:track\\", "column 12: expected a character after '\\'"),
        ('a "b', "column 3: unterminated quote: expected a closing '\"'"),
        ('is:"nope"', "column 4: unknown 'is:' value '\"nope\"': expected one of accepted, refused, valid, invalid, warning"),
        ('event:"a"X', "column 10: expected a space after the quoted value"),
        ("()", "column 2: expected a term inside '()'"),
    ],
    ids=["trailing-escape", "open-quote", "quoted-is", "glued-after-quote", "empty-group"],
)
def test_more_errors_in_the_words_a_user_reads(text: str, error: str) -> None:
    assert str(_error(text)) == error


def test_groups_one_after_another_are_not_nesting() -> None:
    assert parse(" ".join(["(type:track)"] * 60)).matches({"message": {"type": "track"}})


def test_a_wildcard_spans_lines_and_a_contains_pattern_can_fail() -> None:
    assert _match("event:a*b", {"event": "a\nb"})
    assert not _match("event:*xyz*", {"event": "Order Completed"})
    assert _match('event:"*der com*"', {"event": "Order Completed"})


def test_bare_words_search_raw_text_and_nothing_else() -> None:
    assert parse("abc").matches({"message": {}, "raw": b"\xffabc"})  # undecodable bytes: replaced
    assert not parse("abc").matches({"message": {}, "raw": "xab"})  # not a prefix of the word
    assert not parse("null").matches({"message": None})  # no message: no text
