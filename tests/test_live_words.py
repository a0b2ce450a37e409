"""The live view's words (QA cosmetics): counts agree with their nouns ("1 message", "1 kind"),
the option lines agree with how many options they name, the Delivery trend label has no
dangling colon after its time, and the header says the refused calls not shown are a total."""

from __future__ import annotations

from pathlib import Path

import orjson

from debugger.tui.delivery_rows import errors_title, trend_title
from debugger.tui.model import Counts
from debugger.tui.run import collector_options_refused
from debugger.tui.schema_rows import event_summary, headline
from debugger.tui.schema_source import SchemaFeed, Where
from debugger.tui.widgets.status_bar import counters_text
from debugger.tui.words import counted


def test_counted_agrees_with_the_count() -> None:
    assert (counted(0, "event"), counted(1, "event"), counted(1_234, "event")) == (
        "0 events", "1 event", "1,234 events")
    assert counted(1, "property", "properties") == "1 property" and counted(2, "property", "properties") == "2 properties"


def test_schema_lines_of_one_message(tmp_path: Path) -> None:
    archive = tmp_path / "a.ndjson"
    archive.write_bytes(orjson.dumps({"type": "track", "event": "Signed Up", "userId": "u",
                                      "receivedAt": "2024-05-01T12:00:00.000Z"}) + b"\n")
    feed = SchemaFeed(Where(archive))
    feed.step()
    schema = feed.snapshot()
    line = headline(schema, "this session").plain
    assert "1 message, 0 refused · 1 event" in line and "messages" not in line and "events" not in line
    assert "· 1 message, 0 blocked" in event_summary(schema.events[0]).plain


def test_delivery_errors_title_agrees_with_its_count() -> None:
    assert errors_title(1).plain == "Errors · 1 kind (enter: an example)"
    assert errors_title(3).plain == "Errors · 3 kinds (enter: an example)"
    assert errors_title(0).plain == "Errors · none"


def test_options_refused_agree_with_how_many() -> None:
    one = collector_options_refused(["--archive"], Path("/run/s.sock"))
    assert "--archive only applies to the one live starts" in one
    two = collector_options_refused(["--archive", "--strict"], Path("/run/s.sock"))
    assert "--archive and --strict only apply to the one live starts" in two


def test_trend_title_has_no_dangling_colon() -> None:
    title = trend_title(17, 0.0).plain
    assert not any(part.endswith(":") for part in title.split()), title
    assert "17 min" in title and len(title) <= 78


def test_refused_not_shown_says_it_is_a_total() -> None:
    assert "301 refused not shown since connecting" in counters_text(Counts(refused_dropped=301))
