"""The local HTTP API under `/segdebug/`, on the collector's port: events by query, a summary,
and test windows, as JSON for tests and tools in any language.

- `GET /segdebug/events?q=QUERY&status=accepted|refused|all&limit=N`
  -> `{"events": [envelope, ...], "total": N, "window": {...}}`: the messages of the current
  window that match, in arrival order, as the socket's `event` envelopes. `total` counts every
  match; `events` holds the newest `limit` of them (default 1000).
- `GET /segdebug/summary` -> `{"received", "accepted", "refused", "by_type", "by_event",
  "refused_by_code", "window"}` over the current window.
- `POST /segdebug/reset` -> a new window from the next message on. Nothing is deleted: the
  answer says from which sequence number and which archive / rejected-file line it starts.

Why the archive is read: the store keeps only the newest messages. When a window reaches back
past them, the missing ones are read from the archive and the rejected file (the store knows
which numbers were refused, so the order is exact); whatever cannot be read back that way (the
archive was deleted or moved meanwhile) is reported in `window.cut`, never silently missing.

The pure parts (`select`, `summarize`, `parse_params`) are apart from the handlers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import orjson
from aiohttp import web

from debugger import archive as archives
from debugger.checks import Checker
from debugger.ingest import error_body
from debugger.message import call_type, name_of
from debugger.paths import rejected_path
from debugger.protocol import REFUSED, EventEnvelope, event
from debugger.query import Query, QueryError, parse
from debugger.store import RecentStore

PREFIX = "/segdebug"
DEFAULT_LIMIT = 1000
STATUSES = ("accepted", "refused", "all")


# -- pure: parameters, selection, summary ---------------------------------------------------


class BadRequest(ValueError):
    """A query-API request that cannot be answered: its code, message and (for a query) the
    1-based column of the error."""

    def __init__(self, code: str, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.column = code, message, column

    def body(self) -> dict[str, Any]:
        body = error_body(self.code, self.message)
        if self.column is not None:
            body["column"] = self.column
        return body


@dataclass(frozen=True)
class Params:
    query: Query
    status: str
    limit: int


def parse_params(params: Mapping[str, str]) -> Params:
    """The `events` parameters, checked; raises BadRequest with a message a person can act on."""
    text = params.get("q", "")
    try:
        query = parse(text)
    except QueryError as error:
        raise BadRequest("bad_query", f"bad query: {error.message}", error.position + 1) from None
    status = params.get("status", "all").strip().lower() or "all"
    if status == REFUSED:  # the wire word is accepted too
        status = "refused"
    if status not in STATUSES:
        raise BadRequest("bad_status", f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    raw_limit = params.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = -1
    if limit < 0:
        raise BadRequest("bad_limit", f"limit must be a whole number >= 0, not {raw_limit!r}")
    return Params(query, status, limit)


def select(envelopes: Iterable[EventEnvelope], query: Query, status: str) -> list[EventEnvelope]:
    """The envelopes with this status (accepted / refused / all) that match the query."""
    if status == "accepted":
        envelopes = (e for e in envelopes if e["status"] != REFUSED)
    elif status == "refused":
        envelopes = (e for e in envelopes if e["status"] == REFUSED)
    if query.matches_all:
        return list(envelopes)
    matches = query.matches
    return [e for e in envelopes if matches(e)]


def summarize(envelopes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts over the envelopes: received, accepted, refused; messages per call type and per
    event name (refused ones included: they were sent); refusals per first error code."""
    received = refused = 0
    by_type: Counter[str] = Counter()
    by_event: Counter[str] = Counter()
    by_code: Counter[str] = Counter()
    for envelope in envelopes:
        received += 1
        message = envelope.get("message")
        message = message if isinstance(message, Mapping) else {}
        kind = call_type(message)
        by_type[kind or "unknown"] += 1
        if kind == "track":
            by_event[name_of(message) or ""] += 1
        if envelope.get("status") == REFUSED:
            refused += 1
            problems = envelope.get("problems") or [{}]
            by_code[str(problems[0].get("code", "unknown"))] += 1
    return {
        "received": received, "accepted": received - refused, "refused": refused,
        "by_type": dict(by_type), "by_event": dict(by_event), "refused_by_code": dict(by_code),
    }


# -- the window: memory first, the archive for what was cut ---------------------------------


_Identity = tuple[int, int] | None  # (device, inode) of a file, None while it does not exist


def _identity_of(path: Path) -> _Identity:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


@dataclass
class ApiState:
    """What the handlers share: the store, the archive it mirrors, the checker that reads
    archive lines back as the collector saw them."""

    store: RecentStore
    archive: Path
    check: Checker
    # Lines in the archive / rejected file before the store's first message; counted the
    # first time they are needed (a large archive is not read at start-up). The files'
    # identities are taken at start: a replaced file's lines are not the store's messages.
    _bases: tuple[int, int] | None = field(default=None, repr=False)
    _identity: tuple[_Identity, _Identity] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._identity = (_identity_of(self.archive), _identity_of(self.rejected))

    @property
    def rejected(self) -> Path:
        return rejected_path(self.archive)

    def bases(self) -> tuple[int, int] | None:
        """(archive lines, rejected lines) written before the store's first message, or None
        when the files no longer add up (deleted or moved while the collector ran)."""
        if not self._same_files():
            return None
        if self._bases is None:
            store = self.store
            archive = _count_lines(self.archive) - store.accepted_before(store.next_seq)
            rejected = _count_lines(self.rejected) - store.refused_before(store.next_seq)
            if archive < 0 or rejected < 0:
                return None
            self._bases = (archive, rejected)
        return self._bases

    def _same_files(self) -> bool:
        """Whether the archive and rejected file are still the ones the collector started
        with (a file created since, by the first refusal, counts as the same)."""
        for number, path in enumerate((self.archive, self.rejected)):
            now, then = _identity_of(path), self._identity[number]
            if then is None and now is not None:
                self._identity = (now, self._identity[1]) if number == 0 else (self._identity[0], now)
            elif now != then:
                return False
        return True

    def window_info(self) -> dict[str, Any]:
        """Where the current window starts: its sequence number and the 1-based lines of the
        archive and rejected file its first messages go to."""
        store = self.store
        start = store.window_seq
        info: dict[str, Any] = {
            "start_seq": start, "next_seq": store.next_seq, "oldest_in_memory": store.oldest_seq,
            "archive": str(self.archive), "rejected": str(self.rejected),
        }
        bases = self.bases()
        if bases is not None:
            info["archive_line"] = bases[0] + store.accepted_before(start) + 1
            info["rejected_line"] = bases[1] + store.refused_before(start) + 1
        return info

    def envelopes(self) -> tuple[list[EventEnvelope], dict[str, Any]]:
        """The current window's envelopes in arrival order, and the window's description (with
        `cut` when some of its messages could not be read back)."""
        store = self.store
        start, oldest = store.window_seq, store.oldest_seq
        info = self.window_info()
        if start >= oldest:
            return store.window(), info
        older, cut = self._from_files(start, oldest)
        if cut:
            info["cut"] = cut
        return older + store.window(oldest), info

    def _from_files(self, start: int, stop: int) -> tuple[list[EventEnvelope], dict[str, Any] | None]:
        """Messages `start <= seq < stop`, no longer in memory, read back from the files."""
        store = self.store
        bases = self.bases()
        lost: dict[str, Any] = {"from_seq": start, "to_seq": stop - 1, "count": stop - start}
        if bases is None:
            return [], {**lost, "reason": "the archive changed since the collector started"}
        accepted = _lines(self.archive, bases[0] + store.accepted_before(start),
                          store.accepted_before(stop) - store.accepted_before(start))
        refused = _lines(self.rejected, bases[1] + store.refused_before(start),
                         store.refused_before(stop) - store.refused_before(start))
        out: list[EventEnvelope] = []
        for seq in range(start, stop):
            if store.is_refused(seq):
                line = next(refused, None)
                built = None if line is None else _refusal_envelope(line, seq)
            else:
                line = next(accepted, None)
                built = None if line is None else archives.event_of_line(line, seq, self.check)
            if built is None:
                reason = "the archive ends before this message (deleted or moved?)"
                return out, {**lost, "from_seq": seq, "count": stop - seq, "reason": reason}
            out.append(built)
        return out, None


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as file:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def _lines(path: Path, skip: int, count: int) -> Iterator[bytes]:
    """`count` lines of a file after its first `skip` ones, without their newlines."""
    if count <= 0:
        return iter(())
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by the generator
    except FileNotFoundError:
        return iter(())

    def lines() -> Iterator[bytes]:
        with file:
            for line in islice(file, skip, skip + count):
                yield line.rstrip(b"\n")

    return lines()


def _refusal_envelope(line: bytes, seq: int) -> EventEnvelope | None:
    """A rejected-file record as the envelope the socket sent for it (no request facts)."""
    record = archives.parse_line(line)
    if not isinstance(record, dict):
        return None
    message, raw = record.get("message"), record.get("raw")
    return event(
        seq=seq, received_at=str(record.get("receivedAt") or ""), endpoint=str(record.get("endpoint") or ""),
        write_key=record.get("writeKey") if isinstance(record.get("writeKey"), str) else None,
        status=REFUSED, problems=list(record.get("problems") or []),
        message=message if isinstance(message, dict) else None, raw=raw if isinstance(raw, str) else None,
    )


# -- the handlers ---------------------------------------------------------------------------

STATE = web.AppKey("segdebug_api", ApiState)


def _json(status: int, body: Mapping[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


async def events(request: web.Request) -> web.Response:
    try:
        params = parse_params(request.query)
    except BadRequest as error:
        return _json(400, error.body())
    envelopes, window = request.app[STATE].envelopes()
    found = select(envelopes, params.query, params.status)
    shown: Sequence[EventEnvelope] = found[len(found) - params.limit:] if params.limit else []
    return _json(200, {"events": shown, "total": len(found), "window": window})


async def summary(request: web.Request) -> web.Response:
    envelopes, window = request.app[STATE].envelopes()
    return _json(200, {**summarize(envelopes), "window": window})


async def reset(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.store.reset()
    return _json(200, {"success": True, "window": state.window_info()})


ROUTES: list[web.AbstractRouteDef] = [
    web.get(f"{PREFIX}/events", events),
    web.get(f"{PREFIX}/summary", summary),
    web.post(f"{PREFIX}/reset", reset),
]
