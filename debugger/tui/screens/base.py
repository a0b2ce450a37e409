"""What every screen of `segdebug live` is given, and what it gives back to the app.

A screen is built with the app as its `Host` (the shared buffer, the delivery news, where files
go, and the signal that fires when a hello, stats or connection change arrives) and tells the help screen its
own keys. The app's keys (help, quit, switching screens) are added by the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from textual.screen import Screen
from textual.signal import Signal

from debugger.tui.delivery_log import DeliveryLog
from debugger.tui.model import LiveModel

HelpKeys = tuple[tuple[str, str], ...]


class Host(Protocol):
    """The app, as its screens see it (a Protocol: screens do not import the app)."""

    @property
    def model(self) -> LiveModel: ...

    @property
    def deliveries(self) -> DeliveryLog: ...

    @property
    def copy_path(self) -> Path: ...

    @property
    def mask_keys(self) -> bool: ...

    @property
    def save_dir(self) -> Path: ...

    @property
    def stream_changed(self) -> Signal[None]: ...


class ViewScreen(Screen[None]):
    """A top-level view (events, schema, delivery), registered in screens/__init__."""

    def __init__(self, host: Host) -> None:
        super().__init__()
        self.host = host

    def help_keys(self) -> HelpKeys:
        """(keys, meaning) rows for the help screen, this screen's own keys only."""
        return ()
