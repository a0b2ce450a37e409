"""The text of delivery news: the Delivery tab of one event, and an error's example (You sent /
Request to destination / Response from destination), shared by the tab and the Delivery screen.

Everything in a request or response came from outside (the app's payload, a destination's
answer): it is assembled into Text from plain strings, its control characters drawn as
debugger.text draws them, so nothing in it is read as markup or reaches the terminal raw.
"""

from __future__ import annotations

from typing import Any, Mapping

import orjson
from rich.text import Text

from debugger.text import pictured, visible, visible_lines
from debugger.tui.delivery_log import DELIVERED, FAILED, FILTERED, RETRYING, DeliveryLog, Outcome
from debugger.tui.keys import KeyMask

PENDING = "pending"
UNMATCHED = "unmatched"  # a message without messageId: no delivery line can name it
STATUS_STYLES = {DELIVERED: "bold green", FAILED: "bold red", RETRYING: "bold yellow", FILTERED: "bold blue",
                 PENDING: "bold"}
STATUS_MARKS = {DELIVERED: "✓", FAILED: "✗", RETRYING: "↻", FILTERED: "−", PENDING: "…"}
ORDER = (FAILED, RETRYING, PENDING, DELIVERED, FILTERED)  # what needs attention first


def body_text(body: str, mask: KeyMask | None = None) -> str:
    """A body as shown: JSON indented (its escaped controls drawn), anything else as text;
    with a `mask` (live --mask-keys), write keys masked."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return visible_lines(mask.json_text(body) if mask else body)
    if mask:
        parsed = mask.value(parsed)
    return visible_lines(pictured(orjson.dumps(parsed, option=orjson.OPT_INDENT_2).decode()))


def sent_text(message: Any, mask: KeyMask | None = None) -> str:
    """You sent: the message as archived, indented (write keys masked with a `mask`)."""
    if isinstance(message, str):
        return body_text(message, mask)
    if mask:
        message = mask.value(message)
    return visible_lines(pictured(orjson.dumps(message, option=orjson.OPT_INDENT_2).decode()))


def exchange_text(request: Mapping[str, Any] | None, response: Mapping[str, Any] | None,
                  sent: Any = None, mask: KeyMask | None = None) -> Text:
    """You sent (when given), Request to destination and Response from destination; with a
    `mask` (live --mask-keys), write keys in the bodies masked (headers come masked)."""
    text = Text()
    if sent is not None:
        _heading(text, "You sent")
        text.append(sent_text(sent, mask) + "\n\n")
    _heading(text, "Request to destination")
    if request:
        text.append(f"POST {visible(str(request.get('url', '')))}\n", style="bold")
        _headers(text, request.get("headers"))
        _body(text, request, mask)
    else:
        text.append("(no request was made)\n", style="dim")
    text.append("\n")
    _heading(text, "Response from destination")
    if response and response.get("status") is not None:
        ms = response.get("ms")
        timing = f" · {ms:,.1f} ms" if isinstance(ms, (int, float)) else ""
        style = "bold green" if 200 <= int(response["status"]) < 300 else "bold red"
        text.append(f"HTTP {response['status']}{timing}\n", style=style)
        _headers(text, response.get("headers"))
        _body(text, response, mask)
    elif response:
        text.append(f"no answer: {visible(str(response.get('error', '')))}\n", style="bold red")
    else:
        text.append("(none)\n", style="dim")
    text.rstrip()
    return text


def delivery_view(envelope: Mapping[str, Any], log: DeliveryLog | None, mask: KeyMask | None = None) -> Text:
    """The Delivery tab: one status line per destination first (what needs attention on top,
    so it shows in a short pane), then You sent, then each destination's exchange; with a
    `mask` (live --mask-keys), write keys masked in all of it."""
    message = envelope.get("message")
    if envelope.get("status") == "rejected" or not isinstance(message, Mapping):
        return Text("Refused by the collector: never forwarded.", style="italic")
    if log is None or not log.destinations:
        return Text("No forwarding destination has reported. Forward with "
                    "`segdebug live --forward [NAME=]URL` (or `collect --forward`).", style="dim")
    message_id = message.get("messageId")
    matchable = isinstance(message_id, str) and bool(message_id)
    outcomes = log.outcomes(message_id if matchable else None)
    # delivery news names messages by messageId: without one, "pending" would never end
    unheard = UNMATCHED if not matchable else PENDING if not envelope.get("history") else ""
    rows = [(name, outcomes.get(name)) for name in log.destinations]
    rows.sort(key=lambda row: ORDER.index(row[1].status if row[1] and row[1].status in ORDER else PENDING))
    width = max(len(visible(name)) for name, _ in rows)
    text = Text()
    for name, outcome in rows:
        _status_line(text, name, outcome, unheard, width)
    text.append("\n")
    _heading(text, "You sent")
    text.append(sent_text(message, mask) + "\n")
    for name, outcome in rows:
        if outcome is not None and (outcome.request is not None or outcome.response is not None):
            text.append("\n")
            text.append(visible(name), style="bold underline")
            text.append("  ")
            _status(text, outcome)
            text.append("\n")
            text.append_text(exchange_text(outcome.request, outcome.response, mask=mask))
            text.append("\n")
    text.rstrip()
    return text


def _status_line(text: Text, name: str, outcome: Outcome | None, unheard: str, width: int) -> None:
    """`flaky     ✓ delivered  2 attempts · 48.7 ms end to end` and how it failed, if it did."""
    text.append(visible(name).ljust(width), style="bold")
    text.append("  ")
    if outcome is None:
        if unheard == UNMATCHED:
            text.append("? unknown", style="bold")
            text.append("  no messageId: delivery news is per messageId, so this event's outcome "
                        "shows only on the Delivery screen (d)\n", style="dim")
        elif unheard:
            text.append(f"{STATUS_MARKS[PENDING]} pending", style=STATUS_STYLES[PENDING])
            text.append("  in the outbox or on its way; no answer yet\n", style="dim")
        else:
            text.append("? no news", style="bold")
            text.append("  it arrived before this viewer connected (see the Delivery screen: d)\n", style="dim")
        return
    _status(text, outcome)
    if outcome.reason:
        text.append("  " + visible(outcome.reason), style="red")
    if outcome.last_error and outcome.status == DELIVERED:
        failed = f"{outcome.retried} failed attempt{'s' if outcome.retried != 1 else ''}"
        text.append(f"  after {failed}, the last: {visible(outcome.last_error)}", style="yellow")
    text.append("\n")


def _status(text: Text, outcome: Outcome) -> None:
    status = outcome.status
    text.append(f"{STATUS_MARKS.get(status, '?')} {visible(status)}", style=STATUS_STYLES.get(status, "bold"))
    facts = []
    if status == RETRYING:
        facts.append(f"attempt {outcome.retried} failed, retrying")
    elif status != FILTERED:
        facts.append(f"{outcome.attempts} attempt{'s' if outcome.attempts != 1 else ''}")
    if outcome.latency_ms is not None:
        facts.append(f"{outcome.latency_ms:,.1f} ms end to end")
    if status == FILTERED:
        facts.append("its integrations object keeps it from this destination")
    if facts:
        text.append("  " + " · ".join(facts), style="dim")


def _heading(text: Text, title: str) -> None:
    text.append(title + "\n", style="bold cyan")


def _headers(text: Text, headers: Any) -> None:
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            text.append(f"{visible(str(name))}: ", style="dim")
            text.append(visible(str(value)) + "\n")


def _body(text: Text, part: Mapping[str, Any], mask: KeyMask | None) -> None:
    body = part.get("body")
    if body:
        text.append(body_text(str(body), mask) + "\n")
    if part.get("truncated"):
        text.append("… cut at 4 KB\n", style="dim")
