"""What one request to a destination looked like, kept for the people debugging it (pure).

Segment's Event Delivery shows, for an error, *Request to destination* and *Response from
destination*; an `Exchange` is both, with bodies cut at 4 KB (a record per message must stay
small) and credentials in headers masked (records reach viewers and summaries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import orjson

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
        """One line: `HTTP 500: reason`, or the network reason; "" for a success."""
        if self.ok:
            return ""
        if self.status is None:
            return self.reason
        return f"HTTP {self.status}" + (f": {self.reason}" if self.reason else "")

    def request(self) -> dict[str, Any]:
        """Request to destination, as a record shows it."""
        body, cut = clip(self.request_body)
        return {"url": self.url, "headers": masked_headers(self.request_headers), "body": body,
                "truncated": cut}

    def response(self) -> dict[str, Any]:
        """Response from destination, as a record shows it."""
        body, cut = clip(self.response_body)
        answer: dict[str, Any] = {"status": self.status, "headers": masked_headers(self.response_headers),
                                  "body": body, "truncated": cut,
                                  "ms": round(self.seconds * 1000, 1)}
        if self.reason and not self.ok:
            answer["error"] = self.reason
        return answer


def clip(body: bytes, limit: int = BODY_LIMIT) -> tuple[str, bool]:
    """The first `limit` bytes as text (a cut character becomes U+FFFD), and whether cut."""
    if len(body) <= limit:
        return body.decode(errors="replace"), False
    return body[:limit].decode(errors="replace"), True


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credentials masked: `Basic d2tf…On`, enough to tell keys apart."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme, _, token = value.partition(" ")
            value = f"{scheme} {mask_key(token)}" if token else mask_key(scheme)
        shown[str(name)] = str(value)
    return shown


def answer_reason(status: int, answer: bytes) -> str:
    """A short, single-line reason from an error answer: its JSON message, else its text."""
    text = answer[:200].decode(errors="replace").replace("\n", " ").strip()
    try:
        parsed = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return text[:200]
    if isinstance(parsed, dict):
        text = str(parsed.get("message") or parsed.get("error") or parsed.get("code") or text)
    return text[:200]


def hide_key(text: str, key: str | None) -> str:
    """`text` (a server's answer may echo the write key) with `key` masked."""
    return text.replace(key, mask_key(key)) if key and key in text else text
