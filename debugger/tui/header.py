"""The top of the screen: where to point SDKs, where the archive is, LIVE/PAUSED and counters."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from debugger.tui.model import LiveModel, counters_text, mode_text, visible


def shorten_left(text: str, width: int) -> str:
    """Keep the end of a path (the file name matters most) within `width` characters."""
    if len(text) <= width:
        return text
    return "…" + text[len(text) - max(0, width - 1):] if width > 1 else "…"


class StatusBar(Static):
    """Two lines rebuilt from the model; plain Text, so nothing in them is read as markup.
    Each line is cut, never wrapped, so the counters always stay on screen."""

    def show(self, model: LiveModel) -> None:
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
        state.append(f" {mode_text(model)} ", style="bold black on " + ("yellow" if model.paused else "green"))
        if model.connection != "connected":
            state.append(f" {model.connection}", style="bold red")
        state.append("  " + counters_text(model.stats))
        for line in (where, state):
            line.no_wrap = True
            line.overflow = "ellipsis"
            line.truncate(width, overflow="ellipsis")
        # A fixed two-line box: no layout pass needed, so a stats line repaints only itself.
        self.update(Text("\n", no_wrap=True).join([where, state]), layout=False)

    def on_resize(self) -> None:
        app_model = getattr(self.app, "model", None)
        if isinstance(app_model, LiveModel):
            self.show(app_model)
