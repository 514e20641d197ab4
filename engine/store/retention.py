"""Retention and downsampling: the history keeps a bounded size however long it runs.

    report = run_retention(path, config.store)     # in a worker thread, never on the engine's loop

What it does, each run, on its OWN connection (not the writer's, so collection never waits on it
for longer than one small transaction; SQLite's busy timeout makes the writer wait its turn):

1. Raw samples older than `retention.raw` are rolled up into `samples_1m` and `samples_1h`
   (min, max, avg, count, last; schema version 2) and deleted, one series and a few hours at a
   time: each window is ONE transaction holding its inserts and its delete, so a crash or a kill
   between windows loses nothing and rolls nothing up twice. Windows are whole hours, cut at an
   hour boundary, so every hour bucket is complete when it is written. The window grows or shrinks
   so that a transaction touches about `batch_rows` raw rows (a few milliseconds of lock).
2. Minute rows older than `retention.minute`, hour rows older than `retention.hour`, and events,
   audit rows and finished rollouts older than `retention.events` are deleted in batches; so are
   recorded states, except each part's newest before the cutoff (still the state at the cutoff).
3. Freed pages go back to the filesystem with `PRAGMA incremental_vacuum`, a bounded number of
   pages per transaction (files created by schema version 2 and later use auto_vacuum=INCREMENTAL;
   an older file keeps its free pages and reuses them for new rows, so it does not grow either).
4. A TRUNCATE checkpoint, so the WAL our deletes grew is emptied rather than left at its
   high-water mark (it waits for the writer's current transaction and holds it off only while
   the last frames are copied; if a reader pins an old snapshot it gives up after the busy
   timeout and `journal_size_limit` trims the WAL at the next reset instead).

Aggregate semantics: `count` is the number of numeric values in the bucket (a NaN is stored as
NULL and not counted); min/max/avg are over those values; `last` is the value of the bucket's
latest sample (NULL if that one was NaN). An hour row is computed from its minute rows with a
count-weighted average, which equals the average over the raw values exactly. Raw samples that
arrive for an already rolled-up window (rare: only imports write that far back) are merged into
the existing rows: min/max/avg/count stay exact, `last` becomes the newest arrival's.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config.schema import StoreConfig
from engine.store import schema
from engine.store.errors import StoreError
from engine.units import format_duration

log = logging.getLogger("opsconsole.store.retention")

MINUTE, HOUR = 60, 3600
MINUTE_TABLE, HOUR_TABLE = "samples_1m", "samples_1h"
BATCH_ROWS = 20_000  # raw rows per rollup transaction (~10-20 ms on a laptop disk)
MAX_WINDOW_HOURS = 7 * 24  # of one series per transaction, at most (a sparse series)
VACUUM_PAGES = 2048  # pages per incremental_vacuum transaction (8 MB at 4 KB pages)
SPARE_FREE_PAGES = 256  # kept for the next inserts instead of shrinking and regrowing the file

# One bucket per minute of one series, merged into an existing row if there is one (see above).
ROLL_MINUTE = f"""
INSERT INTO {MINUTE_TABLE} (series_id, t, min, max, avg, count, last)
SELECT :sid, b, mn, mx, av, n, (SELECT value FROM samples WHERE series_id = :sid AND t = tl)
FROM (SELECT CAST(t / {MINUTE} AS INTEGER) * {MINUTE} AS b, min(value) AS mn, max(value) AS mx,
             avg(value) AS av, count(value) AS n, max(t) AS tl
      FROM samples WHERE series_id = :sid AND t >= :t0 AND t < :t1 GROUP BY b)
WHERE true
ON CONFLICT (series_id, t) DO UPDATE SET
    min = coalesce(min(min, excluded.min), min, excluded.min),
    max = coalesce(max(max, excluded.max), max, excluded.max),
    avg = CASE WHEN count + excluded.count > 0 THEN
              (coalesce(avg * count, 0) + coalesce(excluded.avg * excluded.count, 0)) / (count + excluded.count)
          END,
    count = count + excluded.count,
    last = excluded.last
"""

# Hours are recomputed from ALL minute rows of the window, so replacing is right.
ROLL_HOUR = f"""
INSERT OR REPLACE INTO {HOUR_TABLE} (series_id, t, min, max, avg, count, last)
SELECT :sid, b, mn, mx, CASE WHEN n > 0 THEN sw / n END, n,
       (SELECT last FROM {MINUTE_TABLE} WHERE series_id = :sid AND t = tl)
FROM (SELECT CAST(t / {HOUR} AS INTEGER) * {HOUR} AS b, min(min) AS mn, max(max) AS mx,
             sum(avg * count) AS sw, sum(count) AS n, max(t) AS tl
      FROM {MINUTE_TABLE} WHERE series_id = :sid AND t >= :t0 AND t < :t1 GROUP BY b)
"""

DELETE_RAW = "DELETE FROM samples WHERE series_id = :sid AND t >= :t0 AND t < :t1"


@dataclass
class RetentionReport:
    rolled_samples: int = 0  # raw rows turned into aggregates and deleted
    minute_rows: int = 0
    hour_rows: int = 0
    deleted: dict[str, int] = field(default_factory=dict)  # expired rows per table
    freed_pages: int = 0
    free_pages_left: int = 0
    transactions: int = 0
    seconds: float = 0.0
    stopped: bool = False  # asked to stop before it finished; the next run continues

    def summary(self) -> str:
        parts = []
        if self.rolled_samples:
            parts.append(
                f"rolled up {self.rolled_samples:,} raw samples into {self.minute_rows:,} minute"
                f" and {self.hour_rows:,} hour rows"
            )
        expired = {k: n for k, n in self.deleted.items() if n}
        if expired:
            parts.append("deleted expired " + ", ".join(f"{n:,} {k}" for k, n in expired.items()))
        if self.freed_pages:
            parts.append(f"returned {self.freed_pages:,} free pages to the filesystem")
        what = "; ".join(parts) if parts else "nothing to do"
        return f"retention: {what} ({self.transactions} transactions, {format_duration(self.seconds)})" + (
            " — stopped early, continues next run" if self.stopped else ""
        )


def hour_floor(t: float) -> float:
    return math.floor(t / HOUR) * HOUR


def run_retention(
    path: Path,
    config: StoreConfig,
    *,
    now: float | None = None,
    batch_rows: int = BATCH_ROWS,
    pause: float = 0.0,
    stop: threading.Event | None = None,
) -> RetentionReport:
    """One retention pass over the history at `path` (blocking: call it from a worker thread).

    `pause` seconds are slept between transactions, so a large backlog (the first run on an old
    file) never keeps the writer waiting for long; `stop` ends the pass between transactions.
    Raises StoreError (a sentence naming the file) if the file cannot be opened or written.
    """
    started = time.monotonic()
    now = time.time() if now is None else now
    stop = stop or threading.Event()
    report = RetentionReport()
    try:
        conn = schema.connect(Path(path))
    except sqlite3.Error as exc:
        raise StoreError(f"retention: cannot open {path}: {exc}") from exc
    try:
        version = schema.read_version(conn, Path(path))
        if version < 2:
            raise StoreError(f"retention: {path} is at schema version {version}; open it with opsconsole first")
        conn.execute(f"PRAGMA journal_size_limit = {int(config.journal_size_limit)}")
        # As the writer does (schema.apply_pragmas): no fsync per commit in WAL mode. A power cut
        # can lose the last few transactions, which the next pass simply does again.
        conn.execute("PRAGMA synchronous = NORMAL")
        job = _Job(conn, report, batch_rows, pause, stop)
        retention = config.retention
        job.roll_up(hour_floor(now - retention.raw))
        job.expire_aggregates(MINUTE_TABLE, now - retention.minute)
        job.expire_aggregates(HOUR_TABLE, now - retention.hour)
        job.expire_records(now - retention.events)
        job.reclaim_free_pages()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        report.stopped = stop.is_set()
    except sqlite3.Error as exc:
        raise StoreError(f"retention on {path} failed: {exc}; rows not yet processed stay for the next run") from exc
    finally:
        conn.close()
        report.seconds = time.monotonic() - started
    return report


class _Job:
    def __init__(
        self, conn: sqlite3.Connection, report: RetentionReport, batch_rows: int, pause: float, stop: threading.Event
    ) -> None:
        self.conn = conn
        self.report = report
        self.batch_rows = max(1, batch_rows)
        self.pause = pause
        self.stop = stop

    def transaction(self, *statements: tuple[str, dict[str, Any]]) -> list[int]:
        """Run statements in one write transaction; returns each one's row count."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            counts = [conn.execute(sql, params).rowcount for sql, params in statements]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.report.transactions += 1
        if self.pause:
            time.sleep(self.pause)  # let the writer in between our transactions
        return counts

    def series_ids(self) -> list[int]:
        return [sid for (sid,) in self.conn.execute("SELECT id FROM series ORDER BY id")]

    # -- 1. raw -> minute + hour -------------------------------------------------------------------

    def roll_up(self, cutoff: float) -> None:
        for sid in self.series_ids():
            hours = 1  # windows are whole hours, so every hour bucket is complete
            while not self.stop.is_set():
                first = self.conn.execute(
                    "SELECT t FROM samples WHERE series_id = ? AND t < ? ORDER BY t LIMIT 1", (sid, cutoff)
                ).fetchone()
                if first is None:
                    break
                t0 = hour_floor(first[0])
                t1 = min(cutoff, t0 + hours * HOUR)
                params = {"sid": sid, "t0": t0, "t1": t1}
                minutes, hours, rolled = self.transaction(
                    (ROLL_MINUTE, params), (ROLL_HOUR, params), (DELETE_RAW, params)
                )
                self.report.minute_rows += minutes
                self.report.hour_rows += hours
                self.report.rolled_samples += rolled
                hours = _next_window(hours, rolled, self.batch_rows)

    # -- 2. expiry ---------------------------------------------------------------------------------

    def expire_aggregates(self, table: str, before: float) -> None:
        """Delete rows with t < before, per series, at most batch_rows per transaction."""
        deleted = 0
        for sid in self.series_ids():
            while not self.stop.is_set():
                # The t of the batch_rows-th expired row bounds this transaction (a key seek).
                edge = self.conn.execute(
                    f"SELECT t FROM {table} WHERE series_id = ? AND t < ? ORDER BY t LIMIT 1 OFFSET ?",
                    (sid, before, self.batch_rows - 1),
                ).fetchone()
                bound, last = (edge[0], False) if edge else (before, True)
                op = "<=" if edge else "<"
                (n,) = self.transaction(
                    (f"DELETE FROM {table} WHERE series_id = :sid AND t {op} :bound", {"sid": sid, "bound": bound})
                )
                deleted += n
                if last:
                    break
        self.report.deleted[table] = deleted

    def expire_records(self, before: float) -> None:
        # Rollouts still running or paused are kept whatever their age: they are live state.
        for table, where in (
            ("events", "t < :before"),
            ("audit", "t < :before"),
            ("rollouts", "coalesce(ended, started) < :before AND status NOT IN ('running', 'paused')"),
        ):
            deleted = 0
            while not self.stop.is_set():
                (n,) = self.transaction(
                    (
                        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} LIMIT :n)",
                        {"before": before, "n": self.batch_rows},
                    )
                )
                deleted += n
                if n < self.batch_rows:
                    break
            self.report.deleted[table] = deleted
        self.expire_states(before)

    def expire_states(self, before: float) -> None:
        """Recorded states older than `before`, except each part's newest one before it: that is
        still the state at `before`, and review must find it."""
        deleted = 0
        # The parts by a seek each (a skip-scan of the primary key), not a scan of every row.
        parts = self.conn.execute(
            "WITH RECURSIVE p(part) AS (SELECT min(part) FROM states UNION ALL"
            " SELECT (SELECT min(part) FROM states WHERE part > p.part) FROM p WHERE p.part IS NOT NULL)"
            " SELECT part FROM p WHERE part IS NOT NULL").fetchall()
        for (part,) in parts:
            (n,) = self.transaction((
                "DELETE FROM states WHERE part = :part AND t < (SELECT max(t) FROM states"
                " WHERE part = :part AND t < :before)", {"part": part, "before": before}))
            deleted += n
        self.report.deleted["states"] = deleted

    # -- 3. free pages -----------------------------------------------------------------------------

    def reclaim_free_pages(self) -> None:
        conn = self.conn
        incremental = conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        while incremental and not self.stop.is_set():
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if free <= SPARE_FREE_PAGES:
                break
            pages = min(VACUUM_PAGES, free - SPARE_FREE_PAGES)
            conn.execute("BEGIN IMMEDIATE")
            try:
                # The pragma frees pages one step per row fetched: fetchall() runs it to the end.
                conn.execute(f"PRAGMA incremental_vacuum({pages})").fetchall()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self.report.transactions += 1
            self.report.freed_pages += pages
            if self.pause:
                time.sleep(self.pause)
        self.report.free_pages_left = conn.execute("PRAGMA freelist_count").fetchone()[0]


def _next_window(hours: int, rows: int, target: int) -> int:
    """Grow a window that found few rows (sparse series), shrink one that found too many."""
    if rows < target // 2:
        return min(MAX_WINDOW_HOURS, hours * 2)
    if rows > target:
        return max(1, hours // 2)
    return hours
