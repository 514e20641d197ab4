"""Directory sources with real files, a real engine and a real SQLite ledger: processed exactly
once (also across restarts), stability, and each failure the seed listed."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from tests.watchkit import Recorder, events, health, last, ledger, running, wait_for, write_config

SOURCE = "watch:inbox"


def source(**overrides: str) -> str:
    """One directory source, fast settings; keyword arguments replace or add keys (YAML text)."""
    keys = {"name": "inbox", "dir": "inbox", "processor": "digest", "interval": "100ms", "settle": "0ms",
            "reconcile_every": "1s", **overrides}
    return "  - {" + ", ".join(f"{k}: {v}" for k, v in keys.items()) + "}\n"


def test_new_files_are_recorded_once_with_size_mtime_and_digest(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "before.json").write_bytes(b'{"a": 1}\n')
    (inbox / ".hidden.json.tmp").write_bytes(b"half a document")  # excluded by default
    db = tmp_path / "history.db"
    with running(write_config(tmp_path, source())) as engine:
        wait_for(lambda: "before.json" in ledger(db), what="the file present at start")
        (inbox / "after.json").write_bytes(b"[1, 2, 3]\n")  # found by inotify
        rows = wait_for(lambda: ledger(db) if "after.json" in ledger(db) else None, what="the new file")
        wait_for(lambda: last(engine, SOURCE, "files_total") == 2, what="files_total")
        assert last(engine, SOURCE, "errors_total") == 0
        assert health(engine, SOURCE).status == "OK"
    assert set(rows) == {"before.json", "after.json"}
    row = rows["after.json"]
    st = (inbox / "after.json").stat()
    assert row["status"] == "processed" and row["error"] is None
    assert (row["size"], row["mtime"]) == (st.st_size, st.st_mtime)
    assert row["digest"] == hashlib.sha256(b"[1, 2, 3]\n").hexdigest()


def test_exactly_once_across_a_restart_in_the_middle_of_a_directory(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    count = 600
    for i in range(count):
        (inbox / f"f{i:04d}.dat").write_bytes(f"file {i}\n".encode())
    recorder = Recorder("test-once")
    recorder.delay = 0.002  # slow enough to stop the engine in the middle
    loaded = write_config(tmp_path, source(processor="test-once", max_workers="2"))
    db = tmp_path / "history.db"
    with running(loaded):
        wait_for(lambda: recorder.total >= 100, what="some files processed")
    first = len(ledger(db))
    assert 0 < first < count, "the stop must come in the middle of the directory"
    with running(loaded) as engine:
        wait_for(lambda: len(ledger(db)) == count, timeout=30, what="every file in the ledger")
        wait_for(lambda: engine.snapshot().get(SOURCE, "files_total") is not None, what="a report")
    assert recorder.duplicates() == {}
    assert recorder.total == count
    assert {row["status"] for row in ledger(db).values()} == {"processed"}


def test_reconcile_finds_files_created_while_the_engine_was_stopped(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.json").write_text("{}")
    recorder = Recorder("test-reconcile")
    loaded = write_config(tmp_path, source(processor="test-reconcile"))
    db = tmp_path / "history.db"
    with running(loaded):
        wait_for(lambda: "a.json" in ledger(db), what="a.json")
    (inbox / "b.json").write_text('{"b": 1}')
    (inbox / "a.json").write_text('{"a": "changed"}')  # a new version of a.json
    os.utime(inbox / "a.json", (time.time() + 5, time.time() + 5))  # a distinct mtime, even on coarse clocks
    with running(loaded):
        wait_for(lambda: "b.json" in ledger(db) and recorder.total == 3, what="b.json and the new a.json")
        time.sleep(0.3)  # a second reconcile would find nothing more
    assert sorted(recorder.seen.values()) == [1, 1, 1]
    assert set(recorder.seen) == {b"{}", b'{"b": 1}', b'{"a": "changed"}'}


def test_a_file_renamed_into_place_is_processed_once(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    recorder = Recorder("test-rename")
    db = tmp_path / "history.db"
    with running(write_config(tmp_path, source(processor="test-rename", pattern="'*.json'"))):
        wait_for(lambda: query_ok(db), what="the engine")
        for i in range(20):
            temp = inbox / f".doc{i}.json.tmp"
            temp.write_bytes(json.dumps({"i": i}).encode())
            temp.rename(inbox / f"doc{i}.json")
        wait_for(lambda: recorder.total >= 20, what="20 documents")
        time.sleep(1.2)  # past the next reconcile: nothing is processed twice
    assert recorder.total == 20 and recorder.duplicates() == {}
    assert sorted(ledger(db)) == sorted(f"doc{i}.json" for i in range(20))


def query_ok(db: Path) -> bool:
    return db.exists()


def test_a_file_still_being_written_waits_until_it_is_stable(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    recorder = Recorder("test-growing")
    loaded = write_config(tmp_path, source(processor="test-growing", settle="400ms"))
    target = inbox / "growing.log"
    lines = [f"line {i}\n".encode() for i in range(12)]

    def write_slowly() -> None:
        with open(target, "ab") as handle:
            for text in lines:
                handle.write(text)
                handle.flush()
                time.sleep(0.1)  # never 400 ms without a change

    with running(loaded):
        writer = threading.Thread(target=write_slowly)
        writer.start()
        writer.join()
        wait_for(lambda: recorder.total == 1, what="the finished file")
        time.sleep(0.5)
    assert list(recorder.seen) == [b"".join(lines)], "read only once, and only complete"


def test_read_only_file_is_processed_and_left_untouched(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / "ro.json"
    path.write_text('{"read": "only"}')
    path.chmod(0o444)
    before = path.stat()
    db = tmp_path / "history.db"
    with running(write_config(tmp_path, source(processor="json"))):
        wait_for(lambda: "ro.json" in ledger(db), what="ro.json")
    after = path.stat()
    assert ledger(db)["ro.json"]["status"] == "processed"
    assert (after.st_mode, after.st_mtime, path.read_text()) == (before.st_mode, before.st_mtime, '{"read": "only"}')


def test_file_deleted_between_event_and_read_is_reported_not_retried(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    db = tmp_path / "history.db"
    loaded = write_config(tmp_path, source(settle="600ms"))
    with running(loaded) as engine:
        wait_for(lambda: health(engine, SOURCE) and health(engine, SOURCE).status == "OK", what="watching")
        doomed = inbox / "doomed.json"
        doomed.write_text("{}")  # seen at once, then waits 600 ms to be stable...
        time.sleep(0.3)
        doomed.unlink()  # ...and is gone before it is read
        found = wait_for(lambda: [e for e in events(db, SOURCE) if "doomed.json" in e[1]], what="the event")
        time.sleep(1.2)  # past a reconcile: no retry, no second event
        assert health(engine, SOURCE).status == "OK"
    assert found[0][:2] == ("info", "doomed.json was deleted before it could be read")
    assert len([e for e in events(db, SOURCE) if "doomed.json" in e[1]]) == 1
    assert "doomed.json" not in ledger(db)


def test_invalid_json_is_a_recorded_failure_with_line_and_column(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bad.json").write_text('{"a": 1,\n "b": }\n')
    (inbox / "lines.json").write_text('{"a": 1}\n{"a": 2}\n')  # JSON Lines: 2 records
    db = tmp_path / "history.db"
    with running(write_config(tmp_path, source(processor="json"))) as engine:
        wait_for(lambda: len(ledger(db)) == 2, what="both files")
        wait_for(lambda: last(engine, SOURCE, "errors_total") == 1, what="errors_total")
        wait_for(lambda: last(engine, SOURCE, "records_total") == 2, what="records_total")
        group = wait_for(lambda: next((g for g in engine.snapshot().errors if g.source == SOURCE), None),
                         what="the Errors panel entry")
    bad = ledger(db)["bad.json"]
    assert bad["status"] == "failed"
    assert bad["error"] == "invalid JSON at line 2 column 7: Expecting value"
    assert bad["digest"] == hashlib.sha256(b'{"a": 1,\n "b": }\n').hexdigest()
    assert group.message == "bad.json: invalid JSON at line 2 column 7: Expecting value"
    assert "processor=json" in group.context and str(inbox / "bad.json") in group.context


def test_missing_directory_waits_and_recovers_by_itself(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    inbox = tmp_path / "later" / "inbox"
    with running(write_config(tmp_path, source(dir="later/inbox"))) as engine:
        view = wait_for(lambda: health(engine, SOURCE) if health(engine, SOURCE).status == "WARN" else None,
                        what="waiting")
        assert view.detail == f"waiting for {inbox}: does not exist"
        inbox.mkdir(parents=True)
        (inbox / "first.json").write_text("{}")
        wait_for(lambda: "first.json" in ledger(db), what="the first file after the directory appeared")
        wait_for(lambda: health(engine, SOURCE).status == "OK", what="OK in the next snapshot")
        # deleted while watched: waiting again, then back
        (inbox / "first.json").unlink()
        inbox.rmdir()
        wait_for(lambda: health(engine, SOURCE).status == "WARN", what="waiting again")
        inbox.mkdir()
        (inbox / "second.json").write_text("{}")
        wait_for(lambda: "second.json" in ledger(db), what="the file after the directory came back")
    messages = [m for _, m, _ in events(db, SOURCE)]
    assert messages.count(f"waiting for {inbox}: does not exist") == 2
    assert messages.count(f"watching {inbox}") == 2


def test_a_path_that_is_a_file_is_not_watched_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "inbox").write_text("not a directory")
    with running(write_config(tmp_path, source())) as engine:
        view = wait_for(lambda: health(engine, SOURCE) if health(engine, SOURCE).status == "WARN" else None,
                        what="waiting")
    assert view.detail.endswith("inbox: is not a directory")


def test_recursive_source_takes_subdirectories_and_skips_hidden_ones(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "2024" / "01").mkdir(parents=True)
    (inbox / ".cache").mkdir()
    (inbox / "2024" / "01" / "deep.json").write_text("{}")
    (inbox / ".cache" / "skip.json").write_text("{}")
    db = tmp_path / "history.db"
    with running(write_config(tmp_path, source(recursive="true"))):
        wait_for(lambda: "deep.json" in ledger(db), what="deep.json")
        (inbox / "2024" / "02").mkdir()
        (inbox / "2024" / "02" / "new.json").write_text("{}")
        wait_for(lambda: "new.json" in ledger(db), what="a file in a new subdirectory")
    assert "skip.json" not in ledger(db)


# --------------------------------------------------------------------------- permissions
# Root reads anything, so the permission cases run the engine in a child process without the
# capabilities that let root ignore file modes (setpriv); as another user a chmod is enough.

CHILD = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from engine.config.loader import load_config
from engine.runtime import Engine
from tests.watchkit import query
engine = Engine(load_config(Path(sys.argv[1])))
engine.start()
deadline = time.monotonic() + 20
try:
    while time.monotonic() < deadline and not query(Path(sys.argv[1]).parent / "history.db", sys.argv[2]):
        time.sleep(0.05)
finally:
    engine.stop(timeout=10)
"""


def run_unprivileged(config: Path, until_sql: str) -> float:
    """Run the engine on `config` until `until_sql` returns a row; returns the seconds it took."""
    import shutil
    import subprocess
    import sys

    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable to us")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    started = time.monotonic()
    repo = str(Path(__file__).resolve().parent.parent)
    result = subprocess.run(
        [*prefix, sys.executable, "-c", CHILD, str(config), until_sql, repo],
        capture_output=True, text=True, timeout=60, cwd=config.parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return time.monotonic() - started


def test_unreadable_file_is_retried_with_backoff_then_recorded_as_failed(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "ok.json").write_text("{}")
    secret = inbox / "secret.json"
    secret.write_text("{}")
    secret.chmod(0o000)
    loaded = write_config(tmp_path, source(retry="{attempts: 3, backoff: 100ms}"))
    db = tmp_path / "history.db"
    took = run_unprivileged(loaded.path, "SELECT 1 FROM watched_files WHERE status = 'failed'")
    rows = ledger(db)
    assert rows["ok.json"]["status"] == "processed"
    assert rows["secret.json"]["status"] == "failed"
    assert rows["secret.json"]["error"] == "cannot read: permission denied (after 3 attempts)"
    assert took >= 0.6, "two waits, 100ms x 2^1 and 100ms x 2^2, before the third attempt"
    warnings = [m for sev, m, _ in events(db, SOURCE) if sev == "warning"]
    assert warnings == ["secret.json: cannot read: permission denied (after 3 attempts)"]


def test_unreadable_directory_waits_and_recovers_when_it_becomes_readable(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.json").write_text("{}")
    inbox.chmod(0o000)
    loaded = write_config(tmp_path, source())
    db = tmp_path / "history.db"

    def allow_later() -> None:
        wait_for(lambda: any("permission denied" in m for _, m, _ in events(db, SOURCE)), timeout=20,
                 what="the waiting event")
        inbox.chmod(0o755)

    helper = threading.Thread(target=allow_later)
    helper.start()
    try:
        run_unprivileged(loaded.path, "SELECT 1 FROM watched_files")
    finally:
        helper.join()
        inbox.chmod(0o755)
    assert ledger(db)["a.json"]["status"] == "processed"
    messages = [m for _, m, _ in events(db, SOURCE)]
    assert messages[:2] == [f"waiting for {inbox}: permission denied", f"watching {inbox}"]
