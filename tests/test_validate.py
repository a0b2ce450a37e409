"""`segdebug validate` over the samples and the bad-input corpus, through the real CLI."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from debugger.cli import main
from debugger.validate import KNOWN, lint

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BAD = sorted((SAMPLES / "bad").glob("*.ndjson"))
sys.path.insert(0, str(SAMPLES))
import generate  # noqa: E402  (samples/generate.py)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_samples_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(path) for path in sorted(SAMPLES.glob("*.ndjson"))]
    assert len(files) == 4
    code, out, _ = run(capsys, *files)
    assert code == 0
    assert out.strip().endswith("no problems found")
    lines = int(out.split()[0])
    assert lines >= 4 * 200


def test_samples_are_reproducible() -> None:
    for path, content in generate.generate(SAMPLES).items():
        assert path.read_bytes() == content, f"{path} differs from samples/generate.py's output"


def test_every_rule_has_a_bad_file() -> None:
    assert {path.stem for path in BAD} == set(KNOWN) - {"plan_violation"}


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_file_is_flagged_by_its_rule_only(path: Path) -> None:
    report = lint([path])
    assert set(report.findings) == {path.stem}
    finding = report.findings[path.stem]
    assert finding.source == str(path) and finding.line >= 1


def test_text_table_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(SAMPLES / "bad" / "missing_event.ndjson"), str(SAMPLES / "bad" / "key_case.ndjson"))
    assert code == 1
    header, *rows, total = out.strip().splitlines()
    assert header.split() == ["RULE", "LEVEL", "COUNT", "EXAMPLE"]
    assert rows[0].split()[:4] == ["missing_event", "error", "1", f"{SAMPLES}/bad/missing_event.ndjson:1"]
    assert rows[1].split()[:3] == ["key_case", "warning", "1"]
    assert total.endswith("1 error, 1 warning")


def test_warnings_pass_unless_strict(capsys: pytest.CaptureFixture[str]) -> None:
    warned = str(SAMPLES / "bad" / "clock_skew.ndjson")
    assert run(capsys, warned)[0] == 0
    assert run(capsys, "--strict", warned)[0] == 1


def test_rule_filter_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "json", "--rule", "bad_line", "--rule", "key_case", str(SAMPLES / "bad"))
    assert code == 1
    report = orjson.loads(out)
    assert [row["code"] for row in report["rules"]] == ["bad_line", "key_case"]
    bad_line = report["rules"][0]
    assert bad_line["count"] == 3 and bad_line["level"] == "error"
    assert bad_line["example"]["file"].endswith("bad_line.ndjson") and bad_line["example"]["line"] == 2
    assert report["errors"] == 3 and report["warnings"] == 1 and report["ok"] is False


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for args, needle in (
        (["--rule", "nope", str(SAMPLES)], "unknown rule nope"),
        ([str(tmp_path / "missing.ndjson")], "no such file"),
        (["--format", "xml", str(SAMPLES)], "--format must be text or json"),
    ):
        code, out, err = run(capsys, *args)
        assert code == 2 and out == ""
        assert err.startswith("segdebug: error: ") and needle in err and err.count("\n") == 1


def test_gzip_and_stdin(tmp_path: Path) -> None:
    source = (SAMPLES / "bad" / "empty_id.ndjson").read_bytes()
    packed = tmp_path / "a.ndjson.gz"
    packed.write_bytes(gzip.compress(source))
    assert set(lint([packed]).findings) == {"empty_id"}
    done = subprocess.run(
        [sys.executable, "-m", "debugger.cli", "validate", "--strict", "-"],
        input=source, capture_output=True, cwd=ROOT, timeout=60,
    )
    assert done.returncode == 1
    assert b"<stdin>:1" in done.stdout


def test_payload_text_is_escaped_in_the_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    archive = tmp_path / "evil.ndjson"
    archive.write_bytes(orjson.dumps({"type": "track", "event": "x", "userId": "u", "properties": {"\x1b[31mred": 1}}) + b"\n")
    _, out, _ = run(capsys, str(archive))
    assert "\x1b" not in out and "\\x1b[31mred" in out


def test_json_values_that_are_not_objects_are_bad_lines(tmp_path: Path) -> None:
    archive = tmp_path / "odd.ndjson"
    archive.write_bytes(b'"a string"\n42\nnull\n')
    finding = lint([archive]).findings["bad_line"]
    assert finding.count == 3 and finding.message == "not a JSON object (a str)"


def test_a_directory_is_read_for_archive_files_only(tmp_path: Path) -> None:
    """`validate DIR` reads .ndjson, .jsonl, .json and their .gz; not logs, tarballs or side
    files (X.rejected.ndjson, the old rejected.ndjson)."""
    import gzip

    from debugger.validate import lint

    good = b'{"type": "track", "event": "Order Completed", "userId": "u"}\n'
    for name in ("a.ndjson", "b.jsonl", "c.json"):
        (tmp_path / name).write_bytes(good)
    (tmp_path / "d.ndjson.gz").write_bytes(gzip.compress(good))
    for name in ("server.log", "notes.txt", "a.rejected.ndjson", "rejected.ndjson"):
        (tmp_path / name).write_bytes(b"not an archive line\n")
    (tmp_path / "bundle.tar.gz").write_bytes(gzip.compress(b"garbage\n"))
    report = lint([tmp_path])
    assert sorted(Path(name).name for name in report.files) == ["a.ndjson", "b.jsonl", "c.json", "d.ndjson.gz"]
    assert report.lines == 4 and report.total("error") == 0


def test_a_refusal_log_named_on_the_command_line_reports_why_each_call_was_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA: `validate X.rejected.ndjson` checked each refusal record as if it were a message
    (41 records, all `invalid_type: type is missing`). It reports the records' own reasons."""
    from tests.support import post_json, running_collector

    for collector in running_collector(tmp_path / "c"):
        post_json(collector.url + "/v1/track", {"event": "No User", "writeKey": "dev"})
        post_json(collector.url + "/v1/batch", {"batch": [{"type": "track", "userId": "u"}, {"type": "bogus"}]})
        rejected = collector.rejected
    code, out, _ = run(capsys, str(rejected))
    assert code == 1
    assert "no_user_anon_id" in out and "missing_event" in out and "invalid_type" in out
    report = lint([rejected])
    assert {f.code: f.count for f in report.findings.values()} == {
        "no_user_anon_id": 1, "missing_event": 1, "invalid_type": 1}
    # by its content too (QA round 2): a renamed copy, and stdin
    copy = tmp_path / "copy.ndjson"
    copy.write_bytes(rejected.read_bytes())
    assert {f.code for f in lint([copy]).findings.values()} == {"no_user_anon_id", "missing_event", "invalid_type"}
    piped = subprocess.run([sys.executable, "-m", "debugger.cli", "validate", "-"], input=rejected.read_bytes(),
                           capture_output=True, timeout=60)
    assert b"no_user_anon_id" in piped.stdout and b"type is missing" not in piped.stdout


def test_a_failed_file_is_read_for_its_messages(tmp_path: Path) -> None:
    """A replay or forwarding failed file: each record's message is checked, not the record
    (QA round 2: 212 records, 212 false `invalid_type` errors)."""
    from debugger.delivery.failures import FailedFile

    failed = FailedFile(tmp_path / "x.failed.ndjson", append=False)
    failed.message(1, orjson.dumps({"type": "track", "event": "Order Completed", "userId": "u", "messageId": "m1",
                                    "timestamp": "2024-05-01T10:00:00.000Z"}), "HTTP 500: boom", 500, 3)
    failed.message(2, orjson.dumps({"type": "track", "userId": "u", "messageId": "m2"}), "HTTP 400: no event", 400, 1)
    failed.raw(b"{torn", "not JSON", line=3)
    failed.close()
    found = {f.code: f.count for f in lint([tmp_path / "x.failed.ndjson"]).findings.values()}
    assert found.get("invalid_type") is None and found["missing_event"] == 1 and found["bad_line"] == 1
