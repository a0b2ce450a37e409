"""One collector per archive: a second one is refused (its own --archive), or, when neither
was given an archive, writes its port's own default instead of sharing (QA: two collectors
on different ports appended to one default archive, and each one's Schema, API and
forwarders counted the other's traffic). Real processes, real archive files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.support import post_json, read_hello, start_collector

TRACK = {"type": "track", "event": "Lock Checked", "userId": "u1", "messageId": "m-lock"}


def collect(directory: Path, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "debugger.cli", "collect", "--port", "0",
         "--socket", str(directory / f"{name}.sock"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def test_a_second_collector_on_the_same_archive_is_refused_in_one_line(tmp_path: Path) -> None:
    first = start_collector(tmp_path)
    try:
        first.archive.write_bytes(first.archive.read_bytes() + b'{"torn":')  # a write in progress
        second = collect(tmp_path, "second", "--archive", str(first.archive))
        try:
            out, err = second.communicate(timeout=30)
        finally:
            second.kill()  # it should have exited; never leave one behind when it did not
        assert second.returncode == 2
        assert err.strip().splitlines() == [
            f"segdebug: error: another running collector is writing {first.archive}; "
            "give this collector its own --archive"
        ]
        assert "Traceback" not in err and out == ""
        assert first.archive.read_bytes().endswith(b'{"torn":')  # the second did not seal it
        assert post_json(first.url + "/v1/track", TRACK).status == 200  # the first serves on
    finally:
        first.stop()


def test_a_removed_archive_is_not_taken_by_a_second_collector(tmp_path: Path) -> None:
    """QA: after `rm archive.ndjson`, a second collector took the path (the first then answered
    500 to every call) and both appended to one refusal log. Its refusal log, still held, keeps
    the second out; the first starts the archive afresh and serves on."""
    first = start_collector(tmp_path)
    try:
        first.archive.unlink()
        second = collect(tmp_path, "second", "--archive", str(first.archive))
        try:
            _, err = second.communicate(timeout=30)
        finally:
            second.kill()
        assert second.returncode == 2
        assert err == (f"segdebug: error: another running collector is writing {first.rejected}; "
                       "give this collector its own --archive\n")
        assert post_json(first.url + "/v1/track", TRACK).status == 200
        assert b"m-lock" in first.archive.read_bytes()
    finally:
        first.stop()


def test_the_lock_goes_with_its_holder_even_when_killed(tmp_path: Path) -> None:
    first = start_collector(tmp_path)
    first.process.kill()
    first.process.wait(timeout=10)
    again = start_collector(tmp_path)  # same archive, same socket path
    try:
        assert post_json(again.url + "/v1/track", TRACK).status == 200
    finally:
        again.stop()


def test_without_archive_a_second_collector_writes_its_own_default(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    shared = tmp_path / "data" / "segdebug" / "archive.ndjson"
    first = collect(tmp_path, "first", env=env)
    second = None
    try:
        read_hello(tmp_path / "first.sock")
        second = collect(tmp_path, "second", env=env)
        hello = read_hello(tmp_path / "second.sock")
        port = hello["http"].rsplit(":", 1)[1]
        own = shared.with_name(f"archive-{port}.ndjson")
        assert hello["archive"] == str(own)
        assert post_json(hello["http"] + "/v1/track", TRACK).status == 200
        assert [orjson.loads(line)["messageId"] for line in own.read_bytes().splitlines()] == ["m-lock"]
        assert shared.read_bytes() == b""
    finally:
        for process in (first, second):
            if process is not None:
                process.terminate()
                process.communicate(timeout=30)


def test_the_fallback_is_said_at_start(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    first = collect(tmp_path, "first", env=env)
    try:
        read_hello(tmp_path / "first.sock")
        second = collect(tmp_path, "second", env=env)
        read_hello(tmp_path / "second.sock")
        second.terminate()
        out, _ = second.communicate(timeout=30)
    finally:
        first.terminate()
        first.communicate(timeout=30)
    shared = tmp_path / "data" / "segdebug" / "archive.ndjson"
    assert f"({shared} is being written by another collector)" in out
    assert "archive-" in out
