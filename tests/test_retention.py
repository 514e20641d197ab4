"""Retention and downsampling on real SQLite files: rollups against a brute-force computation,
expiry per table, free pages and WAL in check, and 30 simulated days staying within a stated
size with fast queries over any window. Rows are generated straight into the store's tables
(tests/history_gen.py); the full 1 s scale is behind `-m soak` and in bench/retention.py."""

from __future__ import annotations

import math
import random
import sqlite3
import threading
import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest

from engine.config.schema import RetentionConfig, StoreConfig
from engine.store import StoreError
from engine.store.downsample import read_window
from engine.store.retention import HOUR, SPARE_FREE_PAGES, run_retention
from tests.history_gen import DAY, add_events, add_series, connect, create_history, file_bytes, generate_samples

T0 = 1_700_000_000.0 - (1_700_000_000 % 86400)  # a midnight, so day and hour arithmetic reads plainly


def store_config(path: Path, **retention: str) -> StoreConfig:
    return StoreConfig(path=path, journal_size_limit="1MB", retention=RetentionConfig(**retention))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    create_history(path, journal_size_limit="1MB")
    return path


def rows(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()


# -- rollups ---------------------------------------------------------------------------------------


def brute_force(samples: list[tuple[int, float, float | None]], step: int) -> dict[tuple[int, float], tuple]:
    """(sid, bucket) -> (min, max, avg, count, last), straight from the definition."""
    buckets: dict[tuple[int, float], list[tuple[float, float | None]]] = defaultdict(list)
    for sid, t, v in samples:
        buckets[(sid, math.floor(t / step) * step)].append((t, v))
    out = {}
    for key, points in buckets.items():
        values = [v for _t, v in points if v is not None]
        last = max(points)[1]
        avg = sum(values) / len(values) if values else None
        out[key] = (min(values, default=None), max(values, default=None), avg, len(values), last)
    return out


def assert_rollup(path: Path, table: str, expected: dict[tuple[int, float], tuple]) -> None:
    got = {(sid, t): rest for sid, t, *rest in rows(path, f"SELECT series_id, t, min, max, avg, count, last FROM {table}")}
    assert set(got) == set(expected), f"{table}: bucket keys differ"
    for key, (mn, mx, avg, count, last) in expected.items():
        g = got[key]
        assert (g[0], g[1], g[3], g[4]) == (mn, mx, count, last), f"{table} {key}: {g} != {expected[key]}"
        assert (g[2] is None and avg is None) or g[2] == pytest.approx(avg, rel=1e-12), f"{table} {key} avg"


def test_rollups_match_a_brute_force_computation(db: Path) -> None:
    rnd = random.Random(7)
    conn = connect(db)
    ids = add_series(conn, 3)
    samples: list[tuple[int, float, float | None]] = []
    for sid in ids:
        t = T0 + rnd.random()  # not aligned: buckets must still cut at whole minutes
        while t < T0 + 10 * HOUR:
            value = None if rnd.random() < 0.03 else round(rnd.uniform(-50, 150), 3)  # NaN is stored as NULL
            samples.append((sid, t, value))
            t += rnd.choice((0.5, 1.0, 1.0, 1.0, 7.0, 130.0))  # jitter and gaps, as real collection has
    conn.executemany("INSERT INTO samples (series_id, t, value) VALUES (?, ?, ?)", samples)
    conn.close()
    now = T0 + 10 * HOUR + 1 * DAY + 1800  # raw=1d: everything before T0+10h is rolled up
    # Small batches: many windows per series, growing and shrinking, must not change the result.
    report = run_retention(db, store_config(db, raw="1d"), now=now, batch_rows=700)
    old = [s for s in samples if s[1] < T0 + 10 * HOUR]
    assert report.rolled_samples == len(old) == len(samples)
    assert report.transactions > 3 * 10 // 2  # it really did work in small pieces
    assert_rollup(db, "samples_1m", brute_force(old, 60))
    assert_rollup(db, "samples_1h", brute_force(old, 3600))
    assert rows(db, "SELECT count(*) FROM samples") == [(0,)]

    again = run_retention(db, store_config(db, raw="1d"), now=now, batch_rows=700)
    assert again.rolled_samples == again.minute_rows == again.hour_rows == 0
    assert_rollup(db, "samples_1m", brute_force(old, 60))


def test_only_samples_older_than_raw_retention_are_rolled_at_an_hour_boundary(db: Path) -> None:
    conn = connect(db)
    ids = add_series(conn, 2)
    generate_samples(conn, ids, T0, T0 + 3 * DAY, 10)
    conn.close()
    now = T0 + 3 * DAY - 1  # raw=1d: cutoff at the last whole hour before now - 1d
    cutoff = math.floor((now - DAY) / HOUR) * HOUR
    run_retention(db, store_config(db, raw="1d"), now=now)
    assert rows(db, "SELECT min(t) FROM samples") == [(cutoff,)]
    assert rows(db, "SELECT max(t) FROM samples_1m") == [(cutoff - 60,)]
    assert rows(db, "SELECT max(t) FROM samples_1h") == [(cutoff - HOUR,)]
    # Every raw sample is in exactly one place: raw or a minute bucket's count.
    (raw_left,) = rows(db, "SELECT count(*) FROM samples")[0]
    (rolled,) = rows(db, "SELECT sum(count) FROM samples_1m")[0]
    assert raw_left + rolled == 2 * 3 * DAY // 10


def test_late_raw_samples_are_merged_into_existing_buckets(db: Path) -> None:
    conn = connect(db)
    (sid,) = add_series(conn, 1)
    first = [(sid, T0 + i, float(i)) for i in range(0, 60, 2)]  # even seconds of one minute
    conn.executemany("INSERT INTO samples VALUES (?, ?, ?)", first)
    conn.close()
    config = store_config(db, raw="1d")
    run_retention(db, config, now=T0 + 2 * DAY)
    late = [(sid, T0 + i, float(i)) for i in range(1, 60, 2)] + [(sid, T0 + 59.5, -1.0)]
    conn = connect(db)
    conn.executemany("INSERT INTO samples VALUES (?, ?, ?)", late)
    conn.close()
    run_retention(db, config, now=T0 + 2 * DAY)
    values = [v for _s, _t, v in first + late]
    (mn, mx, avg, count, last) = rows(db, "SELECT min, max, avg, count, last FROM samples_1m")[0]
    assert (mn, mx, count, last) == (min(values), max(values), len(values), -1.0)
    assert avg == pytest.approx(sum(values) / len(values))
    assert rows(db, "SELECT min, max, count FROM samples_1h") == [(min(values), max(values), len(values))]


# -- expiry ----------------------------------------------------------------------------------------


def test_each_tier_and_the_records_expire_at_their_own_age(db: Path) -> None:
    conn = connect(db)
    ids = add_series(conn, 2)
    generate_samples(conn, ids, T0, T0 + 12 * DAY, 300)
    add_events(conn, 500, T0, T0 + 12 * DAY)
    now = T0 + 12 * DAY
    conn.executemany(
        "INSERT INTO audit (t, user, origin, action, ok) VALUES (?, 'alice', 'tui', 'pause', 1)",
        [(T0 + d * DAY,) for d in range(12)],
    )
    conn.executemany(
        "INSERT INTO rollouts (id, service, started, ended, status) VALUES (?, 'api', ?, ?, ?)",
        [
            (1, T0, T0 + 3600, "promoted"),  # old and finished: goes
            (2, T0, None, "paused"),  # old but still paused: live state, stays
            (3, now - 3600, now - 60, "rolled_back"),  # recent: stays
        ],
    )
    conn.close()
    config = store_config(db, raw="2d", minute="5d", hour="9d", events="6d")
    report = run_retention(db, config, now=now, batch_rows=50)
    assert rows(db, "SELECT min(t) >= ? FROM samples", (now - 2 * DAY - HOUR,)) == [(1,)]
    assert rows(db, "SELECT min(t) >= ? FROM samples_1m", (now - 5 * DAY,)) == [(1,)]
    assert rows(db, "SELECT min(t) >= ?, max(t) < ? FROM samples_1h", (now - 9 * DAY, now - 2 * DAY)) == [(1, 1)]
    assert rows(db, "SELECT min(t) >= ? FROM events", (now - 6 * DAY,)) == [(1,)]
    assert rows(db, "SELECT count(*) FROM audit") == [(6,)]  # days 6..11 of 12
    assert rows(db, "SELECT id FROM rollouts ORDER BY id") == [(2,), (3,)]
    assert report.deleted["rollouts"] == 1
    assert report.deleted["events"] == rows(db, "SELECT 500 - count(*) FROM events")[0][0] > 0
    assert "rolled up" in report.summary() and "deleted expired" in report.summary()


def test_freed_pages_go_back_to_the_filesystem_and_the_wal_stays_small(db: Path) -> None:
    conn = connect(db)
    add_events(conn, 200_000, T0, T0 + DAY)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = file_bytes(db)
    assert rows(db, "PRAGMA auto_vacuum") == [(2,)]  # new files are created for incremental vacuum
    report = run_retention(db, store_config(db, events="1d"), now=T0 + 3 * DAY, batch_rows=5000)
    assert report.deleted["events"] == 200_000
    assert report.freed_pages > 1000
    assert report.free_pages_left <= SPARE_FREE_PAGES
    after = file_bytes(db)
    assert after < before / 3, f"{before} -> {after} bytes"
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size <= 1_000_000  # journal_size_limit 1MB


def test_stop_ends_a_pass_between_transactions_and_the_next_pass_finishes(db: Path) -> None:
    conn = connect(db)
    ids = add_series(conn, 3)
    generate_samples(conn, ids, T0, T0 + 2 * DAY, 60)
    conn.close()
    stop = threading.Event()
    stop.set()
    config = store_config(db, raw="1d")
    first = run_retention(db, config, now=T0 + 3 * DAY, stop=stop)
    assert first.stopped and first.transactions == 0
    assert "stopped early" in first.summary()
    second = run_retention(db, config, now=T0 + 3 * DAY)
    assert not second.stopped and second.rolled_samples == 3 * 2 * 1440


def test_a_file_that_is_not_a_history_is_refused_with_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database\n" * 100)
    with pytest.raises(StoreError, match="notes.db is not an SQLite database"):
        run_retention(path, StoreConfig(path=path))


# -- 30 days: size and query speed -------------------------------------------------------------------

# Stated bound (bytes on disk per row left after retention, B-tree overhead included). Measured
# ~22 B per raw row and ~50 B per aggregate row; the bound leaves room for page slack.
BYTES_PER_RAW_ROW = 32
BYTES_PER_AGGREGATE_ROW = 72


def simulate_days(db: Path, days: int, series: int, step: float) -> tuple[list[int], list[int]]:
    """Day by day, like a running engine: a day of samples, then a retention pass. Returns the
    file size after each day."""
    conn = connect(db)
    ids = add_series(conn, series)
    conn.close()
    config = store_config(db)  # defaults: raw 7d, minute 90d, hour 2y
    sizes = []
    for day in range(days):
        conn = connect(db)
        generate_samples(conn, ids, T0 + day * DAY, T0 + (day + 1) * DAY, step)
        conn.close()
        run_retention(db, config, now=T0 + (day + 1) * DAY)
        sizes.append(file_bytes(db))
    return ids, sizes


def check_30_days(db: Path, series: int, sample_step: float) -> dict[str, float]:
    days = 30
    ids, sizes = simulate_days(db, days, series, sample_step)
    raw, minute, hour = (
        rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in ("samples", "samples_1m", "samples_1h")
    )
    per_day = int(DAY / sample_step) * series
    assert per_day * 7 <= raw <= per_day * (7 + 1 / 24 + 1e-9)  # 7 days (+ the part of an hour not yet rolled)
    bound = BYTES_PER_RAW_ROW * raw + BYTES_PER_AGGREGATE_ROW * (minute + hour) + 2_000_000
    assert sizes[-1] <= bound, f"{sizes[-1]:,} bytes > stated bound {bound:,}"
    # Bounded growth: once raw is at its 7 days, a day adds only its aggregates.
    steady = [b - a for a, b in pairwise(sizes[9:])]
    aggregates_per_day = (minute + hour) / (days - 7)
    assert max(steady) <= BYTES_PER_AGGREGATE_ROW * aggregates_per_day + 1_000_000, steady
    assert file_bytes(db) - db.stat().st_size <= 1_000_000  # the WAL: journal_size_limit 1MB

    end = T0 + days * DAY
    timings = {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    for name, t0, t1, step_wanted in (
        ("last 1h (raw)", end - HOUR, end, 0),
        ("last 6h (raw)", end - 6 * HOUR, end, 0),
        ("last 3d (minute, from raw)", end - 3 * DAY, end, 60),
        ("1d 20 days ago (minute, rolled)", end - 20 * DAY, end - 19 * DAY, 60),
        ("last 8d (minute, both)", end - 8 * DAY, end, 60),
        ("all 30d (hour)", T0, end, 3600),
    ):
        started = time.perf_counter()
        step, buckets = read_window(conn, "gen", f"metric_{ids[0]}", t0, t1)
        timings[name] = time.perf_counter() - started
        assert step == step_wanted, name
        expected = (t1 - t0) / (step or sample_step)
        assert len(buckets) >= expected * 0.95 - 1, (name, len(buckets), expected)
        assert timings[name] < 1.0, f"{name}: {timings[name]:.3f}s"  # generous: the machine is shared
    conn.close()
    timings["size_mb"] = sizes[-1] / 1e6
    return timings


def test_30_days_of_50_series_stay_within_the_stated_size_and_queries_stay_fast(db: Path) -> None:
    """30 days x 50 series at 60 s (2.2M samples); the same check at 1 s (130M) is the soak below."""
    check_30_days(db, series=50, sample_step=60)


@pytest.mark.soak
def test_30_days_of_50_series_at_1s_soak(db: Path) -> None:
    figures = check_30_days(db, series=50, sample_step=1)
    print(figures)
