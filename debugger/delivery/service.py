"""Forwarding inside the collector: one Forwarder task per `--forward` destination, run through
the app's `cleanup_ctx`, its `delivery` lines sent to the viewers, and `GET /segdebug/delivery`.

`install` is the one call serve.py makes. The forwarders take up their positions during the
app's start-up, before the site accepts a request, so a message accepted after a restart is
never below a position saved before it. On shutdown in-flight requests are abandoned (their
lines stay below the position, resent next time) and the positions are saved.

Delivery lines bypass the hub's per-viewer filter and sampling (those are about events: a
viewer searching for one event still wants to know where it was delivered) but go through
each viewer's bounded queue, so a slow viewer still never slows the collector.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from debugger import protocol
from debugger.archive_writer import ArchiveWriter
from debugger.delivery.destinations import Destination
from debugger.delivery.exchange import hide_keys
from debugger.delivery.forwarder import Forwarder, ForwardOptions
from debugger.hub import Hub

ROUTE = "/segdebug/delivery"
STOP_SECONDS = 5.0


class Forwarding:
    """The collector's forwarders and what they report."""

    def __init__(self, archive: Path, destinations: list[Destination], options: ForwardOptions,
                 hub: Hub | None = None) -> None:
        self.hub = hub
        self.forwarders = [Forwarder(d, archive, options, self.publish, self.watched) for d in destinations]
        for forwarder in self.forwarders:  # a URL may hold the --forward-write-key (its records mask it)
            if options.write_key:
                forwarder.summary.url = hide_keys(forwarder.summary.url, [options.write_key])
        self.tasks: list[asyncio.Task[None]] = []

    def watched(self) -> bool:
        return self.hub is not None and self.hub.watched()

    def publish(self, line: protocol.Delivery) -> None:
        """Queue a delivery line for every subscribed viewer (never waits, never raises)."""
        if self.hub is not None:
            self.hub.broadcast(line)

    def summary(self) -> dict[str, object]:
        """`{"destinations": [...]}`, each as DestinationSummary.as_dict."""
        now = time.time()
        return {"destinations": [f.summary.as_dict(now) for f in self.forwarders]}

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: positions taken up before serving; tasks stopped, positions saved."""
        for forwarder in self.forwarders:
            forwarder.start()
        self.tasks = [asyncio.create_task(f.run()) for f in self.forwarders]
        yield
        for forwarder in self.forwarders:
            forwarder.stop()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=STOP_SECONDS)


FORWARDING = web.AppKey("forwarding", Forwarding)


async def delivery_summary(request: web.Request) -> web.Response:
    """GET /segdebug/delivery: every destination's summary (an empty list without --forward)."""
    return web.json_response(request.app[FORWARDING].summary())


# for collector.make_app, which puts them ahead of its catch-all 404
ROUTES: list[web.AbstractRouteDef] = [web.get(ROUTE, delivery_summary)]


def install(app: web.Application, archive: Path, destinations: list[Destination],
            options: ForwardOptions, hub: Hub | None, writer: ArchiveWriter | None = None) -> Forwarding:
    """Register forwarding on the collector's app: the AppKey and the background tasks (the
    route comes with ROUTES). With the collector's `writer`, each forwarder taps its writes, so
    one that keeps up takes them from memory, edited (Forwarder.tap, debugger.delivery.outbox)."""
    forwarding = Forwarding(archive, destinations, options, hub)
    if writer is not None:
        writer.taps.extend(forwarder.tap for forwarder in forwarding.forwarders)
    app[FORWARDING] = forwarding
    app.cleanup_ctx.append(forwarding.context)
    return forwarding
