"""Where deliveries post (`replay --to`, `collect --forward`): a Segment-style base URL becomes
`/v1/batch`; explicit endpoints stay."""

from __future__ import annotations

import ipaddress
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
    text = url.strip()
    if any(ord(char) < 33 or ord(char) == 127 for char in text):  # http.client refuses them later
        raise ValueError(f"invalid URL {url!r}: it holds a space or a control character")
    try:
        parts = urlsplit(text)
        if parts.scheme in ("http", "https") and parts.hostname:
            if parts.port == 0 or _dotted_ipv4(parts.hostname):
                raise ValueError
            return parts
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number, 0 or too big
        if "://" in url:
            raise ValueError(f"invalid URL {url!r}: bad host or port") from None
    raise ValueError(f"invalid URL {url!r}: expected http(s)://host[:port][/path]")


def _dotted_ipv4(host: str) -> bool:
    """`127.0.0.1.`: an IPv4 address with a trailing dot, which aiohttp refuses at the first
    request ("not a canonical IPv4 address"; a forwarder would retry it forever)."""
    if not host.endswith("."):
        return False
    try:
        ipaddress.IPv4Address(host.rstrip("."))
    except ValueError:
        return False
    return True


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
