"""Where deliveries post (`replay --to`, `collect --forward`): a Segment-style base URL becomes
`/v1/batch`; explicit endpoints stay."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

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


def resolve(url: str, mode: str) -> Target:
    """The endpoint for `url` in `mode` ("batch" or "single"); ValueError when it is not a URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid URL {url!r}: expected http(s)://host[:port][/path]")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"invalid URL {url!r}: bad port") from None
    base = url.strip().rstrip("/")
    path = parts.path.rstrip("/")
    if mode == "single":
        return Target(base, per_type=path in ("", "/v1"))
    if path.endswith(BATCH_ENDPOINTS):
        return Target(base)
    if path.endswith("/v1"):
        return Target(base + "/batch")
    return Target(base + "/v1/batch")
