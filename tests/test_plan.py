"""Tracking plans: JSON Schema per event name, via validate and the live collector."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import fastjsonschema
import orjson
import pytest

from debugger.cli import main
from debugger.errors import CliError
from debugger.plan import PlanChecker, load_plan
from debugger.socket_client import subscribe
from tests.support import running_collector

ORDER_SCHEMA = {
    "type": "object",
    "required": ["properties"],
    "properties": {
        "properties": {
            "type": "object",
            "required": ["order_id", "total"],
            "properties": {"total": {"type": "number", "minimum": 0}},
        }
    },
}
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_bytes(orjson.dumps({
        "Order Completed": ORDER_SCHEMA,
        "Home": {"required": ["name"]},
        "identify": {"properties": {"traits": {"required": ["email"]}}},
    }))
    return path


def order(**properties: object) -> dict:
    return {"type": "track", "event": "Order Completed", "userId": "u", "properties": properties}


def test_conforming_and_unplanned_events_pass(plan: Path) -> None:
    checker = load_plan(plan)
    assert checker(order(order_id="o1", total=12.5)) == []
    assert checker({"type": "track", "event": "Not In Plan", "userId": "u"}) == []
    assert checker({"type": "page", "name": "Home", "userId": "u"}) == []
    assert checker({"type": "identify", "userId": "u", "traits": {"email": "a@b.example"}}) == []
    assert checker({"type": "group", "userId": "u", "groupId": "g"}) == []


def test_violations_name_the_field(plan: Path) -> None:
    checker = load_plan(plan)
    [missing] = checker(order(order_id="o1"))
    assert missing["code"] == "plan_violation" and missing["level"] == "warning"
    assert missing["message"] == "properties.total is required by the plan for 'Order Completed'"
    [wrong] = checker(order(order_id="o1", total="12"))
    assert wrong["path"] == "properties.total"
    assert wrong["message"] == "properties.total is the string '12'; the plan for 'Order Completed' wants a number"
    assert wrong["hint"]
    [no_email] = checker({"type": "identify", "userId": "u", "traits": {}})
    assert no_email["path"] == "traits" and no_email["message"] == "traits.email is required by the plan for 'identify'"


def violation(schema: dict, properties: object) -> tuple[str, str]:
    """(path, message) of the one violation of an Order Completed with these properties."""
    [found] = PlanChecker({"Order Completed": fastjsonschema.compile(
        {"properties": {"properties": schema}})})(order(**properties) if isinstance(properties, dict) else
                                                    {**order(), "properties": properties})
    return found["path"], found["message"]


PLAN = "the plan for 'Order Completed'"


@pytest.mark.parametrize(("schema", "properties", "path", "message"), [
    # QA: `properties must contain ['order_id'] properties`; each rule a plan uses, in words
    ({"required": ["order_id"]}, {"total": 1}, "properties", f"properties.order_id is required by {PLAN}"),
    ({"required": ["order_id", "total", "sku"]}, {"total": 1}, "properties",
     f"properties.order_id and properties.sku are required by {PLAN}"),
    ({"properties": {"total": {"type": ["number", "null"]}}}, {"total": "12"}, "properties.total",
     f"properties.total is the string '12'; {PLAN} wants a number or null"),
    ({"properties": {"tags": {"type": "array"}}}, {"tags": {}}, "properties.tags",
     f"properties.tags is an object; {PLAN} wants an array"),
    ({"properties": {"plan": {"enum": ["free", "pro"]}}}, {"plan": "gold"}, "properties.plan",
     f"properties.plan is the string 'gold'; {PLAN} wants one of 'free', 'pro'"),
    ({"properties": {"currency": {"const": "USD"}}}, {"currency": "EUR"}, "properties.currency",
     f"properties.currency is the string 'EUR'; {PLAN} wants 'USD'"),
    ({"properties": {"order_id": {}}, "additionalProperties": False}, {"order_id": "o", "coupon": "X", "tax": 1},
     "properties", f"properties.coupon and properties.tax are not in {PLAN}, which allows no other key in properties"),
    ({"properties": {"order_id": {"pattern": "^ord_"}}}, {"order_id": "x1"}, "properties.order_id",
     f"properties.order_id is the string 'x1'; {PLAN} wants it to match ^ord_"),
    ({"properties": {"total": {"minimum": 0}}}, {"total": -1}, "properties.total",
     f"properties.total is the number -1; {PLAN} wants at least 0"),
    ({"properties": {"total": {"exclusiveMaximum": 100}}}, {"total": 100}, "properties.total",
     f"properties.total is the number 100; {PLAN} wants less than 100"),
    ({"properties": {"order_id": {"minLength": 3}}}, {"order_id": "o"}, "properties.order_id",
     f"properties.order_id is the string 'o' (1 character); {PLAN} wants at least 3 characters"),
    ({"properties": {"products": {"minItems": 1}}}, {"products": []}, "properties.products",
     f"properties.products is an array (0 items); {PLAN} wants at least 1 item"),
    ({"properties": {"email": {"format": "email"}}}, {"email": "nope"}, "properties.email",
     f"properties.email is the string 'nope'; {PLAN} wants the format email"),
    ({"properties": {"tags": {"uniqueItems": True}}}, {"tags": ["a", "a"]}, "properties.tags",
     f"properties.tags has an item twice; {PLAN} wants each item once"),
    ({"properties": {"id": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}}, {"id": 1.5}, "properties.id",
     f"properties.id is the number 1.5, which fits none of the choices {PLAN} gives (anyOf)"),
    ({"properties": {"coupon": False}}, {"coupon": "X"}, "properties.coupon", f"properties.coupon is not allowed by {PLAN}"),
    ({"type": "object"}, [1], "properties", f"properties is an array; {PLAN} wants an object"),
    # where: an array's item by its index, a key holding a dot as one key (as the schema writes it)
    ({"properties": {"products": {"items": {"properties": {"sku": {"type": "string"}}}}}},
     {"products": [{"sku": "a"}, {"sku": 7}]}, "properties.products[1].sku",
     f"properties.products[1].sku is the number 7; {PLAN} wants a string"),
    ({"properties": {"a.b": {"type": "string"}}}, {"a.b": 1}, 'properties."a.b"',
     f'properties."a.b" is the number 1; {PLAN} wants a string'),
    ({"additionalProperties": False}, {"\x1b[31m": 1}, "properties",
     f'properties."\\u001b[31m" is not in {PLAN}, which allows no other key in properties'),
])
def test_each_plan_rule_reads_naturally(schema: dict, properties: object, path: str, message: str) -> None:
    assert violation(schema, properties) == (path, message)


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"{nope", "invalid JSON"),
        (b"[1]", "expected a JSON object"),
        (b'{"A": 3}', "is not a JSON object"),
        (b'{"A": {"type": "no-such-type"}}', "bad schema for 'A'"),
        (b'{"A": {"properties": {"properties": {"pattern": "("}}}}', "bad schema for 'A': .*regular expression"),
        (b'{"A": {"patternProperties": {"[": {}}}}', "bad schema for 'A': .*regular expression"),
        (b'{"A": {"properties": {"x": {"pattern": 12}}}}', "bad schema for 'A': TypeError"),
        (b'{"A": {"properties": {"x": {"pattern": "a{99999999999}"}}}}', "bad schema for 'A': "),
    ],
)
def test_bad_plans_are_one_clear_error(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(CliError, match=needle):
        load_plan(path)
    with pytest.raises(CliError, match="no such file|No such file"):
        load_plan(tmp_path / "missing.json")


@pytest.mark.parametrize("command", ["validate", "schema"])
def test_a_plan_with_a_bad_regular_expression_is_one_line_and_exit_2(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA found a traceback (re.error from compiling the schema) and exit 1."""
    plan = tmp_path / "plan.json"
    plan.write_bytes(b'{"A": {"properties": {"properties": {"pattern": "("}}}}')
    assert main([command, "--plan", str(plan), str(SAMPLES / "ecommerce.ndjson")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad schema for 'A'" in err and "Traceback" not in err


def test_validate_with_plan(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = SAMPLES / "ecommerce.ndjson"
    assert main(["validate", "--plan", str(plan), str(archive)]) == 0
    assert "no problems found" in capsys.readouterr().out
    strict = plan.with_name("strict.json")
    strict.write_bytes(orjson.dumps({"Order Completed": {**ORDER_SCHEMA, "required": ["coupon"]}}))
    assert main(["validate", "--plan", str(strict), str(archive)]) == 0  # warnings only
    assert main(["validate", "--strict", "--rule", "plan_violation", "--plan", str(strict), str(archive)]) == 1
    out = capsys.readouterr().out
    assert "plan_violation" in out and "  coupon is required by the plan for 'Order Completed'" in out  # the message's own key


async def test_collector_checks_the_plan_live(plan: Path, tmp_path: Path) -> None:
    for collector in running_collector(tmp_path / "c", "--plan", str(plan)):
        lines = subscribe(collector.socket)
        assert (await anext(lines))["kind"] == "hello"
        body = orjson.dumps({**order(order_id="o1", total="free"), "writeKey": "k", "messageId": "m1"})
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{collector.url}/v1/track", data=body) as answer:
                assert answer.status == 200
        envelope = await asyncio.wait_for(_next_event(lines), timeout=10)
        await lines.aclose()
        assert envelope["status"] == "accepted"  # a plan violation is a warning: kept, shown
        [violation] = [p for p in envelope["problems"] if p["code"] == "plan_violation"]
        assert violation["path"] == "properties.total"
        [archived] = collector.archived()
        assert archived["properties"]["total"] == "free"


async def _next_event(lines: AsyncIterator[dict]) -> dict:
    async for line in lines:
        if line["kind"] == "event":
            return line
    raise AssertionError("socket closed before an event")
