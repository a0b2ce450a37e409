"""Where deliveries post (`replay --to`, `collect --forward`): a Segment-style base URL becomes
`/v1/batch`; explicit endpoints stay."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

BATCH_ENDPOINTS = ("/v1/batch", "/v1/import", "/v1/b")


@dataclass(frozen=True, slots=True)
class Target:
    """The endpoint(s) for one run; `per_type` posts single messages to `/v1/<type>`."""

    url: str
    per_type: bool = False

    def url_for(self, call_type: str) -> str:
        if self.per_type and call_type:
            return f"{self.url}/v1/{call_type}"
        return self.url


def check_http_url(url: str) -> SplitResult:
    """`url` split, when it is an http(s) URL with a host and a valid port; ValueError (a
    message for one line) otherwise. Every option that takes a URL checks it here, so a typo
    is refused at once instead of failing (or hanging) when the first request goes out."""
    try:
        parts = urlsplit(url.strip())
        if parts.scheme in ("http", "https") and parts.hostname:
            parts.port  # noqa: B018 - raises on a bad port
            return parts
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number or too big
        if "://" in url:
            raise ValueError(f"invalid URL {url!r}: bad host or port") from None
    raise ValueError(f"invalid URL {url!r}: expected http(s)://host[:port][/path]")


def resolve(url: str, mode: str) -> Target:
    """The endpoint for `url` in `mode` ("batch" or "single"); ValueError when it is not a URL."""
    parts = check_http_url(url)
    base = url.strip().rstrip("/")
    path = parts.path.rstrip("/")
    if mode == "single":
        return Target(base, per_type=path in ("", "/v1"))
    if path.endswith(BATCH_ENDPOINTS):
        return Target(base)
    if path.endswith("/v1"):
        return Target(base + "/batch")
    return Target(base + "/v1/batch")
