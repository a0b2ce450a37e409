"""The Delivery screen (key `d`): what reached each forwarding destination, as Segment's Event
Delivery shows it: key metrics, the error table (enter opens its example: You sent / Request to
destination / Response from destination) and per-minute trends.

Its figures are the collector's own summary, `GET /segdebug/delivery`, polled about once a
second in a worker (every IDLE seconds while another screen is shown). Not a fold of the
`delivery` lines this viewer receives: the collector sends those only to the viewers it has,
so a viewer started (or restarted) later would count only what happened since, and a slow
viewer's bounded queue may drop some. The summary covers the collector's whole session,
whoever watched, and is exactly what `segdebug delivery` prints. Its clock is the collector's
(the answer's Date header), so "last seen" and the trend's minutes agree with the summary.
"""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from debugger.text import visible
from debugger.tui.delivery_rows import (
    ERROR_COLUMNS, METRIC_COLUMNS, error_cells, error_rows, errors_title, headline, metric_cells, reason_width,
    trend_line, trend_minutes, trend_title,
)
from debugger.tui.delivery_text import exchange_text
from debugger.tui.keys import KeyMask
from debugger.tui.words import counted
from debugger.tui.screens.base import HelpKeys, Host, ViewScreen

REFRESH = 1.0  # seconds between polls while shown
IDLE = 5.0  # while hidden: the Delivery tab still learns the destinations' names
TIMEOUT = 5.0

Summary = list[Mapping[str, Any]]


class DeliveryScreen(ViewScreen):
    """Metrics per destination over their trends over the error table."""

    BINDINGS = [
        Binding("enter", "example", "Example"),
        Binding("escape", "back", "Events", show=False),  # the footer shows e
    ]

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.headline = Static(Text("Delivery · asking the collector…"), id="delivery-headline")
        self.metrics: DataTable[Text] = DataTable(id="delivery-metrics", cursor_type="none", zebra_stripes=False)
        self.errors_title = Static(Text("Errors (enter: an example)", style="bold"), id="delivery-errors-title")
        self.errors: DataTable[Text] = DataTable(id="delivery-errors", cursor_type="row")
        self.trends = Static(Text(""), id="delivery-trends")
        self.destinations: Summary = []
        self.now = 0.0
        self.problem = ""
        self.polls = 0  # answers received (tests wait on it)
        self._rows: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        self._wake = asyncio.Event()

    def compose(self) -> ComposeResult:
        yield self.headline
        yield self.metrics
        yield self.trends
        yield self.errors_title
        yield self.errors
        yield Footer()

    def on_mount(self) -> None:
        self.metrics.add_columns(*METRIC_COLUMNS)
        self.errors.add_columns(*ERROR_COLUMNS)
        self.errors.focus()
        self._poll()

    def on_screen_resume(self) -> None:
        self._wake.set()  # fresh figures at once

    def on_resize(self) -> None:
        self._show_errors()
        self._show_trends()

    def help_keys(self) -> HelpKeys:
        return (
            ("up down", "select an error (status and reason, per destination)"),
            ("enter", "its example: You sent / Request to destination / Response from destination"),
            ("esc", "back to the events screen"),
            ("", "figures: the collector's summary (GET /segdebug/delivery), every second"),
        )

    # --- polling (a worker on the app's loop) --------------------------------------------

    @work(exclusive=True, group="delivery-poll", exit_on_error=False)
    async def _poll(self) -> None:
        import aiohttp

        from debugger.delivery.service import ROUTE

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
            while True:
                http = self.host.model.http
                if not http:
                    self._show_problem("no collector: delivery needs a running collector "
                                       "(live --file shows an archive)" if self.host.model.archive else "")
                else:
                    url = http.rstrip("/") + ROUTE
                    try:
                        async with session.get(url) as answer:
                            if answer.status != 200:
                                raise ValueError(f"HTTP {answer.status} (a collector older than --forward?)")
                            body = await answer.json(content_type=None)
                            now = _clock(answer.headers.get("Date"))
                        self._show(body, now)
                    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, TypeError) as error:
                        self._show_problem(f"cannot read {url}: {error or type(error).__name__}")
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), REFRESH if self.is_current else IDLE)
                except asyncio.TimeoutError:
                    pass

    # --- drawing -------------------------------------------------------------------------

    def _show(self, body: Any, now: float) -> None:
        found = body.get("destinations") if isinstance(body, Mapping) else None
        if not isinstance(found, list):
            raise ValueError("not a delivery summary")
        self.destinations = [d for d in found if isinstance(d, Mapping)]
        self.now, self.problem = now, ""
        self.polls += 1
        self.host.deliveries.know((str(d.get("name", "")), str(d.get("url", ""))) for d in self.destinations)
        if not self.destinations:
            self.headline.update(Text("Delivery · the collector forwards nowhere: start live with "
                                      "--forward [NAME=]URL (or collect --forward)", style="bold"))
        else:
            self.headline.update(headline(self.destinations, now))
        self._show_metrics()
        self._show_errors()
        self._show_trends()

    def _show_problem(self, problem: str) -> None:
        self.problem = problem
        if problem:
            self.headline.update(Text(visible(problem), style="bold red"))

    def _show_metrics(self) -> None:
        self.metrics.clear()
        for d in self.destinations:
            self.metrics.add_row(*metric_cells(d))

    def _show_errors(self) -> None:
        """The error table, the cursor kept on the same row (same destination, status, reason)."""
        selected = self._selected_key()
        self._rows = error_rows(self.destinations)
        self.errors.clear()
        room = reason_width(self.size.width or 80)
        for d, row in self._rows:
            self.errors.add_row(*error_cells(d, row, self.now, room))
        keys = [_key(d, row) for d, row in self._rows]
        if selected in keys:
            self.errors.move_cursor(row=keys.index(selected), animate=False)
        self.errors_title.update(errors_title(len(self._rows)))

    def _show_trends(self) -> None:
        if not self.destinations:
            self.trends.update(Text(""))
            return
        count = trend_minutes(self.size.width or 80)
        lines = [trend_title(count, self.now), *(trend_line(d, self.now, count) for d in self.destinations)]
        self.trends.update(Text("\n").join(lines))

    def _selected_key(self) -> tuple[str, Any, str] | None:
        row = self.errors.cursor_row
        return _key(*self._rows[row]) if 0 <= row < len(self._rows) else None

    # --- keys ----------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#delivery-errors")
    def _selected(self) -> None:
        self.action_example()

    def action_example(self) -> None:
        row = self.errors.cursor_row
        if not 0 <= row < len(self._rows):
            self.notify("No error selected.", severity="warning")
            return
        d, error = self._rows[row]
        self.app.push_screen(ExampleScreen(d, error, self.now, self.host.mask_keys))

    def action_back(self) -> None:
        self.app.switch_mode("events")


class ExampleScreen(ModalScreen[None]):
    """One error's example over the Delivery screen: You sent / Request / Response."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, destination: Mapping[str, Any], error: Mapping[str, Any], now: float,
                 mask_keys: bool = False) -> None:
        super().__init__()
        self.destination = destination
        self.error = error
        self.now = now
        self.mask_keys = mask_keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="delivery-example"):
            yield Static(self.text(), id="delivery-example-body")

    def text(self) -> Text:
        error, example = self.error, self.error.get("example")
        title = Text(visible(str(self.destination.get("name", ""))), style="bold underline")
        status = error.get("status")
        title.append("  " + (f"HTTP {status}: " if status is not None else ""), style="bold red")
        title.append(visible(str(error.get("reason", ""))), style="bold red")
        count, final = int(error.get("count") or 0), int(error.get("not_delivered") or 0)
        seen = error_cells(self.destination, error, self.now)[4].plain
        title.append(f"\n{counted(count, 'message')} in failed attempts, {final:,} not delivered · last seen {seen}\n\n",
                     style="dim")
        if not isinstance(example, Mapping):
            return title.append("No example kept for this error.", style="dim")
        request, response, sent = example.get("request"), example.get("response"), example.get("sent")
        # live --mask-keys: every writeKey field masked, and the sent message's key wherever it is
        mask = KeyMask.of({"message": sent}) if self.mask_keys else None
        title.append_text(exchange_text(request if isinstance(request, Mapping) else None,
                                        response if isinstance(response, Mapping) else None,
                                        sent=sent or "", mask=mask))
        return title.append("\n\nesc closes", style="dim")


def _key(d: Mapping[str, Any], row: Mapping[str, Any]) -> tuple[str, Any, str]:
    return str(d.get("name", "")), row.get("status"), str(row.get("reason", ""))


def _clock(date: str | None) -> float:
    """The collector's time from its answer's Date header (this machine's if absent)."""
    if date:
        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            pass
    return time.time()
