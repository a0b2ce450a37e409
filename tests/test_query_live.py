"""The query language on real envelopes: the Python SDK and raw HTTP into a real collector,
filtered by the hub's subscribe filter on its socket."""

from __future__ import annotations

import asyncio

import segment.analytics as segment_analytics

from debugger.socket_client import subscribe
from tests.support import Collector, post_json

QUERY = "zürich properties.total>=100 OR (is:rejected refused-marker)"


def send(url: str) -> None:
    client = segment_analytics.Client("wk_query", host=url, sync_mode=True)
    client.track("user-1", "Order Completed", {"city": "Paris", "total": 150})  # no: Paris
    client.track("user-2", "Order Completed", {"city": "Zürich", "total": 99})  # no: total
    client.track("user-3", "Order Completed", {"city": "Zürich", "total": 100})  # yes
    refused = post_json(url + "/v1/track", {"writeKey": "wk_query", "event": "refused-marker"})
    assert refused.status == 400  # no userId/anonymousId: refused, shown as rejected


async def test_hub_filter_selects_sdk_and_refused_events(collector: Collector) -> None:
    events: list[dict] = []
    stream = subscribe(collector.socket, query=QUERY)

    async def read() -> None:
        async for line in stream:
            if line.get("kind") == "hello":
                asyncio.get_running_loop().run_in_executor(None, send, collector.url)
            elif line.get("kind") == "event":
                events.append(line)
                if len(events) == 2:
                    return

    await asyncio.wait_for(read(), timeout=30)
    await stream.aclose()
    accepted, refused = events
    assert accepted["status"] == "accepted" and accepted["message"]["userId"] == "user-3"
    assert refused["status"] == "rejected" and "refused-marker" in refused["raw"]
    assert len(collector.archived()) == 3  # the filter only chooses what this viewer sees
