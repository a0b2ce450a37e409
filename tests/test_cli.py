"""The CLI's outer edge: every way out of `main` is an exit code and at most one line."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from debugger import cli


@pytest.mark.parametrize("command", ["collect", "tail", "live"])
def test_a_port_out_of_range_is_one_line_and_exit_2(command: str) -> None:
    done = subprocess.run([sys.executable, "-m", "debugger.cli", command, "--port", "70000"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == (f"segdebug {command}: error: Invalid value for '--port': "
                           "Input should be less than or equal to 65535\n")


@pytest.mark.parametrize(("raised", "code"), [
    (KeyboardInterrupt(), 130), (typer.Abort(), 130), (typer.Exit(3), 3),
])
def test_interrupts_and_exits_become_exit_codes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                raised: BaseException, code: int) -> None:
    def command(**_: object) -> None:
        raise raised

    monkeypatch.setattr(cli, "app", command)
    assert cli.main([]) == code
    assert "Traceback" not in capsys.readouterr().err
