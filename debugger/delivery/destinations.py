"""`--forward [NAME=]URL`: a destination's name, its endpoint, and its side files (pure).

The URL is read as `replay --to` reads it (a base URL posts to `/v1/batch`); NAME defaults to
the URL's host and names the destination everywhere: in the integrations object (`{"NAME":
false}` keeps messages from it), in the summary, and in the files beside the archive
(`X.NAME.failed.ndjson`, `X.NAME.forward-position`). So it must be a safe file-name part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from debugger.delivery.integrations import SEGMENT
from debugger.delivery.target import resolve
from debugger.paths import FAILED_SUFFIX

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
POSITION_SUFFIX = ".forward-position"  # no archive suffix: a directory read skips it


# Segment's tracking API hosts (US and EU): forwarding there hands the message to Segment itself
SEGMENT_HOSTS = ("api.segment.io", "events.eu1.segmentapis.com")


@dataclass(frozen=True, slots=True)
class Destination:
    name: str
    url: str  # the endpoint posted to

    @property
    def integration(self) -> str:
        """The name this destination answers to in a message's `integrations` object: its own,
        or `Segment.io` when it is Segment's tracking API (see debugger/delivery/integrations).
        Asked for every write the collector makes: the URL is parsed once."""
        return _integration(self.name, self.url)


@lru_cache(maxsize=64)
def _integration(name: str, url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return SEGMENT if host in SEGMENT_HOSTS else name


def parse_destination(text: str) -> Destination:
    """One `--forward` value; ValueError with a one-line reason when it is not usable."""
    name, sep, url = text.partition("=")
    if not sep or "://" in name or "/" in name:
        name, url = "", text
    target = resolve(url, "batch")
    name = name or (urlsplit(url.strip()).hostname or "")
    if not NAME.fullmatch(name):
        raise ValueError(f"--forward {text!r}: the name {name!r} must be letters, digits, '.', '_' "
                         "or '-' (up to 64)")
    return Destination(name, target.url)


def parse_destinations(texts: list[str]) -> list[Destination]:
    """Every `--forward`, names unique (they name files and integrations entries)."""
    destinations = [parse_destination(text) for text in texts]
    seen: set[str] = set()
    for destination in destinations:
        if destination.name in seen:
            raise ValueError(f"--forward: two destinations are named {destination.name!r}; "
                             "name them: --forward NAME=URL")
        seen.add(destination.name)
    return destinations


def parse_forwarding(texts: list[str], write_key: str | None) -> list[Destination]:
    """`--forward` and `--forward-write-key` as `collect` and `live` both check them before
    anything starts: a write key with nowhere to forward is a mistake, never silently ignored."""
    if write_key is not None and not texts:
        raise ValueError("--forward-write-key needs --forward")
    return parse_destinations(texts)


def archive_base(archive: Path) -> Path:
    """`dir/X` for `dir/X.ndjson`: side files are named after their archive."""
    name = archive.name
    for suffix in (".gz", ".ndjson", ".jsonl", ".json", ".log"):
        name = name.removesuffix(suffix)
    return archive.with_name(name or "archive")


def failed_path(archive: Path, name: str) -> Path:
    base = archive_base(archive)
    return base.with_name(f"{base.name}.{name}{FAILED_SUFFIX}")


def position_path(archive: Path, name: str) -> Path:
    base = archive_base(archive)
    return base.with_name(f"{base.name}.{name}{POSITION_SUFFIX}")
