"""The pytest plugin, run the way its users run it: inner pytest sessions (pytester) whose
tests use the `segdebug` fixture with no configuration (the pytest11 entry point loads it) and
send with segment-analytics-python to the real collector it starts."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

SDK = '''
from segment.analytics import Client


def client_for(segdebug):
    return Client(segdebug.write_key, host=segdebug.url, max_retries=1, upload_interval=0.05)
'''


def run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=SDK + source)
    return pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", "-v", timeout=180)


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    assert "debugger.pytest_plugin" in {e.value for e in entry_points(group="pytest11")}


def test_a_passing_test_sending_with_the_sdk(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
def test_checkout(segdebug):
    client = client_for(segdebug)
    client.track("u1", "Order Completed", {"order_id": "o-1", "total": 42})
    client.identify("u1", {"email": "ada@example.com"})
    client.flush()
    found = segdebug.assert_received('event:"Order Completed" has:properties.order_id', count=1)
    assert found[0]["message"]["context"]["library"]["name"] == "analytics-python"
    assert found[0]["writeKey"] == segdebug.write_key
    segdebug.assert_no_refused()
    summary = segdebug.summary()
    assert summary["by_type"] == {"track": 1, "identify": 1} and summary["refused"] == 0
    assert [e["message"]["type"] for e in segdebug.events()] == ["track", "identify"]
''')
    result.assert_outcomes(passed=1)


def test_a_failing_assertion_shows_the_events_received(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
def test_checkout(segdebug):
    client = client_for(segdebug)
    client.track("u1", "Order Complete", {"order_id": "o-1"})
    client.track("u1", "Product Viewed", {"sku": "s-1"})
    client.flush()
    segdebug.assert_received('event:"Order Completed"', count=1, within=0.5)


def test_refusals(segdebug):
    import requests
    requests.post(segdebug.url + "/v1/track", json={"type": "track", "event": "Order Completed"}, timeout=10)
    segdebug.assert_no_refused()
''')
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*segdebug.assert_received('event:\"Order Completed\"', count=1, within=0.5)",
        "E*AssertionError: expected exactly 1 accepted event(s) matching 'event:\"Order Completed\"': found 0 (after 0.5 s)",
        "E*matched: none",
        "E*refused: none",
        "E*nearest misses (1):",
        "E*accepted  track     Order Complete  *u1*",
        "E*other events received (1):",
        "E*accepted  track     Product Viewed  *u1*",
    ])
    result.stdout.fnmatch_lines([
        "*segdebug.assert_no_refused()",
        "E*AssertionError: expected no refused calls: found 1 (after 0.0 s)",
        "E*refused (1):",
        "E*RE*track     Order Completed*no_user_anon_id: *",
    ])
    assert "E       matched: none" not in result.stdout.str().split("test_refusals")[-1]


def test_a_bad_query_fails_with_a_caret_not_a_deep_traceback(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
def test_typo(segdebug):
    segdebug.assert_received('event:"Order Completed" AND (', within=0)


def test_typo_in_events(segdebug):
    segdebug.events('properties.total>')
''')
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["E*ValueError: bad query: column *", "E*^"])
    assert "debugger/query/" not in result.stdout.str()  # no frames of the parser


def test_two_tests_in_a_row_do_not_see_each_others_events(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
def test_first(segdebug):
    client = client_for(segdebug)
    client.track("u1", "First Test Ran")
    client.flush()
    segdebug.assert_received('event:"First Test Ran"', count=1)


def test_second(segdebug):
    assert segdebug.events() == []
    client = client_for(segdebug)
    client.track("u2", "Second Test Ran")
    client.flush()
    segdebug.assert_received('event:"Second Test Ran"', count=1)
    assert [e["message"]["event"] for e in segdebug.events()] == ["Second Test Ran"]
    assert segdebug.summary()["received"] == 1
''')
    result.assert_outcomes(passed=2)
