"""The top of the screen: where to point SDKs, where the archive is, LIVE/PAUSED (or what file
is read, or that the collector is gone and the viewer is reconnecting, and why) and counters."""

from __future__ import annotations

import re
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from debugger.text import visible
from debugger.tui.model import CONNECTED, CONNECTING, RECONNECTING, Counts, LiveModel
from debugger.tui.sources import NOT_FOLLOWED


def counters_text(stats: Counts) -> str:
    """Exact counts, the sampling this viewer gets, the rate; most important first, since a
    narrow terminal cuts the end of the line."""
    parts = [f"received {stats.received:,}  accepted {stats.accepted:,}  refused {stats.rejected:,}"]
    if stats.sampled > 1:
        parts.append(f"sampled: 1 in {stats.sampled:,}")
    if stats.refused_dropped:  # over this viewer's budget for refused calls: a total, and said so
        parts.append(f"{stats.refused_dropped:,} refused not shown since connecting")
    if stats.rate is not None:
        parts.append(f"{stats.rate:,.0f}/s" if stats.rate >= 10 else f"{stats.rate:.1f}/s")
    if stats.dropped:
        parts.append(f"dropped {stats.dropped:,}")
    return " · ".join(parts)


def mode_text(model: LiveModel) -> str:
    """"LIVE" (a collector's stream), what a file source reads ("FILE · FOLLOWING", "FILE ·
    GZIP, NOT FOLLOWED"), or "PAUSED +1,234 new" while paused."""
    if model.paused:
        return f"PAUSED +{model.new_while_paused:,} new"
    return model.reading or "LIVE"


def mode_style(model: LiveModel) -> str:
    """Yellow while paused, green while events can arrive, blue for a file read once."""
    if model.paused:
        return "bold black on yellow"
    return "bold white on blue" if model.reading == NOT_FOLLOWED else "bold black on green"


CONNECTION_LABELS = {CONNECTING: "CONNECTING…", RECONNECTING: "RECONNECTING…"}
NOT_CONNECTED_STYLE = "bold white on red"
# An absolute path in a reason ("no collector is listening on /run/user/1000/segdebug/x.sock").
_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s/'\"(),]+/)+([^\s/'\"(),]+)")


def state_labels(model: LiveModel) -> list[tuple[str, str]]:
    """The header's labels (text, style), the truth first. Without a collector (before the
    first hello, or since it went away: the source keeps trying) it says CONNECTING… or
    RECONNECTING…, never LIVE, with PAUSED after it while paused; otherwise LIVE, what a file
    source reads, or PAUSED."""
    labels = []
    if model.connection != CONNECTED:
        labels.append((CONNECTION_LABELS.get(model.connection, model.connection.upper()), NOT_CONNECTED_STYLE))
        if not model.paused:
            return labels
    return [*labels, (mode_text(model), mode_style(model))]


def fitted_reason(reason: str, room: int) -> str:
    """Why there is no collector, within `room` cells if it can be: the state before it is
    never cut, so a reason too long has each path shortened to its last part
    (`…/collector-8088.sock`: which collector, the directory being the usual one); whatever
    still does not fit is cut at the end of the line."""
    return reason if cell_len(reason) <= room else _PATH.sub(r"…/\1", reason)


def shorten_left(text: str, width: int) -> str:
    """Keep the end of a path (the file name matters most) within `width` characters."""
    if len(text) <= width:
        return text
    return "…" + text[len(text) - max(0, width - 1):] if width > 1 else "…"


class StatusBar(Static):
    """Two lines rebuilt from the model; plain Text, so nothing in them is read as markup.
    Each line is cut, never wrapped, so the counters always stay on screen."""

    def __init__(self, model: LiveModel, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self._shown: tuple[Any, ...] = ()

    def refresh_if_changed(self) -> None:
        """Redraw only when something the header shows has changed (called about 5 times a
        second and on every hello/stats line)."""
        model = self.model
        shown = (model.paused, model.new_while_paused, model.connection, model.lost_reason, model.http,
                 model.archive, model.stats, model.hard_filter, model.reading)
        if shown != self._shown:
            self._shown = shown
            self.show()

    def show(self) -> None:
        model = self.model
        width = self.content_size.width or 80
        where = Text("segdebug live", style="bold")
        if model.http:
            where.append("  SDKs → ")
            where.append(visible(model.http), style="bold cyan")
        if model.archive:
            room = width - len(where.plain) - len("  archive: ")
            where.append("  archive: ")
            where.append(shorten_left(visible(model.archive), max(room, 12)), style="dim")
        state = Text()
        for index, (label, style) in enumerate(state_labels(model)):
            state.append(" " if index else "").append(f" {label} ", style=style)
        if model.connection != CONNECTED and model.lost_reason:
            reason = visible(model.lost_reason)
            state.append("  " + fitted_reason(reason, width - cell_len(state.plain) - 2), style="bold red")
        state.append("  " + counters_text(model.stats))
        if model.hard_filter:
            state.append("  filter: ", style="dim")
            state.append(visible(model.hard_filter), style="bold")
        for line in (where, state):
            line.no_wrap = True
            line.overflow = "ellipsis"
            line.truncate(width, overflow="ellipsis")
        # A fixed two-line box: no layout pass needed, so a stats line repaints only itself.
        self.update(Text("\n", no_wrap=True).join([where, state]), layout=False)

    def on_resize(self) -> None:
        self.show()
