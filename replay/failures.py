"""Replay's failed file: the delivery engine's FailedFile plus replay's own kinds of input
(bad input lines, whole batches with their input ordinals)."""

from __future__ import annotations

from debugger.delivery.failures import FailedFile as EngineFailedFile
from replay.batching import Batch
from replay.reader import BadInputLine


class FailedFile(EngineFailedFile):
    """Appends one NDJSON record per failed message or unusable input line."""

    def bad_line(self, line: BadInputLine) -> None:
        self.raw(line.raw, line.reason, source=line.source, line=line.number)

    def bad_item(self, ordinal: int, item: bytes, reason: str) -> None:
        """A line that looked like an object but is not JSON (found when a batch was refused)."""
        self.raw(item, reason, input=ordinal)

    def batch(self, batch: Batch, status: int | None, error: str, attempts: int) -> None:
        self.messages(batch.ordinals, batch.items, error, status, attempts)
