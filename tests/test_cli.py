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
    assert done.stderr == "segdebug: error: --port must be at most 65535, not 70000\n"


@pytest.mark.parametrize(("args", "line"), [
    (["collect", "--fsync", "sometimes"], "--fsync must be one of always, interval, never, not 'sometimes'"),
    (["replay", "a.ndjson", "--to", "http://127.0.0.1:9", "--mode", "many"],
     "--mode must be one of batch, single, not 'many'"),
    (["collect", "--port", "abc"], "--port must be a whole number, not 'abc'"),
    (["demo", "--rate", "fast"], "--rate must be a number, not 'fast'"),
    (["tail", "--port", "0"], "--port must be at least 1, not 0"),
    (["tail", "--count", "0"], "--count must be at least 1, not 0"),
    (["validate"], "missing argument ARCHIVES; try: segdebug validate --help"),
    (["replay", "a.ndjson"], "missing option --to; try: segdebug replay --help"),
    (["collect", "--bogus"], "unknown option --bogus (did you mean --host?); try: segdebug collect --help"),
    (["collect", "--port"], "--port requires an argument"),
    (["collect", "extra"], "unexpected extra argument(s) (extra); try: segdebug collect --help"),
    (["frob"], "no such command 'frob'; try: segdebug --help"),
    (["collect", "--fsync", "\x1b[31mred"], "--fsync must be one of always, interval, never, not '\\x1b[31mred'"),
])
def test_typer_usage_errors_read_as_ours(capsys: pytest.CaptureFixture[str], args: list[str], line: str) -> None:
    """Typer's own errors (bad choice, number, range; missing or unknown arguments) read like the
    ones our commands raise: one line, `segdebug: error: ` and our wording, exit 2 (QA: they
    read `segdebug collect: error: Invalid value for '--fsync': Value error, ...`)."""
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    assert captured.err == f"segdebug: error: {line}\n" and captured.out == ""


def test_segdebug_alone_prints_the_help_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: segdebug [OPTIONS] COMMAND") and "segdebug: error" not in err


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
