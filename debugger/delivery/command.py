"""`segdebug delivery`: a running collector's delivery summary (GET /segdebug/delivery), as
text per destination (key metrics, the last 10 minutes and hour, the error table) or JSON."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import typer

from debugger.delivery.service import ROUTE
from debugger.errors import CliError
from debugger.paths import DEFAULT_HOST
from debugger.protocol import ProtocolError
from debugger.socket_client import read_hello
from debugger.text import printable


def run_delivery(socket: Path | None, port: int, as_json: bool) -> None:
    url = _collector_url(socket, port) + ROUTE
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - a local collector
            summary = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        raise CliError(f"{url}: HTTP {error.code} (a collector older than --forward?)", code=1) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise CliError(f"no collector answers at {url}: {reason}", code=1) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(render(summary))


def render(summary: dict[str, Any]) -> str:
    """The summary as text (untrusted text made printable)."""
    destinations = summary.get("destinations") or []
    if not destinations:
        return "no forwarding destinations (start the collector with --forward [NAME=]URL)"
    lines: list[str] = []
    for d in destinations:
        lines.append(f"{printable(d['name'])}  {printable(d['url'])}" + ("  (paused by 429)" if d.get("paused") else ""))
        lines.append(f"  {_figures(d)}   retries {d['retries']:,}   in flight {d['in_flight']:,}   "
                     f"backlog {d.get('backlog_bytes', 0):,} bytes")
        for label, window in (d.get("windows") or {}).items():
            lines.append(f"  last {label:<4} {_figures(window)}")
        if d["errors"]:
            lines.append("  errors   count  status  reason")
            for row in d["errors"]:
                status = row["status"] if row["status"] is not None else "-"
                final = f"  ({row['not_delivered']:,} not delivered)" if row.get("not_delivered") else ""
                lines.append(f"        {row['count']:>8,}  {status!s:>6}  {printable(row['reason'])}{final}"
                             f"  last {row['last_seen']}")
        lines.append("")
    return "\n".join(lines).rstrip()


def _figures(d: dict[str, Any]) -> str:
    p95 = f"{d['p95_ms']:.1f} ms" if d.get("p95_ms") is not None else "-"
    return (f"delivered {d['delivered']:,}   not delivered {d['not_delivered']:,}   "
            f"filtered {d['filtered']:,}   p95 {p95}")


def _collector_url(socket: Path | None, port: int) -> str:
    """The collector's HTTP URL: from its socket's hello (--socket), else 127.0.0.1:PORT."""
    if socket is None:
        return f"http://{DEFAULT_HOST}:{port}"
    try:
        hello = read_hello(socket)
    except ProtocolError:
        raise CliError(f"{socket} is not a segdebug collector socket", code=1) from None
    except OSError as error:
        raise CliError(f"cannot read the collector's socket {socket}: {error}", code=1) from None
    return hello["http"]
