"""The query language: every construct, on envelopes shaped like the socket's and replay's.

`match()` checks the compiled matcher against the reference evaluator on every call, so
each case here also tests that the fast path and the plain semantics agree."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from debugger.query import MATCH_ALL, QueryError, parse
from debugger.query.evaluate import evaluate


def envelope(message: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {"message": message, **fields}


def track(**fields: Any) -> dict[str, Any]:
    base = {"type": "track", "event": "Order Completed", "userId": "user-1",
            "messageId": "m-1", "timestamp": "2024-05-01T12:00:00.000Z",
            "properties": {"total": 120.5, "currency": "EUR"}}
    return {**base, **fields}


def match(query: str, env: dict[str, Any]) -> bool:
    compiled = parse(query)
    result = compiled.matches(env)
    assert result == evaluate(compiled.tree, env), compiled.matches.__doc__
    return result


ORDER = envelope(track(properties={
    "total": 120.5, "currency": "EUR", "coupon": None, "tags": ["sale", "Gift"],
    "products": [{"sku": "SKU-1", "price": 10, "name": "Mug"},
                 {"sku": "SKU-2", "price": 99.9, "name": "Lamp"}],
}))
PAGE = envelope({"type": "page", "name": "Pricing", "anonymousId": "anon-9",
                 "properties": {"path": "/pricing"}, "timestamp": "2024-04-30T08:00:00Z"})


# Fields -------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("type:track", True), ("type:TRACK", True), ("type:page", False),
    ("event:\"Order Completed\"", True), ("event:'Order", False),
    ("event:order*", True), ("event:*completed", True), ("event:\"*der com*\"", True),
    ("event:O*C*d", True), ("event:order", False),
    ("properties.currency:eur", True), ("properties.currency:usd", False),
    ("properties.total:120.5", True), ("properties.total:120.50", True),
    ("properties.total:12*", True), ("properties.missing:x", False),
    ("type:page,track", True), ("type:page,screen", False), ("type:pa*,tr*", True),
    ("user:user-1", True), ("user:USER*", True), ("user:anon-9", False),
    ("name:\"order completed\"", True), ("id:m-1", True), ("id:m-2", False),
    ("properties:x", False), ("type.inner:x", False),
])
def test_field_values(query: str, expected: bool) -> None:
    assert match(query, ORDER) is expected


def test_shortcuts_look_at_every_place_they_name() -> None:
    assert match("user:anon-9", PAGE)
    assert match("name:pricing", PAGE)
    signed = envelope({"type": "identify", "writeKey": "wk_message"}, writeKey="wk_env")
    assert match("source:wk_env", signed)
    assert match("source:wk_message", signed)
    assert match("source:wk_*", envelope({"type": "track"}, writeKey="WK_1"))
    assert not match("source:wk_1", envelope({"type": "track"}))


def test_lists_match_when_any_item_matches() -> None:
    assert match("properties.products.sku:SKU-2", ORDER)
    assert match("properties.products.sku:sku-*", ORDER)
    assert not match("properties.products.sku:SKU-3", ORDER)
    assert match("properties.products.price>50", ORDER)
    assert not match("properties.products.price>100", ORDER)
    assert match("properties.tags:gift", ORDER)
    assert match("properties.products.0.sku:SKU-1", ORDER)
    assert not match("properties.products.0.sku:SKU-2", ORDER)
    assert not match("properties.products.7.sku:SKU-1", ORDER)
    assert match("has:properties.products.name", ORDER)
    assert not match("-properties.products.sku:SKU-1", ORDER)


def test_nested_lists_and_deep_paths() -> None:
    deep = envelope({"a": {"b": [{"c": [{"d": {"e": {"f": "hit"}}}]}]}})
    assert match("a.b.c.d.e.f:hit", deep)
    assert match("has:a.b.c.d.e.f", deep)
    assert not match("a.b.c.d.e.f:miss", deep)
    assert match("a.b.c.d.e:*", envelope({"a": {"b": {"c": {"d": {"e": "x"}}}}}))


def test_nulls_missing_fields_and_has() -> None:
    assert match("properties.coupon:null", ORDER)
    assert not match("has:properties.coupon", ORDER)
    assert not match("properties.absent:null", ORDER)
    assert match("has:properties.total", ORDER)
    assert match("-has:properties.absent", ORDER)
    assert match("has:properties.absent,properties.total", ORDER)
    assert match("has:user", PAGE)
    assert not match("has:properties.currency.code", ORDER)
    assert match("-properties.absent:x", ORDER)


def test_booleans_and_numbers_as_text() -> None:
    env = envelope({"properties": {"paid": True, "count": 3, "zip": 94107, "big": 10**30}})
    assert match("properties.paid:true", env)
    assert not match("properties.paid:false", env)
    assert not match("properties.paid>0", env), "a bool is not a number"
    assert match("properties.count:3", env)
    assert match("properties.count:3.0", env)
    assert match("properties.zip:941*", env)
    assert match("properties.big>1e29", env)


def test_unicode() -> None:
    env = envelope({"event": "Café Ordered", "properties": {"city": "Zürich", "emoji": "🚀"}})
    assert match("event:\"CAFÉ ORDERED\"", env)
    assert match("properties.city:zürich", env)
    assert match("properties.emoji:🚀", env)
    assert match("zürich", env)
    assert match("ZÜRICH", env)
    # The Python SDK writes ASCII-only JSON: "Zürich" arrives as "Z\u00fcrich".
    raw = orjson.loads(orjson.dumps(env["message"]))
    import json
    escaped = envelope(raw, raw=json.dumps(raw))
    assert "\\u00fc" in escaped["raw"]
    assert match("zürich", escaped)
    assert match("🚀", escaped)


# Comparisons and time -----------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("properties.total>100", True), ("properties.total>120.5", False),
    ("properties.total>=120.5", True), ("properties.total<121", True),
    ("properties.total<=120", False), ("properties.total:>100", True),
    ("properties.total:<=120.5", True), ("properties.total>-5", True),
    ("properties.currency>1", False), ("properties.missing<1", False),
    ("timestamp>2024-05-01", True), ("timestamp<2024-05-01", False),
    ("timestamp>=2024-05-01T12:00:00Z", True), ("timestamp>2024-05-01T14:00:00+02:00", False),
    ("timestamp<2024-05-01T13:00:00+00:00", True), ("properties.total>2024-01-01", False),
    ("event>2024-01-01", False),
])
def test_comparisons(query: str, expected: bool) -> None:
    assert match(query, ORDER) is expected


def test_comparison_on_a_numeric_string_is_false() -> None:
    env = envelope({"properties": {"total": "150"}})
    assert not match("properties.total>100", env)
    assert match("properties.total:150", env)


def test_after_and_before_use_the_event_time() -> None:
    assert match("after:2024-05-01", ORDER)
    assert match("after:2024-05-01T12:00:00Z", ORDER), "after: is inclusive"
    assert not match("before:2024-05-01T12:00:00Z", ORDER), "before: is exclusive"
    assert match("before:2024-05-02", ORDER)
    assert match("after:2024-04-30 before:2024-05-01", PAGE)
    fallback = envelope({"type": "track", "originalTimestamp": "2023-01-01T00:00:00Z"})
    assert match("before:2024-01-01", fallback)
    received = envelope(None, receivedAt="2024-06-01T00:00:00Z", status="rejected")
    assert match("after:2024-05-31", received)
    assert not match("after:2024-01-01", envelope({"type": "track"}))
    assert not match("before:2100-01-01", envelope({"timestamp": "not a time"}))


# Status -------------------------------------------------------------------------------------

ERROR = {"level": "error", "code": "missing_event", "message": "x", "path": "event"}
WARNING = {"level": "warning", "code": "naming", "message": "y", "path": "event"}


@pytest.mark.parametrize("env, kinds", [
    (envelope(track()), {"accepted", "valid"}),
    (envelope(track(), status="accepted", problems=[WARNING]), {"accepted", "valid", "warning"}),
    (envelope(None, status="rejected", raw="{bad", problems=[ERROR]), {"rejected", "invalid"}),
    (envelope(track(), status="rejected", problems=[]), {"rejected", "invalid"}),
    (envelope(track(), status="accepted", problems=[ERROR, WARNING]),
     {"accepted", "invalid", "warning"}),
])
def test_is(env: dict[str, Any], kinds: set[str]) -> None:
    for kind in ("accepted", "rejected", "valid", "invalid", "warning"):
        assert match(f"is:{kind}", env) is (kind in kinds), kind
    assert match("is:rejected,warning", env) is bool(kinds & {"rejected", "warning"})
    # one word for it: is:refused, with is:rejected kept as an alias
    assert match("is:refused", env) is ("rejected" in kinds)
    assert match("is:refused,warning", env) is bool(kinds & {"rejected", "warning"})
    assert match("-is:refused", env) is ("rejected" not in kinds)


def test_an_unknown_is_value_names_refused_not_rejected() -> None:
    with pytest.raises(QueryError) as bad:
        parse("is:nope")
    assert "refused" in str(bad.value) and "rejected" not in str(bad.value)


# Bare words ---------------------------------------------------------------------------------

def test_bare_words_search_the_raw_text() -> None:
    assert match("lamp", ORDER)
    assert match("LAMP", ORDER)
    assert match("\"order completed\"", ORDER)
    assert not match("\"completed order\"", ORDER)
    assert match("sku-*lamp", ORDER)
    assert not match("lamp*sku-1", ORDER)
    with pytest.raises(QueryError, match="space after the quoted phrase"):
        parse('"currency":"eur"')  # the second quote ends the phrase...
    assert match('"\\"currency\\":\\"eur\\""', ORDER)  # ...unless escaped


def test_bare_words_prefer_raw_over_the_message() -> None:
    refused = envelope(None, status="rejected", raw='{"type": "trak", "secret": 1}')
    assert match("trak", refused)
    assert match('"type\\": \\"trak"', refused), "a phrase may spell out JSON syntax"
    assert not match("anything", envelope(None))
    assert match("hello", envelope(None, raw=b'{"x": "Hello"}'))


def test_escaped_quotes_in_phrases_and_values() -> None:
    env = envelope({"event": 'Said "hi"', "properties": {"path": "C:\\temp"}})
    assert match('event:"said \\"hi\\""', env)
    assert match('"said \\"hi\\""', env), "a quote inside the text is \\\" in the raw JSON"
    assert match('properties.path:"c:\\\\temp"', env)
    assert match("properties.path:c:\\\\temp", env)
    stars = envelope({"event": "a*b"})
    assert match("event:a\\*b", stars)
    assert not match("event:a\\*b", envelope({"event": "axxb"}))
    assert match("event:a*b", envelope({"event": "axxb"}))


# Combining ----------------------------------------------------------------------------------

def test_and_binds_tighter_than_or() -> None:
    # type:page OR (type:track AND event:nope)
    assert match("type:page OR type:track event:nope", PAGE)
    assert not match("type:page OR type:track event:nope", ORDER)
    assert match("type:track event:nope OR type:track", ORDER)
    assert not match("(type:page OR type:track) event:nope", ORDER)
    assert match("type:page OR type:track AND event:order*", ORDER)
    assert match("type:screen OR type:page OR type:track", ORDER)


def test_negation() -> None:
    assert match("-type:page", ORDER)
    assert not match("-type:track", ORDER)
    assert match("NOT type:page", ORDER)
    assert match("--type:track", ORDER)
    assert match("-(type:page OR user:nobody)", ORDER)
    assert not match("-(type:track -user:nobody)", ORDER)
    assert match("-lamp", PAGE)
    assert not match('-"order completed"', ORDER)
    assert match("type:track -user:test*", ORDER)


def test_keywords_are_uppercase_only() -> None:
    assert not match("type:page or type:track", ORDER), "lowercase 'or' is a word"
    assert match("\\OR", envelope({"x": "or"}))


def test_empty_query_matches_everything() -> None:
    for text in ("", "   ", "\t\n"):
        query = parse(text)
        assert query.matches_all and query.matches(envelope(None))
    assert MATCH_ALL.matches({}) and MATCH_ALL.text == ""
    assert not parse("type:track").matches_all


def test_envelope_shapes() -> None:
    query = parse("type:track lamp")
    assert query.matches({"message": ORDER["message"]})
    assert query.matches({"message": ORDER["message"], "raw": orjson.dumps(ORDER["message"])})
    assert not query.matches({})
    assert not query.matches({"message": ["not", "a", "dict"]})
    assert query.text == "type:track lamp"
    assert parse("type:track") == parse("type:track ") and repr(query) == "Query('type:track lamp')"


def test_user_text_never_becomes_code() -> None:
    nasty = "x' or True or '"
    assert not match(f'event:"{nasty}"', ORDER)
    assert not match(f"event:{nasty.replace(' ', '')}", ORDER)
    assert not match('"__import__(\'os\')"', ORDER)
    assert not match("properties.total>1e999", ORDER)
    assert match("properties.total<1e999", ORDER)


# Errors -------------------------------------------------------------------------------------

MALFORMED = [
    ("type:", 5, "expected a value after 'type:'"),
    ("type: track", 5, "expected a value after 'type:'"),
    ("event:\"Order", 6, "unterminated quote"),
    ("\"abc", 0, "unterminated quote"),
    ("a \"b\\\"", 2, "unterminated quote"),
    ("(type:track", 11, "expected ')' to close the '(' at column 1"),
    ("((a) b", 6, "expected ')'"),
    ("a (", 3, "expected a term before the end of the query"),
    ("type:track)", 10, "unexpected ')'"),
    ("a))", 1, "unexpected ')'"),
    (")", 0, "expected a term before ')'"),
    ("()", 1, "expected a term inside '()'"),
    ("OR type:track", 0, "expected a term before 'OR'"),
    ("type:track OR", 13, "expected a term after 'OR'"),
    ("a OR OR b", 4, "expected a term after 'OR'"),
    ("a OR )", 4, "expected a term after 'OR'"),
    ("AND a", 0, "expected a term before 'AND'"),
    ("a AND", 5, "expected a term after 'AND'"),
    ("a AND OR b", 5, "expected a term after 'AND'"),
    ("-", 1, "expected a term right after '-'"),
    ("- type:track", 1, "expected a term right after '-'"),
    ("(a -)", 4, "expected a term right after '-'"),
    ("NOT", 3, "expected a term after 'NOT'"),
    ("a NOT OR b", 5, "expected a term after 'NOT'"),
    ("properties.total>", 17, "expected a value after 'properties.total>'"),
    ("properties.total>=", 18, "expected a value after 'properties.total>='"),
    ("properties.total>abc", 17, "expected a number or an ISO date/time"),
    ("properties.total<ten*", 17, "expected a number or an ISO date/time"),
    ("properties.total>>5", 17, "expected a number or an ISO date/time"),
    ("properties.total>5,6", 18, "a comparison takes one value"),
    ("is:", 3, "expected a value after 'is:'"),
    ("is:maybe", 3, "unknown 'is:' value 'maybe'"),
    ("is:valid,nope", 9, "unknown 'is:' value 'nope'"),
    ("is:>5", 2, "'is:' takes a value, not a comparison"),
    ("has:", 4, "expected a value after 'has:'"),
    ("has:a..b", 6, "empty part in the field path 'a..b'"),
    ("has:prop*", 4, "'has:' takes a field path"),
    ("has:\"a b\"", 4, "'has:' takes a field path"),
    ("after:", 6, "expected a value after 'after:'"),
    ("after:yesterday", 6, "expected an ISO date or time after 'after:'"),
    ("before:2024-13-45", 7, "expected an ISO date or time after 'before:'"),
    ("after:2024-01-01,2024-02-01", 16, "'after:' takes one date or time"),
    ("type:track,", 11, "expected a value after ','"),
    ("type:,track", 5, "expected a value after 'type:'"),
    (":track", 0, "expected a field name before ':'"),
    (">5", 0, "expected a field name before '>'"),
    (".foo:bar", 0, "empty part in the field path '.foo'"),
    ("foo.:bar", 4, "empty part in the field path 'foo.'"),
    ("event:\"a\"b", 9, "expected a space after the quoted value"),
    ("\"a\"b", 3, "expected a space after the quoted phrase"),
    ("event:ab\"c\"", 8, "unexpected '\"' inside a value"),
    ("ab\"c\"", 2, "unexpected '\"' inside a word"),
    ("type:track\\", 11, "expected a character after '\\'"),
    ("(" * 50 + "a" + ")" * 50, 40, "nested too deeply"),
    ("-" * 60 + "a", 40, "nested too deeply"),
    ("a " * 201, 400, "too many terms (at most 200)"),
    ("x" * 10_001, 10_000, "query too long (10001 characters"),
]


@pytest.mark.parametrize("text, position, message", MALFORMED,
                         ids=[f"{i}:{case[0][:20]}" for i, case in enumerate(MALFORMED)])
def test_malformed_queries_say_where_and_what(text: str, position: int, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    error = caught.value
    assert message in error.message
    assert error.position == position, str(error)
    assert error.query == text and error.expected
    assert str(error) == f"column {position + 1}: {error.message}"
    assert "\n" not in str(error)


def test_every_malformed_case_draws_its_caret_under_the_column() -> None:
    """The caret a CLI prints for each refused query sits under the column the error names."""
    for text, position, _ in MALFORMED:
        with pytest.raises(QueryError) as caught:
            parse(text)
        assert caught.value.caret() == f"{text}\n{' ' * position}^", text


def test_caret_points_at_the_position() -> None:
    with pytest.raises(QueryError) as caught:
        parse("type:track properties.total>abc")
    assert caught.value.caret() == "type:track properties.total>abc\n" + " " * 28 + "^"
    assert str(caught.value).startswith("column 29: ")


def test_caret_handles_wide_and_control_characters() -> None:
    with pytest.raises(QueryError) as caught:
        parse("名前\t\x1b[31m:")
    shown, caret = caught.value.caret().split("\n")
    assert shown == "名前??[31m:" and "\x1b" not in str(caught.value)
    assert caret == " " * 11 + "^"  # two wide characters count twice


def test_query_error_is_a_value_error() -> None:
    assert issubclass(QueryError, ValueError)
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]
