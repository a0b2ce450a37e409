"""One way to check a message: the spec rules, and a tracking plan when one is given.

The collector, `segdebug validate` and `live --file` all build their checker here, so the same
message gets the same problems wherever it is looked at (docs/architecture.md, "Checking").

Two strengths, one meaning: the *full* checker runs every rule (errors first) and is what a
person reads; the *refusing-only* checker runs just the rules that can refuse a message
(required fields) plus the plan, which is all the collector needs while no viewer would see
the warnings. The archive, the refusal log and the HTTP answers are the same either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from debugger import rules
from debugger.plan import PLAN_CODE, load_plan
from debugger.protocol import Problem, problem

Checker = Callable[[Mapping[str, Any]], list[Problem]]

# A line of an archive that is not a JSON object (torn, garbage, invalid UTF-8): reported
# by validate and shown by `live --file` as a refused event. Not a rule: no message to check.
BAD_LINE = "bad_line"
BAD_LINE_HINT = "fix or remove the line; a torn last line means the writer was cut off"

# Every code a checker (or the archive reader) can report, its level and what it is about:
# the catalogue `validate --rule` accepts.
CODES: dict[str, tuple[str, str]] = {
    **rules.CODES,
    BAD_LINE: ("error", "a line that is not a JSON object (torn, garbage, bad UTF-8)"),
    PLAN_CODE: ("warning", "an event that breaks its tracking-plan schema"),
}


def make_checker(plan: Path | None = None, *, refusing_only: bool = False) -> Checker:
    """The checker for these options. Raises CliError (one clear line) for a bad plan file.

    Without a plan the rules' own functions are returned as they are: the collector calls the
    checker once per message, and a wrapper would cost it on every call.
    """
    base: Checker = rules.check_required if refusing_only else rules.check
    if plan is None:
        return base
    plan_check = load_plan(plan)

    def checker(message: Mapping[str, Any]) -> list[Problem]:
        return _errors_first(base(message) + plan_check(message))

    return checker


def bad_line(reason: str) -> Problem:
    """The problem of a line that is not a JSON object, or of an archive that broke off."""
    return problem("error", BAD_LINE, reason, "", BAD_LINE_HINT)


def _errors_first(found: list[Problem]) -> list[Problem]:
    found.sort(key=lambda p: p["level"] != "error")
    return found
