"""`segdebug collect`: wire the collector, the hub and the socket server, run until a signal.

The wiring, in the order it happens: the HTTP port is bound first (its number names the
default socket and goes into the viewers' `hello`); the hub is built; the collector is built
publishing to it; the aiohttp app carries the archive writer, the hub and the socket path as
`AppKey`s, and its `cleanup_ctx` starts and stops the background work (the writer's upkeep,
the socket server with its stats ticker) as aiohttp's examples/background_tasks.py does.
Everything that can go wrong at start (port in use, unwritable archive, a socket held by a
live collector, a bad plan) becomes one CliError line, never a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import signal
import socket as sockets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from debugger import __version__, api
from debugger.archive_writer import ArchiveInUse, ArchiveWriter
from debugger.checks import Checker, make_checker
from debugger.collector import RUNNER_OPTIONS, Collector, make_app
from debugger.delivery import service as forwarding
from debugger.delivery.destinations import Destination, parse_destinations
from debugger.delivery.forwarder import ForwardOptions
from debugger.errors import CliError
from debugger.hub import Hub
from debugger.paths import default_archive, default_socket
from debugger.socket_server import serve as serve_socket
from debugger.store import DEFAULT_CAPACITY, RecentStore

WRITER = web.AppKey("writer", ArchiveWriter)
HUB = web.AppKey("hub", Hub)
SOCKET_PATH = web.AppKey("socket_path", Path)

GC_YOUNG_THRESHOLD = 20_000  # Python's default is 700 allocations


def run_collect(
    host: str,
    port: int,
    archive: Path | None,
    socket: Path | None,
    write_keys: list[str],
    fsync: str,
    plan: Path | None,
    recent: int = DEFAULT_CAPACITY,
    strict: bool = False,
    forward: list[str] | None = None,
    forward_write_key: str | None = None,
) -> None:
    """Run the collector in the foreground until SIGINT/SIGTERM."""
    if any(not key.strip() for key in write_keys):  # QA: accepted silently, "1 allowed"
        raise CliError("--write-key cannot be empty: no call carries an empty key, so it would match nothing")
    archive_path = (archive or default_archive()).expanduser().absolute()
    own_archive = archive is not None
    try:
        destinations = tuple(parse_destinations(forward or []))
    except ValueError as error:
        raise CliError(str(error)) from None
    options = CollectOptions(
        host, port, archive_path, socket, frozenset(write_keys), fsync,
        check=make_checker(plan), check_refusals=make_checker(plan, refusing_only=True), strict=strict,
        recent=recent, forward=destinations, forward_options=ForwardOptions(write_key=forward_write_key),
        own_archive=own_archive,
    )
    try:
        asyncio.run(_serve(options))
    except KeyboardInterrupt:
        pass


@dataclass(frozen=True)
class CollectOptions:
    """What `collect` was asked for, checked (a bad plan has failed before anything binds)."""

    host: str
    port: int
    archive: Path
    socket: Path | None
    allowed: frozenset[str]
    fsync: str
    check: Checker
    check_refusals: Checker
    recent: int = DEFAULT_CAPACITY  # messages the /segdebug/ API keeps in memory
    strict: bool = False  # answer 400 to every refused call (collect --strict)
    forward: tuple[Destination, ...] = ()  # --forward destinations (debugger.delivery)
    forward_options: ForwardOptions = ForwardOptions()
    own_archive: bool = True  # --archive was given (else the default, which may be in use)


def open_writer(archive: Path, fsync: str) -> ArchiveWriter:
    try:
        return ArchiveWriter(archive, fsync)
    except ArchiveInUse as error:
        raise CliError(f"{error.strerror}; give this collector its own --archive") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise CliError(f"cannot write the archive {archive}: {reason}") from None


def listen_tcp(host: str, port: int) -> sockets.socket:
    """A listening TCP socket on host:port (port 0: any free one, read it from the socket)."""
    try:
        family, _, _, _, address = sockets.getaddrinfo(
            host or None, port, type=sockets.SOCK_STREAM, flags=sockets.AI_PASSIVE
        )[0]
        return sockets.create_server(address, family=family, backlog=128)
    except sockets.gaierror as error:
        raise CliError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CliError(f"port {port} on {host} is already in use; choose another with --port") from None
        raise CliError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


async def run_http(app: web.Application, listening: sockets.socket) -> web.AppRunner:
    """Start the app (its cleanup_ctx too) and serve it on an already-bound socket."""
    runner = web.AppRunner(app, handle_signals=False, **RUNNER_OPTIONS)
    try:
        await runner.setup()
        await web.SockSite(runner, listening).start()
    except BaseException:
        await runner.cleanup()
        listening.close()
        raise
    return runner


async def start_http(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Listen on host:port; returns the runner and the port really bound (for --port 0)."""
    runner = await run_http(app, listen_tcp(host, port))
    return runner, runner.addresses[0][1]


def _writer_for(options: CollectOptions, port: int) -> tuple[ArchiveWriter, Path | None]:
    """The archive writer, and the default archive when another collector holds it: a
    collector not given --archive then writes its port's own (`archive-PORT.ndjson`), so two
    started side by side (`live --demo --port N` beside a running one) never share a file."""
    if not options.own_archive:
        try:
            return ArchiveWriter(options.archive, options.fsync), None
        except ArchiveInUse:
            return open_writer(default_archive(port).absolute(), options.fsync), options.archive
        except OSError:
            pass  # said in open_writer's words below
    return open_writer(options.archive, options.fsync), None


async def _writer_upkeep(app: web.Application) -> AsyncIterator[None]:
    """The archive writer's once-a-second fsync and follow-a-deleted-archive; closed last."""
    writer = app[WRITER]
    writer.start()
    yield
    await writer.close()


async def _socket_server(app: web.Application) -> AsyncIterator[None]:
    """The viewers' socket and the hub's stats ticker."""
    server = await serve_socket(app[SOCKET_PATH], app[HUB])
    yield
    await server.close()


async def _serve(options: CollectOptions) -> None:
    listening = listen_tcp(options.host, options.port)
    bound = listening.getsockname()[1]
    url = f"http://{_url_host(options.host)}:{bound}"
    socket_path = (options.socket or default_socket(bound)).expanduser().absolute()
    try:
        writer, shared = _writer_for(options, bound)
    except BaseException:
        listening.close()
        raise
    archive = writer.archive_path
    store = RecentStore(options.recent, options.check)
    hub = Hub(version=__version__, http_url=url, archive=str(archive), store=store)
    hub.hello["archive_start"] = {"archive": writer.archive_path.stat().st_size,
                                  "rejected": writer.rejected_path.stat().st_size}
    collector = Collector(
        writer=writer, check=options.check, check_refusals=options.check_refusals,
        publish=hub.publish, publish_call=hub.publish_call, allowed=options.allowed,
        strict=options.strict,
        store=store,
    )
    app = make_app(collector, [*api.ROUTES, *forwarding.ROUTES])
    forwarding.install(app, archive, list(options.forward), options.forward_options, hub, writer)
    app[api.STATE] = api.ApiState(store, archive, options.check)
    app[WRITER], app[HUB], app[SOCKET_PATH] = writer, hub, socket_path
    app.cleanup_ctx.extend([_writer_upkeep, _socket_server])
    try:
        runner = await run_http(app, listening)
    except BaseException:
        await writer.close()  # idempotent when the upkeep context already closed it
        raise
    try:
        _tune_gc()
        print(f"segdebug collector listening on {url}", flush=True)
        print(f"  archive: {archive}", flush=True)
        if shared is not None:
            print(f"  ({shared} is being written by another collector)", flush=True)
        print(f"  socket:  {socket_path}", flush=True)
        if options.allowed:
            print(f"  write keys: {len(options.allowed)} allowed", flush=True)
        for destination in options.forward:
            print(f"  forward: {destination.name} -> {destination.url}", flush=True)
        await _until_signal()
    finally:
        await runner.cleanup()
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
