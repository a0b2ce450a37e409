"""The schema fold: what an app sends, in total, folded one message at a time.

Segment's Source Schema lists Track events by name (Page and Screen calls as "Page Viewed" and
"Screen Viewed"), Identify and Group calls by trait; per event it counts allowed and blocked
calls, and per property it says how often it is there. This fold does the same over archives
and live traffic, and adds what Avo Inspector flags: a property whose JSON type drifts, one
that is sometimes missing, names that break the spec rules' naming checks, and names that are
near-duplicates of each other (`Order Completed` / `order_completed`).

Why it is shaped this way (the hot path runs once per message over millions of lines):

- A message's properties are reduced to a *signature*: the frozenset of (path, JSON type)
  pairs it contains (("products", ITEMS, "sku"), "string"). Signatures are memoised on the
  keys and value types of each object, computed by C-level `tuple()` calls, so a message
  whose shape was seen before costs a few dict look-ups however nested it is.
- A path is a tuple of keys, with ITEMS for "any item of an array", never a dotted string:
  a key that holds a dot (`{"a.b": 1}`) and a nested key (`{"a": {"b": 1}}`) are two
  properties, and a key named "$" is not an array's items (QA: each pair shared one row,
  their types and counts mixed). `path_text` is the one way a path is written out.
- `add` only counts (event, signature, write key, library) combinations in a small pending
  table; the per-property statistics are updated when the table is flushed (on `snapshot`,
  or when it grows past a bound). A flush costs one pass per distinct combination, not per
  message, so a live screen can snapshot once a second without slowing ingest.
- Memory is bounded like Segment's: 4,000 events, 300 properties (nested included) per
  event, 300 traits; what goes past a cap is counted and named (a few names) in the report.
- `snapshot()` returns immutable views. Property views are rebuilt only for events whose
  statistics changed since the previous snapshot (`EventView.generation` says which), so a
  screen can also re-render just those rows.

Example values (up to 3 per property, scalars only) come from the first messages of each
signature: the only place the values themselves are walked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Mapping, TypeVar

from debugger.rules import check_event_name, check_fields

MAX_EVENTS = 4_000
MAX_PROPERTIES = 300  # per event, nested paths included (Segment's cap)
MAX_TRAITS = 300  # per Identify / Group
MAX_EXAMPLES = 3
MAX_NAMED = 10  # write keys, libraries: the most seen are kept, the rest counted
MAX_PAGE_NAMES = 300  # distinct page / screen names remembered (for a seeded plan)
MAX_CUT_NAMES = 1_000  # distinct names past a cap remembered (to count them)
MAX_DEPTH = 12  # nesting below this is typed but not walked (no recursion without end)
EXAMPLE_CHARS = 80
_PENDING_LIMIT = 20_000  # pending combinations before a flush
_MEMO_LIMIT = 50_000  # memoised shapes before the memo is cleared (dynamic keys are endless)

# flags (PropertyView.flags and EventView.flags)
TYPE_DRIFT = "type_drift"
SOMETIMES_MISSING = "sometimes_missing"
NAMING = "naming"
NEAR_DUPLICATE = "near_duplicate"

CALL_ORDER = ("track", "page", "screen", "identify", "group", "alias")
# the name Segment's Source Schema gives the calls it does not list by event name
FIXED_NAMES = {
    "page": "Page Viewed", "screen": "Screen Viewed", "identify": "Identify", "group": "Group",
    "alias": "Alias",
}
TRAIT_KINDS = frozenset({"identify", "group"})
NO_EVENT = ""  # a track call without a usable event name (refused by the rules)

_JSON_TYPE: dict[type, str] = {
    str: "string", int: "number", float: "number", bool: "boolean", type(None): "null",
    dict: "object", list: "array",
}


class _Items:
    """The step of a path into an array's items (Segment writes it `$`). A value of its own,
    not the string "$", so that a key named "$" stays a key; it sorts before every key, so
    an array's items come right under the array."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ITEMS"

    def __reduce__(self) -> str:
        return "ITEMS"  # a copy or a pickle is the one ITEMS (compared by identity)

    def __lt__(self, other: object) -> bool:
        return isinstance(other, str)

    def __gt__(self, other: object) -> bool:
        return False


ITEMS = _Items()
Step = str | _Items  # a key of an object, or ITEMS
PropertyPath = tuple[Step, ...]  # from the properties (traits) object down; () is the object itself
Signature = frozenset[tuple[PropertyPath, str]]  # (path relative to the object, JSON type)
EMPTY: Signature = frozenset()
ROOT: PropertyPath = ()

# --- signatures ------------------------------------------------------------------------------

_memo: dict[Any, Signature] = {}
_interned: dict[Signature, Signature] = {}


def _type_name(kind: type) -> str:
    """The JSON type of a Python type (orjson makes exact types; a subclass is rare)."""
    found = _JSON_TYPE.get(kind)
    if found is None:
        found = "number" if issubclass(kind, (int, float)) else "string"
    return found


def _remember(key: Any, signature: Signature) -> Signature:
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
        _interned.clear()
    signature = _interned.setdefault(signature, signature)
    _memo[key] = signature
    return signature


def _child(value: Any, kind: type, depth: int) -> Any:
    """What a memo key holds for one value: its type, or a container's own signature."""
    if kind is dict:
        return object_signature(value, depth + 1)
    if kind is list:
        return array_signature(value, depth + 1)
    return kind


def object_signature(value: dict[str, Any], depth: int = 0) -> Signature:
    """The (path, type) pairs of an object, its own ((), "object") included."""
    if depth >= MAX_DEPTH:
        return _OBJECT_ONLY
    keys = tuple(value)
    kinds: tuple[Any, ...] = tuple(map(type, value.values()))
    if dict in kinds or list in kinds:
        kinds = tuple(_child(item, kind, depth) for item, kind in zip(value.values(), kinds, strict=True))
    key = (keys, kinds)
    signature = _memo.get(key)
    if signature is None:
        pairs: set[tuple[PropertyPath, str]] = {(ROOT, "object")}
        for name, kind in zip(keys, kinds, strict=True):
            if type(kind) is frozenset:
                pairs.update(((name, *path), json) for path, json in kind)
            else:
                pairs.add(((name,), _type_name(kind)))  # a subclass: rare
        signature = _remember(key, frozenset(pairs))
    return signature


def array_signature(value: list[Any], depth: int = 0) -> Signature:
    """The (path, type) pairs of an array: ((), "array"), and its items' pairs under ITEMS."""
    if depth >= MAX_DEPTH:
        return _ARRAY_ONLY
    items = frozenset(_child(item, type(item), depth) for item in value)
    key = ("$", items)
    signature = _memo.get(key)
    if signature is None:
        pairs: set[tuple[PropertyPath, str]] = {(ROOT, "array")}
        for item in items:
            if type(item) is frozenset:
                pairs.update(((ITEMS, *path), json) for path, json in item)
            else:
                pairs.add(((ITEMS,), _type_name(item)))
        signature = _remember(key, frozenset(pairs))
    return signature


_OBJECT_ONLY: Signature = frozenset({(ROOT, "object")})
_ARRAY_ONLY: Signature = frozenset({(ROOT, "array")})


def value_signature(value: Any) -> Signature:
    """The signature of any JSON value (a properties or traits field that is not an object
    still has a type: the path () with it)."""
    kind = type(value)
    if kind is dict:
        return object_signature(value)
    if kind is list:
        return array_signature(value)
    return frozenset({(ROOT, _type_name(kind))})


Layout = tuple[tuple[PropertyPath, tuple[str, ...]], ...]
_layouts: dict[Signature, Layout] = {}


def layout(signature: Signature) -> Layout:
    """A signature grouped by path: ((path, (types...)), ...). A path has several types in
    one message only inside an array (`tags.$` with strings and numbers)."""
    found = _layouts.get(signature)
    if found is None:
        by_path: dict[PropertyPath, list[str]] = {}
        for path, json in signature:
            by_path.setdefault(path, []).append(json)
        found = tuple((path, tuple(sorted(types))) for path, types in sorted(by_path.items()))
        if len(_layouts) >= _MEMO_LIMIT:
            _layouts.clear()
        _layouts[signature] = found
    return found


def scalars(value: Any, prefix: PropertyPath = ROOT, depth: int = 0) -> Iterable[tuple[PropertyPath, Any]]:
    """(path, value) for every scalar under `value`, paths as the signature spells them."""
    if depth >= MAX_DEPTH:
        return
    if type(value) is dict:
        for key, item in value.items():
            yield from scalars(item, (*prefix, key), depth + 1)
    elif type(value) is list:
        path = (*prefix, ITEMS)
        for item in value:
            yield from scalars(item, path, depth + 1)
    else:
        yield prefix, value


# --- paths as text ---------------------------------------------------------------------------

_BARE_KEY = re.compile(r'[^."\\]+')  # and printable, and not "$"


def path_text(path: PropertyPath) -> str:
    """A property path as every output writes it (table, CSV, JSON, diff, the live screen).

    Steps are joined by dots and an array's items are `$`, as Segment's Source Schema writes
    them (`address.city`, `products.$.sku`). A key that would make that text ambiguous is
    written as a JSON string instead, as jq writes such a key (`."a.b"`): a key holding a
    dot, a quote or a backslash, the key `$`, the empty key, and a key with a character that
    is not printable. So `{"a": {"b": 1}}` gives `a.b`, `{"a.b": 1}` gives `"a.b"`,
    `{"tags": {"$": 1}}` gives `tags."$"`: two paths never share a text (QA: they shared a
    row), and a quoted key reads back with any JSON parser. The escapes are JSON's `\\uXXXX`
    for every character that is not printable, so the text is printable whatever the key
    holds (a terminal escape sequence stays text, and the quoting says which backslash is
    the key's own); the outputs still pass it through debugger.text like any name."""
    return ".".join(map(_step_text, path))


def _step_text(step: Step) -> str:
    if not isinstance(step, str):
        return "$"  # ITEMS
    if step != "$" and step.isprintable() and _BARE_KEY.fullmatch(step) is not None:
        return step
    return _json_string(step)


def _json_string(key: str) -> str:
    """`key` as a JSON string literal, every non-printable character as `\\uXXXX`."""
    out = ['"']
    for char in key:
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            if code > 0xFFFF:  # as JSON writes it: a UTF-16 surrogate pair
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


# --- names -----------------------------------------------------------------------------------

_LOOSE = re.compile(r"[\W_]+")


def loose_name(name: str) -> str:
    """A name with case, spacing and punctuation ignored: near-duplicate event names share it.
    Dots are kept, as they are in `loose_path`."""
    return ".".join(_LOOSE.sub("", part).lower() for part in name.split("."))


def loose_path(path: PropertyPath) -> tuple[Step, ...]:
    """A path with case, spacing and punctuation ignored in each key: near-duplicate paths
    share it. Only paths of the same depth are compared (`a.b_c` and `a_b.c` are not alike),
    except that a key holding dots is read as the path it spells: a flattened `{"a.b": 1}`
    is a near-duplicate of a nested `{"a": {"b": 1}}` (the two are still two rows)."""
    loose: list[Step] = []
    for step in path:
        if isinstance(step, str):
            loose.extend(_LOOSE.sub("", part).lower() for part in step.split("."))
        else:
            loose.append(step)
    return tuple(loose)


_Name = TypeVar("_Name", str, PropertyPath)


def near_duplicates(names: Iterable[_Name], loose: Callable[[_Name], Hashable]) -> dict[_Name, tuple[_Name, ...]]:
    """For each name with near-duplicates, the others (sorted). `loose` makes the key alike
    names share: `loose_name` for event names, `loose_path` for property paths."""
    groups: dict[Hashable, list[_Name]] = {}
    for name in names:
        groups.setdefault(loose(name), []).append(name)
    found: dict[_Name, tuple[_Name, ...]] = {}
    for group in groups.values():
        if len(group) > 1:
            for name in group:
                found[name] = tuple(sorted(other for other in group if other != name))
    return found


def event_naming(kind: str, name: str) -> tuple[str, ...]:
    """The spec rules' naming codes for an event name (Track only: the other names are fixed)."""
    if kind != "track" or not name:
        return ()
    return tuple(found["code"] for found in check_event_name({"type": "track", "event": name}))


_key_memo: dict[tuple[str, str], tuple[str, ...]] = {}


def key_naming(kind: str, path: PropertyPath) -> tuple[str, ...]:
    """The spec rules' naming codes for each key of a property or trait path (ITEMS and the
    empty key skipped)."""
    found: list[str] = []
    home = "traits" if kind in TRAIT_KINDS else "properties"
    for key in path:
        if not isinstance(key, str) or not key:
            continue
        codes = _key_memo.get((kind, key))
        if codes is None:
            problems = check_fields({"type": kind, home: {key: None}})
            codes = tuple(p["code"] for p in problems if p["code"] in ("key_case", "dynamic_key"))
            if len(_key_memo) >= _MEMO_LIMIT:
                _key_memo.clear()
            _key_memo[(kind, key)] = codes
        found.extend(code for code in codes if code not in found)
    return tuple(found)


# --- the fold's state ------------------------------------------------------------------------

_NEVER = "~"  # sorts after every ISO time: "no first seen yet"


@dataclass(slots=True)
class PathStats:
    """One property or trait path of one event."""

    present: int = 0  # messages with the path
    refused: int = 0  # of those, refused
    last: str = ""
    types: dict[str, int] = field(default_factory=dict)  # messages with the path of that type
    examples: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class Bounded:
    """Names seen past a cap: how many distinct (up to MAX_CUT_NAMES, then "at least") and
    how many occurrences."""

    names: dict[str, int] = field(default_factory=dict)
    more: int = 0  # occurrences of names not remembered

    def add(self, name: str, count: int) -> None:
        if name in self.names or len(self.names) < MAX_CUT_NAMES:
            self.names[name] = self.names.get(name, 0) + count
        else:
            self.more += count

    @property
    def total(self) -> int:
        return sum(self.names.values()) + self.more

    def merge(self, other: Bounded) -> None:
        for name, count in other.names.items():
            self.add(name, count)
        self.more += other.more


@dataclass(slots=True)
class EventStats:
    """Everything kept for one event (one call type and name)."""

    kind: str
    name: str
    count: int = 0
    refused: int = 0
    first: str = _NEVER
    last: str = ""
    write_keys: dict[str, int] = field(default_factory=dict)
    libraries: dict[str, int] = field(default_factory=dict)
    page_names: dict[str, int] = field(default_factory=dict)
    paths: dict[PropertyPath, PathStats] = field(default_factory=dict)
    cut: Bounded = field(default_factory=Bounded)  # paths past the cap, as `path_text` writes them
    generation: int = 0

    @property
    def cap(self) -> int:
        return MAX_TRAITS if self.kind in TRAIT_KINDS else MAX_PROPERTIES

    def path(self, path: PropertyPath, count: int) -> PathStats | None:
        """The stats of `path`, made if the cap allows; else None (and the cut is counted)."""
        stats = self.paths.get(path)
        if stats is None:
            if len(self.paths) > self.cap:  # the root () is made with the event, and is no property
                self.cut.add(path_text(path), count)
                return None
            stats = self.paths[path] = PathStats()
        return stats


def _tally(counts: dict[str, int], name: str, count: int) -> None:
    """Count a write key or library; past MAX_NAMED distinct, the rest go under "other"."""
    if name in counts or len(counts) < MAX_NAMED:
        counts[name] = counts.get(name, 0) + count
    else:
        counts["(other)"] = counts.get("(other)", 0) + count


# --- views (what a snapshot gives) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PropertyView:
    """One property (or trait) of one event, as a report shows it (`path_text(path)`)."""

    path: PropertyPath
    present: int
    percent: float  # of the event's messages
    allowed: int
    blocked: int
    last_seen: str | None
    types: tuple[tuple[str, int], ...]  # most seen first
    examples: tuple[Any, ...]
    flags: tuple[str, ...]
    naming: tuple[str, ...]  # the rule codes behind NAMING
    similar: tuple[PropertyPath, ...]  # the paths behind NEAR_DUPLICATE

    def type_percent(self) -> tuple[tuple[str, float], ...]:
        return tuple((json, 100.0 * count / self.present) for json, count in self.types)


@dataclass(frozen=True, slots=True)
class EventView:
    """One event of the schema; `key` is (call type, name)."""

    kind: str
    name: str
    count: int
    refused: int
    first_seen: str | None
    last_seen: str | None
    write_keys: tuple[tuple[str, int], ...]
    libraries: tuple[tuple[str, int], ...]
    page_names: tuple[str, ...]  # page / screen calls: the names seen (capped)
    body: PropertyView | None  # the properties / traits object itself (path ())
    properties: tuple[PropertyView, ...]
    cut_properties: int  # distinct paths past the cap (at least)
    cut_examples: tuple[str, ...]
    flags: tuple[str, ...]
    naming: tuple[str, ...]
    similar: tuple[str, ...]
    generation: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    @property
    def allowed(self) -> int:
        return self.count - self.refused

    @property
    def label(self) -> str:
        return self.name or "(no event name)"


@dataclass(frozen=True, slots=True)
class Schema:
    """A snapshot of the fold."""

    events: tuple[EventView, ...]
    messages: int
    refused: int
    invalid: int  # messages without a valid call type (not in any event)
    unparsed: int  # refused calls without a message (not JSON): nothing to fold
    cut_events: int  # distinct events past MAX_EVENTS (at least)
    cut_event_messages: int
    cut_event_examples: tuple[str, ...]
    generation: int

    def by_kind(self, kind: str) -> tuple[EventView, ...]:
        return tuple(event for event in self.events if event.kind == kind)

    def event(self, kind: str, name: str) -> EventView | None:
        for event in self.events:
            if event.kind == kind and event.name == name:
                return event
        return None


def _seen(value: str) -> str | None:
    return None if value in ("", _NEVER) else value


def _ranked(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _property_views(event: EventStats) -> tuple[PropertyView | None, tuple[PropertyView, ...]]:
    similar = near_duplicates((path for path in event.paths if path), loose_path)
    body: PropertyView | None = None
    views: list[PropertyView] = []
    for path in sorted(event.paths):
        stats = event.paths[path]
        if stats.present == 0:
            continue  # examples came before the counts (a flush is pending)
        naming = key_naming(event.kind, path) if path else ()
        flags: list[str] = []
        if len(stats.types) > 1:
            flags.append(TYPE_DRIFT)
        if stats.present < event.count:
            flags.append(SOMETIMES_MISSING)
        if naming:
            flags.append(NAMING)
        if path in similar:
            flags.append(NEAR_DUPLICATE)
        view = PropertyView(
            path=path, present=stats.present, percent=100.0 * stats.present / max(event.count, 1),
            allowed=stats.present - stats.refused, blocked=stats.refused, last_seen=_seen(stats.last),
            types=_ranked(stats.types), examples=tuple(stats.examples), flags=tuple(flags),
            naming=naming, similar=similar.get(path, ()),
        )
        if path:
            views.append(view)
        else:
            body = view
    return body, tuple(views)


# --- the fold --------------------------------------------------------------------------------

_Key = tuple[str, str, Signature, Any, Any]  # kind, name, signature, write key, library


class SchemaFold:
    """Feed messages with `add` (or socket envelopes with `add_envelope`); read with
    `snapshot()`. Not thread-safe: feed and snapshot from one thread."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], EventStats] = {}
        self.messages = 0
        self.refused = 0
        self.invalid = 0
        self.unparsed = 0
        self.cut_events = Bounded()
        self.generation = 0  # bumped by each flush that changed something
        self._pending: dict[_Key, list[Any]] = {}
        self._views: dict[tuple[str, str], tuple[int, PropertyView | None, tuple[PropertyView, ...]]] = {}

    # hot path ------------------------------------------------------------------------------

    def add(
        self, message: Mapping[str, Any], refused: bool = False, *,
        received_at: str | None = None, write_key: str | None = None,
    ) -> None:
        """Fold one message (refused: the collector turned it down, Segment's "blocked").
        `received_at` and `write_key` stand in when the message has none (a refused call's
        message is as the client sent it; its envelope or refusal record has them)."""
        kind = message.get("type")
        if kind == "track":
            name = message.get("event")
            if type(name) is not str:
                name = NO_EVENT
            body = message.get("properties")
        elif kind == "page" or kind == "screen":
            name = FIXED_NAMES[kind]
            body = message.get("properties")
            page = message.get("name")
            if type(page) is str and page:
                self._page_name(kind, name, page)
        elif kind == "identify" or kind == "group":
            name = FIXED_NAMES[kind]
            body = message.get("traits")
        elif kind == "alias":
            name, body = "Alias", None
        else:
            self.invalid += 1
            return
        if body is None:
            signature = EMPTY
        elif type(body) is dict:
            signature = object_signature(body)
        else:
            signature = value_signature(body)
        sent_key = message.get("writeKey")
        if type(sent_key) is str:
            write_key = sent_key
        library: Any = None
        context = message.get("context")
        if type(context) is dict:
            library = context.get("library")
            if type(library) is dict:
                library = (library.get("name"), library.get("version"))
                if type(library[0]) is not str or type(library[1]) is not str:
                    library = (library[0] if type(library[0]) is str else None,
                               library[1] if type(library[1]) is str else None)
            else:
                library = None
        seen = message.get("receivedAt")
        if type(seen) is not str:
            seen = received_at or message.get("timestamp")
            if type(seen) is not str:
                seen = None
        key = (kind, name, signature, write_key, library)
        record = self._pending.get(key)
        if record is None:
            if len(self._pending) >= _PENDING_LIMIT:
                self.flush()
            self._pending[key] = [1, 1 if refused else 0, seen or _NEVER, seen or ""]
            if signature:
                self._examples(kind, name, body)
        else:
            record[0] += 1
            if refused:
                record[1] += 1
            if seen is not None:
                if seen > record[3]:
                    record[3] = seen
                if seen < record[2]:
                    record[2] = seen
            if record[0] <= MAX_EXAMPLES and signature:
                self._examples(kind, name, body)
        self.messages += 1
        if refused:
            self.refused += 1

    def add_envelope(self, envelope: Mapping[str, Any]) -> None:
        """Fold a socket envelope: status "rejected" counts as refused; a refused call that
        had no message (not JSON) is only counted."""
        message = envelope.get("message")
        refused = envelope.get("status") == "rejected"
        if isinstance(message, dict):
            received_at, write_key = envelope.get("receivedAt"), envelope.get("writeKey")
            self.add(
                message, refused, received_at=received_at if type(received_at) is str else None,
                write_key=write_key if type(write_key) is str else None,
            )
        elif refused:
            self.unparsed += 1

    # off the hot path ----------------------------------------------------------------------

    def _event(self, kind: str, name: str, count: int) -> EventStats | None:
        event = self.events.get((kind, name))
        if event is None:
            if len(self.events) >= MAX_EVENTS:
                self.cut_events.add(f"{kind}:{name}", count)
                return None
            event = self.events[(kind, name)] = EventStats(kind, name)
            event.paths[ROOT] = PathStats()
        return event

    def _page_name(self, kind: str, name: str, page: str) -> None:
        event = self._event(kind, name, 0)
        if event is not None:
            names = event.page_names
            if page in names:
                names[page] += 1
            elif len(names) < MAX_PAGE_NAMES:
                names[page] = 1

    def _examples(self, kind: str, name: str, body: Any) -> None:
        """Up to MAX_EXAMPLES distinct scalar values per path, from this message."""
        event = self._event(kind, name, 0)
        if event is None:
            return
        paths = event.paths
        for path, value in scalars(body):
            stats = paths.get(path)
            if stats is None:
                if len(paths) > event.cap:
                    continue  # the flush counts the cut
                stats = paths[path] = PathStats()
            examples = stats.examples
            if len(examples) < MAX_EXAMPLES:
                if type(value) is str and len(value) > EXAMPLE_CHARS:
                    value = value[: EXAMPLE_CHARS - 1] + "…"
                if not any(type(seen) is type(value) and seen == value for seen in examples):
                    examples.append(value)

    def flush(self) -> None:
        """Fold the pending combinations into the per-event and per-path statistics."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        self.generation += 1
        generation = self.generation
        for (kind, name, signature, write_key, library), (count, refused, first, last) in pending.items():
            event = self._event(kind, name, count)
            if event is None:
                continue
            event.generation = generation
            event.count += count
            event.refused += refused
            if first < event.first:
                event.first = first
            if last > event.last:
                event.last = last
            if write_key is not None:
                _tally(event.write_keys, write_key, count)
            if library is not None:
                _tally(event.libraries, " ".join(part for part in library if part) or "(unnamed)", count)
            for path, types in layout(signature):
                stats = event.path(path, count)
                if stats is None:
                    continue
                stats.present += count
                stats.refused += refused
                if last > stats.last:
                    stats.last = last
                for json in types:
                    stats.types[json] = stats.types.get(json, 0) + count

    def merge(self, other: SchemaFold) -> None:
        """Add another fold's counts into this one (e.g. one fold per archive or process)."""
        self.flush()
        other.flush()
        self.generation += 1
        self.messages += other.messages
        self.refused += other.refused
        self.invalid += other.invalid
        self.unparsed += other.unparsed
        self.cut_events.merge(other.cut_events)
        for (kind, name), theirs in other.events.items():
            event = self._event(kind, name, theirs.count)
            if event is None:
                continue
            event.generation = self.generation
            event.count += theirs.count
            event.refused += theirs.refused
            event.first = min(event.first, theirs.first)
            event.last = max(event.last, theirs.last)
            for counts, more in ((event.write_keys, theirs.write_keys), (event.libraries, theirs.libraries)):
                for label, count in more.items():
                    _tally(counts, label, count)
            for page, count in theirs.page_names.items():
                if page in event.page_names or len(event.page_names) < MAX_PAGE_NAMES:
                    event.page_names[page] = event.page_names.get(page, 0) + count
            event.cut.merge(theirs.cut)
            for path, stats in theirs.paths.items():
                mine = event.path(path, stats.present)
                if mine is None:
                    continue
                mine.present += stats.present
                mine.refused += stats.refused
                mine.last = max(mine.last, stats.last)
                for json, count in stats.types.items():
                    mine.types[json] = mine.types.get(json, 0) + count
                for example in stats.examples:
                    if len(mine.examples) < MAX_EXAMPLES and example not in mine.examples:
                        mine.examples.append(example)

    def snapshot(self) -> Schema:
        """Flush, then an immutable view of everything folded so far. Property views are
        reused for events that did not change since the last snapshot."""
        self.flush()
        similar = near_duplicates((name for (kind, name) in self.events if kind == "track" and name), loose_name)
        views: list[EventView] = []
        for key in sorted(self.events, key=_event_order):
            event = self.events[key]
            if event.count == 0:
                continue  # only page names or examples so far
            cached = self._views.get(key)
            if cached is None or cached[0] != event.generation:
                cached = (event.generation, *_property_views(event))
                self._views[key] = cached
            _, body, properties = cached
            naming = event_naming(event.kind, event.name)
            near = similar.get(event.name, ()) if event.kind == "track" else ()
            flags = tuple(
                flag for flag, on in (
                    (NAMING, bool(naming)), (NEAR_DUPLICATE, bool(near)),
                    (TYPE_DRIFT, any(TYPE_DRIFT in p.flags for p in properties)),
                    (SOMETIMES_MISSING, any(SOMETIMES_MISSING in p.flags for p in properties)),
                ) if on
            )
            cut = event.cut
            views.append(EventView(
                kind=event.kind, name=event.name, count=event.count, refused=event.refused,
                first_seen=_seen(event.first), last_seen=_seen(event.last),
                write_keys=_ranked(event.write_keys), libraries=_ranked(event.libraries),
                page_names=tuple(sorted(event.page_names)), body=body, properties=properties,
                cut_properties=len(cut.names) + (1 if cut.more else 0),
                cut_examples=tuple(sorted(cut.names)[:5]), flags=flags, naming=naming,
                similar=near, generation=event.generation,
            ))
        return Schema(
            events=tuple(views), messages=self.messages, refused=self.refused,
            invalid=self.invalid, unparsed=self.unparsed,
            cut_events=len(self.cut_events.names) + (1 if self.cut_events.more else 0),
            cut_event_messages=self.cut_events.total,
            cut_event_examples=tuple(sorted(self.cut_events.names)[:5]),
            generation=self.generation,
        )


def _event_order(key: tuple[str, str]) -> tuple[int, str, str]:
    kind, name = key
    return (CALL_ORDER.index(kind), name.casefold(), name)


def fold(messages: Iterable[Mapping[str, Any]]) -> Schema:
    """The schema of accepted messages, in one call (tests, small inputs)."""
    folder = SchemaFold()
    for message in messages:
        folder.add(message)
    return folder.snapshot()


@dataclass(slots=True)
class Folded:
    """A schema and what was read to make it."""

    schema: Schema
    files: list[str]
    lines: int
    bad_lines: int
    filtered_out: int
