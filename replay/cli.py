"""`segdebug replay`: the Typer command. It checks the options and resolves them into
ReplayOptions; the work lives in replay.run (and replay.dryrun)."""

from __future__ import annotations

import re

import hashlib
import shlex
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import orjson
import typer

from debugger.archive import ArchiveError, expand, open_archive
from debugger.errors import CliError
from debugger.message import parse_time
from debugger.paths import CHECKPOINT_SUFFIX, FAILED_SUFFIX
from debugger.query import parse_option


class Mode(str, Enum):
    batch = "batch"
    single = "single"


class SentAt(str, Enum):
    fresh = "fresh"
    keep = "keep"
    drop = "drop"


class Timestamps(str, Enum):
    keep = "keep"
    shift = "shift"


class ReportFormat(str, Enum):
    text = "text"
    json = "json"


def replay(
    archives: Annotated[list[str], typer.Argument(help="Archives: files, .gz, directories, -.")],
    to: Annotated[str, typer.Option(help="Where to post: a URL ending in /v1/batch, /v1/import or /v1/b as given, any other as a base (BASE/v1/batch).")],
    mode: Annotated[Mode, typer.Option(help="batch, or single: one message per request.")] = Mode.batch,
    header: Annotated[Optional[list[str]], typer.Option(help="Extra header K:V (repeatable).")] = None,
    filter: Annotated[Optional[str], typer.Option("--filter", help="Only messages matching this query (see: segdebug help query).")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only events at or after this ISO time.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only events before this ISO time.")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Send at most N messages.")] = None,
    write_key: Annotated[Optional[str], typer.Option(help="Send everything with this write key.")] = None,
    sent_at: Annotated[SentAt, typer.Option(help="fresh: new batch sentAt; keep; drop.")] = SentAt.fresh,
    timestamps: Annotated[Timestamps, typer.Option(help="keep, or shift so the last event is now.")] = Timestamps.keep,
    new_message_ids: Annotated[bool, typer.Option("--new-message-ids", help="New messageIds (fixed per run, kept on --resume).")] = False,
    set: Annotated[Optional[list[str]], typer.Option("--set", help="Set PATH=JSON in every message (repeatable).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=2500, help="Messages per request.")] = 100,
    rate: Annotated[Optional[float], typer.Option(min=0.001, help="Events per second (open loop).")] = None,
    speed: Annotated[Optional[float], typer.Option(min=0.001, help="Keep original gaps divided by X.")] = None,
    max_wait: Annotated[Optional[float], typer.Option(min=0, help="With --speed: cap any gap at S seconds.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Requests in flight.")] = 8,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries per request (5xx, 408, 429, network).")] = 10,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 30.0,
    failed: Annotated[Optional[Path], typer.Option(help="Where undelivered messages go (default: beside the archive).")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="Progress file for --resume (default: beside the archive).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its checkpoint.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and select; print what would be sent.")] = False,
    report: Annotated[ReportFormat, typer.Option(help="Final report: text or json.")] = ReportFormat.text,
) -> None:
    """Resend archived events to a collector, Segment, or any webhook; nothing is lost."""
    from replay.reader import Selection
    from replay.run import ReplayOptions, describe_run, run_replay
    from debugger.delivery.sender import DeliveryOptions
    from debugger.delivery.target import resolve
    from replay.transform import Transformation, parse_assignment

    if rate is not None and speed is not None:
        raise CliError("--rate and --speed cannot be combined; choose one pace")
    if max_wait is not None and speed is None:
        raise CliError("--max-wait only applies with --speed")
    try:
        target = resolve(to, mode.value)
        sets = tuple(parse_assignment(text) for text in set or [])
    except ValueError as error:
        raise CliError(str(error)) from None
    headers = tuple(_header(text) for text in header or [])
    selection = Selection(parse_option(filter), _time("--since", since), _time("--until", until))
    files = _check_readable(archives)
    base = _base_path(archives)
    failed = failed or base.with_name(base.name + FAILED_SUFFIX)
    checkpoint = checkpoint or base.with_name(base.name + CHECKPOINT_SUFFIX)
    _check_outputs(files, failed, checkpoint)
    transformation = Transformation(write_key=write_key, sent_at=sent_at.value, sets=sets)
    fingerprint = hashlib.sha256(orjson.dumps([
        [str(Path(a).resolve()) if a != "-" else a for a in archives], target.url, mode.value,
        filter, since, until, limit, write_key, sent_at.value, timestamps.value,
        new_message_ids, [list(s) for s in sets],
    ], default=str)).hexdigest()[:16]
    options = ReplayOptions(
        archives=archives, target=target, selection=selection, transformation=transformation,
        delivery=DeliveryOptions(mode=mode.value, fresh_sent_at=sent_at is SentAt.fresh, headers=headers,
                          concurrency=concurrency, max_retries=max_retries, timeout=timeout),
        failed=failed, checkpoint=checkpoint,
        fingerprint=fingerprint, limit=limit, batch_size=batch_size, rate=rate, speed=speed,
        max_wait=max_wait, new_message_ids=new_message_ids,
        shift_timestamps=timestamps is Timestamps.shift, resume=resume, report=report.value,
        resume_command=resume_command(sys.argv),
    )
    if dry_run:
        typer.echo(describe_run(options))
        return
    code = run_replay(options)
    if code:
        raise typer.Exit(code)


def resume_command(argv: list[str]) -> str:
    """The command that resumes this run, with secrets (write key, auth headers) masked."""
    words = ["segdebug", "replay"]
    args = argv[1:]
    if args[:1] == ["replay"]:
        args = args[1:]
    hide_next = ""  # what the next word is: "key", "header", or "" (shown as it is)
    for word in args:
        if hide_next:
            word = "$WRITE_KEY" if hide_next == "key" else "'Authorization:…'"
            hide_next = ""
        elif word == "--write-key":
            hide_next = "key"
        elif word == "--header":
            hide_next = "header"
        elif word.startswith("--write-key="):
            word = "--write-key=$WRITE_KEY"
        words.append(word if word.startswith("$") or word.startswith("'Auth") else shlex.quote(word))
    if "--resume" not in words:
        words.append("--resume")
    return " ".join(words)


# RFC 9110 token characters; QA: a name with an ESC in it was not a usage error, the HTTP
# client refused every request instead (68 messages in the failed file, "unexpected error")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# headers that frame the request: a wrong Content-Length cut every body (QA)
_FRAMING = frozenset({"content-length", "transfer-encoding", "host", "connection"})


def _header(text: str) -> tuple[str, str]:
    """NAME:VALUE as (name, value); a bad one fails naming what is wrong, never echoing the value
    (it is often a credential), nor what follows the first space of a header with no colon."""
    name, sep, value = text.partition(":")
    if not sep:
        problem = "has no colon"
    elif not name.strip():
        problem = "has no name before its colon"
    elif any(c in name for c in " \t\r\n"):
        problem = "has a space in its name"
    elif not _TOKEN.fullmatch(name.strip()):
        problem = "has a character a header name cannot hold"
    elif "\r" in value or "\n" in value:
        problem = "has a line break in its value"
    elif any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in value):
        problem = "has a control character in its value"
    elif name.strip().lower() in _FRAMING:
        problem = "is set by replay itself (it frames each request)"
    else:
        return name.strip(), value.strip()
    words = name.split()
    if sep or len(words) < 2:
        shown = f" {name.strip()!r}" if words else ""
    else:
        shown = f" {words[0]!r} (the rest not shown)"
    raise CliError(f"--header{shown} {problem}: expected NAME:VALUE, e.g. --header 'X-Debug: 1'")


def _time(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = parse_time(text)
    if moment is None:
        raise CliError(f"{option} {text!r}: expected an ISO 8601 time like 2024-05-01T12:00:00Z")
    return moment


def _check_readable(archives: list[str]) -> list[str]:
    """The input files; fails before sending anything when one is missing or unreadable."""
    try:
        files = expand(archives)
        for name in files:
            if name != "-":
                open_archive(name).close()
    except ArchiveError as error:
        raise CliError(f"cannot read archive {error}") from None
    if not files:
        raise CliError(f"no archive files in {' '.join(archives)}")
    return files


def _check_outputs(files: list[str], *outputs: Path) -> None:
    """Refuse to write the failed file or checkpoint over an input (e.g. a failed file being
    resent): the failed file is emptied before the first line is read."""
    inputs = {Path(name).resolve() for name in files if name != "-"}
    for output in outputs:
        if output.resolve() in inputs:
            raise CliError(f"{output} is also an input; choose another path (--failed, --checkpoint)")


def _base_path(archives: list[str]) -> Path:
    """Where the failed file and checkpoint go: beside the first archive (cwd for stdin)."""
    first = archives[0]
    if first == "-":
        return Path.cwd() / "replay"
    path = Path(first).resolve()
    name = path.name
    for suffix in (".gz", ".ndjson", ".jsonl", ".json", ".log"):
        name = name.removesuffix(suffix)
    return path.with_name(name or "replay")
