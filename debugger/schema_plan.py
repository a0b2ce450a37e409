"""Tracking plans and the schema: a plan seeded from traffic, and what a plan covers.

`seed_plan` writes the format debugger.plan reads (a JSON Schema of the whole message per
plan name): each property or trait path gets the JSON types seen, and is required when it
was present in every message (for a nested key: every time its parent was an object). Keys
under an array are never required: presence is counted per message, not per item. So the
archive the plan was seeded from passes it, and a later archive that drifts does not.

Page and Screen calls are one event in the schema ("Page Viewed") but plan.py looks them up
by page name: the event's schema is written under each name seen (types seen and presence
over all pages hold for each page name too).

Paths are tuples of keys (debugger.schema), so the plan nests exactly as the data does: a
key holding a dot (`{"a.b": 1}`) is one key of `properties`, never an object `a` with a key
`b`, and a key named `$` is a key, not an array's `items` (QA: the seeded plan nested a
dotted key, so the archive it came from failed it).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from debugger.schema import ITEMS, TRAIT_KINDS, EventView, PropertyPath, PropertyView, Schema, Step

JsonSchema = dict[str, Any]


def plan_names(event: EventView) -> tuple[str, ...]:
    """The names plan.py looks this event up by."""
    if event.kind == "track":
        return (event.name,) if event.name else ()
    if event.kind in ("page", "screen"):
        return event.page_names
    if event.kind in TRAIT_KINDS:
        return (event.kind,)
    return ()


def home_field(kind: str) -> str:
    """Where an event's properties live in the message."""
    return "traits" if kind in TRAIT_KINDS else "properties"


class _Node:
    """One path of the tree a seeded schema is built from."""

    __slots__ = ("view", "children")

    def __init__(self) -> None:
        self.view: PropertyView | None = None
        self.children: dict[Step, _Node] = {}


def _tree(event: EventView) -> _Node:
    root = _Node()
    root.view = event.body
    for view in event.properties:
        node = root
        for step in view.path:
            node = node.children.setdefault(step, _Node())
        node.view = view
    return root


def _node_schema(node: _Node, under_array: bool) -> JsonSchema:
    schema: JsonSchema = {}
    view = node.view
    if view is not None:
        types = sorted(json for json, _ in view.types)
        schema["type"] = types[0] if len(types) == 1 else types
    objects = dict(view.types).get("object", 0) if view is not None else 0
    properties: JsonSchema = {}
    required: list[str] = []
    for key, child in node.children.items():
        if not isinstance(key, str):  # ITEMS
            schema["items"] = _node_schema(child, True)
            continue
        properties[key] = _node_schema(child, under_array)
        if not under_array and child.view is not None and objects and child.view.present == objects:
            required.append(key)
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = sorted(required)
    return schema


def event_schema(event: EventView) -> JsonSchema:
    """The JSON Schema of a whole message of this event."""
    field = home_field(event.kind)
    schema: JsonSchema = {"type": "object"}
    if event.body is None:
        return schema
    schema["properties"] = {field: _node_schema(_tree(event), False)}
    if event.body.present == event.count:
        schema["required"] = [field]
    return schema


def seed_plan(schema: Schema) -> tuple[dict[str, JsonSchema], list[str]]:
    """A tracking plan that the traffic folded into `schema` passes, and the names left out
    of it: a name two events would claim (a page named like a track event, a track event
    named "identify") gets no schema, since no check beats a wrong one; the caller says
    which (QA: they were left out without a word)."""
    plan: dict[str, JsonSchema] = {}
    clashes: set[str] = set()
    for event in schema.events:
        seeded = event_schema(event)
        for name in plan_names(event):
            if name in plan:
                clashes.add(name)
            plan[name] = seeded
    for name in clashes:
        del plan[name]
    return plan, sorted(clashes)


# --- what a plan covers ---------------------------------------------------------------------


def _paths(node: Any, prefix: PropertyPath, found: set[PropertyPath]) -> None:
    if not isinstance(node, Mapping):
        return
    children = node.get("properties")
    if isinstance(children, Mapping):
        for key, child in children.items():
            path = (*prefix, str(key))
            found.add(path)
            _paths(child, path, found)
    items = node.get("items")
    if isinstance(items, Mapping):
        path = (*prefix, ITEMS)
        found.add(path)
        _paths(items, path, found)
    for combined in ("allOf", "anyOf", "oneOf"):
        options = node.get(combined)
        if isinstance(options, list):
            for option in options:
                _paths(option, prefix, found)


class Coverage:
    """Which events and paths a plan (the JSON of a plan file) describes."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self.plan = plan
        self._cache: dict[tuple[str, str], tuple[bool, frozenset[PropertyPath]]] = {}

    def of(self, event: EventView) -> tuple[bool, frozenset[PropertyPath]]:
        """(event planned, the property paths planned) for one event."""
        cached = self._cache.get(event.key)
        if cached is None:
            names = [name for name in plan_names(event) if name in self.plan]
            found: set[PropertyPath] = set()
            for name in names:
                message = self.plan[name]
                if isinstance(message, Mapping):
                    home = message.get("properties")
                    if isinstance(home, Mapping):
                        _paths(home.get(home_field(event.kind)), (), found)
            cached = (bool(names), frozenset(found))
            self._cache[event.key] = cached
        return cached

    def unplanned(
        self, events: Iterable[EventView],
    ) -> tuple[list[EventView], list[tuple[EventView, PropertyPath]]]:
        """Events the plan does not name, and properties of planned events it does not list."""
        missing_events: list[EventView] = []
        missing_paths: list[tuple[EventView, PropertyPath]] = []
        for event in events:
            if event.kind == "alias":
                continue
            planned, paths = self.of(event)
            if not planned:
                missing_events.append(event)
            else:
                missing_paths.extend((event, p.path) for p in event.properties if p.path not in paths)
        return missing_events, missing_paths
