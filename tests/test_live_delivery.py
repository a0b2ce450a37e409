"""The live Delivery tab, screen and list mark, driven with Pilot against a real collector
process forwarding (`collect --forward`) to real aiohttp endpoints on 127.0.0.1: one healthy,
one flaky (500, then ok), one refusing `Bad Event` with 400; the delivery log's bookkeeping;
and an 80x24 snapshot of the Delivery screen fed by a fixed summary over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiohttp import web
from rich.text import Text
from textual.widgets import Static

from debugger.tui.app import LiveApp, create_app
from debugger.tui.delivery_log import DeliveryLog
from debugger.tui.delivery_text import delivery_view
from debugger.tui.rows import MARK_ACCEPTED, MARK_UNDELIVERED
from debugger.tui.screens.delivery import DeliveryScreen, ExampleScreen
from debugger.tui.sources import SocketSource
from tests.support import BatchEndpoint as Endpoint
from tests.support import post_json, settled, start_collector, wait_for

HOSTILE = "not allowed here [bold]x[/] \x1b[31m"


async def fail_once(endpoint: Endpoint, number: int, batch: list[dict[str, Any]]) -> web.StreamResponse:
    """500 to the first request that carries Signed Up, then ok."""
    if any(m.get("event") == "Signed Up" for m in batch) and not getattr(endpoint, "failed_once", False):
        endpoint.failed_once = True  # type: ignore[attr-defined]
        return web.json_response({"message": "internal error"}, status=500)
    return web.json_response({"success": True})


async def refuse_bad(endpoint: Endpoint, number: int, batch: list[dict[str, Any]]) -> web.StreamResponse:
    if any(m.get("event") == "Bad Event" for m in batch):
        return web.json_response({"message": f"Bad Event is {HOSTILE}"}, status=400,
                                 headers={"X-Note": "[red]markup[/]"})
    return web.json_response({"success": True})


def track(message_id: str, name: str) -> dict[str, Any]:
    return {"type": "track", "event": name, "userId": "u-1", "messageId": message_id, "properties": {"n": 1}}



def row_index(app: LiveApp, message_id: str) -> int:
    return next(i for i, item in enumerate(app.table.rows) if item.envelope["message"]["messageId"] == message_id)


def drawn(app: LiveApp, index: int) -> str:
    """Row `index` as the list draws it now (its cached line, if cached)."""
    app.table.move_cursor(row=index)
    return app.table.render_line(index - int(app.table.scroll_y) + 1).text


async def test_delivery_tab_screen_and_mark_against_real_endpoints(tmp_path: Path) -> None:
    with Endpoint() as healthy, Endpoint(fail_once) as flaky, Endpoint(refuse_bad) as refusing:
        collector = start_collector(tmp_path / "c", "--forward", f"healthy={healthy.url}",
                                    "--forward", f"flaky={flaky.url}", "--forward", f"refusing={refusing.url}")
        try:
            app = create_app(SocketSource(collector.socket), copy_path=tmp_path / "c.json", save_dir=tmp_path)
            async with app.run_test(headless=True, size=(120, 40)) as pilot:
                # a first event, once listed live, says the collector sends this viewer its lines
                assert post_json(collector.url + "/v1/track", {**track("m-warm", "App Opened"),
                                                               "writeKey": "wk_test"}).status == 200
                await wait_for(pilot, lambda: app.table.row_count == 1)
                await wait_for(pilot, lambda: len(app.deliveries.outcomes("m-warm")) == 3)
                await pilot.press("5")  # the Delivery tab, showing the warm-up event
                assert app.detail.active == "delivery"
                reply = post_json(collector.url + "/v1/batch", {
                    "batch": [track("m-good", "Signed Up"), track("m-bad", "Bad Event")], "writeKey": "wk_test"})
                assert reply.status == 200
                figures = await asyncio.to_thread(settled, collector,
                                                  {"healthy": 3, "flaky": 3, "refusing": 3})
                await wait_for(pilot, lambda: app.table.row_count == 3)
                def ended(message_id: str) -> bool:
                    outcomes = app.deliveries.outcomes(message_id).values()
                    return len(outcomes) == 3 and {o.status for o in outcomes} <= {"delivered", "failed"}

                await wait_for(pilot, lambda: ended("m-good") and ended("m-bad"))
                await pilot.pause(0.3)  # a tick of the events screen

                # the list marks the failed event, on the line it draws (not only in its text)
                bad, good = row_index(app, "m-bad"), row_index(app, "m-good")
                assert app.table.cells_at(bad)[1] == MARK_UNDELIVERED
                assert MARK_UNDELIVERED in drawn(app, bad)
                assert app.table.cells_at(bad)[6].startswith("not delivered to refusing: HTTP 400: Bad Event")
                assert app.table.cells_at(good)[1] == MARK_ACCEPTED and MARK_UNDELIVERED not in drawn(app, good)

                # the Delivery tab of the failed event: the refusing endpoint's real answer
                app.table.move_cursor(row=bad)
                await pilot.pause(0.2)
                tab = app.detail.query_one("#delivery-body", Static).content
                assert isinstance(tab, Text)
                text = tab.plain
                refusing_part = text[text.index("refusing"):]
                assert "✗ failed" in refusing_part and "1 attempt" in refusing_part
                assert "HTTP 400" in refusing_part and f"POST {refusing.url}/v1/batch" in refusing_part
                assert "Bad Event is not allowed here [bold]x[/] ␛[31m" in refusing_part  # the body, as text
                assert "X-Note: [red]markup[/]" in refusing_part and "\x1b" not in text
                authorization = next(row for row in refusing_part.split("\n") if row.startswith("Authorization: "))
                assert "Basic " in authorization and "wk_test" not in authorization  # masked
                healthy_part = text[text.index("healthy"):]
                assert healthy_part.split("\n", 1)[0].startswith("healthy   ✓ delivered  1 attempt")
                flaky_part = text[text.index("flaky"):]
                assert "✓ delivered  2 attempts" in flaky_part
                assert "the last: HTTP 500: internal error" in flaky_part
                assert text.index("refusing") < text.index("flaky") < text.index("You sent")  # failures first
                assert text.split("\n")[3] == "" and '"event": "Bad Event"' in text  # a status line each

                # the Delivery screen: what the endpoints saw
                await pilot.press("d")
                screen = app.screen
                assert isinstance(screen, DeliveryScreen)
                await wait_for(pilot, lambda: screen.polls > 0 and screen.metrics.row_count == 3)
                await wait_for(pilot, lambda: all(
                    screen.metrics.get_row_at(n)[5].plain == "0" for n in range(3)))  # none in flight
                shown = {screen.metrics.get_row_at(n)[0].plain: [c.plain for c in screen.metrics.get_row_at(n)]
                         for n in range(3)}
                for name, endpoint in (("healthy", healthy), ("flaky", flaky), ("refusing", refusing)):
                    _, delivered, lost, filtered, retries, _, p95 = shown[name]
                    assert int(delivered) == len(endpoint.acknowledged) == figures[name]["delivered"], name
                    assert p95.endswith(" ms"), name
                assert shown["refusing"][2] == "1" and not refusing.acknowledged.keys() & {"m-bad"}
                assert (shown["healthy"][2], shown["flaky"][2]) == ("0", "0")
                assert int(shown["flaky"][4]) == sum(flaky.refused.values()) == 2  # the 500'd pair, retried
                rows = {(screen.errors.get_row_at(n)[0].plain, screen.errors.get_row_at(n)[1].plain):
                        screen.errors.get_row_at(n)[2].plain for n in range(screen.errors.row_count)}
                assert rows[("flaky", "500")] == "internal error"
                assert rows[("refusing", "400")] == "Bad Event is not allowed here [bold]x[/] ␛[31m"
                keys = list(rows)
                screen.errors.move_cursor(row=keys.index(("refusing", "400")))
                await pilot.press("enter")
                example = app.screen
                assert isinstance(example, ExampleScreen)
                body = example.text().plain
                for part in ("You sent", "Request to destination", "Response from destination", "HTTP 400",
                             f"POST {refusing.url}/v1/batch", '"event": "Bad Event"'):
                    assert part in body, part
                await pilot.press("escape")
                assert app.screen is screen
                await pilot.press("e")
                assert app.screen is app.events
        finally:
            collector.stop()


# --- the log's bookkeeping ---------------------------------------------------------------------


def line(destination: str, status: str, *ids: str, reason: str = "", answer: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"kind": "delivery", "destination": destination, "status": status, "attempts": 1,
                             "records": [{"messageId": i, "receivedAt": None, "latency_ms": 5.0} for i in ids]}
    if reason:
        found["reason"] = reason
    if answer is not None:
        found["response"] = {"status": answer, "headers": {}, "body": ""}
    return found


def test_the_log_says_which_marks_changed() -> None:
    log = DeliveryLog()
    log.take(line("a", "delivered", *(f"m-{n}" for n in range(500))))
    changed, marked = log.drain()
    assert len(changed) == 500 and not marked  # a delivered parcel redraws no row
    log.take(line("b", "retrying", "m-1", reason="boom", answer=500))
    log.take(line("b", "failed", "m-1", reason="no", answer=400))
    assert log.drain() == ({"m-1"}, {"m-1"})
    assert log.failure("m-1") == "not delivered to b: HTTP 400: no"
    assert log.outcomes("m-1")["b"].retried == 1 and log.outcomes("m-1")["b"].last_error == "HTTP 500: boom"
    log.take(line("b", "delivered", "m-1"))  # sent again after a collector restart, and delivered
    assert log.drain() == ({"m-1"}, {"m-1"}) and log.failure("m-1") == ""
    assert list(log.destinations) == ["a", "b"]


def test_a_message_delivered_after_its_batch_was_refused_counts_both_attempts() -> None:
    """QA: `✓ delivered 1 attempt ... after 1 failed attempt, the last: HTTP 400`. A refused
    batch is narrowed down and the message's half delivered: its part reports one attempt of
    its own, the failed one of the whole batch was heard before; the tab says 2 attempts."""
    log = DeliveryLog()
    log.take(line("b", "retrying", "m-1", "m-2", reason="bad batch", answer=400))
    log.take(line("b", "delivered", "m-1"))
    outcome = log.outcomes("m-1")["b"]
    assert (outcome.attempts, outcome.retried) == (2, 1)
    envelope = {"kind": "event", "status": "accepted", "message": {"type": "track", "event": "E", "messageId": "m-1"}}
    assert "✓ delivered  2 attempts" in delivery_view(envelope, log).plain


def test_the_log_is_bounded() -> None:
    log = DeliveryLog(capacity=3)
    log.take(line("a", "failed", "m-1", "m-2", "m-3", "m-4", answer=400))
    assert log.outcomes("m-1") == {} and log.failure("m-4")
    changed, marked = log.drain()
    assert changed == marked == {"m-2", "m-3", "m-4"}


# --- snapshot ------------------------------------------------------------------------------------

NOW = "Wed, 01 May 2024 12:09:30 GMT"
EXAMPLE = {"sent": '{"type":"track","event":"Bad Event","userId":"u-1"}',
           "request": {"url": "http://127.0.0.1:9/v1/batch", "headers": {"Authorization": "Basic d2tf…On"},
                       "body": '{"batch":[]}', "truncated": False},
           "response": {"status": 400, "headers": {}, "body": '{"message":"Bad Event is not allowed"}',
                        "truncated": False, "ms": 3.2}}


def minutes(*values: tuple[int, int, int, float]) -> list[dict[str, Any]]:
    return [{"minute": f"2024-05-01T12:{m:02d}:00.000Z", "delivered": d, "not_delivered": n, "p95_ms": p}
            for m, d, n, p in values]


SUMMARY = {"destinations": [
    {"name": "segment", "url": "https://api.segment.io/v1/batch", "delivered": 1204, "not_delivered": 0,
     "filtered": 12, "retries": 0, "p95_ms": 182.4, "in_flight": 3, "backlog_bytes": 0, "paused": False,
     "errors": [], "windows": {},
     "minutes": minutes(*((m, 100 + 10 * m, 0, 150.0 + m) for m in range(10)))},
    {"name": "flaky", "url": "http://127.0.0.1:9001/v1/batch", "delivered": 1180, "not_delivered": 0,
     "filtered": 0, "retries": 418, "p95_ms": 1530.0, "in_flight": 40, "backlog_bytes": 0, "paused": True,
     "errors": [{"status": 500, "reason": "internal error", "count": 410, "not_delivered": 0,
                 "last_seen": "2024-05-01T12:09:28.000Z", "example": EXAMPLE},
                {"status": 429, "reason": "slow down", "count": 8, "not_delivered": 0,
                 "last_seen": "2024-05-01T12:05:00.000Z", "example": EXAMPLE}],
     "windows": {}, "minutes": minutes(*((m, 100, 40 if m % 3 else 0, 300.0 * (m % 4 + 1)) for m in range(10)))},
    {"name": "webhook", "url": "http://127.0.0.1:9002/v1/batch", "delivered": 1190, "not_delivered": 26,
     "filtered": 0, "retries": 0, "p95_ms": 12.0, "in_flight": 0, "backlog_bytes": 0, "paused": False,
     "errors": [{"status": 400, "reason": "Bad Event is not allowed [bold]x[/]\x1b[31m", "count": 26,
                 "not_delivered": 26, "last_seen": "2024-05-01T12:08:30.000Z", "example": EXAMPLE}],
     "windows": {}, "minutes": minutes(*((m, 120, 3 if m > 6 else 0, 12.0) for m in range(10)))},
]}


@pytest.fixture
def summary_url() -> Iterator[str]:
    """A real HTTP server answering GET /segdebug/delivery with SUMMARY, its clock fixed."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(SUMMARY, headers={"Date": NOW})

    async def start() -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_get("/segdebug/delivery", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"

    runner, url = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield url
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


class HelloOnly:
    def __init__(self, http: str) -> None:
        self.http = http

    def prioritise(self, query: str | None) -> None:
        pass

    async def lines(self, query: str | None) -> Any:
        yield {"kind": "hello", "version": "0.1.0", "http": self.http, "archive": "/tmp/archive.ndjson"}
        await asyncio.Event().wait()


@pytest.fixture
def summary_app(summary_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApp]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield create_app(HelloOnly(summary_url), copy_path=tmp_path / "c.json", save_dir=tmp_path)
    monkeypatch.undo()
    time.tzset()


def test_delivery_screen_80x24(summary_app: LiveApp, snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.press("d")
        screen = summary_app.screen
        assert isinstance(screen, DeliveryScreen)
        await wait_for(pilot, lambda: screen.polls > 0)
        await pilot.pause(0.2)

    assert snap_compare(summary_app, terminal_size=(80, 24), run_before=run_before)


class Fed:
    """Lines handed over by the test, one at a time."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def prioritise(self, query: str | None) -> None:
        pass

    async def lines(self, query: str | None) -> Any:
        while True:
            yield await self.queue.get()


def event(seq: int, message_id: str) -> dict[str, Any]:
    return {"kind": "event", "seq": seq, "receivedAt": f"2024-05-01T12:00:{seq:02d}.000Z",
            "endpoint": "/v1/batch", "writeKey": "wk", "status": "accepted", "problems": [],
            "message": {**track(message_id, f"Event {seq}"), "receivedAt": f"2024-05-01T12:00:{seq:02d}.000Z"},
            "raw": None}


async def test_news_redraws_only_the_rows_whose_mark_changed(tmp_path: Path) -> None:
    fed = Fed()
    app = create_app(fed, copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(headless=True, size=(100, 30)) as pilot:
        for seq in range(1, 6):
            fed.queue.put_nowait(event(seq, f"m-{seq}"))
        await wait_for(pilot, lambda: app.table.row_count == 5)
        await pilot.pause(0.2)  # drawn: every row is cached with its ✓
        cached = dict(app.table._strips)
        assert len(cached) == 5 and all(MARK_ACCEPTED in drawn(app, n) for n in range(5))
        app.table.move_cursor(row=2)
        await pilot.press("5")
        fed.queue.put_nowait(line("webhook", "delivered", "m-1", "m-2", "m-4", "m-5"))
        fed.queue.put_nowait(line("webhook", "failed", "m-3", reason="no", answer=400))
        await wait_for(pilot, lambda: app.deliveries.failure("m-3"))
        await pilot.pause(0.3)  # a tick
        assert MARK_UNDELIVERED in drawn(app, 2)
        kept = [item.id for item in app.table.rows if app.table._strips.get(item.id) is cached.get(item.id)]
        assert len(kept) == 4  # the four delivered rows were not rendered again
        tab = app.detail.query_one("#delivery-body", Static).content
        assert "webhook  ✗ failed" in str(tab) and "HTTP 400: no" in str(tab)  # the open tab followed


def test_an_event_without_message_id_is_not_called_pending_forever() -> None:
    """Delivery lines name messages by messageId (curl calls often have none): such an event's
    tab must not promise an answer that can never be matched to it."""
    log = DeliveryLog()
    log.know([("flaky", "http://127.0.0.1:9/v1/batch")])
    envelope = {"kind": "event", "status": "accepted", "message": {"type": "track", "event": "Bad Event"}}
    text = delivery_view(envelope, log).plain
    assert "pending" not in text.splitlines()[0]
    assert "no messageId" in text.splitlines()[0]
    with_id = {**envelope, "message": {**envelope["message"], "messageId": "m-1"}}
    assert "pending" in delivery_view(with_id, log).plain.splitlines()[0]
