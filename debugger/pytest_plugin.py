"""The pytest plugin (entry point `pytest11`, active once segdebug is installed): a `segdebug`
fixture for testing analytics instrumentation against a real collector.

Why a real collector: the code under test sends with its real SDK to a real Segment-compatible
endpoint, so what is checked is what Segment would get (batching, gzip, limits, refusals).
One `segdebug collect` process runs per test session on an ephemeral 127.0.0.1 port, with its
archive in a temporary directory; each test gets a fresh window (`POST /segdebug/reset`), so
tests do not see each other's events. Point the SDK at `segdebug.url` with `segdebug.write_key`
and flush it before asserting (SDKs send in the background).

    def test_checkout(segdebug):
        client = segment.analytics.Client(segdebug.write_key, host=segdebug.url)
        checkout(client)
        client.flush()
        segdebug.assert_received('event:"Order Completed" has:properties.order_id', count=1)
        segdebug.assert_no_refused()

Failures read like a pytest assertion: the query and the expectation, then the events that
matched, the refused ones with their codes and the nearest misses, one `segdebug tail` line each.
Nothing here runs unless a test asks for the fixture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from debugger.protocol import EventEnvelope

if TYPE_CHECKING:  # imported lazily: every pytest session loads this plugin
    from debugger.query import QueryError

WRITE_KEY = "segdebug-test-write-key"
START_TIMEOUT = 30.0
LISTENING = "segdebug collector listening on "


@dataclass
class CollectorProcess:
    """The session's `segdebug collect`: its URL, archive and process."""

    process: subprocess.Popen[bytes]
    url: str
    archive: Path
    log: Path
    sockets: Path  # the private directory of its socket, removed on stop

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.sockets, ignore_errors=True)


def start_collector(directory: Path) -> CollectorProcess:
    """Start `segdebug collect --port 0` with its files under `directory`; wait for its URL."""
    archive, log = directory / "archive.ndjson", directory / "collector.log"
    # A Unix socket path must be short (about 100 bytes): pytest's tmp paths can be longer.
    sockets = Path(tempfile.mkdtemp(prefix="segdebug-pytest-"))
    command = [sys.executable, "-m", "debugger.cli", "collect", "--host", "127.0.0.1", "--port", "0",
               "--archive", str(archive), "--socket", str(sockets / "collector.sock")]
    with open(log, "wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    found: list[str] = []

    def read_url() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith(LISTENING):
                found.append(line[len(LISTENING):])
                return

    reader = threading.Thread(target=read_url, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    if not found:
        process.kill()
        process.wait()
        shutil.rmtree(sockets, ignore_errors=True)
        raise RuntimeError(f"segdebug collect did not start: {log.read_text(errors='replace').strip()}")
    return CollectorProcess(process, found[0], archive, log, sockets)


class Segdebug:
    """What a test gets from the `segdebug` fixture: the collector's `url` and `write_key` for
    the SDK, the window's `events`, `refused` calls and `summary`, and two assertions."""

    def __init__(self, url: str, archive: Path) -> None:
        from debugger.api_client import ApiClient

        self.url = url
        self.write_key = WRITE_KEY
        self.archive = archive
        self.client = ApiClient(url)

    def reset(self) -> None:
        """Start a new window: what was received so far is no longer seen (nor deleted)."""
        self.client.reset()

    def events(self, query: str = "", limit: int = 1000) -> list[EventEnvelope]:
        """The window's events matching `query` (all statuses), oldest first, as envelopes."""
        __tracebackhide__ = True
        from debugger.query import QueryError, parse

        try:
            parse(query)  # here, not in the collector: the test fails with a caret, not an HTTP 400
        except QueryError as error:
            raise _bad_query(error) from None
        return self.client.events(query, "all", limit)[0]

    def refused(self) -> list[EventEnvelope]:
        """The window's refused calls; each envelope's `problems[0]["code"]` says why."""
        return self.client.events("", "refused", 1000)[0]

    def summary(self) -> dict[str, Any]:
        """Counts over the window: received, accepted, refused, by_type, by_event, refused_by_code."""
        return self.client.summary()

    def assert_received(self, query: str, count: int | None = None, within: float = 2.0) -> list[EventEnvelope]:
        """Accepted events matching `query` arrive within `within` seconds: exactly `count` of
        them, or at least one. Returns the matching envelopes."""
        __tracebackhide__ = True
        from debugger.assertion import Expectation, poll, report
        from debugger.query import QueryError

        try:
            verdict = poll(self.client, query, Expectation.of(count), within=within)  # parses first
        except QueryError as error:
            raise _bad_query(error) from None
        if not verdict.holds:
            raise AssertionError(report(verdict, verdict_word=False))
        return verdict.look.matched

    def assert_no_refused(self) -> None:
        """Nothing in the window was refused (checked now: flush the SDK first)."""
        __tracebackhide__ = True
        from debugger.assertion import poll, report

        verdict = poll(self.client, "", None, no_refused=True, within=0.0)
        if not verdict.holds:
            raise AssertionError(report(verdict, verdict_word=False))


def _bad_query(error: QueryError) -> ValueError:
    """A bad query fails the test in two lines, the query with a caret under the mistake, as
    `segdebug assert` shows it (QA: a bare QueryError under a deep traceback)."""
    return ValueError(f"bad query: {error}\n{error.caret()}")


@pytest.fixture(scope="session")
def segdebug_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """The session's collector process (started the first time a test asks for `segdebug`)."""
    collector = start_collector(tmp_path_factory.mktemp("segdebug"))
    try:
        yield collector
    finally:
        collector.stop()


@pytest.fixture
def segdebug(segdebug_collector: CollectorProcess) -> Segdebug:
    """A real segdebug collector on 127.0.0.1, with a fresh window for this test."""
    session = Segdebug(segdebug_collector.url, segdebug_collector.archive)
    session.reset()
    return session
