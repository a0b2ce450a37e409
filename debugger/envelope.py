"""The envelopes the collector sends on its socket (see DESIGN.md "Socket protocol").

Built here, in one place, so the collector, the hub, `tail`, the TUI and the tests agree.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Level = Literal["error", "warning"]
Status = Literal["accepted", "rejected"]


class Problem(TypedDict):
    """One thing wrong with a call: errors refuse it, warnings are shown but accepted."""

    level: Level
    code: str
    message: str
    path: str
    hint: NotRequired[str]


class EventEnvelope(TypedDict):
    kind: Literal["event"]
    seq: int
    receivedAt: str
    endpoint: str
    writeKey: str | None
    status: Status
    problems: list[Problem]
    message: dict[str, Any] | None
    raw: str | None
    request: NotRequired[dict[str, Any]]


def problem(level: Level, code: str, message: str, path: str = "", hint: str = "") -> Problem:
    """A Problem dict; `hint` is a one-line fix, left out when empty."""
    item: Problem = {"level": level, "code": code, "message": message, "path": path}
    if hint:
        item["hint"] = hint
    return item


def has_errors(problems: list[Problem]) -> bool:
    return any(p["level"] == "error" for p in problems)


def event_envelope(
    *,
    seq: int,
    received_at: str,
    endpoint: str,
    write_key: str | None,
    status: Status,
    problems: list[Problem],
    message: dict[str, Any] | None,
    raw: str | None,
    request: dict[str, Any] | None = None,
) -> EventEnvelope:
    """An `event` envelope. `request` carries HTTP facts (content type, encoding, user agent,
    remote address) for the debugger's Request tab; it is an extension of the protocol."""
    envelope: EventEnvelope = {
        "kind": "event",
        "seq": seq,
        "receivedAt": received_at,
        "endpoint": endpoint,
        "writeKey": write_key,
        "status": status,
        "problems": problems,
        "message": message,
        "raw": raw,
    }
    if request is not None:
        envelope["request"] = request
    return envelope


def hello(version: str, http: str, archive: str) -> dict[str, Any]:
    return {"kind": "hello", "version": version, "http": http, "archive": archive}


def stats(received: int, accepted: int, rejected: int, rate: float, dropped: int) -> dict[str, Any]:
    return {
        "kind": "stats",
        "received": received,
        "accepted": accepted,
        "rejected": rejected,
        "rate": rate,
        "dropped": dropped,
    }
