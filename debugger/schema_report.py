"""Rendering a schema: a table per call type, JSON, Segment's Source Schema CSV, and the diff.

Pure functions from a snapshot (debugger.schema) to text. Property paths are written by
`debugger.schema.path_text` in every form (table, JSON, CSV, diff), so a key holding a dot
reads `"a.b"` and a nested one `a.b` wherever they appear. Untrusted names and example values
go through `printable` in the table, the CSV and the diff, so no escape sequence reaches a
terminal (JSON escapes control characters on its own).
"""

from __future__ import annotations

import csv
import io
from datetime import timezone
from typing import Any, Mapping

import orjson

from debugger.schema import (
    MAX_EVENTS, MAX_PROPERTIES, MAX_TRAITS, NAMING, NEAR_DUPLICATE, SOMETIMES_MISSING, TRAIT_KINDS,
    TYPE_DRIFT, EventView, Folded, PropertyPath, PropertyView, Schema, path_text,
)
from debugger.message import parse_time
from debugger.schema_diff import Changes
from debugger.schema_plan import Coverage
from debugger.text import printable


TRACK_HEADER = ("Event Name", "Last Seen At (UTC)", "Property Name", "Allowed", "Blocked", "Total", "Planned")
TRAIT_HEADER = ("Trait Name", "Last Seen At (UTC)", "Allowed", "Blocked", "Total", "Planned")
SECTIONS = (("track", ("track", "page", "screen")), ("identify", ("identify",)), ("group", ("group",)),
            ("alias", ("alias",)))
NAME_WIDTH = 48
EXAMPLES_WIDTH = 40


def utc(seen: str | None) -> str:
    """A seen time as `YYYY-MM-DD HH:MM:SS` UTC (as received when it is not ISO 8601)."""
    if not seen:
        return ""
    moment = parse_time(seen)
    if moment is None:
        return seen
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def types_text(view: PropertyView) -> str:
    """`number` or `number 90%, string 10%`."""
    if len(view.types) == 1:
        return view.types[0][0]
    return ", ".join(f"{json} {percent:.0f}%" for json, percent in view.type_percent())


def flags_text(flags: tuple[str, ...], naming: tuple[str, ...], similar: tuple[str, ...]) -> str:
    words: list[str] = []
    for flag in flags:
        if flag == TYPE_DRIFT:
            words.append("type drift")
        elif flag == SOMETIMES_MISSING:
            words.append("sometimes missing")
        elif flag == NAMING:
            words.append("naming: " + ", ".join(naming))
        elif flag == NEAR_DUPLICATE:
            words.append("near-duplicate of " + ", ".join(similar))
    return "; ".join(words)


def property_flags_text(view: PropertyView) -> str:
    """A property's flags in words, its near-duplicates written as paths are."""
    return flags_text(view.flags, view.naming, tuple(map(path_text, view.similar)))


def _example(value: Any) -> str:
    return orjson.dumps(value).decode()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _path(path: PropertyPath) -> str:
    """A path for a line of text: written by path_text, then made printable as any name."""
    return printable(path_text(path))


def _planned(coverage: Coverage | None, event: EventView, path: PropertyPath | None) -> str:
    if coverage is None:
        return ""
    planned, paths = coverage.of(event)
    if path is None:
        return "planned" if planned else "unplanned"
    return "planned" if planned and path in paths else "unplanned"


# --- table -----------------------------------------------------------------------------------


def _event_flags(event: EventView) -> str:
    """Flags on the event row: its own name's, not the roll-up of its properties."""
    own = tuple(flag for flag in event.flags if flag in (NAMING, NEAR_DUPLICATE))
    return printable(flags_text(own, event.naming, event.similar))


def as_table(folded: Folded, plan: Mapping[str, Any] | None = None) -> str:
    """One table per call type; a row starting with `!` has a flag."""
    schema = folded.schema
    coverage = Coverage(plan) if plan is not None else None
    out: list[str] = [_headline(folded)]
    for title, kinds in SECTIONS:
        events = [event for event in schema.events if event.kind in kinds]
        if not events:
            continue
        rows: list[tuple[str, ...]] = []
        for event in events:
            rows.append((
                "!" if _event_flags(event) else " ", _cut(printable(event.label), NAME_WIDTH), "",
                "", f"{event.allowed:,}", f"{event.refused:,}", utc(event.last_seen),
                _planned(coverage, event, None), _event_flags(event), "",
            ))
            for view in event.properties:
                flags = printable(property_flags_text(view))
                rows.append((
                    "!" if flags else " ", "  " + _cut(_path(view.path), NAME_WIDTH - 2), types_text(view),
                    f"{view.percent:.0f}%", f"{view.allowed:,}", f"{view.blocked:,}", utc(view.last_seen),
                    _planned(coverage, event, view.path), flags,
                    _cut(printable(", ".join(_example(value) for value in view.examples)), EXAMPLES_WIDTH),
                ))
        what = "traits" if title in TRAIT_KINDS else "events"
        count = sum(len(e.properties) for e in events) if title in TRAIT_KINDS else len(events)
        out.append("")
        out.append(f"{title.upper()} ({count:,} {what if count != 1 else what[:-1]})")
        name = "TRAIT" if title in TRAIT_KINDS else "EVENT / PROPERTY"
        header = ("", name, "TYPES", "PRESENT", "ALLOWED", "BLOCKED", "LAST SEEN (UTC)",
                  "PLANNED" if coverage else "", "FLAGS", "EXAMPLES")
        out.extend(_columns([header, *rows]))
    out.extend(_notes(folded, coverage))
    return "\n".join(out)


_RIGHT = {3, 4, 5}  # PRESENT, ALLOWED, BLOCKED


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    keep = [i for i in range(len(rows[0])) if i < 2 or any(row[i] for row in rows)]
    widths = {i: max(len(row[i]) for row in rows) for i in keep}
    lines = []
    for row in rows:
        cells = []
        for i in keep:
            cell = row[i].rjust(widths[i]) if i in _RIGHT else row[i].ljust(widths[i])
            cells.append(cell)
        lines.append((cells[0] + " ".join(cells[1:])).rstrip())
    return lines


def _headline(folded: Folded) -> str:
    schema = folded.schema
    files = f"{len(folded.files)} file{'s' if len(folded.files) != 1 else ''}"
    parts = [f"schema of {schema.messages:,} messages in {files}", f"{schema.refused:,} refused"]
    if folded.filtered_out:
        parts.append(f"{folded.filtered_out:,} left out by --filter")
    return ", ".join(parts)


def _notes(folded: Folded, coverage: Coverage | None) -> list[str]:
    """What the table does not show, and why: caps, unreadable lines, the plan's gaps."""
    schema = folded.schema
    notes: list[str] = []
    if schema.cut_events:
        notes.append(
            f"{schema.cut_events:,}{'+' if schema.cut_events > 1000 else ''} events past the cap of "
            f"{MAX_EVENTS:,} not shown ({schema.cut_event_messages:,} messages; e.g. "
            f"{', '.join(printable(name) for name in schema.cut_event_examples)})"
        )
    for event in schema.events:
        if event.cut_properties:
            cap = MAX_TRAITS if event.kind in TRAIT_KINDS else MAX_PROPERTIES
            what = "traits" if event.kind in TRAIT_KINDS else "properties"
            notes.append(
                f"{printable(event.label)}: {event.cut_properties:,} {what} past the cap of {cap} not "
                f"shown (e.g. {', '.join(printable(name) for name in event.cut_examples)})"
            )
    if folded.bad_lines:
        notes.append(f"{folded.bad_lines:,} lines that are not JSON objects were skipped")
    if schema.invalid:
        notes.append(f"{schema.invalid:,} messages without a valid type are in no event")
    if schema.unparsed:
        notes.append(f"{schema.unparsed:,} refused calls had no message to fold (not JSON)")
    if coverage is not None:
        events, paths = coverage.unplanned(schema.events)
        if events or paths:
            notes.append(f"unplanned: {len(events):,} events, {len(paths):,} properties of planned events")
    return ["", *notes] if notes else []


# --- JSON ------------------------------------------------------------------------------------


def _property_json(view: PropertyView, coverage: Coverage | None, event: EventView) -> dict[str, Any]:
    return {
        "path": path_text(view.path), "present": view.present, "percent": round(view.percent, 2),
        "allowed": view.allowed, "blocked": view.blocked, "last_seen": view.last_seen,
        "types": {json: round(percent, 2) for json, percent in view.type_percent()},
        "type_counts": dict(view.types), "examples": list(view.examples), "flags": list(view.flags),
        "naming": list(view.naming), "near_duplicates": [path_text(path) for path in view.similar],
        "planned": None if coverage is None else _planned(coverage, event, view.path) == "planned",
    }


def event_json(event: EventView, coverage: Coverage | None = None) -> dict[str, Any]:
    return {
        "type": event.kind, "name": event.name, "count": event.count, "allowed": event.allowed,
        "blocked": event.refused, "first_seen": event.first_seen, "last_seen": event.last_seen,
        "write_keys": dict(event.write_keys), "libraries": dict(event.libraries),
        "page_names": list(event.page_names), "flags": list(event.flags), "naming": list(event.naming),
        "near_duplicates": list(event.similar),
        "planned": None if coverage is None else _planned(coverage, event, None) == "planned",
        "cut_properties": event.cut_properties, "cut_examples": list(event.cut_examples),
        "properties": [_property_json(view, coverage, event) for view in event.properties],
    }


def as_json(folded: Folded, plan: Mapping[str, Any] | None = None) -> str:
    schema = folded.schema
    coverage = Coverage(plan) if plan is not None else None
    return orjson.dumps(
        {
            "files": folded.files, "lines": folded.lines, "bad_lines": folded.bad_lines,
            "filtered_out": folded.filtered_out, "messages": schema.messages, "refused": schema.refused,
            "invalid": schema.invalid, "unparsed": schema.unparsed,
            "caps": {"events": MAX_EVENTS, "properties": MAX_PROPERTIES, "traits": MAX_TRAITS},
            "cut": {
                "events": schema.cut_events, "event_messages": schema.cut_event_messages,
                "examples": list(schema.cut_event_examples),
            },
            "events": [event_json(event, coverage) for event in schema.events],
        },
        option=orjson.OPT_INDENT_2,
    ).decode()


# --- CSV -------------------------------------------------------------------------------------


def as_csv(schema: Schema, plan: Mapping[str, Any] | None = None) -> str:
    """Segment's Source Schema export: the Track CSV (Page and Screen calls as "Page Viewed"
    and "Screen Viewed"; a row per event with an empty Property Name, then a row per
    property), then the Identify and Group CSVs (a row per trait), each with its header,
    separated by a blank line. `--filter type:identify` gives one of them alone."""
    coverage = Coverage(plan) if plan is not None else None
    sections: list[str] = []
    for title, kinds in SECTIONS[:3]:
        events = [event for event in schema.events if event.kind in kinds]
        if not events:
            continue
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if title == "track":
            writer.writerow(TRACK_HEADER)
            for event in events:
                name = printable(event.name)
                writer.writerow((name, utc(event.last_seen), "", event.allowed, event.refused,
                                 event.count, _planned(coverage, event, None)))
                for view in event.properties:
                    writer.writerow((name, utc(view.last_seen), _path(view.path), view.allowed,
                                     view.blocked, view.present, _planned(coverage, event, view.path)))
        else:
            writer.writerow(TRAIT_HEADER)
            for event in events:
                for view in event.properties:
                    writer.writerow((_path(view.path), utc(view.last_seen), view.allowed, view.blocked,
                                     view.present, _planned(coverage, event, view.path)))
        sections.append(buffer.getvalue())
    return "\n".join(sections)


# --- diff ------------------------------------------------------------------------------------


def _event_text(key: tuple[str, str]) -> str:
    kind, name = key
    return f"{kind} {printable(name) or '(no event name)'}"


def diff_table(changes: Changes) -> str:
    """One line per change: `-` gone, `+` new, `~` changed; breaking lines first."""
    lines: list[str] = []
    lines += [f"- {_event_text(key)}: event gone" for key in changes.events_removed]
    lines += [f"- {_event_text(key)}: {_path(path)} gone" for key, path in changes.properties_removed]
    lines += [
        f"~ {_event_text(c.event)}: {_path(c.path)} type {', '.join(c.old)} -> {', '.join(c.new)}"
        for c in changes.type_changes
    ]
    lines += [f"+ {_event_text(key)}: new event" for key in changes.events_added]
    lines += [f"+ {_event_text(key)}: {_path(path)} new" for key, path in changes.properties_added]
    lines += [
        f"~ {_event_text(c.event)}: {_path(c.path)} present {c.old:.0f}% -> {c.new:.0f}%"
        for c in changes.presence_changes
    ]
    if changes.uncompared:
        lines.append(f"({changes.uncompared:,} events listed on one side only were not compared: the other "
                     f"archive has more than {MAX_EVENTS:,} events, and the ones past that cap are not kept)")
    if changes.empty:
        return "\n".join([*lines, "no schema changes"]) if changes.uncompared else "no schema changes"
    changed = len(lines) - (1 if changes.uncompared else 0)
    verdict = "breaking: an event or property disappeared or changed type" if changes.breaking else "no breaking change"
    return "\n".join([*lines, f"{changed} change{'s' if changed != 1 else ''}; {verdict}"])


def diff_json(changes: Changes) -> str:
    def event(key: tuple[str, str]) -> dict[str, str]:
        return {"type": key[0], "name": key[1]}

    return orjson.dumps(
        {
            "breaking": changes.breaking,
            "uncompared_events": changes.uncompared,
            "events_added": [event(key) for key in changes.events_added],
            "events_removed": [event(key) for key in changes.events_removed],
            "properties_added": [{**event(key), "path": path_text(path)} for key, path in changes.properties_added],
            "properties_removed": [
                {**event(key), "path": path_text(path)} for key, path in changes.properties_removed
            ],
            "type_changes": [
                {**event(c.event), "path": path_text(c.path), "old": list(c.old), "new": list(c.new)} for c in changes.type_changes
            ],
            "presence_changes": [
                {**event(c.event), "path": path_text(c.path), "old": round(c.old, 2), "new": round(c.new, 2)}
                for c in changes.presence_changes
            ],
        },
        option=orjson.OPT_INDENT_2,
    ).decode()
