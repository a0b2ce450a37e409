"""The collector's HTTP side: Segment's tracking API as an aiohttp app.

Routes, CORS and answers live here; what a call means is `debugger.ingest`. Every answer has
a JSON body (the pixel API's GIF aside). Accepted messages reach the archive before the answer
is sent; each accepted or refused message is then published as a socket envelope.
"""

from __future__ import annotations

import base64
import operator
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from debugger.archive_writer import ArchiveWriter
from debugger.checks import Checker
from debugger.ingest import (
    MAX_REQUEST, Accepted, Call, IngestError, Outcome, Refused, decode_pixel, error_body, ingest,
    refused_call, write_key_from_auth,
)
from debugger.message import CALL_TYPES, SHORT_PATHS
from debugger.pending import CallContext
from debugger.protocol import ACCEPTED, REFUSED, EventEnvelope, event
from debugger.store import RecentStore

Publish = Callable[[EventEnvelope], None]  # where each event goes, one envelope at a time
# Where each call's messages go, unbuilt (the hub, in serve.py): first seq, call, results, refusals
PublishCall = Callable[[int, CallContext, list[Accepted | Refused], int], None]

_LINE_OF: Callable[[Accepted], bytes] = operator.attrgetter("line")

# Bodies up to this size are read whole so an oversize request still gets its JSON answer.
READ_LIMIT = 4 * MAX_REQUEST
BATCH_PATHS = ("batch", "import", "b")
EMPTY_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Max-Age": "86400",
}
DEFAULT_ALLOWED_HEADERS = "Content-Type, Authorization, X-Retry-Count, Content-Encoding"
# How the app must be run: bodies reach ingest still compressed, so its inflate cap applies.
RUNNER_OPTIONS: dict[str, Any] = {"auto_decompress": False, "access_log": None}


class ArchiveWriteError(Exception):
    """The archive could not be appended to: nothing was accepted, the client should retry."""


@dataclass
class Collector:
    """What the handlers share: the archive, the checkers, the publisher, the allow-list.

    `check` finds every problem; `check_refusals` only those that can refuse a message. The
    cheaper one is used while `watched()` says no viewer would see the warnings: the archive,
    rejected.ndjson and the HTTP answers are the same either way. Likewise, while nobody
    watches, no envelope is built: `tally(accepted, rejected)` only counts (when given), and
    `seq` still advances by one per message, so the numbers a viewer sees stay a count.
    """

    writer: ArchiveWriter
    check: Checker
    publish: Publish
    check_refusals: Checker | None = None
    watched: Callable[[], bool] = lambda: True
    allowed: frozenset[str] = frozenset()
    tally: Callable[[int, int], None] | None = None
    seq: int = 1  # the next envelope's number
    store: RecentStore | None = None  # the recent messages the /segdebug/ API reads, fed always
    # When given, every call's messages go here unbuilt, whoever watches (issue 16): ingest
    # runs only the refusing checker and the hub builds envelopes, with the full problems,
    # for what a viewer is sent. `publish`, `tally` and `watched` are then unused.
    publish_call: PublishCall | None = None
    strict: bool = False  # answer 400 for every refused call (`collect --strict`, for CI)

    def checker(self) -> Checker:
        if self.check_refusals is None:
            return self.check
        if self.publish_call is not None or not self.watched():
            return self.check_refusals
        return self.check

    def record(self, request: web.Request, call: Call, outcome: Outcome, body_size: int) -> None:
        """Archive what was accepted (one write), log what was refused, then publish both.

        Raises ArchiveWriteError (answered 500, so SDKs retry) when the archive cannot be written.
        """
        endpoint = request.path
        try:
            archived = self._write(call, outcome, endpoint)
        except OSError as error:
            raise ArchiveWriteError(f"cannot append to {self.writer.archive_path}: {error.strerror or error}") from error
        full = None if self.checker() is self.check else self.check  # for what ingest skipped
        context = CallContext(call.received_at, endpoint, _request_facts(request, body_size), full)
        if self.store is not None:
            self.store.append_call(self.seq, context, outcome.results, outcome.refusals, archived)
        if self.publish_call is not None:
            first, self.seq = self.seq, self.seq + len(outcome.results)
            self.publish_call(first, context, outcome.results, outcome.refusals)
        elif self.tally is None or self.watched():
            self._publish(request, call, outcome, endpoint, body_size)
        else:
            self.seq += len(outcome.results)
            self.tally(len(outcome.results) - outcome.refusals, outcome.refusals)

    def _write(self, call: Call, outcome: Outcome, endpoint: str) -> bytes:
        """Append the accepted lines and the refusals; returns the archive bytes written."""
        archived = self.writer.append_lines(map(_LINE_OF, outcome.accepted))  # at C speed
        if outcome.refusals:
            self.writer.append_rejected(
                {
                    "receivedAt": call.received_at, "endpoint": endpoint, "writeKey": item.write_key,
                    "code": item.problems[0]["code"], "problems": item.problems,
                    "message": item.message, "raw": item.raw,
                }
                for item in outcome.refused
            )
        return archived

    def _publish(self, request: web.Request, call: Call, outcome: Outcome, endpoint: str, size: int) -> None:
        facts = _request_facts(request, size)
        publish, received_at, results = self.publish, call.received_at, outcome.results
        first, self.seq = self.seq, self.seq + len(results)
        for seq, item in enumerate(results, first):
            if isinstance(item, Accepted):  # its message is its archive line: raw adds nothing
                status, raw = ACCEPTED, None
            else:
                status, raw = REFUSED, item.raw
            publish(event(
                seq=seq, received_at=received_at, endpoint=endpoint, write_key=item.write_key,
                status=status, problems=item.problems, message=item.message, raw=raw, request=facts,
            ))

    def call_for(self, request: web.Request, kind: str | None) -> Call:
        return Call(
            kind=kind, received=datetime.now(timezone.utc),
            auth_key=write_key_from_auth(request.headers.get("Authorization")),
            allowed=self.allowed,
        )


def _request_facts(request: web.Request, size: int) -> dict[str, Any]:
    headers = request.headers
    return {
        "method": request.method, "path": request.path_qs,
        "contentType": headers.get("Content-Type"), "contentEncoding": headers.get("Content-Encoding"),
        "userAgent": headers.get("User-Agent"), "remote": request.remote, "bytes": size,
    }


async def _methods_for(request: web.Request, resources: Iterable[web.AbstractResource]) -> set[str]:
    """The methods the routes on the request's path take (the catch-all aside): empty when no
    route has the path."""
    allowed: set[str] = set()
    for resource in resources:
        if resource.canonical == "/{tail}":
            continue
        _, methods = await resource.resolve(request)
        allowed |= methods
    return allowed - {"*"}


def json_response(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


OK = orjson.dumps({"success": True})


def _answer(outcome: Outcome, strict: bool) -> web.Response:
    """Segment's answer (200 unless the JSON, its encoding or its size is wrong), or with
    `strict` a 4xx for any refusal; the body says what was refused either way. `success` is
    Segment's "the call was processed" on a 200, even when every item was refused (the counts
    say so); a 4xx never says true (QA: `--strict` answered 400 with `"success": true`)."""
    if outcome.status == 200 and not outcome.refusals:
        return web.Response(body=OK, content_type="application/json")
    status, body = outcome.answer_status(strict), outcome.body
    if status >= 400 and body.get("success") is not False:
        body = {**body, "success": False}
    return json_response(status, body)


def make_app(collector: Collector, routes: Iterable[web.AbstractRouteDef] = ()) -> web.Application:
    """The aiohttp application: every endpoint and alias of the tracking API, plus `routes`
    (the /segdebug/ local API, from serve.py) ahead of the catch-all 404.

    Run it with `web.AppRunner(app, **RUNNER_OPTIONS)`.
    """

    async def post_call(request: web.Request, kind: str | None) -> web.Response:
        call = collector.call_for(request, kind)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            error = IngestError(400, "request_too_large", f"the request is over {MAX_REQUEST} bytes")
            body = b""
            outcome = refused_call(error, None, call.auth_key)
        else:
            outcome = ingest(body, request.headers.get("Content-Encoding"), call, collector.checker())
        collector.record(request, call, outcome, len(body))
        return _answer(outcome, collector.strict)

    def single(kind: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            return await post_call(request, kind)

        return handler

    async def batch(request: web.Request) -> web.Response:
        return await post_call(request, None)

    async def metrics(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=OK, content_type="application/json")

    async def pixel(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        call = collector.call_for(request, kind)
        try:
            if kind not in CALL_TYPES:
                raise IngestError(400, "invalid_type", f"unknown pixel call type {kind!r}")
            body = decode_pixel(request.query.get("data"))
        except IngestError as error:
            outcome = refused_call(error, request.query_string or None, call.auth_key)
        else:
            outcome = ingest(body, None, call, collector.checker())
        collector.record(request, call, outcome, 0)
        return web.Response(body=EMPTY_GIF, content_type="image/gif", headers={"Cache-Control": "no-store"})

    async def settings(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        body = {
            "integrations": {
                "Segment.io": {
                    "apiKey": key, "apiHost": f"{request.host}/v1", "protocol": request.scheme,
                    "unbundledIntegrations": [], "addBundledMetadata": True,
                }
            },
            "plan": {"track": {"__default": {"enabled": True, "integrations": {}}},
                     "identify": {"__default": {"enabled": True}},
                     "group": {"__default": {"enabled": True}}},
            "edgeFunction": {}, "analyticsNextEnabled": True, "middlewareSettings": {},
            "enabledMiddleware": {}, "metrics": {"sampleRate": 0}, "remotePlugins": [],
        }
        return json_response(200, body)

    async def preflight(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def not_found(request: web.Request) -> web.Response:
        """404, or 405 naming the methods the path takes: `curl URL` without `-d` is a GET, and
        "no such endpoint: GET /v1/track" sent developers looking for a typo (QA)."""
        resources = app.router.resources()
        allowed = await _methods_for(request, resources)
        if allowed:
            methods = ", ".join(sorted(allowed - {"HEAD", "OPTIONS"}))
            message = f"{request.method} {request.path} is not served: use {methods}"
            response = json_response(405, error_body("method_not_allowed", message))
            response.headers["Allow"] = ", ".join(sorted(allowed | {"OPTIONS"}))  # the preflight too
            return response
        message = f"no such endpoint: {request.method} {request.path}"
        stripped = request.path.rstrip("/")
        if stripped and stripped != request.path:  # QA: `/segdebug/reset/` gave no hint
            if await _methods_for(request.clone(rel_url=request.rel_url.with_path(stripped)), resources):
                message += f" (without the final slash: {stripped})"
        return json_response(404, error_body("not_found", message))

    app = web.Application(client_max_size=READ_LIMIT, middlewares=[_cors, _json_errors])
    for kind in CALL_TYPES:
        app.router.add_post(f"/v1/{kind}", single(kind))
    for letter, kind in SHORT_PATHS.items():
        app.router.add_post(f"/v1/{letter}", single(kind))
    for name in BATCH_PATHS:
        app.router.add_post(f"/v1/{name}", batch)
    app.router.add_post("/v1/m", metrics)
    app.router.add_get("/v1/pixel/{kind}", pixel)
    app.router.add_get("/v1/projects/{key}/settings", settings)
    app.router.add_routes(routes)
    app.router.add_route("OPTIONS", "/{tail:.*}", preflight)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app


@web.middleware
async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Any origin may call: analytics.js runs on whatever page is being debugged."""
    response = await handler(request)
    origin = request.headers.get("Origin")
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = origin or "*"
    if origin:
        headers["Access-Control-Allow-Credentials"] = "true"
        headers["Vary"] = "Origin"
    if request.method == "OPTIONS":
        headers.update(CORS_HEADERS)
        headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", DEFAULT_ALLOWED_HEADERS
        )
    return response


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (405, 413, ...) answered as JSON too."""
    try:
        return await handler(request)
    except ArchiveWriteError as error:
        print(f"segdebug: error: {error}", file=sys.stderr, flush=True)
        return json_response(500, error_body("archive_write_failed", str(error)))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = error.reason.lower().replace(" ", "_")
        return json_response(error.status, error_body(code, error.reason))
