"""What each message becomes on the wire, and under which write key it is sent.

The common case (drop the stale `sentAt`, keep everything else) edits the archived bytes in
place; only transformations that really change fields parse and serialise, once.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from debugger.archive import parse_line
from debugger.message import format_time, parse_time
from debugger.delivery.layout import Edited, Proven, edit_run
from debugger.delivery.rawjson import edit_lines
from replay.reader import Chunk, SelectedLine

TIME_FIELDS = ("timestamp", "originalTimestamp", "receivedAt", "sentAt")


@dataclass(frozen=True)
class Transformation:
    """The options that change messages (see `segdebug replay --help`)."""

    write_key: str | None = None
    sent_at: str = "fresh"  # fresh | keep | drop
    shift: timedelta | None = None
    new_ids_seed: str | None = None
    sets: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    @property
    def rewrites_fields(self) -> bool:
        """True when messages must be parsed and serialised (no byte-level path)."""
        return self.shift is not None or self.new_ids_seed is not None or bool(self.sets)


class BrokenLine(ValueError):
    """A line that passed the quick shape check but is not a JSON object after all."""


class Transformer:
    """Turns a selected item into (write key, bytes to send)."""

    def __init__(self, spec: Transformation) -> None:
        self.spec = spec
        self.drop_sent_at = spec.sent_at != "keep"
        self.rewrite = spec.rewrites_fields

    def __call__(self, item: SelectedLine) -> tuple[str | None, bytes]:
        if item.message is None and not self.rewrite:
            fast = self._edit_bytes(item.raw)
            if fast is not None:
                return fast
        message = dict(item.message) if item.message is not None else self._parse(item.raw)
        return self._edit_message(message, item.ordinal)

    def chunk(self, chunk: Chunk, proven: Proven | None = None) -> tuple[list[str | None], list[bytes], dict[int, str]]:
        """Keys and bytes for a run of unparsed lines (the hot path: whole runs edited at once,
        see debugger.delivery.layout), and why, by index, the lines that are not JSON after all were left
        out (rare). `proven`, when given, gets the stretches a layout was proven on (--speed
        reads their receivedAt there)."""
        lines = chunk.lines
        override = self.spec.write_key
        keys: list[str | None]
        if self.rewrite:
            keys, items, undecided = [None] * len(lines), list(lines), list(range(len(lines)))
        else:
            keys, items, undecided = edit_run(lines, self.drop_sent_at, override is not None, self._per_line, proven)
            if override is not None:
                keys = [override] * len(lines)  # the parser sets the undecided ones' below
        broken: dict[int, str] = {}
        for index in undecided:
            try:
                keys[index], items[index] = self._edit_message(self._parse(lines[index]), chunk.first + index)
            except BrokenLine as error:
                broken[index] = str(error)
        return keys, items, broken

    def _per_line(self, lines: list[bytes]) -> Edited:
        """Lines that do not share a layout: edited one by one, bytes where possible (any
        field order, see debugger.delivery.rawjson.edit_lines)."""
        return edit_lines(lines, self.drop_sent_at, self.spec.write_key is not None)

    @staticmethod
    def _parse(raw: bytes) -> dict[str, Any]:
        parsed = parse_line(raw)
        if isinstance(parsed, str):
            raise BrokenLine(parsed)
        return parsed

    def _edit_bytes(self, raw: bytes) -> tuple[str | None, bytes] | None:
        keys, items, undecided = self._per_line([raw])
        if undecided:
            return None
        override = self.spec.write_key
        return (keys[0] if override is None else override), items[0]

    def _edit_message(self, message: dict[str, Any], ordinal: int) -> tuple[str | None, bytes]:
        spec = self.spec
        key = spec.write_key
        if key is None:
            found = message.get("writeKey")
            key = found if isinstance(found, str) else None
        else:
            message.pop("writeKey", None)
        if self.drop_sent_at:
            message.pop("sentAt", None)
        if spec.shift is not None:
            shift_times(message, spec.shift)
        if spec.new_ids_seed is not None:
            message["messageId"] = new_message_id(spec.new_ids_seed, ordinal)
        for path, value in spec.sets:
            set_path(message, path, value)
        return key, orjson.dumps(message)


def shift_times(message: dict[str, Any], shift: timedelta) -> None:
    """Move every top-level timestamp by `shift` (fields that are not times are left alone)."""
    for name in TIME_FIELDS:
        moment = parse_time(message.get(name))
        if moment is not None:
            message[name] = format_time(moment + shift)


def new_message_id(seed: str, ordinal: int) -> str:
    """A UUID-shaped id fixed by (run seed, input position): a retried or resumed message keeps it."""
    digest = hashlib.blake2b(f"{seed}:{ordinal}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def set_path(message: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path, creating (or replacing non-object) parents on the way."""
    *parents, last = path.split(".")
    target = message
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[last] = value


def parse_assignment(text: str) -> tuple[str, Any]:
    """`PATH=JSON` from --set; ValueError with the reason when it is not one."""
    path, sep, value = text.partition("=")
    path = path.strip()
    if not sep or not path or any(not part for part in path.split(".")):
        raise ValueError(f"--set {text!r}: expected PATH=JSON, e.g. integrations.All=false")
    try:
        return path, orjson.loads(value)
    except orjson.JSONDecodeError:
        raise ValueError(f"--set {text!r}: the value is not JSON (strings need quotes: "
                         "--set 'context.app.name=\"shop\"')") from None
