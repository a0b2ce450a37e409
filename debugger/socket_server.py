"""The collector's Unix socket: bound safely, one writer task and one reader task per viewer.

Protocol (DESIGN.md "Socket protocol"): the server sends `hello` first; the viewer may send one
`{"subscribe": {"filter": "<query>", "max_rate": N}}` line; then events and ~1/s stats flow.
A later subscribe line replaces the subscription. A refused subscription gets one
`{"kind": "error", "message": ...}` line (plus `query` and `position` for a bad query) and
the connection is closed.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from debugger.errors import CliError

if TYPE_CHECKING:
    from debugger.hub import Hub, Matcher, Subscriber

# How long a new viewer has to send its subscribe line; until then its events are held.
SUBSCRIBE_GRACE = 0.5
LINE_LIMIT = 64 * 1024
SUBSCRIBE_SHAPE = '{"subscribe": {"filter": "<query>", "max_rate": N}}'


class SubscribeError(ValueError):
    """A subscribe line the hub cannot honour; `details` go into the error line."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    def line(self) -> dict[str, Any]:
        return {"kind": "error", "message": str(self), **self.details}


def parse_subscribe(line: bytes) -> tuple[Matcher | None, float | None]:
    """The (query, max_rate) a subscribe line asks for; None means no filter / no sampling."""
    try:
        request = orjson.loads(line)
    except orjson.JSONDecodeError:
        request = None
    body = request.get("subscribe") if isinstance(request, dict) else None
    if not isinstance(body, dict):
        raise SubscribeError(f"expected one line {SUBSCRIBE_SHAPE}")
    text, max_rate = body.get("filter"), body.get("max_rate")
    if text is not None and not isinstance(text, str):
        raise SubscribeError("subscribe: filter must be a string")
    if max_rate is not None and not _positive_number(max_rate):
        raise SubscribeError("subscribe: max_rate must be a positive number")
    return _parse_query(text), (float(max_rate) if max_rate is not None else None)


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool)
        and math.isfinite(value) and value > 0
    )


def _parse_query(text: str | None) -> Matcher | None:
    if text is None or not text.strip():
        return None
    from debugger.query import QueryError, parse

    try:
        return parse(text)
    except QueryError as error:
        raise SubscribeError(f"bad query: {error}", query=text, position=error.position) from None


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
    """The listening socket and its connections; `close()` ends them all."""

    def __init__(self, hub: Hub, path: Path) -> None:
        self.hub = hub
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._inode = 0
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        sock = bind(self.path)
        self._inode = self.path.stat().st_ino
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=LINE_LIMIT)

    async def close(self) -> None:
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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        subscriber = self.hub.subscribe()
        listener = asyncio.create_task(self._listen(subscriber, reader))
        try:
            writer.write(orjson.dumps(self.hub.hello, option=orjson.OPT_APPEND_NEWLINE))
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
                query, max_rate = parse_subscribe(line)
                subscriber.settle(query, max_rate, self.hub.clock())
                line = await reader.readline()
        except SubscribeError as error:
            subscriber.refuse(error.line())
        except ValueError:  # the stream's line limit
            subscriber.refuse(SubscribeError(f"subscribe line over {LINE_LIMIT} bytes").line())
        except ConnectionError:
            pass
        if subscriber.pending:  # the viewer only listens
            subscriber.settle(None, None, self.hub.clock())


async def _pump(subscriber: Subscriber, writer: asyncio.StreamWriter) -> None:
    """Write whatever the subscriber has queued; waiting here never holds up publish()."""
    while True:
        await subscriber.wake.wait()
        subscriber.wake.clear()
        data = subscriber.take()
        if data:
            writer.write(data)
            await writer.drain()
        if subscriber.error_line is not None:
            return


async def serve(path: Path, hub: Hub) -> Server:
    server = Server(hub, path)
    await server.start()
    return server
