"""`segdebug collect`: wire the HTTP app, the archive writer and the hub, run until a signal.

Everything that can go wrong at start (port in use, unwritable archive, a socket held by a
live collector, a bad plan) becomes one CliError line, never a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import signal
import sys
from pathlib import Path

from aiohttp import web

from debugger import __version__
from debugger.archive_writer import ArchiveWriter
from debugger.collector import RUNNER_OPTIONS, Collector, make_app
from debugger.checks import Checker, make_checker
from debugger.errors import CliError
from debugger.hub import Hub
from debugger.paths import default_archive, default_socket


GC_YOUNG_THRESHOLD = 20_000  # Python's default is 700 allocations


def run_collect(
    host: str,
    port: int,
    archive: Path | None,
    socket: Path | None,
    write_keys: list[str],
    fsync: str,
    plan: Path | None,
) -> None:
    """Run the collector in the foreground until SIGINT/SIGTERM."""
    checks = make_checker(plan), make_checker(plan, refusing_only=True)
    archive_path = (archive or default_archive()).expanduser().absolute()
    try:
        asyncio.run(_serve(host, port, archive_path, socket, frozenset(write_keys), fsync, checks))
    except KeyboardInterrupt:
        pass


def open_writer(archive: Path, fsync: str) -> ArchiveWriter:
    try:
        return ArchiveWriter(archive, fsync)
    except OSError as error:
        reason = error.strerror or str(error)
        raise CliError(f"cannot write the archive {archive}: {reason}") from None


async def start_http(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Listen on host:port; returns the runner and the port really bound (for --port 0)."""
    runner = web.AppRunner(app, handle_signals=False, **RUNNER_OPTIONS)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        if error.errno == errno.EADDRINUSE:
            raise CliError(f"port {port} on {host} is already in use; choose another with --port") from None
        raise CliError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    server = site._server  # the asyncio server: the only place the bound port is known
    bound = server.sockets[0].getsockname()[1] if server and server.sockets else port
    return runner, bound


async def _serve(
    host: str, port: int, archive: Path, socket: Path | None, allowed: frozenset[str],
    fsync: str, checks: tuple[Checker, Checker],
) -> None:
    writer = open_writer(archive, fsync)
    runner: web.AppRunner | None = None
    hub: Hub | None = None
    try:
        full, refusing = checks
        collector = Collector(writer=writer, check=full, check_refusals=refusing,
                              publish=lambda e: None, allowed=allowed)
        runner, bound = await start_http(make_app(collector), host, port)
        url = f"http://{_url_host(host)}:{bound}"
        hub = Hub(version=__version__, http_url=url, archive=str(archive))
        socket_path = (socket or default_socket(bound)).expanduser().absolute()
        await hub.start(socket_path)
        collector.publish, collector.tally = hub.publish, hub.tally
        # Warnings are only read by viewers: skip them while none is connected.
        collector.watched = lambda: bool(getattr(hub, "subscribers", True))
        writer.start()
        _tune_gc()
        print(f"segdebug collector listening on {url}", flush=True)
        print(f"  archive: {archive}", flush=True)
        print(f"  socket:  {socket_path}", flush=True)
        if allowed:
            print(f"  write keys: {len(allowed)} allowed", flush=True)
        await _until_signal()
    finally:
        if runner is not None:
            await runner.cleanup()
        if hub is not None:
            await hub.close()
        await writer.close()
    print("segdebug collector stopped", file=sys.stderr, flush=True)


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the ingest path. Everything loaded by now lives as
    long as the process: frozen, full passes no longer walk it (~15 ms each). A request holds a
    few thousand short-lived containers at once (messages, envelopes, problems) and frees them
    when it ends: a higher first threshold stops a young-generation pass for nearly every
    request while a viewer is connected."""
    gc.freeze()
    _, *older = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *older)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
