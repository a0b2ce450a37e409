"""`segdebug tail`: print a running collector's events, one readable line each (or NDJSON).

Readable lines carry untrusted payload text, so every control character is escaped before it
reaches the terminal. On a terminal each line fits its width (measured again for every line,
so a resized window is followed): a line that wraps breaks the one-event-one-line reading and
the columns of the lines around it. Hello and stats lines are not printed to stdout: stdout is only events,
whatever the format, so it pipes cleanly; notes (what is tailed, drops) go to stderr.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import unicodedata
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

import typer

from debugger import protocol
from debugger.delivery.exchange import hide_keys
from debugger.errors import CliError
from debugger.hub import HISTORY
from debugger.message import call_type, mask_key, name_of, parse_time, shown_key, user_of
from debugger.paths import default_socket
from debugger.query import parse_option
from debugger.text import printable
from debugger.socket_client import (
    CollectorGone,
    CollectorUnavailable,
    SubscriptionRefused,
    subscribe,
)

TYPE_WIDTH = 8
NAME_WIDTH = 30
USER_WIDTH = 22
KEY_WIDTH = 20  # what the key column asks for when the line is short of room (keys vary)
# A narrow terminal takes cells from these columns, least useful first, down to these widths:
# the source's key (a tail mostly sees one source, and a key's start tells keys apart), then
# the user, then the name; the type, time and status are never cut. Below the sum the line
# itself is cut at the end.
KEY_MIN = 8
USER_MIN = 10
NAME_MIN = 12
# time, status, type and the separators after each: what comes before the name
_FIXED = 12 + 2 + 8 + 2 + TYPE_WIDTH + 2


def run_tail(
    socket: Path | None, port: int, query: str | None, as_json: bool, count: int | None,
    last: int = 0, mask_keys: bool = False,
) -> None:
    """Tail the collector on `socket` (default: the one for `port`) until Ctrl-C or `count`;
    with `last`, the newest `last` events it has come first."""
    path = socket or default_socket(port)
    if query:
        parse_option(query)  # a bad filter fails before connecting
    if not 0 <= last <= HISTORY:
        raise CliError(f"--last must be between 0 and {HISTORY}")
    layout = Layout(mask_keys=mask_keys)
    measure = _terminal_width if sys.stdout.isatty() else None
    try:
        asyncio.run(_tail(path, query, as_json, count, sys.stdout.buffer, last, layout, measure))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except BrokenPipeError:  # `segdebug tail | head`: the reader has had enough
        _silence_stdout()
    except CollectorUnavailable as error:
        raise CliError(
            f"{error}: start one with `segdebug collect` (or `segdebug live`), "
            "or point --socket/--port at a running one",
            code=1,
        ) from None
    except SubscriptionRefused as error:
        raise CliError(f"the collector refused the subscription: {error}") from None
    except CollectorGone as error:
        raise CliError(
            f"the collector on {path} went away ({error}); start it again with `segdebug collect`",
            code=1,
        ) from None


def _terminal_width() -> int:
    return shutil.get_terminal_size((0, 0)).columns


async def _tail(
    path: Path, query: str | None, as_json: bool, count: int | None, out: BinaryIO,
    last: int = 0, layout: Layout | None = None, measure: Callable[[], int] | None = None,
) -> None:
    viewer = _Tail(as_json, count, out, layout or Layout(), measure)
    handlers: dict[str, protocol.Handler] = {
        protocol.EVENT: viewer.event, protocol.HELLO: viewer.hello, protocol.STATS: viewer.stats,
    }
    async for item in subscribe(path, query, history=last):
        protocol.dispatch(item, handlers)
        if viewer.done:
            return


class _Tail:
    """What `tail` does with each kind of line: events to stdout, notes to stderr."""

    def __init__(
        self, as_json: bool, count: int | None, out: BinaryIO, layout: Layout,
        measure: Callable[[], int] | None = None,
    ) -> None:
        self.as_json, self.count, self.out, self.layout = as_json, count, out, layout
        self.measure = measure  # the terminal's width now (None: not a terminal, no limit)
        self.shown = 0
        self.dropped = 0

    @property
    def done(self) -> bool:
        return self.count is not None and self.shown >= self.count

    def event(self, item: protocol.EventEnvelope) -> None:
        if self.as_json:
            text = protocol.encode(masked_envelope(item) if self.layout.mask_keys else item)
        else:
            if self.measure is not None:
                self.layout.width = self.measure()
            text = format_event(item, self.layout).encode() + b"\n"
        self.out.write(text)
        self.out.flush()
        self.shown += 1

    def hello(self, item: protocol.Hello) -> None:
        _note(f"tailing the collector at {item.get('http')}, archive {item.get('archive')}")

    def stats(self, item: protocol.Stats) -> None:
        if item.get("dropped", 0) > self.dropped:
            _note(f"{item['dropped'] - self.dropped} events dropped: this terminal could not keep up")
            self.dropped = item["dropped"]


class Layout:
    """How lines are laid out: keys in full or masked, and the terminal width (0: no limit)."""

    __slots__ = ("mask_keys", "width")

    def __init__(self, mask_keys: bool = False, width: int = 0) -> None:
        self.mask_keys = mask_keys
        self.width = width


def masked_envelope(envelope: protocol.EventEnvelope) -> protocol.EventEnvelope:
    """`envelope` with its write keys masked wherever `--json` would print them: the
    envelope's, the message's, and inside a refused call's raw text (QA: `tail --json
    --mask-keys` printed them in full)."""
    keys = {key for key in (envelope.get("writeKey"), _message_key(envelope)) if isinstance(key, str) and key}
    masked: dict[str, Any] = dict(envelope)
    if isinstance(masked.get("writeKey"), str):
        masked["writeKey"] = mask_key(masked["writeKey"])
    message = masked.get("message")
    if isinstance(message, Mapping) and isinstance(message.get("writeKey"), str):
        masked["message"] = {**message, "writeKey": mask_key(message["writeKey"])}
    raw = masked.get("raw")
    if isinstance(raw, str):
        masked["raw"] = hide_keys(raw, keys)
    return masked  # type: ignore[return-value]  # the same fields, values masked


def _message_key(envelope: Mapping[str, Any]) -> Any:
    message = envelope.get("message")
    return message.get("writeKey") if isinstance(message, Mapping) else None


def format_event(envelope: Mapping[str, Any], layout: Layout | None = None) -> str:
    """One line: time, status, type, name, user, source, then problems if any. Columns are
    measured in terminal cells (CJK and emoji take two). When the width is known the line fits
    it: columns give up cells as `widths` says, and the problems get what is left."""
    layout = layout or Layout()
    message = envelope.get("message")
    message = message if isinstance(message, Mapping) else {}
    # a refused call without a message shows its endpoint ("/v1/batch"), on purpose: what was
    # called is the one thing known about it
    kind = printable(call_type(message) or str(envelope.get("endpoint") or "-"))
    status = "REFUSED " if envelope.get("status") == protocol.REFUSED else "accepted"  # one width
    name_width, user_width, key_width = widths(layout.width)
    # a type wider than its column (an endpoint) takes cells from the name (then "-" mostly),
    # so the columns after it stay aligned with the other lines
    type_width = max(TYPE_WIDTH, min(cells(kind), TYPE_WIDTH + name_width - 1))
    columns = [
        _clock(envelope.get("receivedAt")),
        status,
        _fit(kind, type_width),
        _fit(printable(name_of(message)) or "-", name_width - (type_width - TYPE_WIDTH)),
        _fit(printable(user_of(message)) or "-", user_width),
        _cut(printable(shown_key(envelope.get("writeKey"), layout.mask_keys)), key_width),
    ]
    line = "  ".join(columns)
    if layout.width and cells(line) > layout.width:  # narrower than the narrowest columns
        return _cut(line, layout.width)
    summary = _problems(envelope.get("problems"))
    if not summary:
        return line
    if layout.width:
        room = layout.width - cells(line) - 2
        if room < 2:
            return line
        summary = _cut(summary, room)
    return f"{line}  {summary}"


def widths(width: int) -> tuple[int, int, int]:
    """Cells of the name, user and key columns on a line of `width` cells (0: no limit). They
    depend on the width alone, so every line of a terminal has its columns in the same places:
    the columns that do not fit give up cells, least useful first (see KEY_MIN)."""
    if not width:
        return NAME_WIDTH, USER_WIDTH, 1 << 30
    over = _FIXED + NAME_WIDTH + 2 + USER_WIDTH + 2 + KEY_WIDTH - width
    key = KEY_WIDTH - max(0, min(over, KEY_WIDTH - KEY_MIN))
    over -= KEY_WIDTH - key
    user = USER_WIDTH - max(0, min(over, USER_WIDTH - USER_MIN))
    over -= USER_WIDTH - user
    name = NAME_WIDTH - max(0, min(over, NAME_WIDTH - NAME_MIN))
    if over <= 0:  # room to spare: the key may use it (it is not padded)
        key = width - (_FIXED + NAME_WIDTH + 2 + USER_WIDTH + 2)
    return name, user, key


def cells(text: str) -> int:
    """Terminal cells `text` takes: wide (CJK, emoji) 2, combining marks 0, others 1."""
    if text.isascii():
        return len(text)
    return sum(_cell(ch) for ch in text)


def _cell(ch: str) -> int:
    if unicodedata.combining(ch) or ch in "\u200b\u200d\ufe0f":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, ending with "…" when cut."""
    if cells(text) <= width:
        return text
    used, out = 0, []
    for ch in text:
        size = _cell(ch)
        if used + size > width - 1:
            break
        out.append(ch)
        used += size
    return "".join(out) + "…"


def _fit(text: str, width: int) -> str:
    """`text` padded (or cut, with "…") to exactly `width` cells."""
    text = _cut(text, width)
    return text + " " * max(0, width - cells(text))


def _clock(received_at: Any) -> str:
    """Local wall-clock time with milliseconds, the way a person compares it to their app."""
    moment = parse_time(received_at)
    if moment is None:
        return f"{'-':<12}"
    local = moment.astimezone()
    return local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def _problems(problems: Any) -> str:
    """`code: message` of the first problem, and how many more there are."""
    if not isinstance(problems, list) or not problems:
        return ""
    first = problems[0] if isinstance(problems[0], Mapping) else {}
    text = f"{first.get('code', '?')}: {first.get('message', '')}".rstrip(": ")
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return printable(text) + more


def _note(text: str) -> None:
    print(f"segdebug: {text}", file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
