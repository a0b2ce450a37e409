"""Default archive and socket locations: the real `segdebug collect`, the paths it prints, stat.

The environment (HOME, XDG_DATA_HOME, XDG_RUNTIME_DIR, TMPDIR) is set per test so the defaults
land under tmp_path; `--port 0` keeps collectors apart, the socket is named after the bound port.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support import post_json

LOCATION_KEYS = ("HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "TMPDIR")


@dataclass
class Started:
    port: int
    archive: Path
    socket: Path


@pytest.fixture
def collect(tmp_path: Path) -> Iterator[Callable[..., Started]]:
    """Start `segdebug collect --port 0` with only the given location variables set."""
    processes: list[subprocess.Popen[str]] = []

    def start(**env: str) -> Started:
        clean = {k: v for k, v in os.environ.items() if k not in LOCATION_KEYS}
        clean.setdefault("HOME", str(tmp_path / "home"))
        process = subprocess.Popen(
            [sys.executable, "-m", "debugger.cli", "collect", "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**clean, **env, "PYTHONUNBUFFERED": "1"},
        )
        processes.append(process)
        printed: dict[str, str] = {}
        assert process.stdout is not None
        while "socket" not in printed:
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"collect stopped: {process.communicate(timeout=10)[1]}")
            if match := re.match(r"\s*(archive|socket):\s+(.*)$", line):
                printed[match[1]] = match[2]
            elif match := re.search(r"listening on http://127\.0\.0\.1:(\d+)", line):
                printed["port"] = match[1]
        return Started(int(printed["port"]), Path(printed["archive"]), Path(printed["socket"]))

    yield start
    for process in processes:
        process.terminate()
        process.communicate(timeout=10)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def private_runtime(tmp_path: Path) -> Path:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return runtime


def test_xdg_locations(collect: Callable[..., Started], tmp_path: Path) -> None:
    data, runtime = tmp_path / "data", private_runtime(tmp_path)
    started = collect(XDG_DATA_HOME=str(data), XDG_RUNTIME_DIR=str(runtime))
    assert started.archive == data / "segdebug" / "archive.ndjson"
    assert started.socket == runtime / "segdebug" / f"collector-{started.port}.sock"
    assert stat.S_ISSOCK(started.socket.stat().st_mode) and mode(started.socket) == 0o600
    assert mode(started.socket.parent) == 0o700
    reply = post_json(f"http://127.0.0.1:{started.port}/v1/track", {"userId": "u", "event": "Here"})
    assert reply.status == 200
    assert b'"event":"Here"' in started.archive.read_bytes()  # the printed archive is the one written


def test_home_fallback_for_the_archive(collect: Callable[..., Started], tmp_path: Path) -> None:
    home = tmp_path / "home2"
    started = collect(HOME=str(home), XDG_RUNTIME_DIR=str(private_runtime(tmp_path)))
    assert started.archive == home / ".local" / "share" / "segdebug" / "archive.ndjson"
    assert started.archive.is_file()


def test_private_temp_dir_without_runtime_dir(collect: Callable[..., Started], tmp_path: Path) -> None:
    temp = tmp_path / "t"
    temp.mkdir()
    started = collect(TMPDIR=str(temp), XDG_DATA_HOME=str(tmp_path / "data"))
    directory = temp / f"segdebug-{os.getuid()}"
    assert started.socket == directory / f"collector-{started.port}.sock"
    assert mode(directory) == 0o700 and directory.stat().st_uid == os.getuid()
    assert mode(started.socket) == 0o600


def test_missing_runtime_dir_falls_back_to_the_private_temp_dir(
    collect: Callable[..., Started], tmp_path: Path
) -> None:
    temp = tmp_path / "t"
    temp.mkdir()
    started = collect(TMPDIR=str(temp), XDG_RUNTIME_DIR=str(tmp_path / "gone"),
                      XDG_DATA_HOME=str(tmp_path / "data"))
    assert started.socket.parent == temp / f"segdebug-{os.getuid()}"


def test_a_loose_existing_socket_dir_is_made_private(collect: Callable[..., Started], tmp_path: Path) -> None:
    temp = tmp_path / "t"
    directory = temp / f"segdebug-{os.getuid()}"
    directory.mkdir(parents=True)
    directory.chmod(0o755)
    started = collect(TMPDIR=str(temp), XDG_DATA_HOME=str(tmp_path / "data"))
    assert started.socket.parent == directory and mode(directory) == 0o700
