"""The query language through the real `segdebug` command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from debugger.message import parse_time
from debugger.query import HELP, parse

SEGDEBUG = [sys.executable, "-m", "debugger.cli"]
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEGDEBUG, *args], capture_output=True, text=True, timeout=60)


def test_help_query_prints_the_language() -> None:
    done = run("help", "query")
    assert done.returncode == 0
    assert done.stdout.strip() == HELP.strip()
    for construct in ("type:track,page", "properties.total>100", "has:", "is:invalid",
                      "after:", " OR ", "-user:test*", "user:", "name:", "source:"):
        assert construct in done.stdout, construct


def test_help_examples_parse() -> None:
    examples = []
    for line in HELP.splitlines():
        if "--filter '" in line:
            examples.append(line.split("--filter '")[1].rstrip("'"))
        elif line.startswith("  ") and not line.startswith("  segdebug") and "  " in line[2:]:
            examples.append(line[2:].split("  ")[0].strip())
    assert len(examples) >= 20
    for example in examples:
        parse(example)


def test_help_compares_fields_that_hold_numbers_or_times() -> None:
    """QA: the help showed `type:>100`, a comparison on a string field that can never match.
    Every comparison the help writes, in either column, names a field that holds a number or
    an ISO time in the sample archives, and matches some of their events."""
    messages = [orjson.loads(line) for path in sorted(SAMPLES.glob("*.ndjson"))
                for line in path.read_bytes().splitlines()]
    written = list(re.finditer(r"(?<![\w.:-])([a-z][\w.]*):?[<>]=?[\w:.-]+", HELP))
    assert len(written) >= 3  # both forms: properties.total>100, properties.price:>50
    for text, field in ((found[0], found[1]) for found in written):
        values = [value for message in messages if (value := _at(message, field)) is not None]
        assert values and all(_orderable(value) for value in values), (text, values[:3])
        query = parse(text)
        assert any(query.matches({"message": message, "raw": ""}) for message in messages), text


def _at(message: dict[str, Any], path: str) -> Any:
    value: Any = message
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _orderable(value: Any) -> bool:
    """A number, or a string that reads as an ISO time: what a comparison compares."""
    if isinstance(value, str):
        return parse_time(value) is not None
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_bad_query_is_one_line_a_caret_and_exit_2() -> None:
    done = run("tail", "--filter", "type:track properties.total>", "--socket", "/nonexistent")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines == [
        "segdebug: error: bad query: column 29: expected a value after 'properties.total>'",
        "type:track properties.total>",
        " " * 28 + "^",
    ], done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_filter_help_points_at_the_language() -> None:
    for command in ("tail", "live", "replay"):
        assert "segdebug help query" in " ".join(run(command, "--help").stdout.split())
