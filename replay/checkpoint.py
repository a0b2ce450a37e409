"""Resuming: which input lines an interrupted run fully handled.

A checkpoint is `position` (every line before it was read and handed over: acknowledged,
recorded as failed, skipped, or pending) plus the `pending` lines below it that were not yet
acknowledged or recorded as failed. On --resume, a line is skipped when it is below `position`
and not pending, so nothing acknowledged is sent twice. `position` is not how far the input was
read: a paced run reads a block of lines ahead of their due time, and a line read but not yet
handed over must be read again (replay.run.Run.handled).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import orjson

VERSION = 1


@dataclass
class Checkpoint:
    fingerprint: str
    seed: str
    position: int = 0
    pending: list[list[int]] = field(default_factory=list)  # [start, end) runs
    shift_seconds: float | None = None
    totals: dict[str, int] = field(default_factory=dict)  # counts of earlier runs

    def done_before(self) -> "DoneBefore":
        return DoneBefore(self.position, self.pending)


class DoneBefore:
    """Predicate over ordinals: handled by an earlier run."""

    def __init__(self, position: int, pending: list[list[int]]) -> None:
        self.position = position
        self.pending = {n for start, end in pending for n in range(start, end)}

    def __call__(self, ordinal: int) -> bool:
        return ordinal < self.position and ordinal not in self.pending


def to_runs(ordinals: Iterable[int]) -> list[list[int]]:
    """Sorted, merged [start, end) runs of a set of ordinals."""
    runs: list[list[int]] = []
    for n in sorted(set(ordinals)):
        if runs and runs[-1][1] == n:
            runs[-1][1] = n + 1
        else:
            runs.append([n, n + 1])
    return runs


def load(path: Path) -> Checkpoint | None:
    """The checkpoint at `path`, None when there is none; ValueError when it is unreadable."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as error:
        raise ValueError(f"checkpoint {path} is unreadable: {error}") from None
    if not isinstance(data, dict) or data.pop("version", None) != VERSION:
        raise ValueError(f"checkpoint {path} is not a segdebug replay checkpoint")
    try:
        return Checkpoint(**data)
    except TypeError:
        raise ValueError(f"checkpoint {path} is not a segdebug replay checkpoint") from None


def save(path: Path, checkpoint: Checkpoint) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half a checkpoint."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(orjson.dumps({"version": VERSION, **asdict(checkpoint)}))
    os.replace(temp, path)
