"""The delivery engine's sender against real aiohttp endpoints on 127.0.0.1: a refused batch
narrowed down to the bad message, other 4xx never retried, 429 pausing the destination."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine, TypeVar

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from debugger.delivery.exchange import Exchange
from debugger.delivery.sender import BatchResult, DeliveryOptions, Outgoing, Sender
from tests import support


@dataclass
class Parcel:
    key: str | None
    url: str
    items: list[bytes]


def halves(parcel: Parcel) -> tuple[Parcel, Parcel]:
    middle = len(parcel.items) // 2
    return Parcel(parcel.key, parcel.url, parcel.items[:middle]), Parcel(parcel.key, parcel.url, parcel.items[middle:])


@dataclass
class Observed:
    requests: list[int | None] = field(default_factory=list)
    failed: list[tuple[int | None, bool, int]] = field(default_factory=list)

    def request(self, seconds: float, status: int | None, error: str | None) -> None:
        self.requests.append(status)

    def failed_attempt(self, batch: Outgoing, exchange: Exchange, final: bool) -> None:
        self.failed.append((exchange.status, final, len(batch.items)))


async def serve(handler: Handler) -> tuple[web.AppRunner, str]:
    runner, url = await support.serve(handler, "/v1/batch")
    return runner, url + "/v1/batch"


def items(count: int, bad: set[int]) -> list[bytes]:
    return [orjson.dumps({"messageId": f"m{n}", "bad": n in bad}) for n in range(count)]


T = TypeVar("T")



async def narrowed(handler: Handler) -> tuple[list[tuple[Parcel, BatchResult]], Observed]:
    """100 messages (17 and 63 bad) delivered by deliver_narrowed to `handler`, served for real."""
    runner, url = await serve(handler)
    observed = Observed()
    try:
        async with Sender(DeliveryOptions(), observed, asyncio.Event()) as sender:
            results = await sender.deliver_narrowed(Parcel("wk", url, items(100, {17, 63})), halves)
    finally:
        await runner.cleanup()
    return results, observed

def run(coroutine_factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(coroutine_factory())


def test_a_refused_batch_is_narrowed_down_to_the_bad_messages() -> None:
    accepted: list[str] = []
    bodies: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        batch = orjson.loads(await request.read())["batch"]
        bodies.append(len(batch))
        if any(message["bad"] for message in batch):
            return web.json_response({"message": "bad message"}, status=400)
        accepted.extend(message["messageId"] for message in batch)
        return web.json_response({"success": True})

    async def main() -> list[tuple[Parcel, bool, int | None]]:
        results, observed = await narrowed(handler)
        # a 400 is never retried: halved (not final) while it holds several, final for one
        assert all(status == 400 and final == (size == 1) for status, final, size in observed.failed)
        return [(parcel, result.delivered, result.status) for parcel, result in results]

    results = run(main)
    refused = [orjson.loads(parcel.items[0])["messageId"] for parcel, ok, _ in results if not ok]
    assert refused == ["m17", "m63"]
    assert all(len(parcel.items) == 1 and status == 400 for parcel, ok, status in results if not ok)
    assert sorted(accepted) == sorted(f"m{n}" for n in range(100) if n not in (17, 63))
    assert len(bodies) < 30  # halving, not one request per message


def test_401_is_final_and_not_narrowed() -> None:
    calls: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(1)
        return web.json_response({"message": "write key 'wk_secret_1' is not accepted"}, status=401)

    async def main() -> None:
        runner, url = await serve(handler)
        try:
            async with Sender(DeliveryOptions(), Observed(), asyncio.Event()) as sender:
                results = await sender.deliver_narrowed(Parcel("wk", url, items(10, set())), halves)
        finally:
            await runner.cleanup()
        [(_, result)] = results
        assert not result.delivered and result.status == 401 and result.attempts == 1
        assert result.exchange is not None and "not accepted" in result.exchange.reason

    run(main)
    assert len(calls) == 1


def test_429_with_retry_after_pauses_every_request_to_that_destination() -> None:
    arrivals: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        arrivals.append(time.monotonic())
        await request.read()
        if len(arrivals) == 1:
            return web.json_response({"message": "slow down"}, status=429, headers={"Retry-After": "1"})
        return web.json_response({"success": True})

    async def main() -> None:
        runner, url = await serve(handler)
        observed = Observed()
        try:
            options = DeliveryOptions(concurrency=2, backoff_base=0.01, backoff_cap=0.02)
            async with Sender(options, observed, asyncio.Event()) as sender:
                first = asyncio.create_task(sender.deliver(Parcel("wk", url, items(1, set()))))
                while not sender.gate.paused:
                    await asyncio.sleep(0.01)
                second = await sender.deliver(Parcel("wk", url, items(1, set())))
                assert (await first).delivered and second.delivered
        finally:
            await runner.cleanup()
        assert observed.failed == [(429, False, 1)]

    run(main)
    assert len(arrivals) == 3
    assert min(arrivals[1:]) - arrivals[0] >= 0.95  # nothing went to the paused destination early


def test_a_batch_accepted_in_part_is_not_resent() -> None:
    """A 400 that says which messages were refused (the rest kept, as `collect --strict`
    answers): one request, the refused messages fail alone with their own reasons."""
    bodies: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        batch = orjson.loads(await request.read())["batch"]
        bodies.append(len(batch))
        errors = [{"index": n, "code": "bad_one", "message": m["messageId"]} for n, m in enumerate(batch) if m["bad"]]
        return web.json_response({"success": True, "accepted": len(batch) - len(errors), "rejected": len(errors),
                                  "errors": errors}, status=400 if errors else 200)

    async def main() -> list[tuple[list[str], bool, str]]:
        results, observed = await narrowed(handler)
        assert observed.failed == [(400, True, 1), (400, True, 1)]  # per refused message, final
        assert all(result.attempts == 1 and result.status == 400 for _, result in results)
        return [([orjson.loads(item)["messageId"] for item in parcel.items], result.delivered, result.error)
                for parcel, result in results]

    parts = run(main)
    assert bodies == [100]
    assert [ids for ids, delivered, _ in parts if not delivered] == [["m17"], ["m63"]]
    assert {error for _, delivered, error in parts if not delivered} == {"HTTP 400: bad_one: m17",
                                                                         "HTTP 400: bad_one: m63"}
    assert sorted(i for ids, delivered, error in parts if delivered and not error for i in ids) == sorted(
        f"m{n}" for n in range(100) if n not in (17, 63))
