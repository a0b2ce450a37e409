"""`segdebug live`: pick the source (a collector's socket, started if need be, or an archive),
run the app, and stop what was started."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from debugger.errors import CliError
from debugger.paths import default_socket
from debugger.query import MATCH_ALL, parse_option
from debugger.tui.launcher import EmbeddedCollector, probe
from debugger.tui.sources import FileSource, LineSource, SocketSource


def run_live(
    socket: Path | None, port: int, file: Path | None, query: str | None,
    max_rate: int, demo: bool,
) -> None:
    matcher = parse_option(query) or MATCH_ALL
    if file is not None and demo:
        raise CliError("--demo sends to a collector; it cannot be used with --file")
    if file is not None and not file.is_file():
        raise CliError(f"{file}: no such archive file")
    if not sys.stdout.isatty():
        raise CliError("segdebug live needs a terminal; use `segdebug tail` for a pipe")
    embedded: EmbeddedCollector | None = None
    source: LineSource
    if file is not None:
        source = FileSource(file)
    else:
        path = socket or default_socket(port)
        if probe(path) is None:
            embedded = EmbeddedCollector(port, path)
            embedded.wait_ready()
        source = SocketSource(path, max_rate=max_rate)
    from debugger.tui.app import create_app

    app = create_app(source, query=matcher, demo=demo)

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
