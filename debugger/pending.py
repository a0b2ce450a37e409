"""An event not yet built: one message of one call, turned into a socket envelope on demand.

Why: a viewer at max_rate 50 is sent a few dozen of the thousands of messages a second the
collector may take in (issue 16). Ingest therefore runs only the rules that can refuse a
message; the hub decides filter, priority and sampling on a `Pending` (its `get` answers what
the query language reads, computing the full spec problems only if a query asks for them), and
only the events a viewer is really sent get their full problems, their envelope and their
encoded line, each built once and shared by every viewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from debugger import protocol
from debugger.checks import Checker, check_failed, refusal_problems
from debugger.ingest import Accepted, Refused
from debugger.protocol import ACCEPTED, REFUSED, EventEnvelope, Problem


@dataclass(frozen=True, slots=True)
class CallContext:
    """What one HTTP call's messages share. `check` is the full checker when ingest ran only
    the refusing one (None: the items' problems are already complete)."""

    received_at: str
    endpoint: str
    request: dict[str, Any] | None = None
    check: Checker | None = None


class Pending:
    """One message as the hub sees it: a mapping for queries, an envelope when sent."""

    __slots__ = ("seq", "item", "context", "_problems", "_envelope", "_line")

    def __init__(self, seq: int, item: Accepted | Refused | None, context: CallContext | None) -> None:
        self.seq = seq
        self.item = item
        self.context = context
        self._problems: list[Problem] | None = None
        self._envelope: EventEnvelope | None = None
        self._line: bytes | None = None

    @classmethod
    def of_envelope(cls, envelope: EventEnvelope) -> Pending:
        """An envelope someone already built (tests, other producers)."""
        pending = cls(int(envelope.get("seq", 0)), None, None)
        pending._envelope = envelope
        return pending

    @property
    def refused(self) -> bool:
        if self.item is None:
            return self._envelope is not None and self._envelope.get("status") == REFUSED
        return type(self.item) is Refused

    def get(self, key: str, default: Any = None) -> Any:
        """What a query reads, without building the envelope: `problems` is computed (full
        rules) only when asked for."""
        item = self.item
        if item is None or self._envelope is not None:
            return self.envelope().get(key, default)
        if key == "message":
            return item.message
        if key == "status":
            return REFUSED if type(item) is Refused else ACCEPTED
        if key == "raw":
            return item.raw if type(item) is Refused else None
        if key == "writeKey":
            return item.write_key
        if key == "problems":
            return self.problems()
        return self.envelope().get(key, default)

    def problems(self) -> list[Problem]:
        """Every problem the full checker finds (computed once)."""
        if self._problems is None:
            self._problems = _full_problems(self.item, self.context)
        return self._problems

    def envelope(self) -> EventEnvelope:
        if self._envelope is None:
            item, context = self.item, self.context
            assert item is not None and context is not None
            refused = type(item) is Refused
            self._envelope = protocol.event(
                seq=self.seq, received_at=context.received_at, endpoint=context.endpoint,
                write_key=item.write_key, status=REFUSED if refused else ACCEPTED,
                problems=self.problems(), message=item.message,
                raw=item.raw if type(item) is Refused else None, request=context.request,
            )
        return self._envelope

    def line(self) -> bytes:
        """The encoded `event` line (built once, shared by every viewer sent it)."""
        if self._line is None:
            self._line = protocol.encode(self.envelope())
        return self._line

    def history_line(self) -> bytes:
        """The line for a viewer's history on open: the envelope marked `history`."""
        marked: dict[str, Any] = {**self.envelope(), "history": True}
        return protocol.encode(marked)


def _full_problems(item: Accepted | Refused | None, context: CallContext | None) -> list[Problem]:
    """What the full checker says: for an accepted message its problems; for a refused one
    checks.refusal_problems (the refusal's own problems, then the full checker's warnings)."""
    assert item is not None and context is not None
    check, message = context.check, item.message
    if check is None or message is None:
        return item.problems
    if type(item) is Refused:
        return refusal_problems(item.problems, message, check)
    try:
        return check(message)
    except Exception as error:  # the same fallback as ingest: keep what is known, say why
        return [*item.problems, check_failed(error)]


class Run:
    """The messages of one call, numbered from `first_seq`; slicing builds only the Pendings
    it returns (the sampler slices a flood down to its picks), `all()` builds each once."""

    __slots__ = ("first_seq", "results", "context", "refusals", "_all")

    def __init__(
        self, first_seq: int, results: Sequence[Accepted | Refused | None],
        context: CallContext | None, refusals: int, built: list[Pending] | None = None,
    ) -> None:
        self.first_seq = first_seq
        self.results = results
        self.context = context
        self.refusals = refusals
        self._all = built

    @classmethod
    def of_pending(cls, pending: Pending) -> Run:
        return cls(pending.seq, [None], None, int(pending.refused), [pending])

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: slice) -> list[Pending]:
        if self._all is not None:
            return self._all[index]
        seqs = range(self.first_seq, self.first_seq + len(self.results))[index]
        context = self.context
        return [Pending(seq, item, context) for seq, item in zip(seqs, self.results[index], strict=True)]

    def all(self) -> list[Pending]:
        if self._all is None:
            self._all = self[:]
        return self._all
