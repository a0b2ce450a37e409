"""Whether a message's `integrations` object keeps it from a destination, as Segment honours it
(pure): `{"All": false, ...}` excludes every destination not named with a truthy value;
`{"NAME": false}` excludes that one. Names are case sensitive; an object value (settings for
that destination) counts as enabled.

Segment's own tracking API is not one of those destinations: it is where the object is
applied. analytics.js sends a call to Segment unless `"Segment.io": false`, and Segment keeps
(and passes to warehouses) messages whose object says `All: false`. So a destination that
forwards to Segment answers to the name `Segment.io`, and only an explicit false keeps a
message from it; the object travels on for Segment to apply."""

from __future__ import annotations

from typing import Any, Mapping


SEGMENT = "Segment.io"


def excluded(message: Mapping[str, Any], destination: str) -> bool:
    """True when `message` must not be sent to `destination` (counted as filtered)."""
    integrations = message.get("integrations")
    if not isinstance(integrations, Mapping) or not integrations:
        return False
    value = integrations.get(destination)
    if value is None:
        return destination != SEGMENT and integrations.get("All") is False
    return value is False
