"""The screens of `segdebug live`, registered once here: the app installs each as a mode and
binds its key. Adding a view is one module in this package plus one entry in SCREENS.

The first entry is the screen shown at start. Help is not a view: it is a modal pushed over
the current one (screens/help.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from debugger.tui.screens.base import Host, ViewScreen
from debugger.tui.screens.delivery import DeliveryScreen
from debugger.tui.screens.events import EventsScreen
from debugger.tui.screens.schema import SchemaScreen


@dataclass(frozen=True)
class ScreenEntry:
    """One view: its mode name, the key that shows it from every screen (None: none), and
    how to build it."""

    name: str
    key: str | None
    title: str
    build: Callable[[Host], ViewScreen]


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry("events", "e", "Events", EventsScreen),
    ScreenEntry("schema", "s", "Schema", SchemaScreen),
    ScreenEntry("delivery", "d", "Delivery", DeliveryScreen),
)
