"""How the Delivery screen reads a collector's delivery summary (pure, clock passed in).

The summary is `GET /segdebug/delivery`'s answer, each destination as
debugger.delivery.summary.DestinationSummary.as_dict made it; nothing is recomputed here, only
laid out: the key metrics per destination, the error table's rows, and per-minute sparklines
(delivered vs not delivered; p95 latency). Every string from the summary is made visible
(debugger.text) and assembled into Text from plain strings, never read as markup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from rich.text import Text

from debugger.text import visible
from debugger.tui.words import counted

Destination = Mapping[str, Any]
METRIC_COLUMNS = ("Destination", "Delivered", "Not delivered", "Filtered", "Retries", "In flight", "P95")
ERROR_COLUMNS = ("Destination", "Status", "Reason", "Count", "Last seen")
BARS = "▁▂▃▄▅▆▇█"
EMPTY = "·"  # a minute with nothing of that series
NAME_WIDTH = 12
MINUTES_KEPT = 60  # the summary keeps an hour of minutes


def metric_cells(d: Destination) -> tuple[Text, ...]:
    """One destination's key metrics; what went wrong in red, a 429 pause said in the name."""
    name = Text(visible(str(d.get("name", ""))), style="bold")
    if d.get("paused"):
        name.append(" ⏸", style="yellow")
    not_delivered = int(d.get("not_delivered") or 0)
    return (
        name,
        _number(d.get("delivered"), "green"),
        _number(not_delivered, "bold red" if not_delivered else ""),
        _number(d.get("filtered"), ""),
        _number(d.get("retries"), "yellow" if d.get("retries") else ""),
        _number(d.get("in_flight"), ""),
        Text(ms_text(d.get("p95_ms")), justify="right"),
    )


def ms_text(value: Any) -> str:
    return f"{value:,.0f} ms" if isinstance(value, (int, float)) else "–"


def error_rows(destinations: Sequence[Destination]) -> list[tuple[Destination, Mapping[str, Any]]]:
    """(destination, row) for every row of every error table, most frequent first."""
    rows = [(d, row) for d in destinations for row in d.get("errors") or () if isinstance(row, Mapping)]
    rows.sort(key=lambda pair: -int(pair[1].get("count") or 0))
    return rows


def error_cells(d: Destination, row: Mapping[str, Any], now: float, reason_width: int = 0) -> tuple[Text, ...]:
    """One error row; the reason cut to `reason_width` cells (0: whole) so Count and Last
    seen stay on screen. Count is messages in failed attempts; "(N failed)" those that ended
    not delivered (in the destination's failed file)."""
    status = row.get("status")
    final = int(row.get("not_delivered") or 0)
    count = Text(f"{int(row.get('count') or 0):,}", justify="right")
    if final:
        count.append(f" ({final:,} failed)", style="red")
    reason = Text(visible(str(row.get("reason", ""))), no_wrap=True, overflow="ellipsis")
    if reason_width:
        reason.truncate(reason_width, overflow="ellipsis")
    return (
        Text(visible(str(d.get("name", "")))),
        Text(str(status) if status is not None else "–", style="bold red" if final else "yellow"),
        reason,
        count,
        Text(ago(row.get("last_seen"), now), style="dim"),
    )


def reason_width(width: int) -> int:
    """What the Reason column may take of a line of `width` cells."""
    others = NAME_WIDTH + len("Status") + len("12,345 (123 failed)") + len("59 min ago") + 2 * len(ERROR_COLUMNS)
    return max(16, width - others - 2)


def ago(moment: Any, now: float) -> str:
    """`12 s ago`, `4 min ago`, `2 h ago` from an ISO time, against the collector's clock."""
    seconds = _epoch(moment)
    if seconds is None:
        return ""
    passed = max(0.0, now - seconds)
    if passed < 60:
        return f"{passed:.0f} s ago"
    if passed < 3600:
        return f"{passed // 60:.0f} min ago"
    return f"{passed // 3600:.0f} h ago"


def series(d: Destination, now: float, count: int) -> tuple[list[int], list[int], list[float | None]]:
    """Per minute, the last `count` minutes up to now's: delivered, not delivered, p95 (ms)."""
    current = int(now // 60)
    first = current - count + 1
    delivered, lost = [0] * count, [0] * count
    p95: list[float | None] = [None] * count
    for minute in d.get("minutes") or ():
        at = _epoch(minute.get("minute"))
        index = int(at // 60) - first if at is not None else -1
        if 0 <= index < count:
            delivered[index] = int(minute.get("delivered") or 0)
            lost[index] = int(minute.get("not_delivered") or 0)
            value = minute.get("p95_ms")
            p95[index] = float(value) if isinstance(value, (int, float)) else None
    return delivered, lost, p95


def spark(values: Sequence[float | None], top: float) -> str:
    """One cell per value: its height against `top`; EMPTY for zero or nothing."""
    cells = []
    for value in values:
        if not value or top <= 0:
            cells.append(EMPTY)
        else:
            cells.append(BARS[min(len(BARS) - 1, max(0, round(value / top * (len(BARS) - 1))))])
    return "".join(cells)


def trend_minutes(width: int) -> int:
    """How many minutes fit each of the three sparklines on a line of `width` cells."""
    labels = NAME_WIDTH + len("  ✓ ") + len("  ✗ ") + len("  p95 ") + 1
    return max(5, min(MINUTES_KEPT, (width - labels) // 3))


def trend_line(d: Destination, now: float, count: int) -> Text:
    """`name  ✓ ▁▃█  ✗ ··▂  p95 ▂▅▃`: delivered and not delivered on one scale (messages a
    minute, so the two compare), p95 on its own."""
    delivered, lost, p95 = series(d, now, count)
    top = max([*delivered, *lost, 1])
    top_ms = max([value for value in p95 if value is not None] or [0.0])
    name = visible(str(d.get("name", "")))
    line = Text(name[:NAME_WIDTH].ljust(NAME_WIDTH), style="bold", no_wrap=True)
    line.append("  ✓ ", style="green").append(spark(delivered, top), style="green")
    line.append("  ✗ ", style="red").append(spark(lost, top), style="red")
    line.append("  p95 ", style="cyan").append(spark(p95, top_ms), style="cyan")
    return line


def trend_title(count: int, now: float) -> Text:
    """The trends' label and legend: `Per minute, 17 min up to 21:22 · ✓ delivered ...` (no
    colon after the time, where it read as part of it)."""
    moment = datetime.fromtimestamp(now).strftime("%H:%M")
    return Text(f"Per minute, {count} min up to {moment} · ✓ delivered  ✗ not delivered  p95 latency",
                style="bold", no_wrap=True, overflow="ellipsis")


def headline(destinations: Sequence[Destination], now: float) -> Text:
    """`Delivery · 3 destinations · 1,234 delivered · 3 not delivered · 12:00:05` (as of)."""
    delivered = sum(int(d.get("delivered") or 0) for d in destinations)
    lost = sum(int(d.get("not_delivered") or 0) for d in destinations)
    line = Text("Delivery", style="bold")
    line.append(f" · {counted(len(destinations), 'destination')} · {delivered:,} delivered · ")
    line.append(f"{lost:,} not delivered", style="bold red" if lost else "")
    line.append(f" · {datetime.fromtimestamp(now).strftime('%H:%M:%S')}", style="dim")
    return line


def errors_title(kinds: int) -> Text:
    """The line over the error table: how many kinds of error (rows) it lists."""
    if not kinds:
        return Text("Errors · none", style="bold")
    return Text(f"Errors · {counted(kinds, 'kind')} (enter: an example)", style="bold")


def _number(value: Any, style: str) -> Text:
    return Text(f"{int(value or 0):,}", style=style, justify="right")


def _epoch(moment: Any) -> float | None:
    if not isinstance(moment, str):
        return None
    try:
        return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
