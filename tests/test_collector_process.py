"""The collector as a process: start-up messages, clear start-up errors, clean shutdown, and
no acknowledged message lost when it is killed with SIGKILL mid-traffic."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import orjson

from tests.support import Collector, post_json, start_collector


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "debugger.cli", *args], capture_output=True,
                          text=True, timeout=30)


def test_sigkill_loses_no_acknowledged_message(tmp_path: Path) -> None:
    collector = start_collector(tmp_path / "c", "--fsync", "never")
    acknowledged: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def sender(worker: int) -> None:
        for number in range(100_000):
            markers = [f"{worker}-{number}-{i}" for i in range(5)]
            batch = [{"type": "track", "event": "Tick", "userId": "u", "messageId": m} for m in markers]
            try:
                reply = post_json(collector.url + "/v1/batch", {"batch": batch})
            except OSError:
                return  # the collector is gone
            if reply.status == 200:
                with lock:
                    acknowledged.extend(markers)
                    if len(acknowledged) >= 2000:
                        enough.set()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    assert enough.wait(timeout=60)
    collector.process.send_signal(signal.SIGKILL)  # while the senders are still sending
    for thread in threads:
        thread.join(timeout=30)
    collector.process.wait(timeout=10)
    archived = {m["messageId"] for m in collector.archived()}
    assert set(acknowledged) <= archived
    assert len(archived) >= 2000


def test_start_prints_where_it_listens_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    archive = tmp_path / "deep" / "archive.ndjson"
    sock = tmp_path / "c.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "debugger.cli", "collect", "--port", "0", "--archive", str(archive),
         "--socket", str(sock)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    viewer = socket.socket(socket.AF_UNIX)
    try:
        first = process.stdout.readline()
        assert first.startswith("segdebug collector listening on http://127.0.0.1:")
        assert process.stdout.readline().split() == ["archive:", str(archive)]
        url = first.split()[-1]
        assert post_json(url + "/v1/track", {"userId": "u", "event": "Signed Up"}).status == 200
        viewer.connect(str(sock))  # a viewer still connected must not spoil the shutdown
        assert viewer.recv(65536).startswith(b'{"kind":"hello"')
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
        viewer.close()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert not sock.exists()
    assert orjson.loads(archive.read_bytes())["event"] == "Signed Up"


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("collect", "--port", str(port), "--archive", str(tmp_path / "a.ndjson"),
                         "--socket", str(tmp_path / "s.sock"))
    assert result.returncode == 2
    assert result.stderr == (f"segdebug: error: port {port} on 127.0.0.1 is already in use; "
                             "choose another with --port\n")


def test_unwritable_archive_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli("collect", "--port", "0", "--archive", str(blocker / "archive.ndjson"),
                     "--socket", str(tmp_path / "s.sock"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"segdebug: error: cannot write the archive {blocker}/archive.ndjson: ")
    assert result.stderr.count("\n") == 1


def test_socket_held_by_live_collector_says_how_to_connect(collector: Collector, tmp_path: Path) -> None:
    result = run_cli("collect", "--port", "0", "--archive", str(tmp_path / "a.ndjson"),
                     "--socket", str(collector.socket))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"segdebug tail --socket {collector.socket}" in result.stderr
    assert post_json(collector.url + "/v1/track", {"userId": "u", "event": "Still Here"}).status == 200


def test_invalid_option_is_usage_error() -> None:
    result = run_cli("collect", "--fsync", "sometimes")
    assert result.returncode == 2
    assert result.stderr == "segdebug: error: --fsync must be one of always, interval, never, not 'sometimes'\n"


def test_an_empty_write_key_is_a_usage_error() -> None:
    result = run_cli("collect", "--port", "0", "--write-key", " ")
    assert result.returncode == 2
    assert result.stderr == ("segdebug: error: --write-key cannot be empty: no call carries an empty key, "
                             "so it would match nothing\n")


def test_bad_plan_is_one_clear_line(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text("{not json")
    result = run_cli("collect", "--port", "0", "--archive", str(tmp_path / "a.ndjson"),
                     "--socket", str(tmp_path / "s.sock"), "--plan", str(plan))
    assert result.returncode == 2
    assert result.stderr.startswith(f"segdebug: error: plan {plan}") and result.stderr.count("\n") == 1
