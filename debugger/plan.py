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

from debugger.errors import CliError
from debugger.protocol import Problem, problem
from debugger.rules import describe_value  # the rules' words for a value
from debugger.schema import path_text
from debugger.text import printable

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
            return [_violation(name, error, message)]
        return []


def _violation(name: str, error: fastjsonschema.JsonSchemaValueException, message: Any) -> Problem:
    """The violation in words (QA: `properties must contain ['order_id'] properties`): the field
    first, as the rules write it, then what the plan for `name` wants of it."""
    path = _path_text(_steps(message, error))
    return problem(
        "warning", PLAN_CODE, _words(error, path, f"the plan for {name!r}"), path,
        f"send {name!r} as the plan describes, or update the plan",
    )


# a bound's rule: its words, and the unit it counts ("" for a number's own value)
_BOUNDS = {
    "minimum": ("at least", ""), "maximum": ("at most", ""),
    "exclusiveMinimum": ("more than", ""), "exclusiveMaximum": ("less than", ""),
    "minLength": ("at least", "character"), "maxLength": ("at most", "character"),
    "minItems": ("at least", "item"), "maxItems": ("at most", "item"),
    "minProperties": ("at least", "key"), "maxProperties": ("at most", "key"),
}
_TYPES = {"object": "an object", "array": "an array", "integer": "an integer", "null": "null"}


def _words(error: fastjsonschema.JsonSchemaValueException, path: str, plan: str) -> str:
    """The field at `path` ("": the message) and what `plan` wants of it, for the rules a plan
    usually uses (required, type, enum, const, additionalProperties, pattern, bounds, format,
    anyOf...); fastjsonschema's own sentence, about the field, for the rest."""
    rule, wants, value = error.rule, error.rule_definition, error.value
    where = path or "the message"
    if rule == "required" and isinstance(wants, list) and isinstance(value, Mapping):
        missing = [_join(path, key) for key in wants if key not in value] or [_join(path, k) for k in wants]
        verb = "is" if len(missing) == 1 else "are"
        return f"{_and(missing)} {verb} required by {plan}"
    if rule == "additionalProperties" and isinstance(value, Mapping):
        extra = [_join(path, key) for key in _unplanned_keys(value, error.definition)]
        if extra:
            verb = "is" if len(extra) == 1 else "are"
            return f"{_and(extra)} {verb} not in {plan}, which allows no other key in {where}"
    seen = f"{where} is {_describe(value)}"
    if rule == "type":
        kinds = wants if isinstance(wants, list) else [wants]
        return f"{seen}; {plan} wants {' or '.join(_TYPES.get(str(k), f'a {k}') for k in kinds)}"
    if rule == "enum" and isinstance(wants, list):
        return f"{seen}; {plan} wants one of {', '.join(_literal(w) for w in wants)}"
    if rule == "const":
        return f"{seen}; {plan} wants {_literal(wants)}"
    if rule == "pattern":
        return f"{seen}; {plan} wants it to match {printable(str(wants))}"
    if rule == "format":
        return f"{seen}; {plan} wants the format {printable(str(wants))}"
    if rule == "multipleOf":
        return f"{seen}; {plan} wants a multiple of {wants}"
    if rule == "uniqueItems":
        return f"{where} has an item twice; {plan} wants each item once"
    if rule in _BOUNDS:
        words, unit = _BOUNDS[rule]
        if unit and isinstance(value, (str, list, dict)):
            seen = f"{seen} ({len(value)} {unit}{'' if len(value) == 1 else 's'})"
        return f"{seen}; {plan} wants {words} {wants}" + (f" {unit}{'' if wants == 1 else 's'}" if unit else "")
    if rule in ("anyOf", "oneOf"):
        matched = re.search(r"\((\d+) matches found\)", error.message)  # oneOf says how many
        if matched and int(matched[1]) > 0:
            return f"{seen}, which fits {matched[1]} of the choices {plan} gives; it wants exactly one ({rule})"
        return f"{seen}, which fits none of the choices {plan} gives ({rule})"
    if rule == "not":
        return f"{seen}, which {plan} rules out (not)"
    if rule is None and error.message.endswith("must not be there"):  # a `false` schema
        return f"{where} is not allowed by {plan}"
    text = error.message.partition(" ")[2] if error.message.startswith("data") else error.message
    return f"{where} breaks {plan}: {printable(text)}"


def _describe(value: Any) -> str:
    """A value as the rules describe it (`the string '12'`), null included."""
    return "null" if value is None else printable(describe_value(value))


def _literal(value: Any) -> str:
    return printable(repr(value)) if isinstance(value, str) else printable(orjson.dumps(value).decode())


def _join(path: str, key: Any) -> str:
    step = path_text((str(key),))
    return f"{path}.{step}" if path else step


def _unplanned_keys(value: Mapping[str, Any], definition: Any) -> list[str]:
    """The keys of `value` that an object schema with `additionalProperties: false` refuses:
    neither in its `properties` nor matched by a `patternProperties` expression."""
    if not isinstance(definition, Mapping):
        return []
    named = definition.get("properties")
    patterns = definition.get("patternProperties")
    named = named if isinstance(named, Mapping) else {}
    patterns = patterns if isinstance(patterns, Mapping) else {}
    return [key for key in value
            if key not in named and not any(re.search(pattern, key) for pattern in patterns)]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _steps(message: Any, error: fastjsonschema.JsonSchemaValueException) -> list[str | int]:
    """The keys and indexes from the message to the value the plan refused. fastjsonschema
    names it as text (`data.a.b[1]`), which a key holding a dot makes ambiguous (its `path`
    splits such a key, and drops an empty one): the name is matched against the message's
    real keys, down to the very value refused; its split path when nothing matches."""
    name = error.name or "data"
    found = _walk(message, name[len("data"):], error.value) if name.startswith("data") else None
    return found if found is not None else list(error.path[1:])


def _walk(node: Any, rest: str, target: Any) -> list[str | int] | None:
    if not rest:
        return [] if node is target else None
    if isinstance(node, list) and (index := re.match(r"\[(\d+)\]", rest)) and int(index[1]) < len(node):
        below = _walk(node[int(index[1])], rest[index.end():], target)
        return None if below is None else [int(index[1]), *below]
    if isinstance(node, dict) and rest.startswith("."):
        for key, child in node.items():
            if isinstance(key, str) and rest.startswith(key, 1):
                below = _walk(child, rest[1 + len(key):], target)
                if below is not None:
                    return [key, *below]
    return None


def _path_text(steps: list[str | int]) -> str:
    """Keys as every output writes a path (schema.path_text: `a.b`, a dotted key `"a.b"`), an
    array's index as `[1]`."""
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else ("." if text else "") + path_text((str(step),))
    return text
