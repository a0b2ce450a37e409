"""The schema fold (debugger.schema) on crafted messages: no I/O, no CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from debugger.schema import (
    ITEMS, MAX_EVENTS, MAX_EXAMPLES, MAX_PROPERTIES, MAX_TRAITS, NAMING, NEAR_DUPLICATE, SOMETIMES_MISSING,
    TYPE_DRIFT, EventView, PropertyView, Schema, SchemaFold, fold, loose_name, loose_path, near_duplicates,
    path_text,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def track(event: str, properties: Any = None, **more: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "track", "event": event, "userId": "u1", **more}
    if properties is not None:
        message["properties"] = properties
    return message


def event_of(schema: Schema, name: str, kind: str = "track") -> EventView:
    found = schema.event(kind, name)
    assert found is not None, [e.key for e in schema.events]
    return found


def prop(event: EventView, path: str) -> PropertyView:
    """The property whose path is written `path` (as path_text writes it)."""
    for view in event.properties:
        if path_text(view.path) == path:
            return view
    raise AssertionError(f"{path} not in {texts(event)}")


def texts(event: EventView) -> list[str]:
    return [path_text(view.path) for view in event.properties]


def test_counts_presence_types_and_examples() -> None:
    messages = [track("Order Completed", {"order_id": f"o{i}", "total": 10 + i}) for i in range(9)]
    messages.append(track("Order Completed", {"order_id": "o9", "total": "19.00", "coupon": "SAVE"}))
    event = event_of(fold(messages), "Order Completed")
    assert (event.count, event.allowed, event.refused) == (10, 10, 0)
    total = prop(event, "total")
    assert total.present == 10 and total.percent == 100.0
    assert total.types == (("number", 9), ("string", 1))
    assert dict(total.type_percent()) == {"number": 90.0, "string": 10.0}
    assert total.flags == (TYPE_DRIFT,)
    coupon = prop(event, "coupon")
    assert coupon.present == 1 and coupon.percent == 10.0 and coupon.flags == (SOMETIMES_MISSING,)
    assert coupon.examples == ("SAVE",)
    order_id = prop(event, "order_id")
    assert order_id.flags == () and len(order_id.examples) == MAX_EXAMPLES
    assert set(event.flags) == {TYPE_DRIFT, SOMETIMES_MISSING}


def test_ints_and_floats_are_one_type_and_examples_keep_true_apart_from_1() -> None:
    schema = fold([track("Item Rated", {"score": value}) for value in (1, 2.5, True, 1)])
    score = prop(event_of(schema, "Item Rated"), "score")
    assert dict(score.types) == {"number": 3, "boolean": 1}
    assert score.examples == (1, 2.5, True)


def test_null_is_a_type_of_its_own() -> None:
    schema = fold([track("Item Rated", {"score": 1}), track("Item Rated", {"score": None})])
    assert prop(event_of(schema, "Item Rated"), "score").flags == (TYPE_DRIFT,)


def test_nested_and_array_paths() -> None:
    properties = {
        "address": {"city": "Lyon", "geo": {"lat": 45.7}},
        "products": [{"sku": "A", "price": 1}, {"sku": "B", "coupon": "X"}],
        "tags": ["new", 3],
        "matrix": [[1, 2]],
        "empty": [],
    }
    event = event_of(fold([track("Order Completed", properties)]), "Order Completed")
    paths = {path_text(view.path): dict(view.types) for view in event.properties}
    assert paths == {
        "address": {"object": 1}, "address.city": {"string": 1}, "address.geo": {"object": 1},
        "address.geo.lat": {"number": 1},
        "products": {"array": 1}, "products.$": {"object": 1}, "products.$.sku": {"string": 1},
        "products.$.price": {"number": 1}, "products.$.coupon": {"string": 1},
        "tags": {"array": 1}, "tags.$": {"number": 1, "string": 1},
        "matrix": {"array": 1}, "matrix.$": {"array": 1}, "matrix.$.$": {"number": 1},
        "empty": {"array": 1},
    }
    # an item key is present when any item has it: presence is per message
    assert prop(event, "products.$.coupon").present == 1
    assert prop(event, "products.$.sku").examples == ("A", "B")
    assert TYPE_DRIFT in prop(event, "tags.$").flags  # mixed items are drift too


def test_same_shape_in_another_key_order_is_one_shape() -> None:
    schema = fold([track("Signed Up", {"a": 1, "b": "x"}), track("Signed Up", {"b": "y", "a": 2})])
    event = event_of(schema, "Signed Up")
    assert [(v.path, v.present, v.flags) for v in event.properties] == [(("a",), 2, ()), (("b",), 2, ())]


def test_page_and_screen_are_named_as_segment_names_them() -> None:
    schema = fold([
        {"type": "page", "name": "Home", "anonymousId": "a", "properties": {"path": "/"}},
        {"type": "page", "name": "Pricing", "anonymousId": "a", "properties": {"path": "/pricing"}},
        {"type": "page", "anonymousId": "a"},
        {"type": "screen", "name": "Settings", "userId": "u"},
    ])
    page = event_of(schema, "Page Viewed", "page")
    assert page.count == 3 and page.page_names == ("Home", "Pricing")
    assert prop(page, "path").percent == 200 / 3 and prop(page, "path").flags == (SOMETIMES_MISSING,)
    assert event_of(schema, "Screen Viewed", "screen").count == 1
    assert page.naming == ()  # fixed names are not judged


def test_identify_and_group_are_listed_by_trait() -> None:
    schema = fold([
        {"type": "identify", "userId": "u", "traits": {"email": "a@b.c", "firstName": "A", "planName": "x"}},
        {"type": "identify", "userId": "v", "traits": {"email": "d@e.f"}},
        {"type": "group", "userId": "u", "groupId": "g", "traits": {"employees": 12}},
        {"type": "alias", "userId": "u", "previousId": "p"},
    ])
    identify = event_of(schema, "Identify", "identify")
    assert texts(identify) == ["email", "firstName", "planName"]
    assert prop(identify, "email").flags == ()
    assert prop(identify, "firstName").flags == (SOMETIMES_MISSING,)  # reserved camelCase trait: no naming flag
    assert prop(identify, "planName").naming == ("key_case",)
    assert event_of(schema, "Group", "group").properties[0].path == ("employees",)
    assert event_of(schema, "Alias", "alias").properties == ()


def test_naming_flags_come_from_the_spec_rules() -> None:
    schema = fold([
        track("order_completed", {"orderId": "1", "item_42": 1, "products": [{"productId": "p"}]}),
        track("Order 12345 Completed", {}),
        track("Order Completed", {"order_id": "1"}),
    ])
    bad = event_of(schema, "order_completed")
    assert bad.naming == ("event_name_case",) and NAMING in bad.flags
    assert event_of(schema, "Order 12345 Completed").naming == ("dynamic_event_name",)
    assert event_of(schema, "Order Completed").naming == ()
    assert prop(bad, "orderId").naming == ("key_case",)
    assert prop(bad, "item_42").naming == ("dynamic_key",)
    assert prop(bad, "products.$.productId").naming == ("key_case",)
    assert prop(bad, "products").naming == ()


def test_near_duplicate_event_names_and_keys() -> None:
    schema = fold([
        track("Order Completed", {"order_id": 1, "orderId": 2, "products": [{"sku": 1, "SKU": 2}]}),
        track("order_completed"),
        track("Order completed"),
        track("Order Refunded"),
    ])
    completed = event_of(schema, "Order Completed")
    assert completed.similar == ("Order completed", "order_completed")
    assert NEAR_DUPLICATE in completed.flags
    assert event_of(schema, "order_completed").similar == ("Order Completed", "Order completed")
    assert NEAR_DUPLICATE not in event_of(schema, "Order Refunded").flags
    assert prop(completed, "order_id").similar == (("orderId",),)
    assert [path_text(p) for p in prop(completed, "products.$.SKU").similar] == ["products.$.sku"]
    assert NEAR_DUPLICATE in prop(completed, "orderId").flags


def test_loose_names() -> None:
    assert loose_name("Order Completed") == loose_name("order_completed") == loose_name("order-completed!")
    assert loose_path(("a", "b_c")) != loose_path(("a_b", "c"))  # only names at the same place are compared
    assert near_duplicates(["a", "b", "A"], loose_name) == {"a": ("A",), "A": ("a",)}


def test_refused_messages_count_as_blocked() -> None:
    folder = SchemaFold()
    folder.add(track("Signed Up", {"plan": "pro"}))
    folder.add(track("Signed Up", {"plan": "pro"}), refused=True)
    folder.add_envelope({"status": "rejected", "message": track("Signed Up", {"plan": 3})})
    folder.add_envelope({"status": "rejected", "message": None, "raw": "{not json"})
    folder.add_envelope({"status": "accepted", "message": track("Signed Up")})
    schema = folder.snapshot()
    event = event_of(schema, "Signed Up")
    assert (event.count, event.allowed, event.refused) == (4, 2, 2)
    plan = prop(event, "plan")
    assert (plan.present, plan.allowed, plan.blocked) == (3, 1, 2)
    assert (schema.messages, schema.refused, schema.unparsed) == (4, 2, 1)


def test_track_without_event_and_invalid_types() -> None:
    schema = fold([{"type": "track", "userId": "u"}, {"type": "bogus"}, {"event": "x"}, {"type": ["track"]}])
    assert [e.label for e in schema.events] == ["(no event name)"]
    assert schema.invalid == 3


def test_seen_times_write_keys_and_libraries() -> None:
    library = {"name": "analytics-python", "version": "2.3.3"}
    schema = fold([
        track("Signed Up", receivedAt="2024-05-01T10:00:00.000Z", writeKey="wk1", context={"library": library}),
        track("Signed Up", receivedAt="2024-05-01T09:00:00.000Z", writeKey="wk1"),
        track("Signed Up", timestamp="2024-05-01T11:00:00.000Z", writeKey="wk2", context={"library": "x"}),
        track("Signed Up", writeKey={"not": "hashable"}, context={"library": {"name": ["odd"]}}),
    ])
    event = event_of(schema, "Signed Up")
    assert event.first_seen == "2024-05-01T09:00:00.000Z"
    assert event.last_seen == "2024-05-01T11:00:00.000Z"
    assert event.write_keys == (("wk1", 2), ("wk2", 1))
    assert event.libraries == (("(unnamed)", 1), ("analytics-python 2.3.3", 1))


def test_properties_that_are_not_an_object() -> None:
    schema = fold([track("Signed Up", ["a"]), track("Signed Up", {"a": 1}), track("Signed Up", "text")])
    event = event_of(schema, "Signed Up")
    assert event.body is not None and dict(event.body.types) == {"array": 1, "object": 1, "string": 1}
    assert prop(event, "a").present == 1


def test_deep_nesting_is_cut_not_a_recursion_error() -> None:
    deep: Any = 1
    for _ in range(3000):
        deep = {"a": deep}
    arrays: Any = 1
    for _ in range(3000):
        arrays = [arrays]
    event = event_of(fold([track("Deep Sent", {"x": deep, "y": arrays})]), "Deep Sent")
    assert max(len(view.path) for view in event.properties) < 20


def test_event_cap() -> None:
    folder = SchemaFold()
    for index in range(MAX_EVENTS + 10):
        folder.add(track(f"Event {index:05d}"))
    folder.add(track("Event 00000"))  # a kept event still counts
    folder.add(track("Event 04005"))  # a cut one counts as cut again
    schema = folder.snapshot()
    assert len(schema.events) == MAX_EVENTS
    assert schema.cut_events == 10 and schema.cut_event_messages == 11
    assert schema.cut_event_examples[0] == "track:Event 04000"
    assert event_of(schema, "Event 00000").count == 2


def test_property_and_trait_caps_include_nested_paths() -> None:
    properties = {f"key_{index:03d}": {"inner": 1} for index in range(MAX_PROPERTIES)}  # 600 paths
    traits = {f"trait_{index:03d}": 1 for index in range(MAX_TRAITS + 5)}
    schema = fold([
        track("Big Sent", properties), track("Big Sent", properties),
        {"type": "identify", "userId": "u", "traits": traits},
    ])
    big = event_of(schema, "Big Sent")
    assert len(big.properties) == MAX_PROPERTIES
    assert big.cut_properties == 2 * MAX_PROPERTIES - MAX_PROPERTIES
    assert all(view.present == 2 for view in big.properties)
    identify = event_of(schema, "Identify", "identify")
    assert len(identify.properties) == MAX_TRAITS and identify.cut_properties == 5
    assert identify.cut_examples[0] == f"trait_{MAX_TRAITS:03d}"


def test_incremental_snapshots_reuse_unchanged_events() -> None:
    folder = SchemaFold()
    folder.add(track("Signed Up", {"plan": "pro"}))
    folder.add(track("Order Completed", {"total": 1}))
    first = folder.snapshot()
    folder.add(track("Order Completed", {"total": "1"}))
    second = folder.snapshot()
    assert event_of(second, "Signed Up").generation == event_of(first, "Signed Up").generation
    assert event_of(second, "Signed Up").properties is event_of(first, "Signed Up").properties
    assert event_of(second, "Order Completed").generation > event_of(first, "Order Completed").generation
    assert prop(event_of(second, "Order Completed"), "total").flags == (TYPE_DRIFT,)
    assert folder.snapshot().generation == second.generation  # nothing new: nothing flushed


def test_merge_equals_one_fold_over_everything() -> None:
    messages = [orjson.loads(line) for line in (SAMPLES / "ecommerce.ndjson").read_bytes().splitlines()]
    whole = SchemaFold()
    left, right = SchemaFold(), SchemaFold()
    for index, message in enumerate(messages):
        whole.add(message, refused=index % 7 == 0)
        (left if index % 2 else right).add(message, refused=index % 7 == 0)
    left.merge(right)
    a, b = whole.snapshot(), left.snapshot()
    assert (a.messages, a.refused) == (b.messages, b.refused)

    def shape(schema: Schema) -> list[Any]:
        return [
            (e.key, e.count, e.refused, e.first_seen, e.last_seen, e.write_keys, e.libraries, e.page_names,
             [(p.path, p.present, p.blocked, p.types, p.flags, p.last_seen) for p in e.properties])
            for e in schema.events
        ]

    assert shape(a) == shape(b)


def test_many_shapes_flush_on_the_way() -> None:
    folder = SchemaFold()
    for index in range(30_000):
        folder.add(track("Signed Up", {"a": 1}, writeKey=f"wk{index}"))
    event = event_of(folder.snapshot(), "Signed Up")
    assert event.count == 30_000 and prop(event, "a").present == 30_000
    assert len(event.write_keys) == 11 and event.write_keys[0] == ("(other)", 29_990)


def test_samples_give_the_expected_events_and_no_drift() -> None:
    folder = SchemaFold()
    for path in sorted(SAMPLES.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            folder.add(orjson.loads(line))
    schema = folder.snapshot()
    names = {event.key for event in schema.events}
    assert {
        ("track", "Order Completed"), ("track", "Product Viewed"), ("track", "Video Content Playing"),
        ("track", "Application Opened"), ("page", "Page Viewed"), ("screen", "Screen Viewed"),
        ("identify", "Identify"), ("group", "Group"), ("alias", "Alias"),
    } <= names
    assert schema.invalid == 0 and schema.refused == 0
    for event in schema.events:
        assert NAMING not in event.flags and NEAR_DUPLICATE not in event.flags, event.key
        for view in event.properties:
            assert TYPE_DRIFT not in view.flags, (event.key, view.path, view.types)
            assert NAMING not in view.flags and NEAR_DUPLICATE not in view.flags, (event.key, view.path)
    order = event_of(schema, "Order Completed")
    assert {"order_id", "products", "products.$.product_id", "revenue"} <= set(texts(order))


# --- a key holding a dot is not a nested key (QA: they shared one row) ------------------------


def test_a_dotted_key_and_a_nested_key_are_two_properties() -> None:
    schema = fold([
        track("Signed Up", {"a.b": 1}), track("Signed Up", {"a": {"b": "x"}}),
        track("Signed Up", {"tags": ["x"]}), track("Signed Up", {"tags": {"$": 2}}),
    ])
    event = event_of(schema, "Signed Up")
    assert {path_text(v.path): (v.path, dict(v.types), v.present) for v in event.properties} == {
        '"a.b"': (("a.b",), {"number": 1}, 1),
        "a": (("a",), {"object": 1}, 1),
        "a.b": (("a", "b"), {"string": 1}, 1),
        "tags": (("tags",), {"array": 1, "object": 1}, 2),
        "tags.$": (("tags", ITEMS), {"string": 1}, 1),
        'tags."$"': (("tags", "$"), {"number": 1}, 1),
    }
    assert TYPE_DRIFT not in prop(event, "a.b").flags and TYPE_DRIFT not in prop(event, '"a.b"').flags
    assert prop(event, "a.b").examples == ("x",) and prop(event, '"a.b"').examples == (1,)
    # a flattened key and the nested one it spells are near-duplicates (two rows, flagged)
    assert prop(event, "a.b").similar == (("a.b",),) and prop(event, '"a.b"').similar == (("a", "b"),)
    assert NEAR_DUPLICATE not in prop(event, "tags.$").flags  # items are not a key named "$"
    assert prop(event, '"a.b"').naming == ("key_case",) and prop(event, "a.b").naming == ()


def test_near_duplicates_still_compare_keys_at_the_same_place() -> None:
    event = event_of(fold([track("Signed Up", {
        "user": {"first_name": 1, "firstName": 2}, "user_first": {"name": 3}, "first_name": 4,
    })]), "Signed Up")
    assert prop(event, "user.first_name").similar == (("user", "firstName"),)
    assert prop(event, "first_name").similar == ()  # not at the same place as user.first_name
    assert prop(event, "user_first.name").similar == ()


def _read_path(text: str) -> tuple[Any, ...]:
    """The path a path_text wrote (the reader a user or a tool would write)."""
    steps: list[Any] = []
    decoder = json.JSONDecoder()
    at = 0
    while True:
        if text.startswith('"', at):
            key, at = decoder.raw_decode(text, at)
            steps.append(key)
        else:
            end = text.find(".", at)
            end = len(text) if end < 0 else end
            word = text[at:end]
            steps.append(ITEMS if word == "$" else word)
            at = end
        if at == len(text):
            return tuple(steps)
        assert text[at] == ".", (text, at)
        at += 1


TRICKY_PATHS: list[tuple[Any, ...]] = [
    ("a", "b"), ("a.b",), ("a", "b.c"), ("a.b", "c"), ("a", "b", "c"), ("$",), (ITEMS,), ("x", ITEMS, "y"),
    ("x", "$", "y"), ("",), ("a", ""), ('say "hi"',), ('"a.b"',), ("back\\slash",), ("k\x1b[2J",),
    ("k\\u001b[2J",), ("line\nbreak",), ("bidi \u202eevil",), ("tag \U000e0001",), ("é 😀 ok",),
    ("[bold]Promo[/]",), ("$ref",), ("a b",), (" lead",),
]


def test_path_text_writes_every_path_one_way_and_reads_back() -> None:
    written = [path_text(path) for path in TRICKY_PATHS]
    assert len(set(written)) == len(TRICKY_PATHS), written
    for path, text in zip(TRICKY_PATHS, written, strict=True):
        assert text.isprintable(), text
        assert _read_path(text) == path, (path, text)
    assert written[:6] == ["a.b", '"a.b"', 'a."b.c"', '"a.b".c', "a.b.c", '"$"']
    assert written[6:12] == ["$", "x.$.y", 'x."$".y', '""', 'a.""', '"say \\"hi\\""']
    assert path_text(("k\x1b[2J",)) == '"k\\u001b[2J"'  # an escape, never the character
    assert path_text(("é 😀 ok", "[bold]Promo[/]")) == "é 😀 ok.[bold]Promo[/]"  # printable keys stay bare


def test_items_sort_under_their_array_and_compare_as_one_value() -> None:
    import copy
    import pickle

    assert sorted([("a", "b"), ("a",), ("a", ITEMS), ("a", "$"), ("a.b",)]) == [
        ("a",), ("a", ITEMS), ("a", "$"), ("a", "b"), ("a.b",)]
    assert copy.deepcopy(ITEMS) is ITEMS and pickle.loads(pickle.dumps(ITEMS)) is ITEMS
    assert loose_path(("a", ITEMS)) not in (loose_path(("a", "$")), loose_path(("a", "")))
