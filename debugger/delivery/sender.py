"""The sender: one keep-alive aiohttp session, a few workers, retries with capped jittered
backoff, a 429 (or 503 with a hint) pausing every request to that destination, other 4xx final,
and a refused batch narrowed down to the message the destination refuses, unless the answer
says which messages it refused and that it kept the others (a partial acceptance, as a
segdebug collector answers, 200 or with `--strict` 400): then nothing is resent, and those
alone fail.

Workers take whole batches from a bounded queue (no coroutine per event). A request body is
spliced from the batch's item bytes, never re-serialised. Every attempt becomes an `Exchange`
(what was sent, what came back) that the observer sees when it failed and the result carries.
Replay and forwarding both drive this class; what a batch *is* stays theirs (`Outgoing`).
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import time
from bisect import bisect_left
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import lru_cache
from typing import Awaitable, Callable, Mapping, Protocol, Sequence, TypeVar
from urllib.parse import urlsplit

import aiohttp
import orjson
from multidict import CIMultiDict

from debugger import __version__
from debugger.delivery.backoff import backoff_delay, is_retryable, server_wait
from debugger.delivery.exchange import Exchange, answer_reason, partial_refusals
from debugger.message import format_time, now_iso

USER_AGENT = f"segdebug-replay/{__version__}"
FORWARD_USER_AGENT = f"segdebug-forward/{__version__}"
# A refused batch is split to find the refused message only for statuses about the content;
# 401/403/404 refuse every half the same way, so halving would only multiply requests.
NARROWED_STATUSES = frozenset({400, 413, 422})
_NO_HEADERS: CIMultiDict[str] = CIMultiDict()


class Outgoing(Protocol):
    """What the sender needs of a batch: its write key, its URL and its items' exact bytes."""

    @property
    def key(self) -> str | None: ...
    @property
    def url(self) -> str: ...
    @property
    def items(self) -> Sequence[bytes]: ...


B = TypeVar("B", bound=Outgoing)
NARROWING_IN_FLIGHT = 4  # requests at once while one refused batch is narrowed down


class Parts(Protocol):
    """What `cut_out` needs of a batch: its items (only the batch's own split makes parts)."""

    @property
    def items(self) -> Sequence[object]: ...


P = TypeVar("P", bound=Parts)


class Observer(Protocol):
    """Who counts what the sender does (replay's stats, a destination's summary)."""

    def request(self, seconds: float, status: int | None, error: str | None) -> None:
        """Every attempt (status None: no answer)."""

    def failed_attempt(self, batch: Outgoing, exchange: Exchange, final: bool) -> None:
        """An attempt that failed: retried (`final` False) or the batch's last one."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """How a batch ended: delivered, failed (final), or interrupted (left for --resume)."""

    delivered: bool
    status: int | None = None
    error: str = ""
    attempts: int = 0
    interrupted: bool = False
    exchange: Exchange | None = None  # the last attempt
    # a partial acceptance (narrowing only): each refused message's index and reason; the
    # destination kept the others
    refusals: Mapping[int, str] | None = None

    @property
    def refused(self) -> bool:
        """Finally refused by the destination for what it holds (narrowing may find the culprit)."""
        return not self.delivered and not self.interrupted and self.status in NARROWED_STATUSES


@dataclass(frozen=True)
class DeliveryOptions:
    """How to deliver: request shape, headers, concurrency, retries and their waits."""

    mode: str = "batch"  # batch | single
    fresh_sent_at: bool = True
    headers: tuple[tuple[str, str], ...] = ()
    concurrency: int = 8
    max_retries: int = 10
    timeout: float = 30.0
    backoff_base: float = 0.2
    backoff_cap: float = 10.0
    user_agent: str = USER_AGENT


class PauseGate:
    """A pause every worker honours before its next request (set by a 429)."""

    def __init__(self) -> None:
        self.until = 0.0

    def pause(self, seconds: float) -> None:
        self.until = max(self.until, time.monotonic() + seconds)

    @property
    def paused(self) -> bool:
        return self.until > time.monotonic()

    async def wait(self, stopping: asyncio.Event) -> None:
        while (left := self.until - time.monotonic()) > 0 and not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), left)
            except asyncio.TimeoutError:
                pass


def body_of(batch: Outgoing, mode: str, fresh_sent_at: bool) -> bytes:
    """The request body: a batch envelope spliced from item bytes, or the single message."""
    items = batch.items
    if mode == "single":
        item = items[0]
        return _with_sent_at(item) if fresh_sent_at else item
    tail = _key_field(batch.key) + (_sent_at_field() if fresh_sent_at else b"") + b"}"
    if len(items) == 1:
        return b'{"batch":[' + items[0] + tail
    # the envelope rides on the first and last messages, so the body is copied once, not thrice
    return b",".join((b'{"batch":[' + items[0], *items[1:-1], items[-1] + tail))


def _with_sent_at(item: bytes) -> bytes:
    """A single message with a fresh `sentAt` as its first field (senders drop a stale one)."""
    return b'{"sentAt":' + orjson.dumps(now_iso()) + (b"," if item != b"{}" else b"") + item[1:]


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

    def __init__(self, delivery: DeliveryOptions, observer: Observer, stopping: asyncio.Event,
                 rng: random.Random | None = None) -> None:
        self.delivery = delivery
        self.observer = observer
        self.stopping = stopping
        self.rng = rng or random.Random()
        self.gate = PauseGate()
        self.session: aiohttp.ClientSession | None = None
        base = {"Content-Type": "application/json", "User-Agent": delivery.user_agent}
        base.update(dict(delivery.headers))
        self._user_auth = any(k.lower() == "authorization" for k, _ in delivery.headers)
        self._base_headers = base
        self._headers: dict[str | None, dict[str, str]] = {}

    async def __aenter__(self) -> "Sender":
        connector = aiohttp.TCPConnector(limit=self.delivery.concurrency, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(total=self.delivery.timeout)
        # no cookie jar: a delivery must not carry state between requests (and it is cheaper)
        self.session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                             cookie_jar=aiohttp.DummyCookieJar())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    def headers_for(self, key: str | None) -> dict[str, str]:
        """Basic auth with the batch's write key (unless a header option set Authorization)."""
        headers = self._headers.get(key)
        if headers is None:
            headers = dict(self._base_headers)
            if key and not self._user_auth:
                token = base64.b64encode(f"{key}:".encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            headers = self._headers[key] = headers
        return headers

    async def worker(self, queue: asyncio.Queue[B | None],
                     done: Callable[[B, BatchResult], Awaitable[None]]) -> None:
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

    async def narrowing_worker(self, queue: asyncio.Queue[B | None],
                               done: Callable[[B, list[tuple[B, BatchResult]]], Awaitable[None]],
                               split: Callable[[B], tuple[B, B]]) -> None:
        """`worker`, with each batch delivered by `deliver_narrowed`: `done` gets the batch
        and how each of its parts ended (the batch alone unless it was refused for its
        content)."""
        while not self.stopping.is_set():
            batch = await queue.get()
            if batch is None:
                return
            try:
                results = await self.deliver_narrowed(batch, split)
            except Exception as error:  # noqa: BLE001 - a worker must never die with a batch
                results = [(batch, BatchResult(False, None, f"unexpected error: {error!r}", 1))]
            await done(batch, results)

    async def deliver(self, batch: Outgoing, *, narrowing: bool = False) -> BatchResult:
        """Send one batch, retrying what may succeed later, until it ends (see BatchResult).
        When `narrowing`, a refusal that will be narrowed is not the batch's final attempt, and
        a partial acceptance is returned as such (`refusals`) for deliver_narrowed to cut the
        batch up; without it one result must say how the whole batch ended, so such an answer
        fails the batch as before."""
        delivery = self.delivery
        headers = self.headers_for(batch.key)
        attempts = 0
        while True:
            await self.gate.wait(self.stopping)
            if self.stopping.is_set():
                return BatchResult(False, attempts=attempts, interrupted=True)
            attempts += 1
            body = body_of(batch, delivery.mode, delivery.fresh_sent_at)
            exchange, wait = await self._post(batch.url, body, headers)
            status = exchange.status
            if narrowing and (refusals := partial_refusals(status, exchange.response_body,
                                                           len(batch.items))) is not None:
                # told per message by deliver_narrowed: the batch as a whole was not refused
                return BatchResult(False, status, exchange.error, attempts, exchange=exchange,
                                   refusals=refusals)
            if exchange.ok:
                return BatchResult(True, status, attempts=attempts, exchange=exchange)
            final = not is_retryable(status) or attempts > delivery.max_retries
            halved = narrowing and status in NARROWED_STATUSES and len(batch.items) > 1
            self.observer.failed_attempt(batch, exchange, final and not halved)
            if final:
                return BatchResult(False, status, exchange.error, attempts, exchange=exchange)
            delay = backoff_delay(attempts, self.rng, delivery.backoff_base, delivery.backoff_cap)
            if wait is not None:
                delay = max(delay, wait)
                if status == 429:
                    self.gate.pause(delay)
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
            except asyncio.TimeoutError:
                continue

    async def deliver_narrowed(self, batch: B, split: Callable[[B], tuple[B, B]],
                               ended: Callable[[B, BatchResult], None] | None = None
                               ) -> list[tuple[B, BatchResult]]:
        """Deliver `batch`; when the destination refuses it for its content, deliver each half
        the same way, so only the refused message(s) end refused (about 2·log2(n) requests for
        one bad message in n). When the answer says which messages were refused and that the
        rest were kept (`partial_refusals`), it is believed instead: a halving round would
        resend, and the destination archive again, every message it already kept.

        The two halves go out together (at most NARROWING_IN_FLIGHT requests at once for one
        batch), and `ended`, when given, hears of each part of a narrowed batch as soon as it
        ends for good, delivered or failed (not interrupted; a batch that ended whole is only
        returned): a half that keeps failing (5xx, retried) must not hold back its siblings,
        nor the figures of Event Delivery (QA: 85 s of waiting, a p95 of 66 s for messages the
        destination acknowledged in 0.1 s), nor a refused part's failed file while the summary
        already counts it. The list comes back in the batch's order."""
        result = await self.deliver(batch, narrowing=True)  # the usual case: no more than this
        if result.refusals is not None:
            return self._accepted_in_part(batch, split, result)
        if not result.refused or len(batch.items) < 2:
            return [(batch, result)]
        room = asyncio.Semaphore(NARROWING_IN_FLIGHT)
        left, right = split(batch)
        first, second = await asyncio.gather(self._narrowed(left, split, ended, room),
                                             self._narrowed(right, split, ended, room))
        return [*first, *second]

    async def _narrowed(self, batch: B, split: Callable[[B], tuple[B, B]],
                        ended: Callable[[B, BatchResult], None] | None,
                        room: asyncio.Semaphore) -> list[tuple[B, BatchResult]]:
        async with room:
            result = await self.deliver(batch, narrowing=True)
        if result.refusals is not None:
            parts = self._accepted_in_part(batch, split, result)
        elif result.refused and len(batch.items) > 1:
            left, right = split(batch)
            first, second = await asyncio.gather(self._narrowed(left, split, ended, room),
                                                 self._narrowed(right, split, ended, room))
            return [*first, *second]
        else:
            parts = [(batch, result)]
        if ended is not None:
            for part, how in parts:
                if not how.interrupted:
                    ended(part, how)
        return parts

    def _accepted_in_part(self, batch: B, split: Callable[[B], tuple[B, B]],
                          result: BatchResult) -> list[tuple[B, BatchResult]]:
        """A partially accepted batch's parts, as narrowing would have ended them: the kept
        runs delivered, each refused message failed alone with its own reason, which the
        observer sees as that message's final failed attempt (the whole batch's was not)."""
        assert result.refusals is not None and result.exchange is not None
        exchange = result.exchange
        kept = replace(result, delivered=True, error="", refusals=None, exchange=replace(exchange, reason=""))
        ended: list[tuple[B, BatchResult]] = []
        for part, reason in cut_out(batch, split, result.refusals):
            if reason is None:
                ended.append((part, kept))
                continue
            told = replace(exchange, reason=reason)
            self.observer.failed_attempt(part, told, True)
            ended.append((part, replace(result, error=told.error, refusals=None, exchange=told)))
        return ended

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[Exchange, float | None]:
        """The attempt's exchange and the server-requested wait (429/503 hints), if any."""
        assert self.session is not None
        started = time.monotonic()
        try:
            async with self.session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                status = response.status
                wait = server_wait(response.headers, time.time()) if status in (429, 503) else None
                answer_headers = response.headers
        except asyncio.TimeoutError:
            reason = f"timeout after {self.delivery.timeout:g} s"
            return self._failed(url, headers, body, reason, started), None
        except (aiohttp.ClientError, OSError) as exc:
            return self._failed(url, headers, body, describe_network_error(exc), started), None
        seconds = time.monotonic() - started
        reason = "" if 200 <= status < 300 else answer_reason(status, answer)
        exchange = Exchange(url, headers, body, status, answer_headers, answer, reason, seconds)
        self.observer.request(seconds, status, exchange.error or None)
        return exchange, wait

    def _failed(self, url: str, headers: dict[str, str], body: bytes, reason: str,
                started: float) -> Exchange:
        seconds = time.monotonic() - started
        self.observer.request(seconds, None, reason)
        return Exchange(url, headers, body, None, _NO_HEADERS, b"", reason, seconds)


def cut_out(batch: P, split: Callable[[P], tuple[P, P]],
            refusals: Mapping[int, str]) -> list[tuple[P, str | None]]:
    """`batch` cut with `split` (no request) into parts holding no refused message (reason
    None) and single refused messages (with their reason), in the batch's order.

    Only the batch's own `split` can make its parts (replay's keep their input ordinals,
    forwarding's their archived lines), so the cut follows the halving narrowing would do,
    minus the requests: about k·log2(n/k) parts for k refused messages in n.
    """
    refused = sorted(refusals)

    def parts(part: P, first: int) -> list[tuple[P, str | None]]:
        size = len(part.items)
        at = bisect_left(refused, first)
        if at == len(refused) or refused[at] >= first + size:
            return [(part, None)]
        if size == 1:
            return [(part, refusals[first])]
        left, right = split(part)
        return [*parts(left, first), *parts(right, first + len(left.items))]

    return parts(batch, 0)


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


def describe_network_error(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")
