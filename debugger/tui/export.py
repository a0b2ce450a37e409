"""What `y` (copy) and `w` (write) put out: the exact bytes of a payload, the listed messages
as an archive, and a file that never overwrites another."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import orjson


def payload_bytes(envelope: Mapping[str, Any]) -> bytes:
    """The selected payload as `y` copies it: the archived message line, or for a refused call
    the exact text received."""
    message = envelope.get("message")
    if envelope.get("status") == "rejected" or not isinstance(message, Mapping):
        raw = envelope.get("raw")
        if isinstance(raw, bytes):
            return raw
        return (raw or "").encode("utf-8", "surrogatepass")
    return orjson.dumps(message)


def ndjson_lines(envelopes: Iterable[Mapping[str, Any]]) -> tuple[bytes, int, int]:
    """The accepted messages as archive lines (so `segdebug replay` reads the file), with the
    number written and the number of refused calls left out."""
    lines: list[bytes] = []
    refused = 0
    for envelope in envelopes:
        message = envelope.get("message")
        if envelope.get("status") == "rejected" or not isinstance(message, Mapping):
            refused += 1
            continue
        lines.append(orjson.dumps(message) + b"\n")
    return b"".join(lines), len(lines), refused


def write_new_file(directory: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Write `data` to `stem + suffix` in `directory`, or `stem-2 + suffix`, ... if that exists:
    two writes within a second must not overwrite the first."""
    path, attempt = directory / (stem + suffix), 1
    while True:
        try:
            with open(path, "xb") as out:
                out.write(data)
            return path
        except FileExistsError:
            attempt += 1
            path = directory / f"{stem}-{attempt}{suffix}"
