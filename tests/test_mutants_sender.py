"""The sender's promises that mutation testing found unguarded (`make mutate`): a single
message's fresh sentAt, what a failed connection reports (to the observer and in the exchange),
a worker that survives a batch it cannot handle, and network errors kept readable.

Real parts only: a port on 127.0.0.1 that nothing listens on, real aiohttp exceptions.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone

import aiohttp
import orjson
import pytest

from debugger.delivery.exchange import Exchange
from debugger.delivery.sender import BatchResult, DeliveryOptions, Outgoing, Sender, body_of, describe_network_error

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
