"""The SQLite history store, against real files in tmp_path.

Faults are real where that is cheap: "disk full" is SQLite's own SQLITE_FULL, produced by
lowering PRAGMA max_page_count on the writer's connection (the same error, through the same code
path, as a full filesystem); an unwritable location is a path below a regular file (root ignores
chmod, so a read-only directory would not fail here).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine import eventcodes as ev
from engine import secrets
from engine.commands import Actor
from engine.config.schema import StoreConfig
from engine.store import Store, StoreError, open_reader, schema
from engine.store.buffer import Buffer, Record
from engine.store.writer import Writer
from engine.units import parse_size


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def config(path: Path, **overrides: object) -> StoreConfig:
    return StoreConfig(path=path, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "history.db"


@pytest.fixture
def open_store(db_path: Path) -> Iterator[Callable[..., Store]]:
    opened: list[Store] = []

    def _open(**overrides: object) -> Store:
        store = Store.open(db_path, config(db_path, **overrides))
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close(timeout=2)


def count_samples(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT count(*) FROM samples").fetchone()[0]


def disk_full(store: Store) -> None:
    """From now on, every transaction that needs a new page fails with SQLITE_FULL."""

    def cap_at_current_size(conn: sqlite3.Connection) -> None:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages}").fetchone()

    store._writer.call(cap_at_current_size)


def disk_freed(store: Store) -> None:
    store._writer.call(lambda c: c.execute("PRAGMA max_page_count = 1073741823").fetchone())


def file_bytes(path: Path) -> bytes:
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0
    return path.read_bytes()


# -- batching -----------------------------------------------------------------------------------


def test_rows_appear_after_flush_interval_without_explicit_flush(open_store, db_path: Path) -> None:
    store = open_store(flush_interval=0.1, flush_rows=1_000_000)
    store.add_samples([(1.0, "host", "mem_pct", 10.0), (2.0, "host", "mem_pct", 11.0)])
    store.add_sample(3.0, "host", "cpu_pct", 5.0)
    wait_for(lambda: count_samples(db_path) == 3, timeout=3, what="the interval flush")
    assert store.stats.flushes >= 1
    assert store.stats.queued == 0


def test_flush_rows_triggers_a_flush_before_the_interval(open_store, db_path: Path) -> None:
    store = open_store(flush_interval=10, flush_rows=100)
    store.add_samples([(float(i), "host", "mem_pct", 1.0) for i in range(60)])
    time.sleep(0.3)  # well under the 10 s interval: nothing may have been written yet
    assert count_samples(db_path) == 0
    assert store.stats.queued == 61  # 60 samples + the new series row
    store.add_samples([(float(i), "host", "mem_pct", 1.0) for i in range(60, 120)])
    wait_for(lambda: count_samples(db_path) == 120, timeout=3, what="the flush_rows flush")
    assert store.stats.flushes == 1  # one transaction for all 120 rows


def test_flush_blocks_until_committed(open_store, db_path: Path) -> None:
    store = open_store(flush_interval=10, flush_rows=1_000_000)
    store.add_samples([(float(i), "a", "b", float(i)) for i in range(1000)])
    store.add_event(1.0, ev.ENGINE_STARTED, "info", "engine", "hello")
    store.flush(timeout=5)
    assert count_samples(db_path) == 1000
    stats = store.stats
    assert (stats.written_rows, stats.queued, stats.last_error) == (1000 + 1 + 1, 0, None)  # + series + event
    assert stats.last_flush_ms is not None and stats.last_flush_ms >= 0


def test_close_flushes_everything_and_refuses_more(db_path: Path) -> None:
    store = Store.open(db_path, config(db_path, flush_interval=10, flush_rows=1_000_000))
    store.add_samples([(float(i), "a", "b", float(i)) for i in range(500)])
    store.add_event(1.0, ev.ENGINE_STARTED, "info", "engine", "bye")
    store.close()
    assert not Path(str(db_path) + "-wal").exists()  # last connection closed: WAL checkpointed away
    assert count_samples(db_path) == 500
    with open_reader(db_path) as reader:
        assert [e["message"] for e in reader.events()] == ["bye"]
    with pytest.raises(StoreError, match="closed"):
        store.add_sample(1.0, "a", "b", 1.0)
    store.close()  # twice is fine


def test_concurrent_callers_share_series_ids(open_store, db_path: Path) -> None:
    store = open_store(flush_rows=1000)

    def produce(worker: int) -> None:
        for i in range(0, 5000, 250):
            store.add_samples([(worker * 10_000 + float(j), "svc", f"m{j % 7}", 1.0) for j in range(i, i + 250)])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(produce, range(4)))
    store.flush()
    assert count_samples(db_path) == 20_000
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        assert conn.execute("SELECT count(*) FROM series").fetchone()[0] == 7


def test_checkpoint_runs_every_checkpoint_every(open_store, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    original = Writer._checkpoint

    def counting(self: Writer) -> None:
        calls.append(time.monotonic())
        original(self)

    monkeypatch.setattr(Writer, "_checkpoint", counting)
    store = open_store(checkpoint_every=0.05, flush_interval=0.02)
    store.add_sample(1.0, "a", "b", 1.0)
    wait_for(lambda: len(calls) >= 3, timeout=3, what="three checkpoints")
    assert store.stats.last_error is None


# -- pragmas and file modes ------------------------------------------------------------------------


def test_wal_synchronous_normal_and_journal_size_limit(open_store, db_path: Path) -> None:
    store = open_store(journal_size_limit="8MB")
    store.add_sample(1.0, "a", "b", 1.0)
    store.flush()
    with open_reader(db_path) as reader:
        assert reader._query("PRAGMA journal_mode")[0][0] == "wal"
    # synchronous and journal_size_limit are per connection: ask the writer's own.
    assert store._writer.call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 1  # NORMAL
    assert store._writer.call(lambda c: c.execute("PRAGMA journal_size_limit").fetchone()[0]) == parse_size("8MB")


def test_created_dirs_0700_and_files_0600_including_wal_and_shm(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "history.db"
    old = os.umask(0o022)  # a typical, permissive umask: the store must not rely on the user's
    try:
        store = Store.open(path, config(path))
        store.add_sample(1.0, "a", "b", 1.0)
        store.flush()
        modes = {
            p.name: stat.S_IMODE(p.stat().st_mode)
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), path.parent, path.parent.parent)
        }
        store.close()
    finally:
        os.umask(old)
    assert modes == {"history.db": 0o600, "history.db-wal": 0o600, "history.db-shm": 0o600, "b": 0o700, "a": 0o700}


def test_existing_parent_is_left_alone_and_a_wide_file_is_tightened(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "history.db"
    Store.open(path, config(path)).close()
    os.chmod(path, 0o644)
    Store.open(path, config(path)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


# -- schema versions and migrations ---------------------------------------------------------------


def test_schema_version_is_recorded(open_store, db_path: Path) -> None:
    open_store().close()
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            schema.latest_version()
        )
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "series", "samples", "events", "rollouts", "audit", "watched_files"} <= tables


def test_newer_schema_version_is_refused_and_the_file_is_unchanged(db_path: Path) -> None:
    Store.open(db_path, config(db_path)).close()
    newer = schema.latest_version() + 1
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(newer),))
    before = file_bytes(db_path)
    expected = (
        f"{db_path} has schema version {newer}, this opsconsole understands up to {schema.latest_version()}: "
        "upgrade opsconsole or use another store.path"
    )
    with pytest.raises(StoreError) as info:
        Store.open(db_path, config(db_path))
    assert str(info.value) == expected
    with pytest.raises(StoreError, match=f"schema version {newer}"):
        open_reader(db_path)
    assert file_bytes(db_path) == before


def test_a_failing_migration_changes_nothing(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(db_path, config(db_path)).close()
    before = file_bytes(db_path)
    current = schema.latest_version()  # version-agnostic: other parts add migrations

    def v2_breaks_halfway(db) -> None:
        db["half_done"].create({"x": int})
        db.execute("INSERT INTO samples (series_id, t, value) VALUES (1, 1.0, 1.0)")
        raise RuntimeError("boom")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, v2_breaks_halfway])
    with pytest.raises(StoreError) as info:
        Store.open(db_path, config(db_path))
    message = str(info.value)
    assert str(db_path) in message
    assert f"migration to schema version {current + 1} failed (RuntimeError: boom)" in message
    assert f"still at version {current}" in message
    assert file_bytes(db_path) == before
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(current)
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0


def test_a_failing_first_migration_leaves_no_file_behind(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(db) -> None:
        raise ValueError("nope")

    monkeypatch.setattr(schema, "MIGRATIONS", [broken])
    with pytest.raises(StoreError, match="migration to schema version 1 failed"):
        Store.open(db_path, config(db_path))
    assert not db_path.exists()


def test_a_new_migration_is_applied_once(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(db_path, config(db_path)).close()
    runs: list[int] = []

    def v2_adds_a_column(db) -> None:
        runs.append(1)
        db["events"].add_column("acknowledged", int)

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, v2_adds_a_column])
    Store.open(db_path, config(db_path)).close()
    Store.open(db_path, config(db_path)).close()
    assert runs == [1]
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            schema.latest_version()
        )
        assert "acknowledged" in {r[1] for r in conn.execute("PRAGMA table_info(events)")}


# -- files the store must refuse --------------------------------------------------------------------


def test_a_non_sqlite_file_is_refused_with_a_sentence(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_text("these are my notes, not a database\n" * 50)
    before = db_path.read_bytes()
    with pytest.raises(StoreError) as info:
        Store.open(db_path, config(db_path))
    assert str(info.value).startswith(f"{db_path} is not an SQLite database")
    assert "store.path" in str(info.value)
    assert db_path.read_bytes() == before
    with pytest.raises(StoreError, match="is not an SQLite database"):
        open_reader(db_path)


def test_another_programs_sqlite_database_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="not an opsconsole history"):
        Store.open(db_path, config(db_path))
    assert db_path.read_bytes() == before


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"store.path {tmp_path} is a directory"):
        Store.open(tmp_path, config(tmp_path))


def test_an_unwritable_location_is_refused_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    path = blocker / "sub" / "history.db"
    with pytest.raises(StoreError) as info:
        Store.open(path, config(path))
    assert str(path) in str(info.value) and "not a directory" in str(info.value)


def test_open_reader_on_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_reader(tmp_path / "nope.db")


# -- failures while running ---------------------------------------------------------------------------


def test_a_full_disk_keeps_the_rows_reports_and_resumes(open_store, db_path: Path) -> None:
    store = open_store(flush_interval=0.02)
    store.add_sample(0.0, "host", "mem_pct", 0.0)
    store.flush()
    disk_full(store)

    store.add_samples([(float(i), "host", "mem_pct", float(i)) for i in range(1, 801)])
    store.add_event(1.0, ev.ALERT_FIRING, "critical", "alerts", "fired")
    store.add_audit(2.0, Actor("ann", "10.0.0.9"), "rollout.pause", {"reason": "x"}, "paused", True)
    wait_for(lambda: store.stats.failed_flushes >= 2, what="retries against the full disk")
    stats = store.stats
    assert stats.last_error == f"cannot write to {db_path}: database or disk is full"
    assert stats.queued == 802 and stats.dropped_samples == 0
    with pytest.raises(StoreError, match="database or disk is full"):
        store.flush(timeout=0.2)

    disk_freed(store)
    store.flush(timeout=10)  # the backoff is at most 5 s
    assert store.stats.last_error is None
    assert count_samples(db_path) == 801
    with open_reader(db_path) as reader:
        assert [e["message"] for e in reader.events()] == ["fired"]
        assert [a["action"] for a in reader.audit()] == ["rollout.pause"]


def test_a_stalled_disk_drops_the_oldest_samples_counts_them_and_keeps_events(
    open_store, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(flush_interval=0.02, max_buffered_rows=1000)
    store.add_sample(0.0, "host", "mem_pct", 0.0)
    store.flush()
    disk_full(store)

    store.add_samples([(float(i), "host", "mem_pct", float(i)) for i in range(1, 601)])
    wait_for(lambda: store.stats.failed_flushes >= 1, what="a failed flush")
    store.add_event(1.0, ev.GAP_OPENED, "warning", "collect", "kept")
    for start in range(601, 2401, 600):  # 1800 more while the disk is full
        store.add_samples([(float(i), "host", "mem_pct", float(i)) for i in range(start, start + 600)])
    wait_for(lambda: store.stats.dropped_samples == 1401, what="the bound to drop 1401 samples")
    # 2400 samples + 1 event waited for a buffer of 1000 rows: the oldest 1401 samples went.
    assert store.stats.dropped_records == 0
    assert any(r.levelname == "ERROR" and "dropped" in r.getMessage() for r in caplog.records)  # not silent

    disk_freed(store)
    store.flush(timeout=10)
    with open_reader(db_path) as reader:
        times = [t for t, _v in reader.series("host", "mem_pct", 0, 1e9)]
        assert [e["message"] for e in reader.events()] == ["kept"]
    assert times == [0.0, *[float(i) for i in range(1402, 2401)]]  # the first flush, then the newest 999


def test_a_bad_row_raises_at_the_caller_and_poisons_nothing(open_store, db_path: Path) -> None:
    store = open_store()
    with pytest.raises(TypeError, match="add_samples"):
        store.add_samples([(1.0, "a", "b", "not a number")])
    with pytest.raises(TypeError, match="add_samples"):
        store.add_samples([(1.0, "a", "b")])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unknown column"):
        store.upsert_rollout({"id": 1, "colour": "red"})
    store.add_sample(1.0, "a", "b", 2)
    store.flush()
    assert count_samples(db_path) == 1
    assert store.stats.last_error is None


def test_a_repeated_instant_replaces_instead_of_failing_the_batch(open_store, db_path: Path) -> None:
    store = open_store()
    store.add_samples([(5.0, "a", "b", 1.0), (5.0, "a", "b", 2.0), (6.0, "a", "b", 3.0)])
    store.flush()
    with open_reader(db_path) as reader:
        assert reader.series("a", "b", 0, 10) == [(5.0, 2.0), (6.0, 3.0)]


# -- buffer bound, unit level -------------------------------------------------------------------------


def _event(n: int) -> Record:
    return Record("event", "INSERT e", (n,))


def test_buffer_drops_samples_before_records_and_events_before_audit() -> None:
    buf = Buffer(max_rows=4)
    buf.put_samples([(1, 1.0, 1.0), (1, 2.0, 2.0)])
    buf.put_record(Record("audit", "INSERT a", ("audit",)))
    buf.put_record(_event(1))
    buf.put_record(_event(2))  # 5 rows: the oldest sample goes
    assert (buf.dropped_samples, buf.dropped_records) == (1, 0)
    buf.put_record(_event(3))  # 5 rows: the last sample goes
    buf.put_record(_event(4))  # no samples left to drop: the oldest event goes, not the audit
    batch = buf.take()
    assert sum(map(len, batch.samples)) == 0
    assert [r.params for r in batch.records] == [("audit",), (2,), (3,), (4,)]
    assert (buf.dropped_samples, buf.dropped_records, buf.dropped_by_kind) == (2, 1, {"event": 1})


def test_buffer_requeue_puts_a_failed_batch_in_front() -> None:
    buf = Buffer(max_rows=100)
    buf.put_sample((1, 1.0, 1.0))
    buf.put_record(_event(1))
    failed = buf.take()
    buf.put_sample((1, 2.0, 2.0))
    buf.put_record(_event(2))
    buf.requeue(failed)
    again = buf.take()
    assert [row for chunk in again.samples for row in chunk] == [(1, 1.0, 1.0), (1, 2.0, 2.0)]
    assert [r.params for r in again.records] == [(1,), (2,)]
    assert again.seq == 4


# -- reading -------------------------------------------------------------------------------------------


def test_reader_series_by_window_keys_and_index(open_store, db_path: Path) -> None:
    store = open_store()
    store.add_samples([(float(t), "canary", "error_rate", t / 100) for t in range(100)])
    store.add_samples([(float(t), "baseline", "error_rate", 0.0) for t in range(100)])
    store.add_sample(50.0, "host", "mem_pct", 42.0, unit="%")
    store.flush()
    with open_reader(db_path) as reader:
        assert reader.series("canary", "error_rate", 10, 12) == [(10.0, 0.1), (11.0, 0.11), (12.0, 0.12)]
        assert reader.series("canary", "error_rate", 200, 300) == []
        assert reader.series("nobody", "nothing", 0, 100) == []
        assert reader.series_keys() == [("baseline", "error_rate"), ("canary", "error_rate"), ("host", "mem_pct")]
        assert reader.time_range() == (0.0, 99.0)
        plan = " ".join(
            str(row[-1])
            for row in reader._query(
                "EXPLAIN QUERY PLAN SELECT s.t, s.value FROM samples AS s JOIN series AS k ON k.id = s.series_id"
                " WHERE k.source = ? AND k.metric = ? AND s.t >= ? AND s.t <= ? ORDER BY s.t",
                ("canary", "error_rate", 10, 12),
            )
        )
    assert "SEARCH s USING PRIMARY KEY (series_id=? AND t>? AND t<?)" in plan
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        assert conn.execute("SELECT unit FROM series WHERE metric = 'mem_pct'").fetchone()[0] == "%"


def test_reader_works_from_another_thread_while_the_writer_writes(open_store, db_path: Path) -> None:
    store = open_store(flush_interval=0.02)
    store.add_sample(1.0, "a", "b", 1.0)
    store.flush()
    reader = open_reader(db_path)
    seen: list[int] = []

    def read_repeatedly() -> None:
        for _ in range(50):
            seen.append(len(reader.series("a", "b", 0, 1e9)))
            time.sleep(0.002)

    thread = threading.Thread(target=read_repeatedly)
    thread.start()
    for i in range(2, 200):
        store.add_sample(float(i), "a", "b", 1.0)
    thread.join()
    store.flush()
    assert len(reader.series("a", "b", 0, 1e9)) == 199
    assert seen == sorted(seen) and seen[0] >= 1
    reader.close()


def test_reader_events_window_kinds_limit_and_audit(open_store, db_path: Path) -> None:
    store = open_store()
    for i in range(10):
        store.add_event(float(i), ev.ALERT_FIRING if i % 2 else ev.GAP_OPENED, "warning", "engine", f"e{i}", {"i": i})
    store.add_audit(3.5, Actor("ann", "10.1.2.3", "tui"), "rollout.promote", {"to": 50}, "promoted", True)
    store.add_audit(4.5, Actor("bob"), "rollout.rollback", {}, "refused: no rollout", False)
    store.flush()
    with open_reader(db_path) as reader:
        assert [e["message"] for e in reader.events()] == [f"e{i}" for i in range(10)]
        assert [e["message"] for e in reader.events(t0=2, t1=6, kinds=["alert"])] == ["e3", "e5"]
        assert [e["message"] for e in reader.events(limit=3)] == ["e7", "e8", "e9"]  # newest 3, oldest first
        assert reader.events(kinds=[]) == []
        first = reader.events(limit=1)[0]
        assert first["data"] == {"i": 9} and first["kind"] == "alert" and first["severity"] == "warning"
        audit = reader.audit()
        assert [(a["user"], a["address"], a["origin"], a["action"], a["args"], a["ok"]) for a in audit] == [
            ("ann", "10.1.2.3", "tui", "rollout.promote", {"to": 50}, True),
            ("bob", None, "tui", "rollout.rollback", {}, False),
        ]
        assert reader.audit(limit=1)[0]["result"] == "refused: no rollout"


def test_time_range_of_an_empty_history_is_none(open_store, db_path: Path) -> None:
    open_store().close()
    with open_reader(db_path) as reader:
        assert reader.time_range() is None
        assert reader.series_keys() == []


def test_a_copied_history_reads_on_another_machine(open_store, db_path: Path, tmp_path: Path) -> None:
    store = open_store()
    store.add_event(7.0, ev.ROLLOUT_STAGE_ENTERED, "info", "canary", "promoted to 50%")
    store.close()
    copy = tmp_path / "laptop" / "history.db"
    copy.parent.mkdir()
    copy.write_bytes(db_path.read_bytes())  # the main file only, as scp would copy it
    with open_reader(copy) as reader:
        assert reader.time_range() == (7.0, 7.0)


# -- records: redaction, upserts -------------------------------------------------------------------------


@pytest.fixture
def secret() -> Iterator[str]:
    value = 'tok-"quoted"\\secret'  # JSON-escapes differently: must still be masked
    secrets.register(value)
    yield value
    secrets.clear()


def test_secrets_are_redacted_before_they_reach_the_file(open_store, db_path: Path, secret: str) -> None:
    store = open_store()
    store.add_event(1.0, ev.TARGET_STATE, "warning", "api", f"401 with token {secret}", {"headers": {"auth": secret}, "n": 1})
    store.add_audit(2.0, Actor("ann"), "target.set_token", {"token": secret}, f"set {secret}", True)
    store.upsert_rollout({"id": 1, "service": "checkout", "reason": f"because {secret}"})
    store.close()
    raw = db_path.read_bytes()
    assert secret.encode() not in raw and b"secret" not in raw
    with open_reader(db_path) as reader:
        event = reader.events()[0]
        assert event["message"] == "401 with token ***"
        assert event["data"] == {"headers": {"auth": "***"}, "n": 1}
        audit = reader.audit()[0]
        assert (audit["args"], audit["result"]) == ({"token": "***"}, "set ***")


def test_rollout_and_watched_file_upserts(db_path: Path) -> None:
    store = Store.open(db_path, config(db_path))
    rid = store.next_rollout_id()
    store.upsert_rollout({"id": rid, "service": "checkout", "started": 10.0, "status": "running", "stage": 0, "weight": 5})
    store.upsert_rollout({"id": rid, "status": "paused", "reason": "operator"})  # partial update
    store.upsert_watched_file({"path": Path("/in/a.json"), "size": 10, "mtime": 1.5, "digest": "ab", "status": "done"})
    store.upsert_watched_file({"path": "/in/a.json", "status": "failed", "error": "bad json"})
    store.close()
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        assert conn.execute("SELECT id, service, started, status, stage, weight, reason FROM rollouts").fetchall() == [
            (rid, "checkout", 10.0, "paused", 0, 5, "operator")
        ]
        assert conn.execute("SELECT path, size, digest, status, error FROM watched_files").fetchall() == [
            ("/in/a.json", 10, "ab", "failed", "bad json")
        ]
    reopened = Store.open(db_path, config(db_path))
    assert reopened.next_rollout_id() == rid + 1
    reopened.close()


def test_reopening_keeps_series_ids(db_path: Path) -> None:
    store = Store.open(db_path, config(db_path))
    store.add_sample(1.0, "a", "b", 1.0)
    store.close()
    store = Store.open(db_path, config(db_path))
    store.add_sample(2.0, "a", "b", 2.0)
    store.add_sample(2.0, "a", "c", 3.0)
    store.close()
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        assert conn.execute("SELECT id, source, metric FROM series ORDER BY id").fetchall() == [(1, "a", "b"), (2, "a", "c")]
    with open_reader(db_path) as reader:
        assert reader.series("a", "b", 0, 10) == [(1.0, 1.0), (2.0, 2.0)]


def test_close_on_a_full_disk_gives_up_after_its_timeout_and_says_what_was_lost(db_path: Path) -> None:
    store = Store.open(db_path, config(db_path, flush_interval=0.02))
    store.add_sample(0.0, "a", "b", 0.0)
    store.flush()
    disk_full(store)
    store.add_samples([(float(i), "a", "b", 1.0) for i in range(1, 501)])
    started = time.monotonic()
    store.close(timeout=0.3)
    assert time.monotonic() - started < 3
    assert store.stats.last_error == (
        f"500 rows were not written to {db_path} before close: cannot write to {db_path}: database or disk is full"
    )
    assert count_samples(db_path) == 1
