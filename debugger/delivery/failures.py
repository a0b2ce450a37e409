"""The failed file: every message that was not delivered, with why and how often it was tried.

Each record starts with `{"replayFailed":1,` and ends with the message, so `segdebug replay`
takes the file back as input (replay.refeed reads these same keys) and resends exactly those
messages. Replay and forwarding both write it; records are appended and flushed before the
position that passed them is saved, so a crash never loses a failure.

Each call's records reach the OS when it returns (one write per failed batch, about 1 us
per unreadable line): a reader of the file sees every message that was counted not
delivered (GET /segdebug/delivery, replay's progress), even while the position waits behind
a batch still being retried, which could take minutes.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, Sequence

import orjson

RECORD_KEY = "replayFailed"  # replay.refeed and validate know a failed file by it (MARKER)
MESSAGE_KEY = b',"message":'
MARKER = b'{"' + RECORD_KEY.encode() + b'":1,'  # how every record starts


def is_failed_file(first_line: bytes) -> bool:
    """Whether a file whose first non-blank line is this one is a failed file (it holds
    nothing but records): how replay takes it back as input and validate checks it."""
    return first_line.lstrip().startswith(MARKER)


class FailedFile:
    """Appends one NDJSON record per failed message; opened only when the first one comes."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        self.mode = "ab" if append else "wb"
        self.count = 0
        self._handle: IO[bytes] | None = None
        if not append and path.exists():
            path.unlink()

    def message(self, ordinal: int | None, item: bytes, error: str, status: int | None = None,
                attempts: int = 0, **extra: Any) -> None:
        """One failed message, kept as its exact bytes (last, so refeed can cut it out)."""
        self._message(ordinal, item, error, status, attempts, extra)
        self.flush()

    def messages(self, ordinals: Sequence[int] | None, items: Sequence[bytes], error: str,
                 status: int | None, attempts: int, **extra: Any) -> None:
        for index, item in enumerate(items):
            self._message(ordinals[index] if ordinals is not None else None, item, error, status,
                          attempts, extra)
        self.flush()

    def raw(self, raw: bytes, reason: str, **where: Any) -> None:
        """A line that is not a message at all (not JSON): its text, and why."""
        record = {RECORD_KEY: 1, "status": None, "error": reason, "attempts": 0, **where,
                  "raw": raw.decode(errors="replace")}
        self._write(orjson.dumps(record))
        self.flush()

    def _message(self, ordinal: int | None, item: bytes, error: str, status: int | None, attempts: int,
                 extra: dict[str, Any]) -> None:
        fields: dict[str, Any] = {RECORD_KEY: 1, "status": status, "error": error, "attempts": attempts}
        if ordinal is not None:
            fields["input"] = ordinal
        fields.update(extra)
        head = orjson.dumps(fields)
        self._write(head[:-1] + MESSAGE_KEY + item + b"}")

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
