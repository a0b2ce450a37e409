"""`--forward-write-key` without `--forward`: `collect` refuses it as `live` does, in one line
with exit code 2, before anything starts (it used to be accepted and silently ignored)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from debugger.delivery.destinations import parse_forwarding


def segdebug(*args: str) -> subprocess.CompletedProcess[str]:
    # A timeout only stops a collector that wrongly started (the old behaviour): a pass is immediate.
    return subprocess.run([sys.executable, "-m", "debugger.cli", *args], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("command", ["collect", "live"])
def test_a_write_key_with_nowhere_to_forward_is_one_line_exit_2(tmp_path: Path, command: str) -> None:
    try:
        result = segdebug(command, "--port", "0", "--socket", str(tmp_path / "c.sock"),
                          "--archive", str(tmp_path / "a.ndjson"), "--forward-write-key", "wk_1")
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command} started with --forward-write-key and no --forward")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == ["segdebug: error: --forward-write-key needs --forward"]
    assert not (tmp_path / "a.ndjson").exists()


def test_parse_forwarding() -> None:
    with pytest.raises(ValueError, match="^--forward-write-key needs --forward$"):
        parse_forwarding([], "wk_1")
    assert parse_forwarding([], None) == []
    assert [d.name for d in parse_forwarding(["a=http://127.0.0.1:1"], "wk_1")] == ["a"]


def test_collect_names_its_destinations_at_start(tmp_path: Path) -> None:
    """Where messages go is said with the archive and socket, so a forward never goes unseen."""
    process = subprocess.Popen(
        [sys.executable, "-m", "debugger.cli", "collect", "--port", "0", "--socket", str(tmp_path / "c.sock"),
         "--archive", str(tmp_path / "a.ndjson"), "--forward", "hook=http://127.0.0.1:9/in",
         "--forward", "http://127.0.0.1:9"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(5)]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert lines[3:] == ["forward: hook -> http://127.0.0.1:9/in/v1/batch", "forward: 127.0.0.1 -> http://127.0.0.1:9/v1/batch"]
