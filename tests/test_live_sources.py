"""`segdebug live` start-up: CLI errors, the embedded collector, and `--file` tailing."""

from __future__ import annotations

import asyncio
import fcntl
import gzip
import os
import pty
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import orjson
import pytest

from debugger.errors import CliError
from debugger.tui.app import create_app
from debugger.tui.launcher import EmbeddedCollector, probe
from debugger.tui.sources import FileSource
from debugger.tui.sources import file_event as file_envelope
from tests.test_live_app import wait_for


def segdebug(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "debugger.cli", *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_bad_filter_is_one_clear_error_with_a_caret() -> None:
    result = segdebug("live", "--filter", "type:")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("segdebug: error: bad query: column 6")
    assert lines[1:] == ["type:", "     ^"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", "/nonexistent/archive.ndjson"], "no such archive file"),
        (["--file", "/tmp"], "--file /tmp is a directory; live follows one archive file"),  # QA: "no such file"
        (["--file", "/dev/null"], "/dev/null: not a regular file"),
        (["--file", "x.ndjson", "--demo"], "cannot be used with --file"),
        ([], "needs a terminal"),
    ],
)
def test_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = segdebug("live", "--socket", str(tmp_path / "none.sock"), *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_embedded_collector_starts_answers_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    assert probe(path) is None
    embedded = EmbeddedCollector(0, path, archive=tmp_path / "a.ndjson")
    try:
        hello = embedded.wait_ready()
        assert hello["kind"] == "hello" and hello["http"].startswith("http://127.0.0.1:")
        assert probe(path) is not None
    finally:
        embedded.stop()
    assert embedded.process.returncode is not None
    assert probe(path) is None


def test_embedded_collector_failure_says_why(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        embedded = EmbeddedCollector(taken.getsockname()[1], tmp_path / "c.sock")
        with pytest.raises(CliError, match="could not start the collector"):
            embedded.wait_ready()
        embedded.stop()


def line(n: int) -> bytes:
    message = {"type": "track", "userId": f"user-{n}", "event": "Button Clicked",
               "messageId": f"m-{n}", "receivedAt": "2024-05-01T12:00:00.000Z", "writeKey": "wk_file"}
    return orjson.dumps(message) + b"\n"


async def test_file_source_shows_the_last_500_then_follows_appends(tmp_path: Path) -> None:
    archive = tmp_path / "archive.ndjson"
    archive.write_bytes(b"".join(line(n) for n in range(800)))
    app = create_app(FileSource(archive), copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        users = lambda: [app.table.cells_at(i)[4] for i in range(app.table.row_count)]  # noqa: E731
        await wait_for(pilot, lambda: app.table.row_count == 500)
        assert users()[0] == "user-300" and users()[-1] == "user-799"
        assert str(archive) in str(app.status_bar.render())
        # A file is no collector's stream: the header says what it reads, never LIVE.
        assert " FILE · FOLLOWING " in str(app.status_bar.render())
        assert "LIVE" not in str(app.status_bar.render())
        with archive.open("ab") as handle:
            handle.write(line(800) + line(801)[:20])  # the second one torn, still being written
        await wait_for(pilot, lambda: users()[-1] == "user-800")
        with archive.open("ab") as handle:
            handle.write(line(801)[20:])
        await wait_for(pilot, lambda: users()[-1] == "user-801")
        assert app.table.row_count == 500 and users()[0] == "user-302"
        await wait_for(pilot, lambda: "received 502  accepted 502  refused 0" in str(app.status_bar.render()))
        assert "/s" not in str(app.status_bar.render())  # a file has no arrival rate to show
        # A search filters what was read; the file is not read again (no duplicates).
        await pilot.press("slash", *"user:user-8*", "enter")
        await wait_for(pilot, lambda: app.table.row_count == 2)
        assert users() == ["user-800", "user-801"]
        await pilot.pause(0.3)
        assert len(app.model.kept) == 500


async def test_file_source_reads_a_gzip_archive(tmp_path: Path) -> None:
    archive = tmp_path / "archive.ndjson.gz"
    archive.write_bytes(gzip.compress(b"".join(line(n) for n in range(600))))
    app = create_app(FileSource(archive), copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.table.row_count == 500)
        assert app.table.cells_at(0)[4] == "user-100" and app.table.cells_at(499)[4] == "user-599"
        # QA: it said LIVE, as if appends would show; a compressed archive is read once.
        await wait_for(pilot, lambda: "received 500" in str(app.status_bar.render()))
        header = str(app.status_bar.render())
        assert " FILE · GZIP, NOT FOLLOWED " in header and "LIVE" not in header, header
        await pilot.press("space")  # a pause still says so, and resumes to what it was
        assert "PAUSED" in str(app.status_bar.render())
        await pilot.press("space")
        assert " FILE · GZIP, NOT FOLLOWED " in str(app.status_bar.render())


def test_segdebug_live_in_a_terminal_starts_and_stops_its_collector(tmp_path: Path) -> None:
    """The real command in a pseudo-terminal: no collector answers, so it starts one, shows
    where to point SDKs, and `q` stops both."""
    sock = tmp_path / "live.sock"
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_DATA_HOME": str(tmp_path / "data")}
    process = subprocess.Popen(
        [sys.executable, "-m", "debugger.cli", "live", "--port", "0", "--socket", str(sock)],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True,
    )
    os.close(secondary)
    screen = b""
    try:
        deadline = time.monotonic() + 30
        while b"SDKs" not in screen or b"127.0.0.1:" not in screen:
            assert time.monotonic() < deadline, screen[-2000:]
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                screen += os.read(primary, 65536)
        assert probe(sock) is not None  # the embedded collector answers
        os.write(primary, b"q")
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    assert probe(sock) is None  # and it was stopped on exit


class ListSource:
    """Lines given by the test, then silence."""

    def prioritise(self, query: str | None) -> None:
        pass

    def __init__(self, lines: list[dict]) -> None:
        self.items = lines

    async def lines(self, query: str | None):  # noqa: ANN201 - an async generator
        for item in self.items:
            yield item
        await asyncio.Event().wait()


async def test_an_odd_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    good = file_envelope(line(1))
    source = ListSource([{"kind": "stats", "received": "many"}, good])
    app = create_app(source, copy_path=tmp_path / "c.json", save_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.table.row_count == 1)
        assert app.is_running


async def test_a_refused_filter_falls_back_to_local_filtering(collector) -> None:
    """If the collector refuses the filter (say, an older parser), the source does not retry
    the same filter forever: it says why, then takes everything and leaves filtering to us."""
    from debugger.tui.sources import Disconnected, SocketSource

    lines = SocketSource(collector.socket).lines("type:")  # the hub refuses this filter
    kinds = []
    async for line in lines:
        kinds.append("disconnected" if isinstance(line, Disconnected) else line["kind"])
        if isinstance(line, Disconnected):
            reason = line.reason
        if kinds.count("hello") == 2 or len(kinds) > 6:
            break
    await lines.aclose()
    assert kinds == ["hello", "disconnected", "hello"]  # refused once, then subscribed unfiltered
    assert "refused the filter" in reason and "filtering locally" in reason
