"""Tracking plans: a JSON Schema per event name, checked against each message.

A plan file is a JSON object mapping names to schemas of the whole message (as Segment
Protocols does), so a schema can constrain `properties`, `traits` or `context`:

    {"Order Completed": {"type": "object", "required": ["properties"],
                         "properties": {"properties": {"required": ["order_id", "total"]}}}}

Track calls are looked up by `event`, page and screen calls by `name`, identify, group and
alias calls by their type (`"identify": {...}` checks every identify's traits); names with no
schema are not checked. Violations are warnings (`plan_violation`): the collector keeps the event
and shows why; `segdebug validate --strict --rule plan_violation` makes them fail CI.

Schemas are compiled with fastjsonschema: it turns each schema into Python code once, then
validates the dicts orjson already built with no conversion, which keeps validate near the
speed of parsing; it is pure Python (no wheel to build anywhere) and maintained.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Mapping

import fastjsonschema
import orjson

from debugger.protocol import Problem, problem
from debugger.errors import CliError

PLAN_CODE = "plan_violation"
Validator = Callable[[Any], Any]


def load_plan(path: str | Path) -> PlanChecker:
    """Read and compile a plan; raises CliError (one clear line) for a bad file or schema."""
    try:
        plan = orjson.loads(Path(path).read_bytes())
    except OSError as error:
        raise CliError(f"plan {path}: {error.strerror or error}") from None
    except orjson.JSONDecodeError as error:
        raise CliError(f"plan {path}: invalid JSON: {error}") from None
    if not isinstance(plan, dict):
        raise CliError(f"plan {path}: expected a JSON object of event name -> JSON Schema")
    validators: dict[str, Validator] = {}
    for name, schema in plan.items():
        if not isinstance(schema, (dict, bool)):
            raise CliError(f"plan {path}: the schema for {name!r} is not a JSON object")
        try:
            validators[name] = fastjsonschema.compile(schema)
        except fastjsonschema.JsonSchemaDefinitionException as error:
            raise CliError(f"plan {path}: bad schema for {name!r}: {error}") from None
        except re.error as error:  # a `pattern` or `patternProperties` key Python cannot compile
            raise CliError(f"plan {path}: bad schema for {name!r}: {error} (a regular expression)") from None
        except (TypeError, ValueError, OverflowError, RecursionError) as error:
            # what the compiler itself trips on: `"pattern": 12`, a repetition past Python's limit,
            # a schema nested too deep (QA found the first two as tracebacks)
            raise CliError(f"plan {path}: bad schema for {name!r}: {type(error).__name__}: {error}") from None
    return PlanChecker(validators)


def plan_name(message: Mapping[str, Any]) -> str:
    """The plan entry a message is checked against ("" when it has none)."""
    kind = message.get("type")
    if kind == "track":
        name = message.get("event")
    elif kind in ("page", "screen"):
        name = message.get("name")
    else:
        name = kind
    return name if isinstance(name, str) else ""


class PlanChecker:
    """Callable `(message) -> problems` over the compiled schemas."""

    def __init__(self, validators: dict[str, Validator]) -> None:
        self.validators = validators

    def __call__(self, message: Mapping[str, Any]) -> list[Problem]:
        name = plan_name(message)
        validate = self.validators.get(name)
        if validate is None:
            return []
        try:
            validate(message)
        except fastjsonschema.JsonSchemaValueException as error:
            return [_violation(name, error)]
        return []


def _violation(name: str, error: fastjsonschema.JsonSchemaValueException) -> Problem:
    """fastjsonschema calls the message `data`: say the field's path instead."""
    path = ".".join(str(part) for part in (error.path or [])[1:])
    text = error.message
    if text.startswith("data."):
        text = text[len("data."):]
    elif text.startswith("data "):
        text = "the message " + text[len("data "):]
    return problem(
        "warning", PLAN_CODE, f"{name!r} breaks the tracking plan: {text}", path,
        f"send {name!r} as the plan describes, or update the plan",
    )
