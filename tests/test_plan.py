"""Tracking plans: JSON Schema per event name, via validate and the live collector."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import orjson
import pytest

from debugger.cli import main
from debugger.errors import CliError
from debugger.plan import load_plan
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
    assert "properties must contain" in missing["message"] and "total" in missing["message"]
    [wrong] = checker(order(order_id="o1", total="12"))
    assert wrong["path"] == "properties.total"
    assert "'Order Completed' breaks the tracking plan: properties.total must be number" == wrong["message"]
    assert wrong["hint"]
    [no_email] = checker({"type": "identify", "userId": "u", "traits": {}})
    assert no_email["path"] == "traits" and "'identify' breaks the tracking plan" in no_email["message"]


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
    assert "plan_violation" in out and "must contain ['coupon']" in out


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
