"""Whether a message's `integrations` object keeps it from a destination, as Segment honours it
(pure): `{"All": false, ...}` excludes every destination not named with a truthy value;
`{"NAME": false}` excludes that one. Names are case sensitive; an object value (settings for
that destination) counts as enabled."""

from __future__ import annotations

from typing import Any, Mapping


def excluded(message: Mapping[str, Any], destination: str) -> bool:
    """True when `message` must not be sent to `destination` (counted as filtered)."""
    integrations = message.get("integrations")
    if not isinstance(integrations, Mapping) or not integrations:
        return False
    value = integrations.get(destination)
    if value is None:
        return integrations.get("All") is False
    return value is False
