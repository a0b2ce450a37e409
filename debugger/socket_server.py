"""The collector's Unix socket: bound safely, one writer task and one reader task per viewer,
and the ticker that has the hub post stats about once a second.

Protocol (debugger.protocol): the server sends `hello` first; the viewer may send one subscribe
line; then events and ~1/s stats flow. A later subscribe line replaces the subscription. A
refused subscription gets one `error` line (plus `query` and `position` for a bad query) and
the connection is closed. The hub holds the queues; this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path
from typing import Any

from debugger import protocol
from debugger.errors import CliError
from debugger.hub import HISTORY, Hub, Subscriber
from debugger.protocol import SubscribeError
from debugger.query import Query, QueryError, parse

# How long a new viewer has to send its subscribe line; until then its events are held.
SUBSCRIBE_GRACE = 0.5
LINE_LIMIT = 64 * 1024
STATS_INTERVAL = 1.0
# How often due sampling windows are closed: the most a sampled event waits beyond its window.
FLUSH_INTERVAL = 0.05


def parse_subscribe(line: bytes) -> tuple[protocol.Subscription, Query | None, Query | None]:
    """The subscription a subscribe line asks for, with its filter and priority parsed.
    Raises SubscribeError, with the column for a bad query."""
    subscription = protocol.decode_subscription(line)
    if subscription.get("history", 0) > HISTORY:
        raise SubscribeError(f"subscribe: history is at most {HISTORY} events")
    return (subscription, _parse_query(subscription.get("filter")),
            _parse_query(subscription.get("priority"), "priority"))


def _parse_query(text: str | None, what: str = "query") -> Query | None:
    if text is None:
        return None
    try:
        return parse(text)
    except QueryError as error:
        raise SubscribeError(f"bad {what}: {error}", query=text, position=error.position) from None


def bind(path: Path) -> socket.socket:
    """A listening-ready Unix socket at `path`, mode 0600; a stale socket file is replaced."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)  # no window where another user could connect
    try:
        sock.bind(str(path))
    except OSError as error:
        sock.close()
        raise CliError(f"cannot listen on socket {path}: {error.strerror or error}") from None
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    return sock


def _clear_stale(path: Path) -> None:
    """Remove a socket file nobody listens on; refuse to touch a live one or a non-socket."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise CliError(f"{path} exists and is not a socket; choose another --socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        path.unlink(missing_ok=True)  # a collector died without cleaning up
        return
    except OSError:
        pass  # busy or not ours to judge: treat as live
    finally:
        probe.close()
    raise CliError(
        f"a collector is already running on socket {path}; connect to it with "
        f"`segdebug tail --socket {path}` or `segdebug live --socket {path}`, "
        "or start this one with another --port or --socket"
    )


class Server:
    """The listening socket, its connections and the stats ticker; `close()` ends them all."""

    def __init__(self, hub: Hub, path: Path) -> None:
        self.hub = hub
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._inode = 0
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        """Listen on the path (0600, private dir); raises CliError(code=2) when a live
        collector already holds it."""
        sock = bind(self.path)
        self._inode = self.path.stat().st_ino
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=LINE_LIMIT)
        self._ticker = asyncio.create_task(self._tick(), name="segdebug-hub-stats")

    async def close(self) -> None:
        """Stop listening, disconnect every viewer, remove the socket file."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._server is not None:
            self._server.close()
        for task, writer in list(self._connections.items()):
            task.cancel()
            writer.transport.abort()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        try:
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()
        except FileNotFoundError:
            pass

    async def _tick(self) -> None:
        """Close due sampling windows often; post stats about once a second."""
        clock = self.hub.clock
        next_stats = clock()
        while True:
            now = clock()
            self.hub.flush(now)
            if now >= next_stats:
                self.hub.tick(now)
                next_stats = max(next_stats + STATS_INTERVAL, now + STATS_INTERVAL / 2)
            await asyncio.sleep(FLUSH_INTERVAL)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        subscriber = self.hub.subscribe()
        listener = asyncio.create_task(self._listen(subscriber, reader))
        try:
            writer.write(protocol.encode(self.hub.hello))
            await _pump(subscriber, writer)
        except (ConnectionError, OSError):
            pass  # the viewer went away: forget it
        except asyncio.CancelledError:
            pass  # shutdown; a handler task ending cancelled makes 3.11's streams log an error
        finally:
            self.hub.unsubscribe(subscriber)
            listener.cancel()
            writer.close()
            self._connections.pop(task, None)

    async def _listen(self, subscriber: Subscriber, reader: asyncio.StreamReader) -> None:
        """Apply subscribe lines; without one within the grace period, send everything."""
        try:
            try:
                line = await asyncio.wait_for(reader.readline(), SUBSCRIBE_GRACE)
            except TimeoutError:
                subscriber.settle(None, None, self.hub.clock())
                line = await reader.readline()
            while line:
                subscription, query, priority = parse_subscribe(line)
                self.hub.settle(subscriber, subscription, query, priority)
                line = await reader.readline()
        except SubscribeError as error:
            subscriber.refuse(error.line())
        except ValueError:  # the stream's line limit
            subscriber.refuse(protocol.error(f"subscribe line over {LINE_LIMIT} bytes"))
        except ConnectionError:
            pass
        if subscriber.pending:  # the viewer only listens
            subscriber.settle(None, None, self.hub.clock())


async def _pump(subscriber: Subscriber, writer: asyncio.StreamWriter) -> None:
    """Write whatever the subscriber has queued; waiting here never holds up publish()."""
    while True:
        data = await subscriber.ready()
        if data:
            writer.write(data)
            await writer.drain()
        if subscriber.finished:
            return


async def serve(path: Path, hub: Hub) -> Server:
    """Serve `hub` on the Unix socket at `path` until the returned server is closed."""
    server = Server(hub, Path(path))
    await server.start()
    return server
