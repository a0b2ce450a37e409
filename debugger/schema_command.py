"""`segdebug schema`: fold archives into a schema, print it, seed a plan, or diff two archives.

The I/O edge of the schema feature: archives are read with the shared reader (files, .gz,
directories, `-`), each line parsed once and folded (debugger.schema); rendering, plan seeding
and the diff are pure modules beside it. Refusal records (the collector's rejected.ndjson,
named explicitly: a directory skips it) are folded as refused calls, Segment's "blocked".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import typer
from orjson import JSONDecodeError, loads

from debugger.archive import ArchiveError, RawLine, expand, read_raw
from debugger.errors import CliError
from debugger.query import Query, parse_option
from debugger.schema import Folded, Schema, SchemaFold
from debugger.text import printable

FORMATS = ("table", "json", "csv")


def is_refusal(record: dict[str, Any]) -> bool:
    """A line of rejected.ndjson (reason + raw text), not a message."""
    return "type" not in record and "problems" in record and "code" in record and "raw" in record


def fold_archives(paths: list[str], query: Query | None = None, fold: SchemaFold | None = None) -> Folded:
    """Fold every message of the archives (those matching `query`)."""
    files = expand(paths)
    folder = fold if fold is not None else SchemaFold()
    add = folder.add
    lines = bad = skipped = 0
    matches = query.matches if query is not None and not query.matches_all else None
    for item in read_raw(files):
        lines += 1
        parsed: Any = None
        if type(item) is RawLine:
            try:
                parsed = loads(item.raw)
            except JSONDecodeError:
                pass
        if type(parsed) is not dict:
            bad += 1
            continue
        if "type" not in parsed and is_refusal(parsed):
            message = parsed.get("message")
            envelope = {
                "message": message, "raw": item.raw, "status": "rejected",
                "problems": parsed.get("problems") or [], "writeKey": parsed.get("writeKey"),
                "receivedAt": parsed.get("receivedAt"),
            }
            if matches is not None and not matches(envelope):
                skipped += 1
                continue
            folder.add_envelope(envelope)
            continue
        if matches is not None and not matches({"message": parsed, "raw": item.raw}):
            skipped += 1
            continue
        add(parsed)
    names = ["<stdin>" if name == "-" else name for name in files]
    return Folded(folder.snapshot(), names, lines, bad, skipped)


def _read(paths: list[str], query: Query | None) -> Folded:
    try:
        return fold_archives(paths, query)
    except ArchiveError as error:
        raise CliError(str(error)) from None


def _load_plan_json(path: Path) -> dict[str, Any]:
    """The plan as JSON (checked by load_plan first: one clear line for a bad file)."""
    from debugger.plan import load_plan

    load_plan(path)
    plan: dict[str, Any] = orjson.loads(path.read_bytes())
    return plan


def run_schema(
    archives: list[str], fmt: str, query_text: str | None, plan: Path | None,
    plan_out: Path | None, diff: bool,
) -> None:
    """The `segdebug schema` command."""
    from debugger import schema_report

    if fmt not in FORMATS:
        raise CliError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not archives:
        raise CliError("give at least one archive (a file, .gz, directory, or - for stdin)")
    query = parse_option(query_text)
    if diff:
        if len(archives) != 2:
            raise CliError(f"--diff compares two archives, OLD and NEW; got {len(archives)}")
        if fmt == "csv":
            raise CliError("--diff prints a table or json, not csv")
        if plan is not None or plan_out is not None:
            raise CliError("--diff takes no --plan or --plan-out")
        from debugger.schema_diff import compare

        old, new = _read(archives[:1], query), _read(archives[1:], query)
        changes = compare(old.schema, new.schema)
        typer.echo(schema_report.diff_json(changes) if fmt == "json" else schema_report.diff_table(changes))
        if changes.breaking:
            raise typer.Exit(1)
        return
    planned = _load_plan_json(plan) if plan is not None else None
    if plan_out is not None and not plan_out.parent.is_dir():  # say so before a long read
        raise CliError(f"--plan-out {plan_out}: no such directory {plan_out.parent}")
    folded = _read(archives, query)
    notes = _write_plan(folded.schema, plan_out) if plan_out is not None else []
    if fmt == "json":
        typer.echo(schema_report.as_json(folded, planned))
    elif fmt == "csv":
        typer.echo(schema_report.as_csv(folded.schema, planned), nl=False)
    else:
        typer.echo(schema_report.as_table(folded, planned))
    for note in notes:  # after the table, where they are read; stdout stays the table
        typer.echo(note, err=True)


def _write_plan(schema: Schema, path: Path) -> list[str]:
    """Seed a plan from `schema` into `path`; the lines that say so on stderr: what was written
    (QA: the command printed the table and never said it wrote the plan) and which names were
    left out."""
    from debugger.schema_plan import plan_names, seed_plan

    seeded, left_out = seed_plan(schema)
    text = orjson.dumps(seeded, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    try:
        path.write_bytes(text + b"\n")
    except OSError as error:
        raise CliError(f"--plan-out {path}: {error.strerror or error}") from None
    properties = sum(len(event.properties) for event in schema.events
                     for name in plan_names(event) if name in seeded)
    notes = [f"segdebug: wrote the plan {printable(str(path))}: {_many(len(seeded), 'event')}, "
             f"{_many(properties, 'property', 'properties')}"]
    if left_out:
        names = ", ".join(printable(repr(name)) for name in left_out[:10])
        more = f" and {len(left_out) - 10} more" if len(left_out) > 10 else ""
        notes.append(f"segdebug: --plan-out left out {len(left_out)} name(s) used by two kinds of call "
                     f"(a plan names a schema, not a call type): {names}{more}")
    return notes


def _many(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else many or one + 's'}"
