"""The embedded collector: `segdebug live` with no collector running starts one in the
background (`segdebug collect`) and stops it on exit, so one command is enough to start."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from debugger import protocol
from debugger.errors import CliError
from debugger.socket_client import read_hello


def probe(path: Path, timeout: float = 2.0) -> protocol.Hello | None:
    """The hello line of the collector on `path`, or None when nothing answers there."""
    try:
        return read_hello(path, timeout)
    except (OSError, protocol.ProtocolError):
        return None


class EmbeddedCollector:
    """A `segdebug collect` child process, stopped with SIGTERM when the viewer exits."""

    def __init__(
        self, port: int, socket_path: Path, archive: Path | None = None, strict: bool = False,
        forward: list[str] | None = None, forward_write_key: str | None = None,
    ) -> None:
        self.socket_path = socket_path
        self._log: IO[bytes] = tempfile.TemporaryFile()
        command = [
            sys.executable, "-m", "debugger.cli", "collect",
            "--port", str(port), "--socket", str(socket_path),
        ]
        if archive is not None:
            command += ["--archive", str(archive)]
        if strict:
            command.append("--strict")
        for destination in forward or ():
            command += ["--forward", destination]
        if forward_write_key is not None:
            command += ["--forward-write-key", forward_write_key]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
            start_new_session=True,  # Ctrl-C in the TUI is ours to handle, not the child's
        )

    def wait_ready(self, timeout: float = 15.0) -> protocol.Hello:
        """Block until the collector answers on its socket; CliError with its reason if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CliError(f"could not start the collector: {self._last_error()}")
            hello = probe(self.socket_path, timeout=0.5)
            if hello is not None:
                return hello
            time.sleep(0.05)
        self.stop()
        raise CliError(f"the collector did not answer on {self.socket_path} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def _last_error(self) -> str:
        self._log.seek(0)
        lines = [line for line in self._log.read().decode(errors="replace").splitlines() if line]
        if not lines:
            return f"exit code {self.process.returncode}"
        return lines[-1].removeprefix("segdebug: error: ")
