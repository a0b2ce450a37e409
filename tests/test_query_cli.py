"""The query language through the real `segdebug` command."""

from __future__ import annotations

import subprocess
import sys

from debugger.query import HELP, parse

SEGDEBUG = [sys.executable, "-m", "debugger.cli"]


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
