"""The one error type commands raise for a clear, one-line failure, and the words for the usage
errors Typer raises itself (bad choice, bad number, missing argument, unknown option), so that
every bad argument reads `segdebug: error: ...` in the same voice, whoever caught it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from debugger.text import printable

if TYPE_CHECKING:
    from typer._click.exceptions import BadParameter, UsageError

PREFIX = "segdebug: error: "

# pydantic's bound errors (typer checks min/max through pydantic) in our words
_BOUNDS = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
_KINDS = {"int_parsing": "a whole number", "float_parsing": "a number", "bool_parsing": "true or false"}


class CliError(Exception):
    """A failure the user can fix: printed as one line, exits with `code` (2 = usage)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def usage_line(error: UsageError) -> str:
    """The one line (prefix included) for a usage error Typer raised before our command ran
    (for `segdebug` alone, no_args_is_help: the help itself).

    Typer words them its own way (`Invalid value for '--fsync': Value error, ...`, pydantic's
    `Input should be ...`) under a per-command prefix; ours read `--format must be one of
    table, json, csv, not 'xml'`. Whatever is not recognised keeps Typer's text, tidied."""
    from typer._click import exceptions as click

    help_hint = f"; try: {error.ctx.command_path} --help" if error.ctx is not None else ""
    if isinstance(error, click.MissingParameter):
        kind = getattr(error.param, "param_type_name", "parameter")
        text = f"missing {kind} {_param_name(error)}{help_hint}"
    elif isinstance(error, click.BadParameter):
        text = f"{_param_name(error)}{_bad_value(error)}"
    elif isinstance(error, click.NoSuchOption):
        guess = f" (did you mean {' or '.join(sorted(error.possibilities))}?)" if error.possibilities else ""
        text = f"unknown option {error.option_name}{guess}{help_hint}"
    elif isinstance(error, click.BadOptionUsage):  # "Option '--port' requires an argument."
        text = _tidy(error.message.replace(f"Option {error.option_name!r}", error.option_name))
    elif isinstance(error, click.NoArgsIsHelpError):
        return error.format_message()  # `segdebug` alone: the help, not an error
    else:  # unknown command, extra arguments, ...
        text = _tidy(error.format_message().removeprefix("Got ")) + help_hint
    return PREFIX + printable(text)


def _param_name(error: BadParameter) -> str:
    """`--fsync` for an option, `ARCHIVES` for an argument, as the user reads them in --help."""
    param = error.param
    if param is None:
        return "a value"
    if param.param_type_name == "option" and param.opts:
        return param.opts[0]
    return (param.name or "value").upper()


def _bad_value(error: BadParameter) -> str:
    """What is wrong with the value, after the parameter's name: ` must be ..., not X`."""
    errors = getattr(error.__cause__, "errors", None)  # typer validates through pydantic
    details: list[dict[str, Any]] = errors() if callable(errors) else []
    if not details:
        return f": {_tidy(error.message)}"
    detail = details[0]
    kind, given, context = detail.get("type", ""), detail.get("input"), detail.get("ctx") or {}
    if kind in _KINDS:
        return f" must be {_KINDS[kind]}, not {given!r}"
    for bound, words in _BOUNDS.items():
        if bound in context:
            return f" must be {words} {context[bound]}, not {given}"
    if kind == "value_error":
        choices = _choices(error.param)
        if choices:
            return f" must be one of {', '.join(choices)}, not {given!r}"
        return f": {_tidy(str(context.get('error', '')))}"
    return f": {_tidy(str(detail.get('msg', error.message)))}"


def _choices(param: Any) -> list[str]:
    """The values an Enum option takes, as typed on the command line ([] when not a choice)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not getattr(descriptor, "is_choice", False):
        return []
    return [str(getattr(choice, "value", choice)) for choice in descriptor.choices or ()]


def _tidy(text: str) -> str:
    """Typer's sentence as one of ours: lower-case start, no final period, no pydantic label."""
    text = text.strip().removeprefix("Value error, ").rstrip(".")
    return text[:1].lower() + text[1:]
