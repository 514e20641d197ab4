"""30 days of history through retention: file size and query speed, against floors from the same run.

    python bench/retention.py [--days 30] [--series 50] [--step 1] [--dir DIR]

Simulates a running engine day by day: one day of samples for every series written straight
into the store's tables (tests/history_gen.py, ~1M rows/s in SQLite), then a retention pass
(engine/store/retention.py, default store.retention: raw 7d, minute 90d, hour 2y). The default
is the full scale of the issue: 50 series at 1 s for 30 days = 130M samples (~5-10 minutes,
~1 GB of disk at the peak).

Figures, each with its floor:
- size: the final file against the same samples kept raw (bytes per raw row measured on day 1,
  before any retention, times every row generated): what retention saves;
- growth: bytes added per day once raw is at its 7 days, against one day of raw samples;
- retention: seconds per daily pass, and raw rows rolled per second against a plain range
  DELETE of as many rows measured in the same run;
- queries: each window (downsample.read_window, resolution picked by the window) against the
  floor of reading 1 h of raw samples of one series.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config.schema import StoreConfig  # noqa: E402
from engine.store.downsample import read_window  # noqa: E402
from engine.store.retention import HOUR, run_retention  # noqa: E402
from tests.history_gen import DAY, add_series, connect, create_history, file_bytes, generate_samples  # noqa: E402

T0 = 1_700_000_000.0 - (1_700_000_000 % 86400)


def delete_floor(path: Path, rows: int) -> float:
    """Rows/s of a plain range DELETE on a scratch copy of one series' day: what removing costs alone."""
    scratch = path.with_name("floor.db")
    create_history(scratch)
    conn = connect(scratch)
    (sid,) = add_series(conn, 1)
    generate_samples(conn, [sid], T0, T0 + rows, 1.0)
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM samples WHERE series_id = ? AND t < ?", (sid, T0 + rows))
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--step", type=float, default=1.0, help="seconds between samples of a series")
    parser.add_argument("--dir", type=Path, help="where to put the history (default: a temp dir, removed)")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="opsconsole-retention-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "history.db"
    try:
        run(db, args.days, args.series, args.step)
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(db: Path, days: int, n_series: int, step: float) -> None:
    create_history(db)
    config = StoreConfig(path=db)
    conn = connect(db)
    ids = add_series(conn, n_series)
    conn.close()
    per_day = int(DAY / step) * n_series
    print(f"{days} days x {n_series} series at {step:g} s = {per_day * days:,} samples; history at {db}")
    sizes, passes, rolled, generated_s = [], [], 0, 0.0
    raw_bytes_per_row = 0.0
    wal_max = 0
    for day in range(days):
        conn = connect(db)
        started = time.perf_counter()
        generate_samples(conn, ids, T0 + day * DAY, T0 + (day + 1) * DAY, step)
        generated_s += time.perf_counter() - started
        conn.close()
        if day == 0:
            raw_bytes_per_row = file_bytes(db) / per_day
        report = run_retention(db, config, now=T0 + (day + 1) * DAY)
        passes.append(report.seconds)
        rolled += report.rolled_samples
        sizes.append(file_bytes(db))
        wal = Path(f"{db}-wal")
        wal_max = max(wal_max, wal.stat().st_size if wal.exists() else 0)
        print(f"  day {day + 1:2d}: {sizes[-1] / 1e6:8.1f} MB, retention pass {report.seconds:6.2f} s"
              f" ({report.rolled_samples:,} rolled)", flush=True)

    total_rows = per_day * days
    unretained = raw_bytes_per_row * total_rows
    print(f"\ngenerated {total_rows:,} samples in {generated_s:.0f} s ({total_rows / generated_s:,.0f} rows/s)")
    print(f"size: {sizes[-1] / 1e6:,.1f} MB after {days} days; kept raw it would be {unretained / 1e6:,.1f} MB"
          f" ({raw_bytes_per_row:.1f} B/row): ratio {sizes[-1] / unretained:.3f}")
    steady = [b - a for a, b in pairwise(sizes[8:])]
    if steady:
        day_raw = raw_bytes_per_row * per_day
        print(f"growth once raw is at 7 days: {max(steady) / 1e6:.2f} MB/day at most, against one day of raw"
              f" {day_raw / 1e6:.1f} MB: ratio {max(steady) / day_raw:.3f}")
    print(f"WAL: at most {wal_max / 1e6:.2f} MB after a pass (journal_size_limit {config.journal_size_limit / 1e6:.0f} MB)")
    busy = [p for p in passes[7:]] or passes
    floor = delete_floor(db, min(per_day // n_series, 86400))
    rate = rolled / sum(passes) if sum(passes) else 0.0
    print(f"retention: {sum(busy) / len(busy):.2f} s per daily pass (max {max(busy):.2f} s); {rate:,.0f} raw rows"
          f" rolled/s against a plain DELETE floor of {floor:,.0f} rows/s: ratio {rate / floor:.2f}")

    end = T0 + days * DAY
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    source, metric = "gen", f"metric_{ids[0]}"

    def timed(t0: float, t1: float) -> tuple[float, int, int]:
        best, step_used, n = float("inf"), 0, 0
        for _ in range(3):  # best of three: the machine is shared
            started = time.perf_counter()
            step_used, buckets = read_window(reader, source, metric, t0, t1)
            best = min(best, time.perf_counter() - started)
            n = len(buckets)
        return best, step_used, n

    floor_q, _, _ = timed(end - HOUR, end)
    print(f"\nqueries (one series; floor: 1 h of raw samples in {floor_q * 1000:.2f} ms):")
    for name, t0, t1 in (
        ("last 6 h", end - 6 * HOUR, end),
        ("last 3 d", end - 3 * DAY, end),
        ("last 8 d", end - 8 * DAY, end),
        ("1 d, 20 days ago", end - 20 * DAY, end - 19 * DAY),
        (f"all {days} d", T0, end),
    ):
        elapsed, step_used, n = timed(t0, t1)
        resolution = {0: "raw", 60: "minute", 3600: "hour"}[step_used]
        print(f"  {name:18s} {resolution:6s} {n:7,d} points {elapsed * 1000:8.2f} ms  ratio {elapsed / floor_q:7.1f}")
    reader.close()


if __name__ == "__main__":
    main()
