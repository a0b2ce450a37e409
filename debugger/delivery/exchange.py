"""What one request to a destination looked like, kept for the people debugging it (pure).

Segment's Event Delivery shows, for an error, *Request to destination* and *Response from
destination*; an `Exchange` is both, with bodies cut at 4 KB (a record per message must stay
small) and its credentials masked wherever they show. What an error answer says is read here
too: its one-line reason, and which messages a partial acceptance refused.

Credentials: the write key(s) a request carried to the destination (`--forward-write-key`, or
each message's own key when none replaces it), read from what was sent: Basic auth as the
collector reads it, and every `writeKey` in the body shown. They are masked always, as
`hide_key` does, in everything a record or a summary shows of the exchange (URL, headers, both
bodies, the reason) and in its You sent (`hide`): the issue asks for masked headers, and a full
copy anywhere beside them would undo that. Records and summaries reach every viewer and any
HTTP client of the collector, whose options (`--mask-keys`) the collector cannot know. An
app's own key that was *not* sent (replaced by `--forward-write-key`) is no credential of the
destination: You sent shows it as the events list does (in full; `live --mask-keys` masks it).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping, TypeGuard
from urllib.parse import quote, quote_plus

import orjson

from debugger.archive import parse_line
from debugger.ingest import write_key_from_auth
from debugger.message import mask_key

BODY_LIMIT = 4096
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie",
                            "set-cookie"})


@dataclass(frozen=True, slots=True)
class Exchange:
    """One attempt: the request as sent and the answer (status None: no answer, see `reason`)."""

    url: str
    request_headers: Mapping[str, str]
    request_body: bytes
    status: int | None
    response_headers: Mapping[str, str]
    response_body: bytes
    reason: str  # short: the answer's message, or what went wrong on the network; "" when ok
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def error(self) -> str:
        """One line: `HTTP 500: reason`, or the network reason; "" for a success (a 2xx with a
        reason is one message a partial acceptance refused: `HTTP 200: missing_event: ...`)."""
        if self.ok and not self.reason:
            return ""
        if self.status is None:
            return self.reason
        return f"HTTP {self.status}" + (f": {self.reason}" if self.reason else "")

    def keys(self) -> frozenset[str]:
        """The write keys this request carried (its credentials): the one in its Authorization
        header, and every `writeKey` in the part of its body a record shows."""
        found = set(_body_keys(clip(self.request_body)[0]))
        for name, value in self.request_headers.items():
            if name.lower() == "authorization" and (key := write_key_from_auth(value)):
                found.add(key)
        return frozenset(found)

    def hide(self, text: str, keys: frozenset[str] | None = None) -> str:
        """`text` (You sent, a reason) with this request's credentials masked. `keys`, in this
        and the next two: `keys()` once for several of them (it reads the body)."""
        return hide_keys(text, self.keys() if keys is None else keys)

    def request(self, keys: frozenset[str] | None = None) -> dict[str, Any]:
        """Request to destination, as a record shows it (credentials masked)."""
        keys = self.keys() if keys is None else keys
        body, cut = clip(self.request_body)
        return {"url": hide_keys(self.url, keys), "headers": masked_headers(self.request_headers, keys),
                "body": hide_keys(body, keys), "truncated": cut}

    def response(self, keys: frozenset[str] | None = None) -> dict[str, Any]:
        """Response from destination, as a record shows it (the request's credentials masked
        where the answer echoes them)."""
        keys = self.keys() if keys is None else keys
        body, cut = clip(self.response_body)
        answer: dict[str, Any] = {"status": self.status, "headers": masked_headers(self.response_headers, keys),
                                  "body": hide_keys(body, keys), "truncated": cut,
                                  "ms": round(self.seconds * 1000, 1)}
        if self.reason and not self.ok:
            answer["error"] = hide_keys(self.reason, keys)
        return answer


def clip(body: bytes, limit: int = BODY_LIMIT) -> tuple[str, bool]:
    """The first `limit` bytes as text (a cut character becomes U+FFFD), and whether cut."""
    if len(body) <= limit:
        return body.decode(errors="replace"), False
    return body[:limit].decode(errors="replace"), True


def masked_headers(headers: Mapping[str, str], keys: Iterable[str] = ()) -> dict[str, str]:
    """Headers with credentials masked: `Basic d2tf…On`, enough to tell keys apart; in the
    others, `keys` masked (an answer may echo one)."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme, _, token = value.partition(" ")
            value = f"{scheme} {mask_key(token)}" if token else mask_key(scheme)
        shown[str(name)] = hide_keys(str(value), keys)
    return shown


# a writeKey field's JSON string, in text that is (mostly) JSON: a body cut at 4 KB
_WRITE_KEY_FIELD = re.compile(r'"writeKey"\s*:\s*("[^"\\]*(?:\\.[^"\\]*)*")')


def _body_keys(body: str) -> Iterable[str]:
    """The non-empty `writeKey` strings in a (possibly cut) JSON body."""
    if '"writeKey"' not in body:
        return
    for match in _WRITE_KEY_FIELD.finditer(body):
        literal = match.group(1)
        if "\\" not in literal:  # the usual key: nothing escaped, no decoding (7x faster)
            key = literal[1:-1]
        else:
            try:
                key = json.loads(literal)
            except ValueError:
                continue
        if key:
            yield key


def answer_reason(status: int, answer: bytes) -> str:
    """A short, single-line reason from an error answer: its JSON `code: message` (as a partial
    acceptance's refusals read, `refusal_reason`: QA found `--mode single` showing
    `400  event is ...` where batches showed `invalid_event: event is ...`), else its message,
    else its text."""
    text = answer[:200].decode(errors="replace").replace("\n", " ").strip()
    try:
        parsed = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return text[:200]
    if isinstance(parsed, dict):
        code, message = parsed.get("code"), parsed.get("message") or parsed.get("error")
        if (isinstance(code, str) and code.strip() and isinstance(message, str) and message.strip()
                and "errors" not in parsed and not message.startswith(f"{code}:")):
            return refusal_reason({"code": code, "message": message})
        text = str(message or code or text)
    return text[:200]


REASON_LIMIT = 200  # characters of a reason kept (one line of a report or a failed record)
NO_REASON = "refused (the answer gives no reason)"


def partial_refusals(status: int | None, answer: bytes, sent: int) -> dict[int, str] | None:
    """Which messages of a batch of `sent` a 2xx or 4xx answer says were refused, each with its
    reason, when the answer says exactly that (a partial acceptance); None for any other answer.

    A segdebug collector answers 200 (400 with `--strict`) to a batch with refused items, still
    archives the others, and says so: `{"accepted": a, "rejected": r, "errors": [{"index", "code",
    "message"}, ...]}`. Narrowing such a batch down by halves would resend (and duplicate) the
    accepted messages on every round, so the sender believes an answer that accounts for every
    message it sent: a + r == sent, r >= 1, and exactly r errors with distinct indexes within the
    batch. Anything less (a capped or summary error list, an index of None, counts that do not
    add up) cannot say which messages were kept, so that batch is narrowed down as before. A 429
    is about the rate, never the content, so it never counts. On a 2xx it keeps a refused
    message from being counted delivered (QA round 2: replaying 334 messages without a user
    into a collector reported "delivered 334" while all 334 were in its refusal log); Segment
    answers `{"success": true}` alone, which says nothing of the sort. A single call refused
    for what it says is answered 200 with `{"success": false, "code", "message"}`: for a
    request of one message, that refuses it (helper-37: `replay --mode single` into a plain
    collector reported its refusals delivered).
    """
    if status is None or status == 429 or not (200 <= status < 300 or 400 <= status < 500):
        return None
    body = parse_line(answer)
    if not isinstance(body, dict):
        return None
    if sent == 1 and 200 <= status < 300 and body.get("success") is False and _refusal_named(body):
        return {0: refusal_reason(body)}  # a segdebug collector refusing one call, answered 200
    accepted, rejected, errors = body.get("accepted"), body.get("rejected"), body.get("errors")
    if not (_count(accepted) and _count(rejected) and isinstance(errors, list)):
        return None
    if accepted + rejected != sent or rejected < 1 or len(errors) != rejected:
        return None
    refusals: dict[int, str] = {}
    for entry in errors:
        index = entry.get("index") if isinstance(entry, dict) else None
        if not _count(index) or index >= sent or index in refusals:
            return None
        refusals[index] = refusal_reason(entry)
    return refusals


def _refusal_named(body: dict[str, Any]) -> bool:
    return any(isinstance(body.get(name), str) and body[name] for name in ("code", "message"))


def refusal_reason(entry: dict[str, Any]) -> str:
    """One refused item's reason as one short line: `code: message` (as `segdebug tail` shows
    a refusal), or whichever of the two the answer gives."""
    parts = [value for value in (entry.get("code"), entry.get("message")) if isinstance(value, str) and value]
    text = " ".join(": ".join(parts).split())  # untrusted text: no line breaks or tabs in a reason
    return text[:REASON_LIMIT] or NO_REASON


def _count(value: object) -> TypeGuard[int]:
    """A JSON integer of zero or more (JSON's true is a bool in Python, and no count)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def hide_key(text: str, key: str | None) -> str:
    """`text` (a server's answer may echo the write key) with `key` masked (mask_key) wherever
    it stands as a token of its own: a key "dev" masks `"writeKey":"dev"` and `key dev`, and
    leaves "developer" alone."""
    if not key or key not in text:
        return text
    masked = mask_key(key)

    def swap(found: re.Match[str]) -> str:
        start = found.start()  # looked at here: a pattern opening with a lookbehind is 10x slower
        return found.group() if start and _key_char(text[start - 1]) else masked

    return _key_pattern(key).sub(swap, text)


def hide_keys(text: str, keys: Iterable[str]) -> str:
    """`text` with every key in `keys` masked (hide_key) in every spelling a destination may
    echo it in (`spellings`), a longer one first: one may hold another."""
    for spelling in sorted({form for key in keys for form in spellings(key)}, key=len, reverse=True):
        text = hide_key(text, spelling)
    return text


@lru_cache(maxsize=256)
def spellings(key: str) -> tuple[str, ...]:
    """The key as sent and as an answer may echo it: URL-encoded (a query string, a Location
    header), JSON-escaped (`\\/`, `\\u00e9`), and the Basic credential it was sent as, base64
    of `key:` (an echoed Authorization header), and of the key alone. QA: an endpoint echoing
    these showed the key in full beside the masked header it came from."""
    if not key:
        return ()
    forms = {key, quote(key, safe=""), quote_plus(key, safe=""), json.dumps(key)[1:-1],
             json.dumps(key)[1:-1].replace("/", "\\/"), json.dumps(key, ensure_ascii=False)[1:-1]}
    for raw in (f"{key}:", key):
        encoded = base64.b64encode(raw.encode()).decode()
        forms |= {encoded, encoded.rstrip("=")}
    return tuple(form for form in forms if form)


@lru_cache(maxsize=256)
def _key_pattern(key: str) -> re.Pattern[str]:
    """`key` not followed by a letter, digit, `_` or `-` (what keys are made of; hide_key
    looks at the character before)."""
    return re.compile(rf"{re.escape(key)}(?![\w-])")


def _key_char(char: str) -> bool:
    return char.isalnum() or char in "_-"
