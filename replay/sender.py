"""DeliveryOptions: one aiohttp session, a few workers, retries with backoff, a shared 429 pause.

Workers take whole batches from a bounded queue (no coroutine per event). A request body is
spliced from the batch's item bytes. A 429 pauses every worker until the server's hint passes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
import orjson

from debugger import __version__
from debugger.message import format_time, now_iso
from replay.backoff import backoff_delay, is_retryable, server_wait
from replay.batching import Batch
from replay.rawjson import prepend_field
from replay.report import ReplayStats

USER_AGENT = f"segdebug-replay/{__version__}"


@dataclass(frozen=True, slots=True)
class BatchResult:
    """How a batch ended: delivered, failed (final), or interrupted (left for --resume)."""

    delivered: bool
    status: int | None = None
    error: str = ""
    attempts: int = 0
    interrupted: bool = False


@dataclass(frozen=True)
class DeliveryOptions:
    """The delivery options of one run."""

    mode: str = "batch"  # batch | single
    fresh_sent_at: bool = True
    headers: tuple[tuple[str, str], ...] = ()
    concurrency: int = 8
    max_retries: int = 10
    timeout: float = 30.0
    backoff_base: float = 0.2
    backoff_cap: float = 10.0


class PauseGate:
    """A pause every worker honours before its next request (set by a 429)."""

    def __init__(self) -> None:
        self.until = 0.0

    def pause(self, seconds: float) -> None:
        self.until = max(self.until, time.monotonic() + seconds)

    async def wait(self) -> None:
        while (left := self.until - time.monotonic()) > 0:
            await asyncio.sleep(left)


def body_of(batch: Batch, mode: str, fresh_sent_at: bool) -> bytes:
    """The request body: a batch envelope spliced from item bytes, or the single message."""
    if mode == "single":
        item = batch.items[0]
        return prepend_field(item, "sentAt", orjson.dumps(now_iso())) if fresh_sent_at else item
    tail = _key_field(batch.key) + (_sent_at_field() if fresh_sent_at else b"") + b"}"
    items = batch.items
    if len(items) == 1:
        return b'{"batch":[' + items[0] + tail
    # the envelope rides on the first and last messages, so the body is copied once, not thrice
    return b",".join((b'{"batch":[' + items[0], *items[1:-1], items[-1] + tail))


@lru_cache(maxsize=256)
def _key_field(key: str | None) -> bytes:
    """The batch envelope's writeKey (made once per key, not once per request)."""
    return b"]" if key is None else b'],"writeKey":' + orjson.dumps(key)


def _sent_at_field() -> bytes:
    """`,"sentAt":"<now>"` for a batch envelope (thousands of requests share a millisecond)."""
    return _sent_at_field_at(time.time_ns() // 1_000_000)


@lru_cache(maxsize=1)
def _sent_at_field_at(millisecond: int) -> bytes:
    moment = datetime.fromtimestamp(millisecond / 1000, timezone.utc)
    return b',"sentAt":"' + format_time(moment).encode() + b'"'


class Sender:
    """Posts batches until they are acknowledged, finally refused, out of retries, or stopped."""

    def __init__(self, delivery: DeliveryOptions, stats: ReplayStats, stopping: asyncio.Event,
                 rng: random.Random | None = None) -> None:
        self.delivery = delivery
        self.stats = stats
        self.stopping = stopping
        self.rng = rng or random.Random()
        self.gate = PauseGate()
        self.session: aiohttp.ClientSession | None = None
        base = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        base.update(dict(delivery.headers))
        self._user_auth = any(k.lower() == "authorization" for k, _ in delivery.headers)
        self._base_headers = base
        self._headers: dict[str | None, dict[str, str]] = {}

    async def __aenter__(self) -> "Sender":
        connector = aiohttp.TCPConnector(limit=self.delivery.concurrency, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(total=self.delivery.timeout)
        # no cookie jar: a replay must not carry state between requests (and it is cheaper)
        self.session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                             cookie_jar=aiohttp.DummyCookieJar())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    def headers_for(self, key: str | None) -> dict[str, str]:
        """Basic auth with the batch's write key (unless --header set Authorization)."""
        headers = self._headers.get(key)
        if headers is None:
            headers = dict(self._base_headers)
            if key and not self._user_auth:
                token = base64.b64encode(f"{key}:".encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            headers = self._headers[key] = headers
        return headers

    async def worker(self, queue: asyncio.Queue[Batch | None],
                     done: Callable[[Batch, BatchResult], Awaitable[None]]) -> None:
        """Deliver batches from `queue` until a None arrives or the run is stopping."""
        while not self.stopping.is_set():
            batch = await queue.get()
            if batch is None:
                return
            try:
                result = await self.deliver(batch)
            except Exception as error:  # noqa: BLE001 - a worker must never die with a batch
                result = BatchResult(False, None, f"unexpected error: {error!r}", 1)
            await done(batch, result)

    async def deliver(self, batch: Batch) -> BatchResult:
        assert self.session is not None
        delivery = self.delivery
        headers = self.headers_for(batch.key)
        attempts = 0
        while True:
            await self.gate.wait()
            if self.stopping.is_set():
                return BatchResult(False, attempts=attempts, interrupted=True)
            attempts += 1
            body = body_of(batch, delivery.mode, delivery.fresh_sent_at)
            status, error, wait = await self._post(batch.url, body, headers)
            if status is not None and 200 <= status < 300:
                return BatchResult(True, status, attempts=attempts)
            if not is_retryable(status) or attempts > delivery.max_retries:
                return BatchResult(False, status, error, attempts)
            self.stats.retried += 1
            delay = backoff_delay(attempts, self.rng, delivery.backoff_base, delivery.backoff_cap)
            if wait is not None:
                delay = max(delay, wait)
                if status == 429:
                    self.gate.pause(delay)
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
            except asyncio.TimeoutError:
                continue

    async def _post(self, url: str, body: bytes,
                    headers: dict[str, str]) -> tuple[int | None, str, float | None]:
        """(status, error text, server-requested wait); status None for a network error."""
        assert self.session is not None
        started = time.monotonic()
        try:
            async with self.session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                status = response.status
                wait = server_wait(response.headers, time.time()) if status in (429, 503) else None
        except asyncio.TimeoutError:
            error = f"timeout after {self.delivery.timeout:g} s"
            self.stats.request(time.monotonic() - started, None, error)
            return None, error, None
        except (aiohttp.ClientError, OSError) as exc:
            error = describe_network_error(exc)
            self.stats.request(time.monotonic() - started, None, error)
            return None, error, None
        error = "" if 200 <= status < 300 else http_error(status, answer)
        self.stats.request(time.monotonic() - started, status, error or None)
        return status, error, wait


async def preflight(url: str, timeout: float) -> str | None:
    """Why `url`'s host cannot be reached over TCP (None when it can): fail fast, send nothing."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), timeout)
    except asyncio.TimeoutError:
        return f"no answer from {parts.hostname}:{port} within {timeout:g} s"
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        return f"{parts.hostname}:{port}: {reason.lower()}"
    writer.close()
    return None


def http_error(status: int, answer: bytes) -> str:
    """A short, single-line description of an error answer."""
    text = answer[:200].decode(errors="replace").replace("\n", " ").strip()
    try:
        parsed = orjson.loads(answer)
        if isinstance(parsed, dict):
            text = str(parsed.get("message") or parsed.get("error") or parsed.get("code") or text)
    except orjson.JSONDecodeError:
        pass
    return f"HTTP {status}" + (f": {text[:200]}" if text else "")


def describe_network_error(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")
