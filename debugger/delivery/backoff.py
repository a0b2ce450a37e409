"""Retry decisions and waits (pure): capped, jittered exponential backoff and server hints."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from typing import Mapping

RETRYABLE_STATUSES = frozenset({408, 429})
MAX_SERVER_WAIT = 600.0


def is_retryable(status: int | None) -> bool:
    """Network errors (None), 5xx, 408 and 429 are retried; any other 4xx is final."""
    return status is None or status >= 500 or status in RETRYABLE_STATUSES


def backoff_delay(attempt: int, rng: random.Random, base: float = 0.2, cap: float = 10.0) -> float:
    """Full jitter after `attempt` failures: uniform in [base/2, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return rng.uniform(min(base / 2, ceiling), ceiling)


def server_wait(headers: Mapping[str, str], now_epoch: float) -> float | None:
    """Seconds the server asked us to wait (Retry-After, else X-RateLimit-Reset), capped."""
    wait = _retry_after(headers.get("Retry-After"), now_epoch)
    if wait is None:
        wait = _reset(headers.get("X-RateLimit-Reset"), now_epoch)
    if wait is None:
        return None
    return min(max(wait, 0.0), MAX_SERVER_WAIT)


def _retry_after(value: str | None, now_epoch: float) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now_epoch
    except (TypeError, ValueError, IndexError):
        return None


def _reset(value: str | None, now_epoch: float) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    if seconds is None:
        return None
    return seconds - now_epoch if seconds > 1e9 else seconds  # epoch seconds or a delay
