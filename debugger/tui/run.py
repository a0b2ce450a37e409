"""`segdebug live`: pick the source (a collector's socket, started if need be, or an archive),
run the app, and stop what was started."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from debugger.errors import CliError
from debugger.paths import default_socket
from debugger.query import parse_option
from debugger.tui.launcher import EmbeddedCollector, probe
from debugger.tui.sources import FileSource, LineSource, SocketSource


def run_live(
    socket: Path | None, port: int, file: Path | None, query: str | None,
    max_rate: int, demo: bool, *, archive: Path | None = None, strict: bool = False,
    mask_keys: bool = False, forward: list[str] | None = None, forward_write_key: str | None = None,
) -> None:
    """`query` is the hard filter (nothing else is shown or received); `archive`, `strict`,
    `forward` and `forward_write_key` are passed to the collector live starts, and refused
    when one already runs."""
    parse_option(query)  # a bad filter: one clear line before anything starts
    forward = forward or []
    if forward or forward_write_key is not None:
        from debugger.delivery.destinations import parse_forwarding

        try:
            parse_forwarding(forward, forward_write_key)  # one clear line before anything starts
        except ValueError as error:
            raise CliError(str(error)) from None
    if file is not None and demo:
        raise CliError("--demo sends to a collector; it cannot be used with --file")
    embedded_only = [name for name, given in (
        ("--archive", archive), ("--strict", strict), ("--forward", forward),
        ("--forward-write-key", forward_write_key)) if given]
    if file is not None and embedded_only:
        raise CliError(f"{_named(embedded_only, 'configures', 'configure')} a collector; "
                       f"{'it' if len(embedded_only) == 1 else 'they'} cannot be used with --file")
    if file is not None and file.is_dir():
        raise CliError(f"--file {file} is a directory; live follows one archive file "
                       "(replay, schema and validate read directories)")
    if file is not None and not file.is_file():
        raise CliError(f"{file}: " + ("not a regular file" if file.exists() else "no such archive file"))
    if not sys.stdout.isatty():
        raise CliError("segdebug live needs a terminal; use `segdebug tail` for a pipe")
    embedded: EmbeddedCollector | None = None
    source: LineSource
    if file is not None:
        source = FileSource(file)
    else:
        path = socket or default_socket(port)
        if probe(path) is None:
            embedded = EmbeddedCollector(port, path, archive=archive, strict=strict, forward=forward,
                                         forward_write_key=forward_write_key)
            embedded.wait_ready()
        elif embedded_only:
            raise CliError(collector_options_refused(embedded_only, path))
        source = SocketSource(path, max_rate=max_rate)
    from debugger.tui.app import create_app

    app = create_app(source, filter_text=query or "", mask_keys=mask_keys, demo=demo)

    def hang_up(*_: object) -> None:
        """The terminal is gone: Textual cannot shut down cleanly without it (it waits on
        its driver threads), so stop the embedded collector here and leave at once."""
        if embedded is not None:
            embedded.stop()
        os._exit(128 + signal.SIGHUP)

    signal.signal(signal.SIGHUP, hang_up)
    signal.signal(signal.SIGTERM, lambda *_: app.exit())
    try:
        app.run()
    finally:
        if embedded is not None:
            embedded.stop()


def collector_options_refused(options: list[str], path: Path) -> str:
    """The line refusing options that configure the collector live starts, when one already
    runs on `path`."""
    return (f"a collector already runs on {path}; {_named(options, 'only applies', 'only apply')}"
            " to the one live starts (stop it, or use another --port)")


def _named(options: list[str], one: str, more: str) -> str:
    """`--archive only applies`, `--archive and --strict only apply`."""
    return f"{' and '.join(options)} {one if len(options) == 1 else more}"
