"""Shared test support: start a real `segdebug collect` process on an ephemeral port.

The collector is told `--port 0`; its first socket line (`hello`) says which port it got.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from http.client import HTTPConnection
from collections import Counter
from typing import Any, Awaitable, Callable, Iterator, Self
from urllib.parse import urlsplit

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from debugger import socket_client
from debugger.paths import rejected_path
from debugger.protocol import ProtocolError


@dataclass
class Collector:
    """A running collector process and where its outputs are."""

    process: subprocess.Popen[bytes]
    url: str
    socket: Path
    archive: Path
    rejected: Path
    hello: dict = field(default_factory=dict)

    def archived(self) -> list[dict]:
        """Messages in the archive right now."""
        if not self.archive.exists():
            return []
        return [orjson.loads(line) for line in self.archive.read_bytes().splitlines() if line]

    def refused(self) -> list[dict]:
        if not self.rejected.exists():
            return []
        return [orjson.loads(line) for line in self.rejected.read_bytes().splitlines() if line]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def read_hello(path: Path, timeout: float = 15.0) -> dict:
    """Wait for a collector socket to answer and return its first line, the hello envelope."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return dict(socket_client.read_hello(path))
        except (OSError, ProtocolError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_collector(directory: Path, *args: str) -> Collector:
    """Start `segdebug collect` on port 0 with its archive and socket under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / "archive.ndjson"
    sock = directory / "collector.sock"
    command = [
        sys.executable, "-m", "debugger.cli", "collect", "--port", "0",
        "--archive", str(archive), "--socket", str(sock), *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    try:
        hello = read_hello(sock)
    except Exception:
        process.kill()
        _, err = process.communicate(timeout=5)
        raise RuntimeError(f"collector did not start: {err.decode(errors='replace')}") from None
    return Collector(
        process=process, url=hello["http"], socket=sock, archive=archive,
        rejected=rejected_path(archive), hello=hello,
    )


def running_collector(directory: Path, *args: str) -> Iterator[Collector]:
    """Generator for fixtures: start, yield, stop."""
    collector = start_collector(directory, *args)
    try:
        yield collector
    finally:
        collector.stop()


@dataclass
class Reply:
    """An HTTP answer as the tests read it."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return orjson.loads(self.body)


def http(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
    """One plain HTTP/1.1 request (no client magic: exact bytes and headers are sent)."""
    parts = urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path or "/", body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def post_json(url: str, payload: object, headers: dict[str, str] | None = None) -> Reply:
    return http("POST", url, orjson.dumps(payload), {"Content-Type": "application/json", **(headers or {})})


def gzip_bomb(megabytes: int) -> bytes:
    """A small gzip body that inflates to `megabytes` MB of spaces after a `{`."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b" " * (1024 * 1024)
    chunks = [packer.compress(b"{"), *(packer.compress(block) for _ in range(megabytes))]
    return b"".join([*chunks, packer.flush()])


async def serve(handler: Handler, route: str = "/{path:.*}", *, shutdown_timeout: float = 60.0,
                client_max_size: int = 4 * 1024 * 1024) -> tuple[web.AppRunner, str]:
    """A real HTTP endpoint in the running loop: POST `route` answered by `handler` on an
    ephemeral 127.0.0.1 port. Returns the runner (`cleanup()` stops it) and the base URL."""
    app = web.Application(client_max_size=client_max_size)
    app.router.add_post(route, handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


class Endpoint:
    """A real HTTP endpoint on 127.0.0.1 served by its own event loop in a background thread,
    so that blocking code (a subprocess, `main()`, a collector being waited on) can talk to it.
    Use it as a context manager (`url` is set on entry). Subclasses say what each POST does
    (`_handle`) and what they record of it; the lifecycle is written once, here."""

    shutdown_timeout = 60.0  # seconds aiohttp waits for handlers still running on exit

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        self.runner, self.url = self.run(serve(self._handle, shutdown_timeout=self.shutdown_timeout))
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self.runner.cleanup(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def run(self, work: Awaitable[Any], timeout: float = 10.0) -> Any:
        """Run a coroutine on the endpoint's loop from the test's thread; its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)  # type: ignore[arg-type]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError


def hang_up(request: web.Request) -> web.Response:
    """Drop the connection without answering (what a crashed server does)."""
    assert request.transport is not None
    request.transport.abort()
    return web.Response()


def messages_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages of a request body: a batch's, or a single call's one."""
    return body["batch"] if "batch" in body else [body]


Answer = Callable[["BatchEndpoint", int, list[dict[str, Any]]], Awaitable[web.StreamResponse | None]]


async def ok(endpoint: "BatchEndpoint", number: int, batch: list[dict[str, Any]]) -> web.StreamResponse:
    return web.json_response({"success": True})


class BatchEndpoint(Endpoint):
    """A destination for forwarding: `answer(endpoint, request number, batch)` decides each
    answer (None: hang up); counts per messageId what it acknowledged (200) and refused."""

    def __init__(self, answer: Answer = ok) -> None:
        super().__init__()
        self.answer = answer
        self.requests = 0
        self.acknowledged: Counter[str] = Counter()  # messageId -> times
        self.refused: Counter[str] = Counter()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        batch = orjson.loads(await request.read())["batch"]
        answer = await self.answer(self, self.requests, batch)
        if answer is None:
            return hang_up(request)
        ids = Counter(m["messageId"] for m in batch)
        (self.acknowledged if answer.status == 200 else self.refused).update(ids)
        return answer


def delivery_summary(collector: Collector) -> dict[str, dict[str, Any]]:
    """GET /segdebug/delivery: each destination's figures by name."""
    reply = http("GET", collector.url + "/segdebug/delivery")
    assert reply.status == 200, reply.body
    return {d["name"]: d for d in reply.json()["destinations"]}


def settled(collector: Collector, expected: dict[str, int], timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """Wait until each named destination has ended `expected[name]` messages (delivered, not
    delivered or filtered) with none in flight."""
    deadline = time.monotonic() + timeout
    while True:
        figures = delivery_summary(collector)
        if all(figures[name]["delivered"] + figures[name]["not_delivered"] + figures[name]["filtered"]
               == count and figures[name]["in_flight"] == 0 for name, count in expected.items()):
            return figures
        assert time.monotonic() < deadline, {n: {k: figures[n][k] for k in ("delivered", "not_delivered",
                                                 "filtered", "in_flight")} for n in expected}
        time.sleep(0.1)


async def wait_for(pilot: Any, condition: Callable[[], object], seconds: float = 30.0) -> None:
    """Let a Textual app under Pilot run until `condition()` holds (generous: the machine is
    shared), else fail naming the condition."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        await pilot.pause(0.05)
