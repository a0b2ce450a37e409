"""A refused batch narrowed down while one of its halves keeps failing: Event Delivery's
figures follow each part as it lands (QA: the good halves waited 85 s behind a half that got
500s, and were counted, with a 66 s p95, only when the last half ended)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
from aiohttp import web

from debugger.delivery.destinations import failed_path, parse_destination
from debugger.delivery.forwarder import Forwarder, ForwardOptions

MODES = ["ok"] * 6 + ["bad", "never"]  # a 400 for any batch with "bad", a 500 with "never"


async def test_delivered_halves_count_while_a_sibling_half_is_still_retried(tmp_path: Path) -> None:
    acknowledged: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        batch = orjson.loads(await request.read())["batch"]
        modes = {message["properties"]["mode"] for message in batch}
        if "bad" in modes:
            return web.json_response({"message": "bad message"}, status=400)
        if "never" in modes:
            return web.json_response({"message": "down for this one"}, status=500)
        acknowledged.extend(message["messageId"] for message in batch)
        return web.json_response({"success": True})

    app = web.Application()
    app.router.add_post("/v1/batch", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    archive = tmp_path / "archive.ndjson"
    archive.touch()  # a new destination forwards what comes after it starts
    options = ForwardOptions(batch_events=8, max_retries=4, backoff_base=0.5, backoff_cap=1.0)
    forwarder = Forwarder(parse_destination(f"ep=http://127.0.0.1:{port}"), archive, options)
    forwarder.start()
    running = asyncio.create_task(forwarder.run())
    with archive.open("ab") as out:
        out.write(b"".join(orjson.dumps({
            "type": "track", "event": "E", "userId": "u", "messageId": f"m-{n}", "properties": {"mode": mode},
            "writeKey": "wk", "receivedAt": "2024-05-01T10:00:00.000Z"}) + b"\n" for n, mode in enumerate(MODES)))
    session = forwarder.summary.session
    try:
        deadline = time.monotonic() + 30
        while session.delivered < 6:  # the six good ones, acknowledged within milliseconds
            assert time.monotonic() < deadline, session.figures()
            await asyncio.sleep(0.01)
        # ... and counted while the "never" message is still being retried (seconds of backoff)
        assert session.not_delivered < 2 and forwarder.summary.in_flight >= 1
        while session.delivered + session.not_delivered < len(MODES):
            assert time.monotonic() < deadline, session.figures()
            await asyncio.sleep(0.02)
    finally:
        forwarder.stop()
        await running
        await runner.cleanup()
    assert sorted(acknowledged) == [f"m-{n}" for n in range(6)]
    assert (session.delivered, session.not_delivered) == (6, 2)
    failed = [orjson.loads(line)["message"]["messageId"] for line in failed_path(archive, "ep").read_bytes().splitlines()]
    assert sorted(failed) == ["m-6", "m-7"]
