"""`segdebug assert` and the pytest plugin's assertions: does the collector's current window
hold what a test expects?

Why polling: SDKs send in the background (batches, flush intervals), so "exactly one Order
Completed" may become true a moment after the code under test returns. The check is repeated
until it holds or `within` seconds are up, then judged on the last look.

What counts: *accepted* messages matching the query (a refused call never reached Segment, so
it cannot satisfy an expectation). Refused calls are always shown on failure, with their codes;
`no_refused` makes any refusal in the window a failure. On failure the report also lists the
nearest misses: accepted messages that did not match but look like what was asked for (same
call type, similar names), as `segdebug tail` lines.

The judging and the report are pure (`Expectation`, `judge`, `nearest_misses`, `report`);
`poll` does the HTTP through debugger.api_client; `run_assert` is the command.
"""

from __future__ import annotations

import difflib
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import orjson

from debugger.api_client import ApiClient, ApiRefused, ApiUnavailable
from debugger.errors import CliError
from debugger.message import call_type, name_of
from debugger.protocol import EventEnvelope
from debugger.query import Query, QueryError, parse
from debugger.query.nodes import And, Equals, Node, Or
from debugger.tail import format_event

POLL_INTERVAL = 0.1
SHOWN = 10  # event lines per section of a report
NEAR_MISSES = 5
SIMILAR = 0.5  # difflib ratio from which a name counts as similar
MAX_FETCH = 1000  # the window's events fetched to look for near misses


@dataclass(frozen=True)
class Expectation:
    """How many accepted messages must match: exactly `count`, or within [`low`, `high`].
    With nothing given, at least one."""

    count: int | None = None
    low: int | None = None
    high: int | None = None

    @classmethod
    def of(cls, count: int | None = None, low: int | None = None, high: int | None = None) -> Expectation:
        """Checked options; raises ValueError with a one-line reason."""
        if count is not None and (low is not None or high is not None):
            raise ValueError("give --count, or --min and/or --max, not both")
        for name, value in (("count", count), ("min", low), ("max", high)):
            if value is not None and value < 0:
                raise ValueError(f"--{name} must be 0 or more, not {value}")
        if low is not None and high is not None and low > high:
            raise ValueError(f"--min {low} is more than --max {high}")
        if count is None and low is None and high is None:
            low = 1
        return cls(count, low, high)

    def holds(self, found: int) -> bool:
        if self.count is not None:
            return found == self.count
        return (self.low is None or found >= self.low) and (self.high is None or found <= self.high)

    def past_the_most(self, found: int) -> bool:
        """More than it allows: a window only gains messages, so waiting cannot make it hold."""
        most = self.count if self.count is not None else self.high
        return most is not None and found > most

    def describe(self) -> str:
        if self.count is not None:
            return f"exactly {self.count}"
        if self.low is not None and self.high is not None:
            return f"between {self.low} and {self.high}"
        if self.high is not None:
            return f"at most {self.high}"
        return f"at least {self.low}"

    def as_json(self) -> dict[str, int]:
        fields = {"count": self.count, "min": self.low, "max": self.high}
        return {k: v for k, v in fields.items() if v is not None}


@dataclass
class Look:
    """One look at the window: the matching accepted messages and the refused calls (newest
    `MAX_FETCH` of each, totals exact), and the other accepted messages when gathered."""

    matched: list[EventEnvelope]
    matched_total: int
    refused: list[EventEnvelope]
    refused_total: int
    others: list[EventEnvelope] = field(default_factory=list)


@dataclass
class Verdict:
    """The answer: whether the expectation held, on which look, after how long."""

    query: str
    expectation: Expectation | None  # None: only refusals are judged
    no_refused: bool
    look: Look
    waited: float
    holds: bool
    near: list[EventEnvelope] = field(default_factory=list)
    others: list[EventEnvelope] = field(default_factory=list)  # the rest of the window, accepted
    others_total: int = 0
    unavailable: str | None = None  # why no look could be taken


def judge(expectation: Expectation | None, no_refused: bool, look: Look) -> bool:
    if expectation is not None and not expectation.holds(look.matched_total):
        return False
    return not (no_refused and look.refused_total)


def hopeless(expectation: Expectation | None, no_refused: bool, look: Look) -> bool:
    """Whether no later look can hold: too many matches, or a refusal under --no-refused
    (the window only gains messages until it is reset). `--within` then stops waiting."""
    too_many = expectation is not None and expectation.past_the_most(look.matched_total)
    return too_many or bool(no_refused and look.refused_total)


# -- nearest misses ---------------------------------------------------------------------------


def _targets(node: Node) -> tuple[set[str], set[str]]:
    """The names and call types a query asks for (`event:`/`name:` and `type:` terms,
    wherever they are in the tree except under a negation)."""
    names: set[str] = set()
    types: set[str] = set()

    def walk(item: Node) -> None:
        if isinstance(item, (And, Or)):
            for part in item.items:
                walk(part)
        elif isinstance(item, Equals):
            for path in item.paths:
                wanted = {p.literal.replace("*", "") for p in item.patterns}
                if path.keys in (("event",), ("name",)):
                    names.update(wanted)
                elif path.keys == ("type",):
                    types.update(wanted)

    walk(node)
    return names, types


def nearest_misses(query: Query, envelopes: Iterable[EventEnvelope], limit: int = NEAR_MISSES) -> list[EventEnvelope]:
    """Non-matching envelopes that look like what the query asked for: of an asked-for call
    type (when it names one) and with a name similar to an asked-for name (when it names one),
    most similar first, the newer first among equals. Shown in arrival order."""
    names, types = _targets(query.tree)
    scored: list[tuple[float, int, EventEnvelope]] = []
    for envelope in envelopes:
        if query.matches(envelope):
            continue
        message = envelope.get("message") or {}
        if types and call_type(message).lower() not in types:
            continue
        score = 1.0
        if names:
            name = name_of(message).lower()
            score = max(difflib.SequenceMatcher(None, name, target).ratio() for target in names)
            if score < SIMILAR:
                continue
        scored.append((score, envelope["seq"], envelope))
    if not names and not types:
        return []  # nothing to be near to
    best = sorted(scored, key=lambda item: (-item[0], -item[1]))[:limit]
    return sorted((item[2] for item in best), key=lambda e: e["seq"])


# -- the report -------------------------------------------------------------------------------


def _lines(title: str, envelopes: Sequence[EventEnvelope], total: int) -> list[str]:
    if not total:
        return [f"{title}: none"]
    lines = [f"{title} ({total}):"]
    shown = envelopes[-SHOWN:]
    if total > len(shown):
        lines.append(f"  ... {total - len(shown)} earlier not shown")
    lines += [f"  {format_event(e)}" for e in shown]
    return lines


def headline(verdict: Verdict) -> str:
    """One line: what was expected and what was found."""
    look, expectation = verdict.look, verdict.expectation
    parts = []
    if expectation is not None:
        query = verdict.query or "(everything)"
        parts.append(f"{expectation.describe()} accepted event(s) matching {query!r}: found {look.matched_total}")
    if verdict.no_refused:
        parts.append(f"no refused calls: found {look.refused_total}")
    return "; ".join(parts)


def report(verdict: Verdict, verdict_word: bool = True) -> str:
    """What a person reads: the expectation, then what matched, what was refused (with their
    codes) and the nearest misses, one `tail` line per event. `verdict_word` starts it with
    "holds:" / "FAILED:" (the command's output; a pytest failure says so already)."""
    status = ("holds: " if verdict.holds else "FAILED: ") if verdict_word else ""
    if verdict.unavailable:  # nothing was looked at: no "found 0" (QA: it read as a real miss)
        return f"{status}{verdict.unavailable}, so nothing was checked (waited {verdict.waited:.1f} s)"
    lines = [f"{status}expected {headline(verdict)} (after {verdict.waited:.1f} s)"]
    if verdict.holds:
        return lines[0]
    look = verdict.look
    if verdict.expectation is not None:
        lines += _lines("matched", look.matched, look.matched_total)
    lines += _lines("refused", look.refused, look.refused_total)
    if verdict.near:
        lines += _lines("nearest misses", verdict.near, len(verdict.near))
    if verdict.others_total:
        lines += _lines("other events received", verdict.others, verdict.others_total)
    return "\n".join(lines)


def as_json(verdict: Verdict) -> dict[str, Any]:
    look = verdict.look
    body: dict[str, Any] = {
        "holds": verdict.holds, "query": verdict.query,
        "expectation": verdict.expectation.as_json() if verdict.expectation else None,
        "no_refused": verdict.no_refused, "waited": round(verdict.waited, 3),
        "matched": look.matched_total, "refused": look.refused_total,
        "events": look.matched, "refused_events": look.refused, "near_misses": verdict.near,
        "other_events": verdict.others,
    }
    if verdict.unavailable:
        body["error"] = verdict.unavailable
    return body


# -- polling ----------------------------------------------------------------------------------


def look_once(client: ApiClient, query: str) -> Look:
    matched, matched_total = client.events(query, "accepted", MAX_FETCH)
    refused, refused_total = client.events("", "refused", MAX_FETCH)
    return Look(matched, matched_total, refused, refused_total)


def poll(
    client: ApiClient,
    query: str,
    expectation: Expectation | None,
    no_refused: bool = False,
    within: float = 2.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Verdict:
    """Look until the expectation holds or `within` seconds are up; on failure, gather the
    nearest misses. A bad query raises ApiRefused at once (waiting cannot fix it)."""
    parsed = parse(query)  # QueryError before any request
    start = clock()
    look, unavailable = Look([], 0, [], 0), None
    while True:
        try:
            look, unavailable = look_once(client, query), None
        except ApiUnavailable as error:
            unavailable = str(error)
        holds = unavailable is None and judge(expectation, no_refused, look)
        waited = clock() - start
        if holds or waited >= within or (unavailable is None and hopeless(expectation, no_refused, look)):
            break
        sleep(min(POLL_INTERVAL, max(within - waited, 0.0)))
    verdict = Verdict(query, expectation, no_refused, look, waited, holds, unavailable=unavailable)
    if not holds and unavailable is None and expectation is not None:
        _add_misses(verdict, client, parsed)
    return verdict


def _add_misses(verdict: Verdict, client: ApiClient, query: Query) -> None:
    """The failed verdict's nearest misses, and the other accepted events of the window."""
    try:
        window, accepted = client.events("", "accepted", MAX_FETCH)
    except ApiUnavailable:
        return
    verdict.near = nearest_misses(query, window)
    near = {e["seq"] for e in verdict.near}
    verdict.others = [e for e in window if e["seq"] not in near and not query.matches(e)]
    verdict.others_total = max(accepted - verdict.look.matched_total - len(near), len(verdict.others))


# -- the command ------------------------------------------------------------------------------


def run_assert(
    query: str, count: int | None, low: int | None, high: int | None, no_refused: bool,
    within: float, url: str, as_json_output: bool,
) -> int:
    """`segdebug assert`: print the verdict; 0 when it holds, 1 when not. Usage errors raise
    CliError (exit 2)."""
    try:
        expectation = Expectation.of(count, low, high)
    except ValueError as error:
        raise CliError(str(error)) from None
    try:
        parse(query)
    except QueryError as error:
        raise CliError(f"bad query: {error}\n{error.caret()}") from None
    if within < 0:
        raise CliError(f"--within must be 0 or more seconds, not {within}")
    try:
        verdict = poll(ApiClient(url), query, expectation, no_refused, within)
    except ApiRefused as error:
        raise CliError(f"the collector refused the request: {error}") from None
    if as_json_output:
        sys.stdout.buffer.write(orjson.dumps(as_json(verdict), option=orjson.OPT_APPEND_NEWLINE))
        sys.stdout.flush()
    else:
        print(report(verdict), flush=True)
    return 0 if verdict.holds else 1
