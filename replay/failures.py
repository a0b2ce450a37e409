"""The failed file: every selected message that was not delivered, with why and how often tried.

Each record starts with `{"replayFailed":1,` and ends with the message, so replay can take the
file back as input (replay.refeed) and resend exactly those messages."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import orjson

from replay.batching import Batch
from replay.reader import BadInputLine
from replay.refeed import MESSAGE_KEY, RECORD_KEY


class FailedFile:
    """Appends one NDJSON record per failed message; opened only when the first one comes."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        self.mode = "ab" if append else "wb"
        self.count = 0
        self._handle: IO[bytes] | None = None
        if not append and path.exists():
            path.unlink()

    def bad_line(self, line: BadInputLine) -> None:
        record = {RECORD_KEY: 1, "status": None, "error": line.reason, "attempts": 0,
                  "source": line.source, "line": line.number, "raw": line.raw.decode(errors="replace")}
        self._write(orjson.dumps(record))

    def bad_item(self, ordinal: int, item: bytes, reason: str) -> None:
        """A line that looked like an object but is not JSON (found when a batch was refused)."""
        record = {RECORD_KEY: 1, "status": None, "error": reason, "attempts": 0, "input": ordinal,
                  "raw": item.decode(errors="replace")}
        self._write(orjson.dumps(record))

    def message(self, ordinal: int, item: bytes, error: str, status: int | None = None,
                attempts: int = 0) -> None:
        head = orjson.dumps({RECORD_KEY: 1, "status": status, "error": error, "attempts": attempts,
                             "input": ordinal})
        self._write(head[:-1] + MESSAGE_KEY + item + b"}")

    def batch(self, batch: Batch, status: int | None, error: str, attempts: int) -> None:
        for ordinal, item in zip(batch.ordinals, batch.items, strict=True):
            self.message(ordinal, item, error, status, attempts)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write(self, record: bytes) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, self.mode)  # noqa: SIM115 - closed by close()
        self._handle.write(record + b"\n")
        self.count += 1
