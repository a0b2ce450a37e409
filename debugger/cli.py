"""`segdebug`: the command-line root. One function per command; the work lives elsewhere.

Implementations are imported inside each command so `segdebug tail` never pays for Textual.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

# typer >= 0.22 vendors click; its UsageError (bad option, missing argument) is not re-exported
from typer._click import exceptions as click_exceptions

from debugger import __version__
from debugger.errors import PREFIX, CliError, usage_line
from debugger.paths import DEFAULT_HOST, DEFAULT_PORT

app = typer.Typer(
    name="segdebug",
    help="A local debugger for Segment-style analytics events.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

SocketOption = Annotated[
    Optional[Path],
    typer.Option("--socket", help="The collector's local socket (default: the one for --port)."),
]


class Fsync(str, Enum):
    always = "always"
    interval = "interval"
    never = "never"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"segdebug {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """A local debugger for Segment-style analytics events."""


@app.command()
def collect(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, max=65535, help="HTTP port (0 picks a free one).")] = DEFAULT_PORT,
    archive: Annotated[
        Optional[Path], typer.Option(help="NDJSON archive of accepted messages.")
    ] = None,
    socket: SocketOption = None,
    write_key: Annotated[
        Optional[list[str]],
        typer.Option("--write-key", help="Accept only this write key (repeatable)."),
    ] = None,
    fsync: Annotated[
        Fsync, typer.Option(help="When to fsync the archive: always, interval (1 s) or never.")
    ] = Fsync.interval,
    plan: Annotated[
        Optional[Path], typer.Option(help="Tracking plan (JSON Schema per event) to check live.")
    ] = None,
    recent: Annotated[
        int, typer.Option(min=1, help="Messages kept in memory for the /segdebug/ API (older ones are read from the archive).")
    ] = 100_000,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Answer 400 to every refused call (Segment answers 200 unless the JSON, "
                         "its encoding or its size is wrong); for CI.")] = False,
    forward: Annotated[Optional[list[str]], typer.Option(
        "--forward", metavar="[NAME=]URL",
        help="Also deliver every accepted message to URL (read as replay --to reads it; "
             "NAME defaults to its host; repeatable). See: segdebug delivery.")] = None,
    forward_write_key: Annotated[Optional[str], typer.Option(
        "--forward-write-key", help="Forward with this write key instead of each message's own.")] = None,
) -> None:
    """Run the collector: Segment's HTTP tracking API on HOST:PORT, archived to NDJSON."""
    from debugger.delivery.destinations import parse_forwarding
    from debugger.serve import run_collect

    try:
        parse_forwarding(forward or [], forward_write_key)  # as live: one line, exit 2
    except ValueError as error:
        raise CliError(str(error)) from None
    run_collect(
        host=host, port=port, archive=archive, socket=socket,
        write_keys=write_key or [], fsync=fsync.value, plan=plan, recent=recent, strict=strict,
        forward=forward or [], forward_write_key=forward_write_key,
    )


@app.command()
def delivery(
    socket: SocketOption = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the collector.")] = DEFAULT_PORT,
    json: Annotated[bool, typer.Option("--json", help="Print the JSON summary.")] = False,
) -> None:
    """What reached each --forward destination: delivered, not delivered, p95, errors."""
    from debugger.delivery.command import run_delivery

    run_delivery(socket=socket, port=port, as_json=json)


@app.command()
def tail(
    socket: SocketOption = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the collector to tail.")] = DEFAULT_PORT,
    filter: Annotated[
        Optional[str],
        typer.Option("--filter", "-f", help="Only events matching this query (see: segdebug help query)."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print raw NDJSON envelopes.")] = False,
    count: Annotated[
        Optional[int], typer.Option(min=1, help="Stop after N events.")
    ] = None,
    last: Annotated[int, typer.Option(
        "--last", help="First print the newest N events the collector has (at most 500).")] = 0,
    mask_keys: Annotated[bool, typer.Option(
        "--mask-keys", help="Show write keys masked (they are shown in full by default).")] = False,
) -> None:
    """Print events from a running collector, one line each (or NDJSON with --json)."""
    from debugger.tail import run_tail

    run_tail(socket=socket, port=port, query=filter, as_json=json, count=count, last=last,
             mask_keys=mask_keys)


@app.command()
def live(
    socket: SocketOption = None,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the collector (started if none runs).")
    ] = DEFAULT_PORT,
    file: Annotated[
        Optional[Path], typer.Option("--file", help="Tail an NDJSON archive instead of a collector.")
    ] = None,
    filter: Annotated[Optional[str], typer.Option(
        "--filter", help="Receive only events matching this query; the search (/) works "
                         "within them (see: segdebug help query).")] = None,
    max_rate: Annotated[
        int, typer.Option(min=1, help="Events/s shown before the collector samples.")
    ] = 50,
    demo: Annotated[bool, typer.Option("--demo", help="Also send demo traffic.")] = False,
    archive: Annotated[Optional[Path], typer.Option(
        "--archive", help="Archive of the collector live starts (when none runs).")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="The collector live starts answers 400 to refused calls (as collect --strict).")] = False,
    mask_keys: Annotated[bool, typer.Option(
        "--mask-keys", help="Show write keys masked (they are shown in full by default).")] = False,
    forward: Annotated[Optional[list[str]], typer.Option(
        "--forward", metavar="[NAME=]URL",
        help="The collector live starts also delivers to URL (as collect --forward; repeatable); "
             "see the Delivery tab and screen (d).")] = None,
    forward_write_key: Annotated[Optional[str], typer.Option(
        "--forward-write-key", help="The collector live starts forwards with this write key "
                                    "(as collect --forward-write-key).")] = None,
) -> None:
    """Open the live terminal debugger."""
    from debugger.tui.run import run_live

    run_live(socket=socket, port=port, file=file, query=filter, max_rate=max_rate, demo=demo,
             archive=archive, strict=strict, mask_keys=mask_keys, forward=forward or [],
             forward_write_key=forward_write_key)


@app.command()
def demo(
    to: Annotated[
        str, typer.Option(help="Collector base URL.")
    ] = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}",
    rate: Annotated[float, typer.Option(min=0.1, help="Events per second.")] = 5.0,
    duration: Annotated[
        Optional[float], typer.Option(min=0.1, help="Seconds to run (default: until Ctrl-C).")
    ] = None,
) -> None:
    """Send realistic demo traffic (with a few deliberate mistakes) to a collector."""
    from debugger.demo import run_demo

    run_demo(to=to, rate=rate, duration=duration)


@app.command()
def validate(
    archives: Annotated[list[str], typer.Argument(help="Archives: files, .gz, directories, -.")],
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    rule: Annotated[
        Optional[list[str]], typer.Option("--rule", help="Only these rule codes (repeatable).")
    ] = None,
    plan: Annotated[Optional[Path], typer.Option(help="Tracking plan (JSON Schema per event).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
) -> None:
    """Lint archives against the spec rules (exit 1 on errors)."""
    from debugger.validate import run_validate

    run_validate(archives=archives, fmt=format, rules=rule or [], plan=plan, strict=strict)


@app.command()
def schema(
    archives: Annotated[
        list[str], typer.Argument(help="Archives: files, .gz, directories, - (with --diff: OLD NEW).")
    ],
    filter: Annotated[Optional[str], typer.Option(
        "--filter", "-f", help="Only messages matching this query (see: segdebug help query).")] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    plan: Annotated[Optional[Path], typer.Option(
        help="Tracking plan: fill in the Planned column and list what is unplanned.")] = None,
    plan_out: Annotated[Optional[Path], typer.Option(
        "--plan-out", help="Write a tracking plan seeded from the traffic (types seen, required = always there).")] = None,
    diff: Annotated[bool, typer.Option(
        "--diff", help="Compare two archives: exit 1 when an event or property disappeared or changed type.")] = False,
) -> None:
    """Every event, property and trait the archives hold, with types, drift and naming flags."""
    from debugger.schema_command import run_schema

    run_schema(archives=archives, fmt=format, query_text=filter, plan=plan, plan_out=plan_out, diff=diff)


@app.command("assert")
def assert_(
    query: Annotated[str, typer.Argument(help='Query the events must match, e.g. \'event:"Order Completed"\'.')],
    count: Annotated[Optional[int], typer.Option("--count", help="Exactly N accepted events must match.")] = None,
    low: Annotated[Optional[int], typer.Option("--min", help="At least N must match (default: 1).")] = None,
    high: Annotated[Optional[int], typer.Option("--max", help="At most N may match.")] = None,
    no_refused: Annotated[bool, typer.Option("--no-refused", help="Fail if any call in the window was refused.")] = False,
    within: Annotated[float, typer.Option(help="Keep looking for up to SECONDS before failing.")] = 2.0,
    port: Annotated[Optional[int], typer.Option(min=1, max=65535, help=f"Port of the collector on {DEFAULT_HOST} (default {DEFAULT_PORT}).")] = None,
    url: Annotated[Optional[str], typer.Option(help="The collector's URL, e.g. http://127.0.0.1:8080.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Check the collector's current window (since start or the last reset): exit 0 when the
    expectation holds, 1 when not (printing what matched, what was refused, the nearest misses)."""
    from debugger.assertion import run_assert

    if port is not None and url is not None:
        raise CliError("give --port or --url, not both")
    if url is not None:
        from debugger.delivery.target import check_http_url

        try:
            check_http_url(url)
        except ValueError as error:
            raise CliError(f"--url: {error}") from None
    target = url.strip() if url is not None else f"http://{DEFAULT_HOST}:{port or DEFAULT_PORT}"
    code = run_assert(query, count, low, high, no_refused, within, target, json)
    raise typer.Exit(code)


@app.command("help")
def help_topic(
    topic: Annotated[str, typer.Argument(help="Topic: query.")] = "query",
) -> None:
    """Explain a topic: `segdebug help query` prints the query language."""
    if topic != "query":
        raise CliError(f"unknown help topic {topic!r}; try: segdebug help query")
    from debugger.query import HELP

    typer.echo(HELP)


def _register_replay() -> None:
    from replay.cli import replay

    app.command("replay")(replay)


_register_replay()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI: usage errors and CliError become one line on stderr, never a traceback."""
    try:
        result = app(args=argv, prog_name="segdebug", standalone_mode=False)
    except CliError as error:
        typer.echo(f"{PREFIX}{error}", err=True)
        return error.code
    except click_exceptions.UsageError as error:  # Typer's own, reworded as ours: one form
        typer.echo(usage_line(error), err=True)
        return 2
    except (typer.Abort, KeyboardInterrupt):  # typer's own names: its vendored click has none
        typer.echo("", err=True)
        return 130
    except typer.Exit as done:
        return done.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
