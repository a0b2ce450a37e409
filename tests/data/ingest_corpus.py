"""A corpus of tracking-API calls and what ingest made of each, to hold ingest to its output.

`calls()` builds the calls: every line of samples/*.ndjson and samples/bad/*.ndjson sent as
batches (several sizes, a shared sentAt or each item's own, an envelope context and
integrations) and as single calls to its type's path, plus odd inputs (items that are not
objects, write keys and an allow-list, timestamps with offsets or none, non-string sentAt,
oversize items, bad bodies). `outcome_record(...)` is everything ingest's result holds that
reaches the archive, the rejected file, the answer or a viewer (texts recorded once, with the
refusing-only checker; with the full checker only what differs: the problems).

tests/data/ingest_golden.ndjson.gz was written by this script on the ingest of commit
f44c75b (before the per-message work was made cheaper, issue 16), with

    .venv/bin/python tests/data/ingest_corpus.py --write

and tests/test_ingest_golden.py checks that today's ingest gives the same records, byte for
byte. Rewritten once since, for one deliberate change (2026-11-29): timestamps shifted past
year 9999 are left as sent, and years before 1000 keep four digits (six records of two calls
changed, nothing else). Regenerate it only for a deliberate change of ingest's output, and say so in the commit.
"""

from __future__ import annotations

import gzip
import random
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import orjson

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from debugger import ingest, rules  # noqa: E402

GOLDEN = Path(__file__).with_name("ingest_golden.ndjson.gz")
RECEIVED = datetime(2026, 3, 2, 9, 0, 5, 123456, tzinfo=timezone.utc)
CHECKERS = {"full": rules.check, "refusing": rules.check_required}


class CorpusCall:
    """One call: its body, Content-Encoding, path kind, Basic-auth key and allow-list."""

    def __init__(self, name: str, body: bytes, kind: str | None = None, *, encoding: str | None = None,
                 auth_key: str | None = None, allowed: frozenset[str] = frozenset()) -> None:
        self.name, self.body, self.kind = name, body, kind
        self.encoding, self.auth_key, self.allowed = encoding, auth_key, allowed


def _messages() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((ROOT / "samples").glob("*.ndjson")) + sorted((ROOT / "samples" / "bad").glob("*.ndjson")):
        for number, line in enumerate(path.read_bytes().splitlines()):
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                found.append((f"{path.parent.name}/{path.name}:{number}", value))
    return found


def _stripped(message: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The message as an SDK would send it: without what the collector adds, sometimes with
    its sentAt or writeKey kept, its timestamp left out or its originalTimestamp kept."""
    item = {k: v for k, v in message.items() if k not in ("receivedAt", "writeKey", "sentAt")}
    roll = rng.random()
    if roll < 0.1:
        item.pop("timestamp", None)
    elif roll < 0.5:
        item.pop("originalTimestamp", None)
    if rng.random() < 0.2 and "sentAt" in message:
        item["sentAt"] = message["sentAt"]
    if rng.random() < 0.1:
        item["writeKey"] = rng.choice(["wk_item", "", 7, None])
    return item


def _odd_calls() -> Iterator[CorpusCall]:
    track = {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m1",
             "timestamp": "2026-03-02T08:59:59.500Z"}
    odd_items: list[Any] = [
        1, "text", None, [track], True,
        {**track, "timestamp": "2026-03-02T10:59:59+02:00"},
        {**track, "timestamp": "2026-03-02T08:59:59.123456"},
        {**track, "timestamp": "2026-03-02T08:59:59"},
        {**track, "timestamp": "2026-03-02"},
        {**track, "timestamp": "not a time"},
        {**track, "timestamp": 1700000000},
        {**track, "timestamp": None},
        {**track, "timestamp": "9999-12-31T23:59:59.999Z"},
        {**track, "timestamp": "0001-01-01T00:00:00.000Z"},
        {**track, "timestamp": "2026-03-02T08:59:59.500Z", "originalTimestamp": "kept"},
        {**track, "sentAt": "2026-03-02T08:00:00Z"},
        {**track, "sentAt": 5},
        {**track, "sentAt": "garbage"},
        {**track, "sentAt": None},
        {**track, "receivedAt": "x" * 50},
        {**track, "event": 42}, {**track, "messageId": 1}, {**track, "type": "nope"},
        {**track, "userId": None}, {**track, "context": {"ip": "1.2.3.4"}, "integrations": {"All": False}},
        {**track, "context": "not an object"},
        {**track, "properties": {"text": "é\u2028\U0001F600\"\\", "n": 1.5, "big": 2**63 - 1, "neg": -2**63}},
        {**track, "properties": {"pad": "x" * 32700}},
        {**track, "properties": {"pad": "x" * 40000}},
    ]
    sent_ats = ["2026-03-02T09:00:00.000Z", "2026-03-02T09:00:05.123Z", "2026-03-02T11:00:00+02:00", None, 12]
    for index, sent_at in enumerate(sent_ats):
        envelope: dict[str, Any] = {"batch": odd_items, "writeKey": "wk_env"}
        if sent_at is not None:
            envelope["sentAt"] = sent_at
        if index == 1:
            envelope["context"] = {"library": {"name": "env"}, "ip": "9.9.9.9"}
            envelope["integrations"] = {"Amplitude": False}
        yield CorpusCall(f"odd batch sentAt={sent_at!r}", orjson.dumps(envelope))
    for index, item in enumerate(odd_items):
        body = orjson.dumps(item)
        yield CorpusCall(f"odd single {index}", body, "track")
        yield CorpusCall(f"odd single {index} as identify", body, "identify", auth_key="wk_auth")
    keyed = [{**track, "writeKey": key} for key in ("good", "bad", None, "")]
    for allowed in (frozenset({"good"}), frozenset({"wk_env"}), frozenset()):
        for key in ("good", None, "bad"):
            body = orjson.dumps({"batch": keyed, **({"writeKey": key} if key else {})})
            yield CorpusCall(f"keys {sorted(allowed)} {key}", body, allowed=allowed, auth_key="wk_auth")
            yield CorpusCall(f"single keys {sorted(allowed)} {key}", orjson.dumps({**track, "writeKey": key}),
                             "page", allowed=allowed)
    raw_bodies = [b"", b"  ", b"{", b"[1]", b'{"batch": 1}', b'{"batch": []}', b"\xff\xfe",
                  b'{"batch": [{"type":"track"}, 1, {"a": 1.50, "a": 2}], "sentAt": "2026-03-02T09:00:00Z"}',
                  orjson.dumps({"batch": [track] * 2501})]
    for index, body in enumerate(raw_bodies):
        yield CorpusCall(f"raw body {index}", body)
        yield CorpusCall(f"raw single {index}", body, "track")
    packed = orjson.dumps({"batch": [track, track], "sentAt": "2026-03-02T09:00:00.000Z"})
    yield CorpusCall("gzip", gzip.compress(packed, mtime=0), encoding="gzip")
    yield CorpusCall("bad gzip", gzip.compress(packed, mtime=0)[:-5], encoding="gzip")
    yield CorpusCall("brotli", packed, encoding="br")


def calls() -> Iterator[CorpusCall]:
    """Every call of the corpus, in a fixed order."""
    rng = random.Random(16)
    messages = _messages()
    items = [(name, _stripped(message, rng)) for name, message in messages]
    for size in (1, 7, 100):
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            envelope: dict[str, Any] = {"batch": [item for _, item in chunk]}
            roll = rng.random()
            if roll < 0.7:
                envelope["sentAt"] = rng.choice(["2026-03-02T09:00:05.000Z", "2026-03-02T09:00:00.100Z",
                                                 "2026-03-02T08:59:00Z", "2026-03-02T10:00:05.000+01:00"])
            if rng.random() < 0.5:
                envelope["writeKey"] = "wk_batch"
            if rng.random() < 0.2:
                envelope["context"] = {"library": {"name": "analytics-python", "version": "2.3.0"}}
            yield CorpusCall(f"batch of {size} from {chunk[0][0]}", orjson.dumps(envelope))
    for name, item in items:
        kind = item.get("type") if isinstance(item.get("type"), str) else "track"
        single = {**item, "sentAt": "2026-03-02T09:00:04.900Z"} if rng.random() < 0.5 else item
        yield CorpusCall(f"single {name}", orjson.dumps(single), kind, auth_key="wk_auth")
    yield from _odd_calls()


def outcome_record(call: CorpusCall, checker: str) -> dict[str, Any]:
    """What ingest made of one call, with everything that leaves the collector."""
    facts = ingest.Call(call.kind, RECEIVED, call.auth_key, call.allowed)
    outcome = ingest.ingest(call.body, call.encoding, facts, CHECKERS[checker])
    results = []
    for result in outcome.results:
        entry: dict[str, Any] = {"accepted": isinstance(result, ingest.Accepted), "writeKey": result.write_key,
                                 "problems": result.problems}
        if checker == "refusing":  # the archive, rejected file and viewers' texts (the same with both)
            if isinstance(result, ingest.Accepted):
                entry["line"] = result.line.decode()
                entry["message_is_line"] = orjson.loads(result.line) == result.message
            else:
                entry["message"], entry["raw"] = result.message, result.raw
        results.append(entry)
    return {"call": call.name, "checker": checker, "status": outcome.status, "body": outcome.body,
            "strict": outcome.strict_status, "refusals": outcome.refusals, "results": results}


def records() -> Iterator[bytes]:
    for call in calls():
        for checker in CHECKERS:
            yield orjson.dumps(outcome_record(call, checker), option=orjson.OPT_SORT_KEYS)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: tests/data/ingest_corpus.py --write  (rewrites the golden file)")
    with gzip.open(GOLDEN, "wb", compresslevel=9) as out:
        count = 0
        for record in records():
            out.write(record + b"\n")
            count += 1
    print(f"{GOLDEN.relative_to(ROOT)}: {count} records, {GOLDEN.stat().st_size} bytes")
