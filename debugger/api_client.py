"""A small blocking client of the collector's `/segdebug/` API (debugger/api.py).

Why blocking and stdlib-only: its users are `segdebug assert` (a CLI that polls) and the
pytest plugin (test code, usually synchronous); neither should need an event loop.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, cast
from urllib.parse import urlencode

from debugger.protocol import EventEnvelope

TIMEOUT = 10.0


class ApiUnavailable(Exception):
    """No collector answered at the URL (not running, wrong port, not a segdebug collector)."""


class ApiRefused(Exception):
    """The collector answered with an error (a 4xx JSON body): its message and column."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


class ApiClient:
    """`events`, `summary` and `reset` of the collector at `url` (http://host:port)."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def events(self, query: str = "", status: str = "all", limit: int = 1000) -> tuple[list[EventEnvelope], int]:
        """The newest `limit` matching envelopes (arrival order) and how many matched in all."""
        body = self._call("GET", "events", {"q": query, "status": status, "limit": limit})
        return cast(list[EventEnvelope], body["events"]), int(body["total"])

    def summary(self) -> dict[str, Any]:
        return self._call("GET", "summary")

    def reset(self) -> dict[str, Any]:
        """Start a new window; the answer's `window` says where it starts."""
        return self._call("POST", "reset")

    def _call(self, method: str, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.url}/segdebug/{name}" + (f"?{urlencode(params)}" if params else "")
        request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - the user's collector URL
                return cast(dict[str, Any], json.loads(answer.read()))
        except urllib.error.HTTPError as error:
            body = _json_or_none(error.read())
            if error.code == 400 and body is not None and "message" in body:
                raise ApiRefused(str(body["message"]), body.get("column")) from None
            raise ApiUnavailable(f"{url} answered {error.code}: is this a segdebug collector?") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiUnavailable(f"no segdebug collector answers at {self.url} ({reason})") from None
        except ValueError:
            raise ApiUnavailable(f"{url} did not answer JSON: is this a segdebug collector?") from None


def _json_or_none(data: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(data)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
