"""`segdebug validate`: lint archives against the spec rules (and a tracking plan), for CI.

Reads with the same reader as replay (files, .gz, directories, stdin). The summary has one
row per rule that fired: level, count and the first example with its file:line. Exit 1 when
errors are found (bad lines count as errors), or warnings too with --strict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import orjson
import typer

from debugger.archive import ArchiveError, BadLine, RawLine, event_of_line, expand, parse_line, read_raw
from debugger.checks import CODES, Checker, bad_line, make_checker
from debugger.delivery.failures import is_failed_file
from debugger.errors import CliError
from debugger.paths import is_refusal_log
from debugger.protocol import Problem
from debugger.rules import check
from debugger.text import printable

KNOWN = CODES  # the rule codes `--rule` accepts


@dataclass(slots=True)
class Finding:
    """One rule's tally, with the first place it fired."""

    code: str
    level: str
    count: int
    source: str
    line: int
    message: str
    hint: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code, "level": self.level, "count": self.count,
            "example": {"file": self.source, "line": self.line, "message": self.message, "hint": self.hint},
        }


@dataclass
class Report:
    """What validate found in a set of archives."""

    files: list[str]
    lines: int = 0
    findings: dict[str, Finding] = field(default_factory=dict)

    def add(self, source: str, line: int, found: Problem) -> None:
        finding = self.findings.get(found["code"])
        if finding is None:
            self.findings[found["code"]] = Finding(
                found["code"], found["level"], 1, source, line, found["message"], found.get("hint", "")
            )
        else:
            finding.count += 1

    def total(self, level: str) -> int:
        return sum(f.count for f in self.findings.values() if f.level == level)

    def rows(self) -> list[Finding]:
        """Errors first, then the most frequent."""
        return sorted(self.findings.values(), key=lambda f: (f.level != "error", -f.count, f.code))

    def failed(self, strict: bool) -> bool:
        return self.total("error") > 0 or (strict and self.total("warning") > 0)


def lint(paths: Iterable[str | Path], checker: Checker = check, only: frozenset[str] = frozenset()) -> Report:
    """Check every line of the archives; `only` keeps just those rule codes (empty: all)."""
    files = expand(paths)  # a directory gives only its archive files (paths.is_archive_name)
    report = Report(files=["<stdin>" if name == "-" else name for name in files])
    add = report.add
    lines = 0
    source, kind = "", ARCHIVE
    for item in read_raw(files):
        lines += 1
        if item.source is not source:  # once per file, not per line (validate is benchmarked)
            source, kind = item.source, _kind_of(item)
        if isinstance(item, BadLine):  # the archive broke off (e.g. a truncated .gz)
            problems = [bad_line(item.reason)]
        elif kind == REFUSALS:
            problems = _recorded(item.raw) or event_of_line(item.raw, lines, checker, torn=item.torn)["problems"]
        elif kind == FAILED:
            problems = _failed_message_problems(item.raw, checker)
        else:
            problems = event_of_line(item.raw, lines, checker, torn=item.torn)["problems"]
        for found in problems:
            if not only or found["code"] in only:
                add(item.source, item.number, found)
    report.lines = lines
    return report


# What a file named for validate holds, decided by its name or its first line: validating a
# refusal log or a failed file used to check each record as if it were a message (every one
# `invalid_type`, QA), by name only for refusal logs (stdin or a renamed copy still did).
ARCHIVE, REFUSALS, FAILED = "archive", "refusals", "failed"


def _kind_of(first: RawLine | BadLine) -> str:
    if is_refusal_log(first.source):
        return REFUSALS
    if isinstance(first, BadLine):
        return ARCHIVE
    if is_failed_file(first.raw):  # as replay knows its failed files
        return FAILED
    record = _record(first.raw)
    if record is not None and {"endpoint", "code", "problems", "raw"} <= record.keys():
        return REFUSALS
    return ARCHIVE


def _record(raw: bytes) -> dict[str, Any] | None:
    parsed = parse_line(raw)
    return parsed if isinstance(parsed, dict) else None


def _failed_message_problems(raw: bytes, checker: Checker) -> list[Problem]:
    """A failed file's record (replay's or a forwarder's): its message checked as an archive's
    would be; a record of a line that was never a message, that line's reason."""
    record = _record(raw) or {}
    message = record.get("message")
    if isinstance(message, dict):
        return checker(message)
    return [bad_line(str(record.get("error") or "not a failed-file record"))]


def _recorded(raw: bytes) -> list[Problem]:
    """The problems a refusal record (a line of X.rejected.ndjson) says its call was refused
    for, so validating a refusal log reports why each call was refused. [] when the line is
    not such a record."""
    record = _record(raw)
    problems = record.get("problems") if record is not None else None
    if not isinstance(problems, list) or not all(
        isinstance(p, dict) and all(isinstance(p.get(key), str) for key in ("level", "code", "message"))
        for p in problems
    ):
        return []
    return problems


def format_text(report: Report) -> str:
    """The summary table, then one line of totals."""
    files = f"{len(report.files)} file{'s' if len(report.files) != 1 else ''}"
    head = f"{report.lines} lines in {files}"
    if not report.findings:
        return f"{head}: no problems found"
    rows = report.rows()
    width = max(len("RULE"), *(len(row.code) for row in rows))
    count_width = max(len("COUNT"), *(len(str(row.count)) for row in rows))
    out = [f"{'RULE':<{width}}  LEVEL    {'COUNT':>{count_width}}  EXAMPLE"]
    for row in rows:
        where = printable(f"{row.source}:{row.line}")
        out.append(
            f"{row.code:<{width}}  {row.level:<7}  {row.count:>{count_width}}  {where}  {printable(row.message)}"
        )
    errors, warnings = report.total("error"), report.total("warning")
    out.append(f"{head}: {errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}")
    return "\n".join(out)


def format_json(report: Report, strict: bool) -> str:
    return orjson.dumps(
        {
            "files": report.files,
            "lines": report.lines,
            "errors": report.total("error"),
            "warnings": report.total("warning"),
            "ok": not report.failed(strict),
            "rules": [row.as_json() for row in report.rows()],
        },
        option=orjson.OPT_INDENT_2,
    ).decode()


def run_validate(archives: list[str], fmt: str, rules: list[str], plan: Path | None, strict: bool) -> None:
    """The `segdebug validate` command: print the report, exit 1 when it fails."""
    if fmt not in ("text", "json"):
        raise CliError(f"--format must be text or json, not {fmt!r}")
    unknown = sorted(set(rules) - KNOWN.keys())
    if unknown:
        raise CliError(f"unknown rule {', '.join(unknown)}; known rules: {', '.join(KNOWN)}")
    checker = make_checker(plan)
    try:
        report = lint(archives, checker, frozenset(rules))
    except ArchiveError as error:
        raise CliError(str(error)) from None
    typer.echo(format_json(report, strict) if fmt == "json" else format_text(report))
    if report.failed(strict):
        raise typer.Exit(1)
