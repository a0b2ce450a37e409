"""The spec rules: what is wrong with one Segment message.

Errors are what Segment itself refuses (the collector refuses them too); warnings are what a
careful analytics engineer would flag. Pure functions; used by the collector, the live
debugger and `segdebug validate`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from debugger.envelope import Problem, problem
from debugger.message import CALL_TYPES

Rule = Callable[[Mapping[str, Any]], list[Problem]]


def _missing(value: Any) -> bool:
    return value is None or value == ""


def check_required(message: Mapping[str, Any]) -> list[Problem]:
    """The fields Segment requires; any failure here refuses the message."""
    kind = message.get("type")
    if kind not in CALL_TYPES:
        shown = "missing" if kind is None else repr(kind)
        return [
            problem(
                "error", "invalid_type", f"type is {shown}; expected one of {', '.join(CALL_TYPES)}",
                "type", "send the call through an SDK method, or set a valid type",
            )
        ]
    found: list[Problem] = []
    if _missing(message.get("userId")) and _missing(message.get("anonymousId")):
        found.append(
            problem(
                "error", "no_user_anon_id", "userId or anonymousId is required", "userId",
                "identify the user, or set an anonymousId",
            )
        )
    required = {"track": "event", "group": "groupId", "alias": "previousId"}.get(kind)
    if required and _missing(message.get(required)):
        code = {"event": "missing_event", "groupId": "missing_group_id"}.get(
            required, "missing_previous_id"
        )
        found.append(
            problem("error", code, f"{kind} requires {required}", required, f"set {required}")
        )
    if kind == "alias" and _missing(message.get("userId")):
        found.append(
            problem("error", "missing_user_id", "alias requires userId", "userId", "set userId")
        )
    return found


RULES: list[Rule] = [check_required]


def check(message: Mapping[str, Any]) -> list[Problem]:
    """Every problem found in `message`, errors first."""
    found: list[Problem] = []
    for rule in RULES:
        found.extend(rule(message))
    found.sort(key=lambda p: p["level"] != "error")
    return found
