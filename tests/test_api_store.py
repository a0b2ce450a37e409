"""The recent-events store (debugger.store): ring bounds, lazy envelopes, windows, counts."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from debugger import rules
from debugger.ingest import Accepted, Refused
from debugger.protocol import problem
from debugger.pending import CallContext
from debugger.store import RecentStore

CALL = CallContext("2024-05-01T10:00:00.000Z", "/v1/batch", {"method": "POST"}, rules.check)
FULL = CallContext("2024-05-01T10:00:00.000Z", "/v1/batch", None, None)


def accepted(name: str, **extra: Any) -> Accepted:
    """As ingest makes it: the line is the message's JSON, the write key merged into it."""
    message = {"type": "track", "event": name, "userId": "u1", "messageId": "m", "writeKey": "wk", **extra}
    return Accepted(message=message, line=orjson.dumps(message), write_key="wk", problems=[])


def refused(name: str) -> Refused:
    message = {"type": "track", "event": name}
    return Refused(message=message, raw='{"type":"track"}', write_key="wk",
                   problems=[problem("error", "no_user_anon_id", "no user", "userId")])


def names(envelopes: list[Any]) -> list[str]:
    return [e["message"]["event"] for e in envelopes]


def test_envelopes_in_order_with_seq_status_and_request() -> None:
    store = RecentStore(capacity=10)
    store.append_call(1, CALL, [accepted("A Done"), refused("B Done")], refusals=1)
    store.append_call(3, FULL, [accepted("C Done")], refusals=0)
    got = store.window()
    assert [e["seq"] for e in got] == [1, 2, 3]
    assert [e["status"] for e in got] == ["accepted", "rejected", "accepted"]
    assert got[0]["request"] == {"method": "POST"} and "request" not in got[2]
    assert got[0]["raw"] is None and got[1]["raw"] == '{"type":"track"}'
    assert store.get(2) is got[1]  # cached: read twice, built once


def test_unchecked_messages_get_the_full_checkers_problems_on_read() -> None:
    store = RecentStore(capacity=10)
    store.append_call(1, CALL, [accepted("order completed"), refused("bad name")], refusals=1)
    first, second = store.window()
    assert [p["code"] for p in first["problems"]] == [p["code"] for p in rules.check(first["message"])]
    assert "event_name_case" in {p["code"] for p in first["problems"]}
    codes = [p["code"] for p in second["problems"]]
    assert codes[0] == "no_user_anon_id" and codes.count("no_user_anon_id") == 1
    assert "event_name_case" in codes


def test_fully_checked_messages_keep_their_problems() -> None:
    store = RecentStore(capacity=10)
    store.append_call(1, FULL, [accepted("order completed")], refusals=0)
    assert store.window()[0]["problems"] == []


def test_the_ring_keeps_the_newest_and_says_what_was_cut() -> None:
    store = RecentStore(capacity=4)
    for seq in range(1, 8):
        store.append(seq, accepted(f"E{seq}"), CALL)
    assert (store.oldest_seq, store.next_seq, len(store)) == (4, 8, 4)
    assert names(store.window()) == ["E4", "E5", "E6", "E7"]
    assert names(store.last(2)) == ["E6", "E7"]
    assert names(store.last(100)) == ["E4", "E5", "E6", "E7"]
    assert store.get(3) is None and store.get(8) is None


def test_a_call_larger_than_the_ring_and_one_that_wraps() -> None:
    store = RecentStore(capacity=4)
    store.append_call(1, CALL, [accepted(f"E{n}") for n in range(1, 4)], refusals=0)
    store.append_call(4, CALL, [accepted(f"E{n}") for n in range(4, 7)], refusals=0)  # wraps
    assert names(store.window()) == ["E3", "E4", "E5", "E6"]
    store.append_call(7, CALL, [accepted(f"E{n}") for n in range(7, 17)], refusals=0)
    assert names(store.window()) == ["E13", "E14", "E15", "E16"]
    assert [e["seq"] for e in store.window()] == [13, 14, 15, 16]


def test_reset_starts_a_window_and_deletes_nothing() -> None:
    store = RecentStore(capacity=10)
    store.append_call(1, CALL, [accepted("A"), accepted("B")], refusals=0)
    assert store.reset() == 3
    assert store.window() == []
    store.append(3, accepted("C"), CALL)
    assert names(store.window()) == ["C"]
    assert names(store.window(1)) == ["A", "B", "C"]


def test_archive_positions_count_accepted_and_refused_apart() -> None:
    store = RecentStore(capacity=2)
    store.append_call(1, CALL, [accepted("A"), refused("B"), accepted("C"), refused("D")], refusals=-1)
    store.append(5, accepted("E"), CALL)
    assert [store.accepted_before(s) for s in range(1, 7)] == [0, 1, 1, 2, 2, 3]
    assert [store.refused_before(s) for s in range(1, 7)] == [0, 0, 1, 1, 2, 2]
    assert [store.is_refused(s) for s in range(1, 6)] == [False, True, False, True, False]


def test_skipped_numbers_read_as_missing() -> None:
    store = RecentStore(capacity=10)
    store.append(1, accepted("A"), CALL)
    store.append(4, accepted("D"), CALL)
    assert [e["seq"] for e in store.window()] == [1, 4]
    assert store.next_seq == 5


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RecentStore(capacity=0)


def test_an_accepted_message_read_back_from_its_line_is_the_same() -> None:
    store = RecentStore(capacity=10)
    items = [accepted("Order Completed", properties={"total": 1.5, "tags": ["a"]}),
             Accepted({"type": "track", "event": "No Key", "userId": "u"},
                      orjson.dumps({"type": "track", "event": "No Key", "userId": "u"}), None, [])]
    store.append_call(1, FULL, items, refusals=0)
    first, second = store.window()
    assert first["message"] == items[0].message and first["writeKey"] == "wk"
    assert second["message"] == items[1].message and second["writeKey"] is None
    assert first["problems"] == [] and first["status"] == "accepted"


def test_an_accepted_message_with_warnings_keeps_them() -> None:
    store = RecentStore(capacity=10)
    item = accepted("order completed")
    item.problems = rules.check(item.message)
    store.append_call(1, FULL, [item], refusals=0)
    assert store.window()[0]["problems"] == item.problems != []


def test_a_clean_call_is_kept_as_the_archive_bytes_the_writer_wrote() -> None:
    items = [accepted("A Done"), accepted("B Done", properties={"n": 1})]
    written = b"".join(item.line + b"\n" for item in items)  # as ArchiveWriter.append_lines returns
    store = RecentStore(capacity=10)
    store.append_call(1, FULL, items, refusals=0, archived=written)
    assert store._calls[1] is not None and store._calls[1].lines is written  # not joined again
    assert names(store.window()) == ["A Done", "B Done"]
    assert store.get(2)["message"]["properties"] == {"n": 1}  # type: ignore[index]


def test_a_call_with_warnings_keeps_its_items_whatever_was_written() -> None:
    warned = accepted("A Done")
    warned.problems = [problem("warning", "event_name_case", "case", "event")]
    store = RecentStore(capacity=10)
    store.append_call(1, FULL, [warned, accepted("B Done")], refusals=0, archived=b"ignored\n")
    assert [e["problems"] for e in store.window()] == [warned.problems, []]
