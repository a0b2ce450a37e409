"""How the forwarder cuts a block into requests: runs of one write key, at most
`batch_events` messages and BATCH_BYTES of body each (a single larger message alone), in
order, every sent line once, with the lines as archived beside the bytes as sent."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from hypothesis import given, settings
from hypothesis import strategies as st

from debugger.delivery.destinations import parse_destination
from debugger.delivery.editing import Edited, edit_block
from debugger.delivery.forwarder import BATCH_BYTES, Forwarder, ForwardOptions, halves


def reference(keys: list[str | None], items: list[bytes | None], most: int) -> list[tuple[int, int]]:
    """[start, end) of each request, message by message."""
    cuts: list[tuple[int, int]] = []
    index = 0
    while index < len(items):
        if items[index] is None:
            index += 1
            continue
        start, size = index, 0
        while (index < len(items) and items[index] is not None and keys[index] == keys[start]
               and index - start < most):
            grown = size + len(items[index] or b"") + 1
            if grown > BATCH_BYTES and index > start:
                break
            size = grown
            index += 1
        cuts.append((start, index))
    return cuts


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 130_000), st.booleans()), max_size=60),
       st.sampled_from([1, 3, 500]))
def test_parcels_are_cut_as_message_by_message_sums_would_cut_them(
        messages: list[tuple[str, int, bool]], most: int) -> None:
    keys: list[str | None] = [key for key, _, _ in messages]
    items: list[bytes | None] = [b"x" * size if sent else None for _, size, sent in messages]
    lines = [b"line %d" % index for index in range(len(messages))]
    forwarder = Forwarder(parse_destination("null=http://127.0.0.1:9"), Path("/nonexistent/archive"),
                          ForwardOptions(batch_events=most))
    parcels = list(forwarder._parcels(Edited(keys, items), lines))
    cuts = [(first, first + len(parcel.items)) for first, parcel in parcels]
    assert cuts == reference(keys, items, most)
    for (_, parcel), (start, end) in zip(parcels, cuts, strict=True):
        assert parcel.items == items[start:end] and parcel.sent == lines[start:end]
        assert {parcel.key} == set(keys[start:end])


def test_the_commas_count_towards_a_request_s_size() -> None:
    """Two messages whose bytes fit BATCH_BYTES but not with a comma each: two requests."""
    items: list[bytes | None] = [b"x" * (BATCH_BYTES // 2), b"y" * (BATCH_BYTES // 2 - 1), b"z"]
    forwarder = Forwarder(parse_destination("null=http://127.0.0.1:9"), Path("/nonexistent/archive"),
                          ForwardOptions())
    parcels = list(forwarder._parcels(Edited(["k"] * 3, items), [b"a", b"b", b"c"]))
    assert [(first, len(parcel.items)) for first, parcel in parcels] == [(0, 1), (1, 2)]
    assert reference(["k"] * 3, items, 500) == [(0, 1), (1, 3)]


def test_a_parcel_of_proven_lines_carries_their_received_at_counts() -> None:
    """Counted when the parcel is made (from where the edit's proof found receivedAt), they
    are what the parser reads; a refused parcel's halves count theirs again."""
    lines = [orjson.dumps({"type": "track", "messageId": f"m{n}", "sentAt": "2024-05-01T10:00:00.000Z",
                           "writeKey": "wk", "receivedAt": f"2024-05-01T10:00:0{n % 3}.000Z"}) for n in range(70)]
    edited = edit_block(lines, [b"\n".join(lines) + b"\n"], "null", None, objects=True)
    forwarder = Forwarder(parse_destination("null=http://127.0.0.1:9"), Path("/nonexistent/archive"),
                          ForwardOptions(batch_events=50))
    parcels = [parcel for _, parcel in forwarder._parcels(edited, lines)]
    assert [len(parcel.sent) for parcel in parcels] == [50, 20]
    for parcel in parcels:
        assert parcel.received == Counter(orjson.loads(raw)["receivedAt"] for raw in parcel.sent)
    left, right = halves(parcels[0])
    assert left.received is None and left.received_at == parcels[0].received_at
