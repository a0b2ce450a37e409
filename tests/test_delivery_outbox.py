"""The outbox hands out the collector's writes from memory (the archive writer's tap) exactly
as it would read them from the file: the same lines, the same ends (positions), whatever the
order of writes, reads, other writers, torn lines and a full memory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.archive_writer import ArchiveWriter
from debugger.delivery import outbox as outbox_module
from debugger.delivery.outbox import Block, Outbox

line = st.builds(lambda n, pad: b'{"n":%d,"p":"%s"}' % (n, b"x" * pad), st.integers(0, 999), st.integers(0, 300))
step = st.one_of(
    st.tuples(st.just("write"), st.lists(line, min_size=0, max_size=12)),
    st.tuples(st.just("other"), st.sampled_from([b'{"o":1}\n', b"\n", b'{"torn":', b'1}\n', b"x\n"])),
    st.tuples(st.just("read"), st.integers(1, 3)),
)


def drain(outbox: Outbox, blocks: list[Block], most: int = 10_000) -> None:
    for _ in range(most):
        block = outbox.read()
        if block is None:
            return
        blocks.append(block)


def tapped_outbox(directory: Path) -> tuple[ArchiveWriter, Outbox]:
    """A writer of `directory`/archive.ndjson and an outbox started on it, tapping its writes."""
    archive = directory / "archive.ndjson"
    writer = ArchiveWriter(archive, "never")
    outbox = Outbox(archive, directory / "position")
    outbox.start()
    writer.taps.append(outbox.offer)
    return writer, outbox


def lines_and_ends(blocks: list[Block]) -> list[tuple[bytes, int]]:
    return [pair for block in blocks for pair in zip(block.lines, block.ends, strict=True)]


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=30), st.sampled_from([200, 2_000, 1 << 20]))
def test_memory_and_file_hand_out_the_same_lines_and_ends(tmp_path_factory: pytest.TempPathFactory,
                                                           steps: list[tuple[str, object]], held: int) -> None:
    directory = tmp_path_factory.mktemp("outbox")
    archive = directory / "archive.ndjson"
    writer = ArchiveWriter(archive, "never")
    tapped, plain = Outbox(archive, directory / "tapped"), Outbox(archive, directory / "plain")
    tapped.start()
    plain.start()
    writer.taps.append(tapped.offer)
    mp = pytest.MonkeyPatch()
    mp.setattr(outbox_module, "HELD_BYTES", held)
    from_memory: list[Block] = []
    from_file: list[Block] = []
    try:
        for kind, what in steps:
            if kind == "write":
                assert isinstance(what, list)
                writer.append_lines(what)
            elif kind == "other":
                assert isinstance(what, bytes)
                with open(archive, "ab") as other:
                    other.write(what)
            else:
                assert isinstance(what, int)
                for _ in range(what):
                    block = tapped.read()
                    if block is not None:
                        from_memory.append(block)
        with open(archive, "ab") as other:
            other.write(b"\n")  # seals a torn line: everything is complete now
        drain(tapped, from_memory)
        drain(plain, from_file)
        assert lines_and_ends(from_memory) == lines_and_ends(from_file)
        assert tapped.offset == plain.offset == archive.stat().st_size
        for block in from_memory:
            assert not block.lines or block.end >= block.ends[-1]  # blank lines read past
            if block.objects:  # from memory: only the collector's own lines, whole writes
                assert all(raw.startswith(b'{"n":') for raw in block.lines)
                assert block.end == block.ends[-1]
            joined = b"".join(block.data)
            assert all(raw in joined for raw in block.lines)
    finally:
        mp.undo()
        tapped.close()
        plain.close()
        asyncio.run(writer.close())


def test_writes_that_keep_up_are_handed_out_from_memory(tmp_path: Path) -> None:
    """The usual case in the collector: each read finds the writes since the last one held, and
    hands them out together, known to be objects, with no read of the file."""
    writer, outbox = tapped_outbox(tmp_path)
    try:
        writer.append_lines([b'{"a":1}', b'{"b":22}'])
        writer.append_lines([b'{"c":3}'])
        block = outbox.read()
        assert block is not None and block.objects
        assert (block.lines, block.ends, block.end) == ([b'{"a":1}', b'{"b":22}', b'{"c":3}'], [8, 17, 25], 25)
        assert outbox.read() is None and outbox.from_memory == 3
        outbox.close()
        writer.append_lines([b'{"d":4}'])  # a closed outbox holds nothing more
        assert not outbox._held
    finally:
        asyncio.run(writer.close())


def test_a_restarted_outbox_reads_the_file_then_memory(tmp_path: Path) -> None:
    """After a restart the backlog below the saved position's successor is in the file only:
    it is read from there, up to where memory takes over, and no line twice."""
    archive = tmp_path / "archive.ndjson"
    archive.write_bytes(b'{"old":1}\n')
    writer = ArchiveWriter(archive, "never")
    position = tmp_path / "position"
    position.write_bytes(b'{"version":1,"inode":%d,"offset":0}' % archive.stat().st_ino)
    outbox = Outbox(archive, position)
    outbox.start()
    writer.taps.append(outbox.offer)
    try:
        writer.append_lines([b'{"new":2}'])
        first, second = outbox.read(), outbox.read()
        assert first is not None and second is not None and outbox.read() is None
        assert (first.lines, first.objects, first.end) == ([b'{"old":1}'], False, 10)
        assert (second.lines, second.objects, second.end) == ([b'{"new":2}'], True, 20)
    finally:
        outbox.close()
        asyncio.run(writer.close())


def test_a_read_from_memory_takes_whole_writes_up_to_a_request_s_messages(tmp_path: Path) -> None:
    """The forwarder asks for about one request's lines (fresher bytes, parcels not cut
    short); a write is never split, and one larger write still comes whole."""
    writer, outbox = tapped_outbox(tmp_path)
    try:
        for size in (2, 1, 3, 1):
            writer.append_lines([b'{"n":%d}' % n for n in range(size)])
        sizes = []
        while (block := outbox.read(most_lines=3)) is not None:
            sizes.append(len(block.lines))
        assert sizes == [3, 3, 1]
    finally:
        outbox.close()
        asyncio.run(writer.close())
