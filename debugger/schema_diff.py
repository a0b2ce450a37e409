"""The schema diff for CI: what changed between an old and a new archive's schema.

Breaking (exit 1): an event or a property that disappeared, or a property whose set of JSON
types changed. Informational: what was added, and presence that moved by PRESENCE_STEP
points or more, or into or out of "always there". Properties are matched by their exact
path (a tuple of keys): `{"a.b": 1}` in one archive and `{"a": {"b": 1}}` in the other are
one property gone and one new, not one property unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from debugger.schema import EventView, PropertyPath, Schema

PRESENCE_STEP = 5.0  # percentage points

EventKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class TypeChange:
    event: EventKey
    path: PropertyPath
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PresenceChange:
    event: EventKey
    path: PropertyPath
    old: float
    new: float


@dataclass(slots=True)
class Changes:
    events_added: list[EventKey] = field(default_factory=list)
    events_removed: list[EventKey] = field(default_factory=list)
    properties_added: list[tuple[EventKey, PropertyPath]] = field(default_factory=list)
    properties_removed: list[tuple[EventKey, PropertyPath]] = field(default_factory=list)
    type_changes: list[TypeChange] = field(default_factory=list)
    presence_changes: list[PresenceChange] = field(default_factory=list)
    # events one side holds and the other may hold past its cap of MAX_EVENTS: not compared
    uncompared: int = 0

    @property
    def breaking(self) -> bool:
        return bool(self.events_removed or self.properties_removed or self.type_changes)

    @property
    def empty(self) -> bool:
        return not (
            self.events_added or self.events_removed or self.properties_added
            or self.properties_removed or self.type_changes or self.presence_changes
        )


def _types(view_types: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    return tuple(sorted(json for json, _ in view_types))


def _moved(old: float, new: float) -> bool:
    return abs(new - old) >= PRESENCE_STEP or ((old >= 100.0) != (new >= 100.0))


def _compare_event(old: EventView, new: EventView, changes: Changes) -> None:
    key = new.key
    before = {p.path: p for p in old.properties}
    after = {p.path: p for p in new.properties}
    for path in sorted(after.keys() - before.keys()):
        changes.properties_added.append((key, path))
    for path in sorted(before.keys() - after.keys()):
        changes.properties_removed.append((key, path))
    for path in sorted(before.keys() & after.keys()):
        was, now = before[path], after[path]
        if _types(was.types) != _types(now.types):
            changes.type_changes.append(TypeChange(key, path, _types(was.types), _types(now.types)))
        if _moved(was.percent, now.percent):
            changes.presence_changes.append(PresenceChange(key, path, was.percent, now.percent))


def compare(old: Schema, new: Schema) -> Changes:
    """Every change from `old` to `new`, in schema order. An event only one side lists is
    added or gone only when the other side kept every event it saw: past the cap of
    MAX_EVENTS it may be there, uncounted (QA: the same archive in reverse order gave 200
    events "gone" and exit 1). Those are counted as `uncompared` instead."""
    changes = Changes()
    before = {event.key: event for event in old.events}
    after = {event.key: event for event in new.events}
    for event in new.events:
        if event.key in before:
            _compare_event(before[event.key], event, changes)
        elif old.cut_events:
            changes.uncompared += 1
        else:
            changes.events_added.append(event.key)
    for event in old.events:
        if event.key in after:
            continue
        if new.cut_events:
            changes.uncompared += 1
        else:
            changes.events_removed.append(event.key)
    return changes
