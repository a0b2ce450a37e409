"""Forwarding the collector's writes from memory, edited as they arrive (Forwarder.tap),
gives exactly what reading the same archive from the file gives: the same lines filtered
and broken, the same parcels (bytes as sent, lines as archived, write key) and the same
receivedAt counts, whatever the writes' layouts, sizes and integrations objects."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.archive_writer import ArchiveWriter
from debugger.delivery.destinations import parse_destination
from debugger.delivery.editing import Edited, merge, received_counts
from debugger.delivery.forwarder import Forwarder, ForwardOptions
from debugger.delivery.outbox import Block
from tests.test_delivery_editing import lines as archive_lines


def is_object(raw: bytes) -> bool:
    try:
        return isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError:
        return False


def collector_line(index: int, key: str, received: str, extra: dict[str, Any]) -> bytes:
    """A line as the collector's ingest writes it (its fields last, in its order)."""
    return orjson.dumps({"type": "track", "messageId": f"m{index}", **extra, "sentAt": "2024-05-01T10:00:00.000Z",
                         "writeKey": key, "receivedAt": received, "originalTimestamp": "2024-05-01T09:59:59.000Z"})


write = st.one_of(
    st.builds(lambda count, key, second, extra: [collector_line(n, key, f"2024-05-01T10:00:{second:02d}.000Z", extra)
                                                 for n in range(count)],
              st.integers(1, 60), st.sampled_from(["wk_1", "wk_22"]), st.integers(0, 59),
              st.sampled_from([{}, {"integrations": {}}, {"integrations": {"null": False}},
                               {"properties": {"p": "\\"}}])),
    st.lists(archive_lines().filter(is_object), min_size=1, max_size=8),
)


def outcome(forwarder: Forwarder, blocks: list[Block]) -> list[Any]:
    found: list[Any] = []
    for block in blocks:
        edited = forwarder.edited(block)
        found.append(("filtered", [m.get("messageId") for m in edited.filtered], "broken",
                      [block.lines[i] for i in edited.broken]))
        for first, parcel in forwarder._parcels(edited, block.lines):
            counts = parcel.received  # as Forwarder._ended takes them
            if counts is None:
                counts = received_counts(parcel.sent, parcel.received_at)
            found.append((block.end_of(first), parcel.key, parcel.items, parcel.sent, +counts))
    return found


def flatten(found: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """What was filtered, what was sent (message by message, with its key), and the
    receivedAt counts: independent of where blocks and parcels were cut."""
    filtered = [m for entry in found if entry[0] == "filtered" for m in entry[1]]
    sent = [(entry[1], item, raw) for entry in found if entry[0] != "filtered"
            for item, raw in zip(entry[2], entry[3], strict=True)]
    counts: Counter[str | None] = Counter()
    for entry in found:
        if entry[0] != "filtered":
            counts.update(entry[4])
    return filtered, sent, [counts]


@settings(max_examples=80, deadline=None)
@given(st.lists(write, min_size=1, max_size=12), st.sampled_from([None, "wk_forward"]))
def test_writes_edited_on_arrival_forward_as_the_file_does(tmp_path_factory: pytest.TempPathFactory,
                                                           writes: list[list[bytes]], write_key: str | None) -> None:
    directory = tmp_path_factory.mktemp("memory")
    archive = directory / "archive.ndjson"
    writer = ArchiveWriter(archive, "never")
    destination = parse_destination("null=http://127.0.0.1:9/v1/batch")
    options = ForwardOptions(write_key=write_key, batch_events=50)
    tapped = Forwarder(destination, archive, options)
    plain = Forwarder(parse_destination("null2=http://127.0.0.1:9/v1/batch"), archive, options)
    plain.destination = destination  # the same integrations name, its own position file
    tapped.start()
    plain.start()
    writer.taps.append(tapped.tap)
    try:
        for lines in writes:
            writer.append_lines(lines)
        memory_blocks, file_blocks = [], []
        while (block := tapped.outbox.read()) is not None:
            memory_blocks.append(block)
        while (block := plain.outbox.read()) is not None:
            file_blocks.append(block)
        assert all(all(isinstance(note, Edited) for note in block.notes) for block in memory_blocks)
        assert sum(len(block.lines) for block in memory_blocks) == sum(map(len, writes))
        from_memory, from_file = outcome(tapped, memory_blocks), outcome(plain, file_blocks)
        assert flatten(from_memory) == flatten(from_file)
        wanted: Counter[str | None] = Counter()
        for entry in from_file:
            if entry[0] != "filtered":
                wanted.update(orjson.loads(raw).get("receivedAt") for raw in entry[3])
        assert flatten(from_memory)[2][0] == +wanted  # every parcel's counts as the parser reads them
        for key, item, raw in flatten(from_memory)[1]:  # what is sent is the message, edited
            message = orjson.loads(raw)
            message.pop("sentAt", None)
            if write_key is not None:
                message.pop("writeKey", None)
                assert key == write_key
            assert orjson.loads(item) == message
    finally:
        tapped.outbox.close()
        plain.outbox.close()
        tapped.failed.close()
        plain.failed.close()
        asyncio.run(writer.close())


def test_the_collector_s_writes_are_edited_once_on_arrival(tmp_path: Path) -> None:
    """The usual case: each write is edited as it arrives, the layout learnt from the first
    write is tried first on the next, and the block read later needs no editing."""
    archive = tmp_path / "archive.ndjson"
    writer = ArchiveWriter(archive, "never")
    forwarder = Forwarder(parse_destination("null=http://127.0.0.1:9/v1/batch"), archive, ForwardOptions())
    forwarder.start()
    writer.taps.append(forwarder.tap)
    try:
        for call in range(3):
            writer.append_lines([collector_line(n, "wk", f"2024-05-01T10:00:0{call}.000Z", {}) for n in range(30)])
        block = forwarder.outbox.read()
        assert block is not None and forwarder.outbox.read() is None
        notes = [note for note in block.notes if isinstance(note, Edited)]
        assert len(notes) == 3 and notes[0].layout is notes[1].layout is notes[2].layout is not None
        edited = forwarder.edited(block)
        assert edited.received == [(0, 90, notes[0].received[0][2])]
        parcels = [parcel for _, parcel in forwarder._parcels(edited, block.lines)]
        assert len(parcels) == 1 and parcels[0].received == Counter(
            {f"2024-05-01T10:00:0{call}.000Z": 30 for call in range(3)})
        assert all(b"sentAt" not in item for item in parcels[0].items)
    finally:
        forwarder.outbox.close()
        forwarder.failed.close()
        asyncio.run(writer.close())


def test_merge_puts_each_write_s_findings_at_its_lines() -> None:
    """Indexes move by where each write's lines start; proven stretches that touch with
    receivedAt at the same place join; counted ones stay apart (they are per write)."""
    at, other = slice(-30, -6), slice(-40, -16)
    one = Edited(["k", "k"], [b"a", None], filtered=[{"messageId": "f"}], broken=[1],
                 received=[(0, 2, at)], counted=[(0, 2, Counter({"r": 2}))])
    two = Edited(["k", "k", "k"], [b"b", b"c", b"d"], broken=[0], received=[(0, 3, at)],
                 counted=[(0, 3, Counter({"s": 3}))])
    three = Edited(["k"], [b"e"], received=[(0, 1, other)])
    merged = merge([one, two, three], [0, 2, 5])
    assert merged.keys == ["k"] * 6 and merged.items == [b"a", None, b"b", b"c", b"d", b"e"]
    assert merged.broken == [1, 2] and [m["messageId"] for m in merged.filtered] == ["f"]
    assert merged.received == [(0, 5, at), (5, 6, other)]
    assert merged.counted == [(0, 2, Counter({"r": 2})), (2, 5, Counter({"s": 3}))]
    assert merged.counts_between([b""] * 6, 1, 4) == Counter({"r": 1, "s": 2})
