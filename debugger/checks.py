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
# A rule that raised on a message: the message is kept with this warning instead of lost.
CHECK_FAILED = "check_failed"

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


def check_failed(error: Exception) -> Problem:
    """The warning that replaces a rule that raised: the message is kept, and says why."""
    return problem("warning", CHECK_FAILED, f"a spec rule failed on this message: {error!r}")


def refusal_problems(own: list[Problem], message: Mapping[str, Any] | None, check: Checker) -> list[Problem]:
    """What a person reads about a refused message: the refusal's own problems (why it was
    refused, first), then the warnings the full checker `check` adds that are not already
    there. One definition for every place that shows refusals (the hub's events, the store's
    API), so a refusal reads the same wherever it is shown."""
    if message is None:
        return own
    try:
        found = check(message)
    except Exception as error:  # as ingest does: keep what is known, say why
        return [*own, check_failed(error)]
    seen = {(p["code"], p["path"]) for p in own}
    return own + [p for p in found if p["level"] == "warning" and (p["code"], p["path"]) not in seen]


def bad_line(reason: str) -> Problem:
    """The problem of a line that is not a JSON object, or of an archive that broke off."""
    return problem("error", BAD_LINE, reason, "", BAD_LINE_HINT)


def _errors_first(found: list[Problem]) -> list[Problem]:
    found.sort(key=lambda p: p["level"] != "error")
    return found
