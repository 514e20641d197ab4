"""Review never writes: the file's bytes (and its -wal/-shm) are the same after a review session,
whether it was closed cleanly, copied from a live WAL engine with its WAL, reviewed while the
engine runs, or a compressed backup; every command is refused; engine runs are told apart."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.backup.compress import compress
from engine.commands import Command
from engine.config.loader import load_config
from engine.history.cursor import Range
from engine.history.db import EventFilter
from engine.history.export import ExportRequest, export_to_path
from engine.history.opener import HistoryError, open_history
from engine.history.source import HistorySource
from engine.history.story import story
from engine.history.whatif import what_if
from engine.runtime import Engine
from engine.snapshot import EngineState
from tests.canaryfixtures import wait_until
from tests.reviewfixtures import ALICE, fingerprint

HOST_ONLY = """\
store: {path: history.db, flush_interval: 50ms}
engine: {snapshot_interval: 100ms, self_metrics_interval: 200ms}
monitor: {host: {interval: 100ms}}
backup: {dir: backups}
"""


def engine_for(directory: Path) -> Engine:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(HOST_ONLY)
    return Engine(load_config(directory / "config.yaml"))


def run_briefly(directory: Path, seconds: float = 0.8) -> None:
    engine = engine_for(directory)
    engine.start()
    try:
        wait_until(lambda: engine.snapshot().get("host", "mem_pct") is not None, 10, "host samples")
        time.sleep(seconds)
    finally:
        engine.stop()


def session(path: Path, out: Path) -> HistorySource:
    """Everything a review does with a file: open, scrub, events, export, what-if, rollout story."""
    source = HistorySource(open_history(path))
    rng = source.range
    for t in (rng.first, (rng.first + rng.last) / 2, rng.last):
        source.seek(t)
    source.db.filtered_events(EventFilter(), limit=50)
    export_to_path(source.db, ExportRequest(rng.first, rng.last), out / "export.csv")
    config = load_config(path.parent / "config.yaml").config if (path.parent / "config.yaml").exists() else None
    if config is not None:
        what_if(source.db, source.runs, config, rng.first, rng.last)
    for row in source.db.all_rollouts():
        story(source.db, source.runs, int(row["id"]))
    return source


def sample_count(path: Path) -> int:
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM samples").fetchone()[0]


def test_a_closed_file_is_read_in_place_and_left_exactly_as_it_was(tmp_path: Path) -> None:
    run_briefly(tmp_path / "h")
    before = fingerprint(tmp_path / "h")
    assert "history.db-wal" not in before  # a clean stop checkpoints and removes the WAL
    out = tmp_path / "out"
    out.mkdir()
    source = session(tmp_path / "h" / "history.db", out)
    try:
        assert "immutable" in source.opened.how
        assert source.snapshot().get("host", "mem_pct") is not None
    finally:
        source.close()
    assert fingerprint(tmp_path / "h") == before  # same bytes, and no -wal or -shm left beside it


def test_a_copy_of_a_live_wal_engine_is_read_with_its_wal_and_not_touched(tmp_path: Path) -> None:
    engine = engine_for(tmp_path / "live")
    engine.start()
    try:
        wait_until(lambda: engine.snapshot().get("host", "mem_pct") is not None, 10, "host samples")
        time.sleep(0.5)
        engine.store.flush()
        live_db = tmp_path / "live" / "history.db"
        assert Path(f"{live_db}-wal").stat().st_size > 0
        copy = tmp_path / "copy"
        copy.mkdir()
        # What an operator does (`cp history.db* laptop/`), in another process: opening and closing
        # the files in this one would drop the engine's own POSIX locks on them.
        subprocess.run(["cp", str(live_db), f"{live_db}-wal", f"{live_db}-shm", str(copy)], check=True)
        copied_at = time.time()

        # The live file itself, while its engine writes: read alongside it.
        live = HistorySource(open_history(live_db))
        try:
            assert live.opened.how.startswith("live")
            assert live.range.last > copied_at - 1.0
        finally:
            live.close()

        before = fingerprint(copy)
        source = session(copy / "history.db", tmp_path)
        try:
            assert "private copy" in source.opened.how
            temp = source.opened.temp_dir
            assert temp is not None and temp.exists() and oct(temp.stat().st_mode & 0o777) == "0o700"
            # The WAL's frames were read: more than the database file alone holds.
            replayed = sum(len(s.values) for s in source.snapshot().series)
            assert replayed > 0 and source.range.last > copied_at - 1.0
            assert source.db.dict_rows("SELECT count(*) AS n FROM samples")[0]["n"] > sample_count(copy / "history.db")
        finally:
            source.close()
        assert not temp.exists()
        assert fingerprint(copy) == before  # db, -wal and -shm byte for byte; nothing added
        engine.store.flush()
        assert engine.store.stats.last_error is None  # the engine kept writing throughout
    finally:
        engine.stop()


@pytest.mark.parametrize("method", ["zstd", "gzip"])
def test_a_compressed_backup_is_reviewed_from_a_private_temp_copy(tmp_path: Path, method: str) -> None:
    run_briefly(tmp_path / "h", 0.3)
    suffix = ".db.zst" if method == "zstd" else ".db.gz"
    backup = tmp_path / f"history-20261122T001508.123Z{suffix}"
    compress(tmp_path / "h" / "history.db", backup, method)
    before = fingerprint(tmp_path)
    source = HistorySource(open_history(backup))
    try:
        assert method in source.opened.how
        original = HistorySource(open_history(tmp_path / "h" / "history.db"))
        try:
            assert source.snapshot().series == original.snapshot().series
        finally:
            original.close()
        temp = source.opened.temp_dir
    finally:
        source.close()
    assert temp is not None and not temp.exists()
    assert fingerprint(tmp_path) == before


def test_damaged_or_foreign_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    run_briefly(tmp_path / "h", 0.2)
    backup = tmp_path / "b.db.zst"
    compress(tmp_path / "h" / "history.db", backup, "zstd")
    cut = tmp_path / "cut.db.zst"
    cut.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    with pytest.raises(HistoryError, match="truncated"):
        open_history(cut)
    text = tmp_path / "notes.db"
    text.write_text("not a database at all, just notes\n" * 100)
    with pytest.raises(HistoryError, match="not an SQLite database"):
        open_history(text)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(HistoryError, match="not an opsconsole history"):
        open_history(other)
    with pytest.raises(HistoryError, match="does not exist"):
        open_history(tmp_path / "missing.db")


def test_every_command_is_refused_in_review_mode(tmp_path: Path) -> None:
    run_briefly(tmp_path / "h", 0.2)
    source = HistorySource(open_history(tmp_path / "h" / "history.db"))
    try:
        for name in ("pause", "rollout.rollback", "backup", "alerts.silence"):
            result = source.submit(Command(name, {}, ALICE)).result(1)
            assert not result.ok and result.message == f"review mode: {name} is disabled"
    finally:
        source.close()


def test_runs_start_empty_and_a_stopped_engine_is_shown_stopped(tmp_path: Path) -> None:
    run_briefly(tmp_path / "h", 0.3)
    time.sleep(0.5)
    run_briefly(tmp_path / "h", 0.3)
    source = HistorySource(open_history(tmp_path / "h" / "history.db"))
    try:
        first, second = source.runs
        assert first.recorded and first.config is not None and first.components
        assert first.ended is not None and first.ended < second.started
        between = source.seek((first.ended + second.started) / 2)
        assert between.state is EngineState.STOPPED and "not running" in between.notice
        assert {c.state for c in between.components} == {"stopped"}
        early = source.seek(second.started + 0.05)
        mem = early.get("host", "mem_pct")
        # The second engine's ring buffers started empty: nothing from the first run.
        assert mem is None or min(mem.times) >= second.started
    finally:
        source.close()


def test_the_cli_prints_panels_without_a_terminal_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from console.cli import main

    run_briefly(tmp_path / "h", 0.3)
    before = fingerprint(tmp_path / "h")
    db = tmp_path / "h" / "history.db"
    done = subprocess.run([sys.executable, "-m", "console", "review", str(db), "--print"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("opsconsole · REVIEW · config.yaml")
    for title in ("Throughput", "Memory", "Errors", "Gaps", "Health", "Rollout"):
        assert f"── {title} " in done.stdout
    assert "host mem" in done.stdout
    # The refusals, in-process (stdout is not a terminal under pytest either).
    assert main(["review", str(db)]) == 2
    assert "--print" in capsys.readouterr().err
    assert main(["review", str(tmp_path / "nope.db")]) == 1
    assert "nope.db does not exist" in capsys.readouterr().err
    assert main(["review", str(db), "--print", "--at", "25:99"]) == 2
    assert "--at: '25:99' is not a time of day" in capsys.readouterr().err
    assert fingerprint(tmp_path / "h") == before


async def test_the_console_refuses_verbs_with_a_review_notice(tmp_path: Path) -> None:
    from console.review import ReviewApp

    run_briefly(tmp_path / "h", 0.2)
    before = fingerprint(tmp_path / "h")
    source = HistorySource(open_history(tmp_path / "h" / "history.db"))
    app = ReviewApp(source)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "REVIEW" in app.header.plain
        for key, doing in (("p", "pausing or resuming the engine"), ("R", "rolling back"), ("b", "backing up the history")):
            await pilot.press(key)
            await pilot.pause()
            assert app.notices[-1][2] == f"review mode: {doing} is disabled (a review never changes anything)"
        assert len(app.screen_stack) == 1  # no confirmation was even offered
    source.close()
    assert fingerprint(tmp_path / "h") == before
    assert Range(source.range.first, source.range.last).span > 0
