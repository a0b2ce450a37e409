"""The sender's promises that mutation testing found unguarded (`make mutate`): a single
message's fresh sentAt, what a failed connection reports (to the observer and in the exchange),
a worker that survives a batch it cannot handle, network errors kept readable, the headers each
request carries (its own write key, or the user's Authorization), the concurrency limit, no
cookies carried between requests, the session closed, and what preflight says.

Real parts only: aiohttp endpoints and ports on loopback, real aiohttp exceptions.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from debugger import __version__
from debugger.delivery.exchange import Exchange
from debugger.delivery.sender import (
    BatchResult,
    DeliveryOptions,
    Outgoing,
    Sender,
    body_of,
    describe_network_error,
    preflight,
)

PATIENCE = 10.0  # seconds an attempt on loopback may take on a loaded machine


@dataclass
class Parcel:
    key: str | None
    url: str
    items: list[bytes]


@dataclass
class Observed:
    requests: list[tuple[float, int | None, str | None]] = field(default_factory=list)

    def request(self, seconds: float, status: int | None, error: str | None) -> None:
        self.requests.append((seconds, status, error))

    def failed_attempt(self, batch: Outgoing, exchange: Exchange, final: bool) -> None:
        pass


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(("item", "rest"), [(b'{"event":"a","n":1}', {"event": "a", "n": 1}), (b"{}", {})])
def test_a_single_message_gets_a_fresh_sent_at_as_its_first_field(item: bytes, rest: dict[str, object]) -> None:
    before = datetime.now(timezone.utc)
    body = body_of(Parcel("wk", "http://h/v1/track", [item]), "single", fresh_sent_at=True)
    message = orjson.loads(body)
    assert list(message)[0] == "sentAt"
    sent_at = datetime.fromisoformat(message.pop("sentAt").replace("Z", "+00:00"))
    assert abs((sent_at - before).total_seconds()) < PATIENCE
    assert message == rest


def test_a_refused_connection_is_reported_with_its_reason_and_duration() -> None:
    port = _closed_port()
    url = f"http://127.0.0.1:{port}/v1/batch"
    observed = Observed()

    async def main() -> BatchResult:
        async with Sender(DeliveryOptions(max_retries=0), observed, asyncio.Event()) as sender:
            return await sender.deliver(Parcel("wk", url, [b'{"n":1}']))

    result = asyncio.run(main())
    assert not result.delivered and result.status is None and result.attempts == 1
    assert result.error.startswith(f"cannot connect to 127.0.0.1:{port} (")
    assert "[Errno" not in result.error  # the OS's words, not Python's errno prefix
    [(seconds, status, error)] = observed.requests
    assert status is None and error == result.error
    assert 0 <= seconds < PATIENCE
    exchange = result.exchange
    assert exchange is not None
    assert (exchange.url, exchange.status, exchange.response_body) == (url, None, b"")
    assert exchange.request_body.startswith(b'{"batch":[{"n":1}]')
    assert exchange.seconds == seconds


def test_a_worker_reports_a_batch_it_cannot_handle_and_goes_on() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1/batch"
    results: list[tuple[int, BatchResult]] = []

    async def main() -> None:
        queue: asyncio.Queue[Parcel | None] = asyncio.Queue()
        for parcel in (Parcel("wk", url, []), Parcel("wk", url, [b"{}"]), None):  # no items: a caller's bug
            queue.put_nowait(parcel)

        async def done(batch: Parcel, result: BatchResult) -> None:
            results.append((len(batch.items), result))

        async with Sender(DeliveryOptions(max_retries=0), Observed(), asyncio.Event()) as sender:
            await sender.worker(queue, done)

    asyncio.run(main())
    [(empty, first), (one, second)] = results
    assert (empty, first.delivered, first.attempts) == (0, False, 1)
    assert first.error.startswith("unexpected error: IndexError")
    assert (one, second.delivered) == (1, False) and second.error.startswith("cannot connect")


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (aiohttp.ClientOSError(), "ClientOSError"),  # no message: no dangling colon
        (aiohttp.ClientPayloadError("bad status line HTTP/1.X"), "ClientPayloadError: bad status line HTTP/1.X"),
        (aiohttp.ServerDisconnectedError(), "server disconnected"),
    ],
)
def test_network_errors_read_as_one_plain_line(error: BaseException, text: str) -> None:
    assert describe_network_error(error) == text


async def _serve(handler: Callable[[web.Request], Awaitable[web.StreamResponse]], host: str = "127.0.0.1") -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1/batch", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://{host}:{runner.addresses[0][1]}/v1/batch"


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _headers_seen(options: DeliveryOptions, keys: list[str | None]) -> list[CIMultiDictProxy[str]]:
    """The request headers the destination received, one batch per key, in order."""
    seen: list[CIMultiDictProxy[str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers)
        return web.json_response({"success": True})

    async def main() -> None:
        runner, url = await _serve(handler)
        try:
            async with Sender(options, Observed(), asyncio.Event()) as sender:
                for key in keys:
                    assert (await sender.deliver(Parcel(key, url, [b"{}"]))).delivered
        finally:
            await runner.cleanup()

    asyncio.run(main())
    return seen


def test_each_batch_is_json_from_segdebug_with_its_own_write_key() -> None:
    seen = _headers_seen(DeliveryOptions(), [None, "wk_a", "wk_b", "wk_a"])
    for headers in seen:
        assert headers["Content-Type"].lower() == "application/json"
        assert headers["User-Agent"] == f"segdebug-replay/{__version__}"
    assert [headers.getall("Authorization", []) for headers in seen] == [
        [], [_basic("wk_a")], [_basic("wk_b")], [_basic("wk_a")]]  # no key: no credentials


def test_an_authorization_header_option_replaces_the_write_key() -> None:
    seen = _headers_seen(DeliveryOptions(headers=(("authorization", "Bearer t"),)), ["wk_a"])
    assert seen[0].getall("Authorization") == ["Bearer t"]
    seen = _headers_seen(DeliveryOptions(headers=(("X-Team", "core"),)), ["wk_a"])
    assert seen[0].getall("Authorization") == [_basic("wk_a")] and seen[0]["X-Team"] == "core"


def test_no_more_requests_in_flight_than_the_concurrency() -> None:
    """Six deliveries at once with concurrency 2: the destination never sees a third request
    while two are open (each is held a moment so that others would overlap it)."""
    in_flight = [0]
    peak = [0]

    async def handler(request: web.Request) -> web.Response:
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        await asyncio.sleep(0.05)
        in_flight[0] -= 1
        return web.json_response({"success": True})

    async def main() -> None:
        runner, url = await _serve(handler)
        try:
            async with Sender(DeliveryOptions(concurrency=2), Observed(), asyncio.Event()) as sender:
                results = await asyncio.gather(*(sender.deliver(Parcel("wk", url, [b"{}"])) for _ in range(6)))
            assert all(result.delivered for result in results)
            assert sender.session is not None and sender.session.closed
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert peak[0] == 2


def test_cookies_a_destination_sets_are_never_sent_back() -> None:
    cookies: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        cookies.append(request.headers.get("Cookie"))
        response = web.json_response({"success": True})
        response.set_cookie("session", "abc")
        return response

    async def main() -> None:
        runner, url = await _serve(handler, host="localhost")
        try:
            async with Sender(DeliveryOptions(), Observed(), asyncio.Event()) as sender:
                for _ in range(2):
                    await sender.deliver(Parcel("wk", url, [b"{}"]))
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert cookies == [None, None]


def test_preflight_names_host_port_and_the_os_reason() -> None:
    port = _closed_port()
    reason = asyncio.run(preflight(f"http://127.0.0.1:{port}/v1/batch", 5.0))
    assert reason == f"127.0.0.1:{port}: connection refused"


@pytest.mark.parametrize(("scheme", "port"), [("http", 80), ("https", 443)])
def test_preflight_uses_the_scheme_s_default_port(scheme: str, port: int) -> None:
    reason = asyncio.run(preflight(f"{scheme}://127.0.0.1/v1/batch", 5.0))
    assert reason is None or reason.startswith(f"127.0.0.1:{port}: ")  # None: something listens


@dataclass
class Finals:
    finals: list[bool] = field(default_factory=list)

    def request(self, seconds: float, status: int | None, error: str | None) -> None:
        pass

    def failed_attempt(self, batch: Outgoing, exchange: Exchange, final: bool) -> None:
        self.finals.append(final)


def test_what_a_batch_result_says_delivered_refused_and_interrupted() -> None:
    """Delivered: its status, one attempt, the exchange. Refused (400) by a plain deliver: a
    final attempt (only deliver_narrowed halves). Interrupted while waiting to retry: not
    delivered, marked interrupted (left for --resume), with the attempts made."""
    finals = Finals()

    async def handler(request: web.Request) -> web.Response:
        kind = orjson.loads(await request.read())["batch"][0]["kind"]
        status = {"ok": 200, "bad": 400, "down": 500}[kind]
        return web.json_response({"message": kind}, status=status)

    async def main() -> list[BatchResult]:
        runner, url = await _serve(handler)
        stopping = asyncio.Event()
        try:
            async with Sender(DeliveryOptions(backoff_base=60.0, backoff_cap=60.0), finals, stopping) as sender:
                ok = await sender.deliver(Parcel("wk", url, [b'{"kind":"ok"}']))
                bad = await sender.deliver(Parcel("wk", url, [b'{"kind":"bad"}', b'{"kind":"bad"}']))
                waiting = asyncio.create_task(sender.deliver(Parcel("wk", url, [b'{"kind":"down"}'])))
                while not finals.finals[1:]:  # the 500 was answered; the sender now waits 30-60 s
                    await asyncio.sleep(0.01)
                stopping.set()
                return [ok, bad, await waiting]
        finally:
            await runner.cleanup()

    ok, bad, interrupted = asyncio.run(main())
    assert (ok.delivered, ok.status, ok.attempts, ok.interrupted) == (True, 200, 1, False)
    assert ok.exchange is not None and ok.exchange.status == 200
    assert (bad.delivered, bad.status, bad.attempts, bad.refused) == (False, 400, 1, True)
    assert finals.finals == [True, False]  # the refusal final; the 500 to be retried
    assert (interrupted.delivered, interrupted.interrupted, interrupted.attempts) == (False, True, 1)
    assert not interrupted.refused
