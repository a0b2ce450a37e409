"""The top of the screen: where to point SDKs, where the archive is, LIVE/PAUSED and counters."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from debugger.tui.model import LiveModel, counters_text, mode_text, visible


class StatusBar(Static):
    """Two lines rebuilt from the model; plain Text, so nothing in them is read as markup."""

    def show(self, model: LiveModel) -> None:
        where = Text("segdebug live  ", style="bold")
        if model.http:
            where.append("SDKs → ")
            where.append(visible(model.http), style="bold cyan")
            where.append("  ")
        if model.archive:
            where.append("archive: ")
            where.append(visible(model.archive), style="dim")
        state = Text(f" {mode_text(model)} ", style="bold black on " + ("yellow" if model.paused else "green"))
        if model.connection != "connected":
            state.append(f" {model.connection}", style="bold red")
        state.append("  " + counters_text(model.stats))
        self.update(Text("\n").join([where, state]))
