"""Shared test support: start a real `segdebug collect` process on an ephemeral port.

The collector is told `--port 0`; its first socket line (`hello`) says which port it got.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from http.client import HTTPConnection
from typing import Iterator
from urllib.parse import urlsplit

import orjson

from debugger.paths import rejected_path


@dataclass
class Collector:
    """A running collector process and where its outputs are."""

    process: subprocess.Popen[bytes]
    url: str
    socket: Path
    archive: Path
    rejected: Path
    hello: dict = field(default_factory=dict)

    def archived(self) -> list[dict]:
        """Messages in the archive right now."""
        if not self.archive.exists():
            return []
        return [orjson.loads(line) for line in self.archive.read_bytes().splitlines() if line]

    def refused(self) -> list[dict]:
        if not self.rejected.exists():
            return []
        return [orjson.loads(line) for line in self.rejected.read_bytes().splitlines() if line]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def read_hello(path: Path, timeout: float = 15.0) -> dict:
    """Connect to a collector socket and return its first line, the hello envelope."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(5)
                client.connect(str(path))
                data = b""
                while b"\n" not in data:
                    chunk = client.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                return orjson.loads(data.split(b"\n", 1)[0])
        except (FileNotFoundError, ConnectionRefusedError, orjson.JSONDecodeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_collector(directory: Path, *args: str) -> Collector:
    """Start `segdebug collect` on port 0 with its archive and socket under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / "archive.ndjson"
    sock = directory / "collector.sock"
    command = [
        sys.executable, "-m", "debugger.cli", "collect", "--port", "0",
        "--archive", str(archive), "--socket", str(sock), *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    try:
        hello = read_hello(sock)
    except Exception:
        process.kill()
        _, err = process.communicate(timeout=5)
        raise RuntimeError(f"collector did not start: {err.decode(errors='replace')}") from None
    return Collector(
        process=process, url=hello["http"], socket=sock, archive=archive,
        rejected=rejected_path(archive), hello=hello,
    )


def running_collector(directory: Path, *args: str) -> Iterator[Collector]:
    """Generator for fixtures: start, yield, stop."""
    collector = start_collector(directory, *args)
    try:
        yield collector
    finally:
        collector.stop()


@dataclass
class Reply:
    """An HTTP answer as the tests read it."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return orjson.loads(self.body)


def http(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
    """One plain HTTP/1.1 request (no client magic: exact bytes and headers are sent)."""
    parts = urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path or "/", body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def post_json(url: str, payload: object, headers: dict[str, str] | None = None) -> Reply:
    return http("POST", url, orjson.dumps(payload), {"Content-Type": "application/json", **(headers or {})})


def gzip_bomb(megabytes: int) -> bytes:
    """A small gzip body that inflates to `megabytes` MB of spaces after a `{`."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b" " * (1024 * 1024)
    chunks = [packer.compress(b"{"), *(packer.compress(block) for _ in range(megabytes))]
    return b"".join([*chunks, packer.flush()])
