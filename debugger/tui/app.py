"""The live debugger app: installs the screens, owns the line source and the shared buffer.

`create_app` is the one factory that `run_live`, the tests, the snapshots and the bench share;
what differs is the LineSource the lines come from. Lines are decoded by debugger.protocol and
handled through one kind -> handler map (`_on_line`); screens learn of a hello, stats or
connection change through the `stream_changed` signal and read the buffer themselves.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.signal import Signal

from debugger import protocol
from debugger.paths import COPY_NAME, data_dir
from debugger.text import visible
from debugger.tui.delivery_log import DeliveryLog
from debugger.tui.model import LiveModel
from debugger.tui.screens import SCREENS
from debugger.tui.screens.base import HelpKeys, ViewScreen
from debugger.tui.screens.events import EventsScreen
from debugger.tui.screens.help import HelpScreen
from debugger.tui.sources import Disconnected, LineSource, Reading, Received
from debugger.tui.widgets.detail_tabs import DetailTabs
from debugger.tui.widgets.event_table import EventTable
from debugger.tui.widgets.search_bar import SearchBar
from debugger.tui.widgets.status_bar import StatusBar

DEMO_RATE = 5.0
APP_HELP: HelpKeys = (
    (" ".join(entry.key for entry in SCREENS if entry.key),
     " / ".join(entry.title for entry in SCREENS if entry.key) + " screen"),
    ("?", "this help"),
    ("q, ctrl+c", "quit"),
)


class LiveApp(App[None]):
    """The screens of SCREENS (the first shown at start) over one line source."""

    CSS_PATH = "live.tcss"
    TITLE = "segdebug live"
    ENABLE_COMMAND_PALETTE = False
    MODES = {entry.name: entry.name for entry in SCREENS}  # each an installed screen
    DEFAULT_MODE = SCREENS[0].name
    BINDINGS = [
        *(Binding(entry.key, f"switch_mode('{entry.name}')", entry.title) for entry in SCREENS if entry.key),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),  # as any live tail
    ]

    def __init__(
        self,
        source: LineSource,
        *,
        filter_text: str = "",
        mask_keys: bool = False,
        demo: bool = False,
        copy_path: Path | None = None,
        save_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.model = LiveModel(hard_filter=filter_text.strip())
        self.deliveries = DeliveryLog()  # what forwarding destinations said of each event
        self.mask_keys = mask_keys
        self.demo = demo
        self.copy_path = copy_path or data_dir() / COPY_NAME
        self.save_dir = save_dir or Path.cwd()
        self.stream_changed: Signal[None] = Signal(self, "stream-changed")
        self._demo_stop = asyncio.Event()
        self._demo_started = False
        self._on_line: dict[str, protocol.Handler] = {
            protocol.EVENT: self.model.arrive,
            protocol.STATS: self._stats,
            protocol.HELLO: self._hello,
            protocol.DELIVERY: self.deliveries.take,  # the events screen looks at it on its tick
        }
        for entry in SCREENS:
            self.install_screen(entry.build(self), entry.name)

    def on_mount(self) -> None:
        self._consume(self.model.hard_filter)

    def on_unmount(self) -> None:
        self._demo_stop.set()

    # --- the events screen's parts, for tests and the bench --------------------------------

    @property
    def events(self) -> EventsScreen:
        return self.get_screen("events", EventsScreen)

    @property
    def table(self) -> EventTable:
        return self.events.table

    @property
    def detail(self) -> DetailTabs:
        return self.events.detail

    @property
    def status_bar(self) -> StatusBar:
        return self.events.status_bar

    @property
    def search_bar(self) -> SearchBar:
        return self.events.search_bar

    # --- lines in ------------------------------------------------------------------------

    @work(exclusive=True, group="source")
    async def _consume(self, hard_filter: str) -> None:
        async for line in self.source.lines(hard_filter or None):
            try:
                self.take(line)
            except (TypeError, ValueError, AttributeError, KeyError) as error:  # one odd line, not a crash
                self.notify(f"Skipped a line the viewer could not read: {visible(str(error))}",
                            severity="warning", markup=False)

    def take(self, line: Received) -> None:
        """One line (or a lost connection, or what a file source reads): events are buffered,
        the rest is news for the screens' headers. Kinds this viewer does not know are ignored."""
        if isinstance(line, Disconnected):
            self.model.lost(line.reason)
            self.stream_changed.publish(None)
        elif isinstance(line, Reading):
            self.model.reading = line.what
            self.stream_changed.publish(None)
        else:
            protocol.dispatch(line, self._on_line)

    def _hello(self, line: protocol.Hello) -> None:
        self.model.take_hello(line)
        if self.demo and not self._demo_started and self.model.http:
            self._demo_started = True
            self._run_demo(self.model.http)
        self.stream_changed.publish(None)

    def _stats(self, line: protocol.Stats) -> None:
        self.model.take_stats(line)
        self.stream_changed.publish(None)

    @on(SearchBar.Applied)
    def _prioritise(self, event: SearchBar.Applied) -> None:
        """A new search (the screen has filtered its list already): the collector is told to
        never sample its matches away, and keeps sending the rest as before."""
        self.source.prioritise(event.query.text.strip() or None)

    @work(group="demo", exit_on_error=False)
    async def _run_demo(self, url: str) -> None:
        from debugger.demo import send_demo

        try:
            await send_demo(url, DEMO_RATE, None, self._demo_stop)
        except Exception as error:  # demo traffic is a nicety: say why it stopped, keep going
            self.notify(f"Demo traffic stopped: {visible(str(error))}", severity="warning", markup=False)

    # --- keys of every screen ------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The key of the screen already shown is left out of its footer (and does nothing)."""
        if action == "switch_mode" and parameters and parameters[0] == self.current_mode:
            return False
        return True

    def action_help(self) -> None:
        screen = self.screen
        own = screen.help_keys() if isinstance(screen, ViewScreen) else ()
        self.push_screen(HelpScreen(own + APP_HELP))


def create_app(source: LineSource, **options: Any) -> LiveApp:
    """The app, wired to a source; `options` are LiveApp's (filter_text, mask_keys, demo,
    copy_path, save_dir).
    run_live, the tests, the snapshots and the bench all start here."""
    return LiveApp(source, **options)
