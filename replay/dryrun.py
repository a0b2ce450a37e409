"""--dry-run: what a replay would send, without sending anything."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import orjson

from debugger.message import call_type, event_time, format_time, mask_key, name_of
from replay.batching import MAX_MESSAGE_BYTES
from replay.pacing import describe
from replay.reader import ArchiveReader, BadInputLine
from replay.transform import BrokenLine, Transformer

SHOWN_NAMES = 20


def dry_run(reader: ArchiveReader, transform: Transformer, *, rate: float | None, speed: float | None,
            max_wait: float | None) -> str:
    """Counts per type and event, the time span, the pace, and the first transformed message."""
    types: Counter[str] = Counter()
    names: Counter[str] = Counter()
    first, last, sample = None, None, None
    too_big = bad = 0
    for item in reader.by_line():
        if isinstance(item, BadInputLine):
            bad += 1
            continue
        message = item.message or {}
        try:
            key, body = transform(item)
        except BrokenLine:
            bad += 1
            continue
        too_big += len(body) > MAX_MESSAGE_BYTES
        types[call_type(message) or "?"] += 1
        if call_type(message) == "track":
            names[name_of(message)] += 1
        moment = event_time(message)
        if moment is not None:
            first = moment if first is None or moment < first else first
            last = moment if last is None or moment > last else last
        if sample is None:
            sample = _masked(body)
    span = (last - first).total_seconds() if first and last else 0.0
    # a message over 32 KB is selected but never sent: the real run puts it in the failed file
    lines = [f"would send {reader.selected - too_big} messages (lines read {reader.lines}: {bad} bad, "
             f"{reader.unselected} not selected, {too_big} over 32 KB for the failed file)"]
    lines.append("types       " + ("  ".join(f"{k}:{v}" for k, v in types.most_common()) or "-"))
    if names:
        lines.append("events      " + "  ".join(f"{k!r}:{v}" for k, v in names.most_common(SHOWN_NAMES)))
    lines.append(f"time span   {_when(first)} .. {_when(last)} ({span:,.1f} s)")
    lines.append(f"pace        {describe(reader.selected, span, rate, speed, max_wait)}")
    lines.append("first       " + (sample or "-"))
    return "\n".join(lines)


def _masked(body: bytes) -> str:
    message = orjson.loads(body)
    if isinstance(message.get("writeKey"), str):
        message["writeKey"] = mask_key(message["writeKey"])
    return orjson.dumps(message, option=orjson.OPT_INDENT_2).decode()


def _when(moment: datetime | None) -> str:
    return format_time(moment) if moment else "-"
