"""How a refused message reads: checks.refusal_problems, the one definition the hub's lazy
events (debugger.pending) and the store's API share."""

from __future__ import annotations

from typing import Any, Mapping

from debugger import rules
from debugger.checks import refusal_problems
from debugger.ingest import Accepted, Refused
from debugger.pending import CallContext, Pending
from debugger.protocol import Problem, problem
from debugger.store import RecentStore

# refused (no user), with two warnings: a camelCase property and a non-string messageId
MESSAGE: dict[str, Any] = {"type": "track", "event": "Order Completed", "messageId": 7,
                           "properties": {"orderId": "o1"}}
OWN = rules.check_required(MESSAGE)


def codes(found: list[Problem]) -> list[str]:
    return [p["code"] for p in found]


def test_own_problems_first_then_the_full_checkers_warnings_once() -> None:
    found = refusal_problems(OWN, MESSAGE, rules.check)
    assert codes(found) == ["no_user_anon_id", "key_case", "invalid_message_id", "ecommerce_property",
                            "ecommerce_property"]
    assert found[:1] == OWN


def test_a_warning_already_among_its_own_problems_is_not_repeated() -> None:
    own = [*OWN, problem("warning", "key_case", "x", "properties.orderId")]
    assert codes(refusal_problems(own, MESSAGE, rules.check)).count("key_case") == 1


def test_no_message_or_a_rule_that_raises() -> None:
    assert refusal_problems(OWN, None, rules.check) is OWN

    def broken(message: Mapping[str, Any]) -> list[Problem]:
        raise RuntimeError("boom")

    found = refusal_problems(OWN, MESSAGE, broken)
    assert codes(found) == ["no_user_anon_id", "check_failed"] and "boom" in found[1]["message"]


def test_the_hub_and_the_store_show_a_refusal_alike() -> None:
    refused = Refused(dict(MESSAGE), '{"type":"track"}', "wk", OWN)
    accepted = Accepted({"type": "page", "userId": "u", "messageId": 1}, b"{}", "wk", [])
    hub_view = [Pending(seq, item, CallContext("t", "/v1/batch", None, rules.check)).problems()
                for seq, item in ((1, refused), (2, accepted))]
    store = RecentStore(capacity=8, check=rules.check)
    store.append_call(1, CallContext("t", "/v1/batch", None, rules.check), [refused, accepted], 1)
    store_view = [envelope["problems"] for envelope in store.envelopes(1)]
    assert hub_view == store_view
    assert codes(hub_view[0])[0] == "no_user_anon_id" and codes(hub_view[1]) == ["invalid_message_id"]
