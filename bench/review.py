"""Review speed on a month of downsampled history, against its floor measured in the same run.

    python bench/review.py [--days 30] [--series 30] [--step 10] [--raw 1d] [--keep DIR]

The history is built with the store's own writer (Store.add_samples, add_event, upsert_rollout)
and downsampled by the store's own retention pass: `--series` series sampled every `--step`
seconds for `--days` days, raw for the last `--raw`, minute and hour rollups before; an engine
run with its record (alert rules, a canary), gaps, alerts, operator actions and a finished
rollout on the way, so every part of a snapshot has something to rebuild.

Measured (medians over repeats, page cache warm: the file was just written):
- open + draw a 24 h window: open_history, HistorySource(window=24h) (the snapshot at the end of
  the recording) and the six panels' views (what they would draw at 120x40). Target <= 300 ms.
- cursor step + redraw: one step of one interval (HistorySource.seek) and the six views, at
  random moments of the month, with the live ring (120 points) and with the 24 h window.
  Target <= 100 ms.
Floors, on a plain read-only connection in the same run: the bare SQLite statements that fetch the
series' points — the window's slot sums per series (HistoryDB.slot_sums' statement), and "the
newest 120 samples at or before t" per series — so each figure is also a ratio to what reading the
series alone costs in SQLite (the rest: events, gaps, alerts, the rollout, Python, the panels).
For scale, the store's general-purpose window read (engine/store/downsample.py read_window,
minute buckets) of the same 24 h is printed too.
"""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import eventcodes as ev
from engine.commands import Actor  # noqa: E402
from engine.config.loader import load_config  # noqa: E402
from engine.history.opener import open_history  # noqa: E402
from engine.history.runs import run_record  # noqa: E402
from engine.history.source import HistorySource  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.store.downsample import read_window  # noqa: E402
from engine.store.retention import run_retention  # noqa: E402
from engine.units import format_size  # noqa: E402

DAY = 86400.0
WINDOW = DAY
CONFIG = """\
store: {{path: {path}, retention: {{raw: {raw}, minute: 90d, hour: 2y}}, max_buffered_rows: 10000000}}
monitor: {{host: {{interval: {step}s}}}}
alerts: [{{name: HostMemoryHigh, series: host/mem_pct, op: '>', value: 85, for: 2m, severity: warning}}]
canary:
  service: checkout
  interval: 10s
  stages: [{{weight: 5, hold: 10m}}, {{weight: 50, hold: 30m}}, {{weight: 100}}]
  rules: [{{series: 'demo:canary/error_rate', baseline: 'demo:baseline/error_rate', max: 0.01, consecutive: 3}}]
  actuator: {{kind: http, base_url: 'http://127.0.0.1:9', set_weight: {{url: /w}}}}
"""
ALICE = Actor("alice", "203.0.113.9", "tui")


def series_names(n: int) -> list[tuple[str, str, str]]:
    base = [("host", "mem_pct", "%"), ("host", "cpu_pct", "%"), ("host", "load1", ""),
            ("host", "mem_available_bytes", "B"), ("engine", "rss_bytes", "B"), ("engine", "samples_per_s", "/s"),
            ("demo:canary", "error_rate", ""), ("demo:baseline", "error_rate", ""),
            ("demo:loadgen", "requests_per_s", "req/s"), ("demo:loadgen", "latency_p95_ms", "ms")]
    extra = [(f"collect:svc{i}", "requests_per_s", "/s") for i in range(max(0, n - len(base)))]
    return (base + extra)[:n]


def build(directory: Path, days: float, n_series: int, step: float, raw: str) -> tuple[Path, int, float]:
    path = directory / "history.db"
    (directory / "config.yaml").write_text(CONFIG.format(path=path, raw=raw, step=step))
    loaded = load_config(directory / "config.yaml")
    started = time.perf_counter()
    store = Store.open(path, loaded.config.store)
    end = math.floor(time.time() / 3600) * 3600
    t0 = end - days * DAY
    store.add_event(t0, ev.ENGINE_STARTED, "info", "engine", "engine started (config config.yaml)",
                    run_record(loaded, {"monitor", "alerts", "canary"}, ["gaps", "host-monitor", "alerts", "canary"],
                               False))
    keys = series_names(n_series)
    rng = random.Random(7)
    total = 0
    batch: list[tuple[float, str, str, float]] = []
    points = int(days * DAY / step)
    for i in range(points):
        t = t0 + i * step + 0.5
        for k, (source, metric, _unit) in enumerate(keys):
            batch.append((t, source, metric, 40 + 10 * math.sin(i / 500 + k) + rng.random()))
        if len(batch) >= 50_000:
            store.add_samples(batch)
            total += len(batch)
            batch = []
            if total % 1_000_000 < 50_000:
                store.flush(timeout=600)  # keep the queue bounded: nothing may be dropped here
    store.add_samples(batch)
    total += len(batch)
    for source, metric, unit in keys:  # the units, as the engine records them
        store.add_sample(t0 + 0.25, source, metric, 40.0, unit=unit)
    for day in range(int(days)):  # a gap and an alert a day, an operator's pause now and then
        t = t0 + day * DAY + 3 * 3600
        store.add_event(t, ev.GAP_OPENED, "warning", "host", "gap opened: no data from host (target down)",
                        {"series": "host", "start": t - 5, "cause": "target down", "interval_s": step})
        store.add_event(t + 60, ev.GAP_CLOSED, "info", "host", "gap closed: host had no data for 1m (target down)",
                        {"series": "host", "start": t - 5, "end": t + 60, "duration_s": 65.0, "cause": "target down"})
        alert = {"rule": "HostMemoryHigh", "series": "host/mem_pct", "value": 90.0, "op": ">", "threshold": 85,
                 "severity": "warning"}
        store.add_event(t + 600, ev.ALERT_FIRING, "warning", "alert:HostMemoryHigh", "HostMemoryHigh firing: mem",
                        {**alert, "from": "pending", "to": "firing"})
        store.add_event(t + 900, ev.ALERT_RESOLVED, "info", "alert:HostMemoryHigh", "HostMemoryHigh resolved",
                        {**alert, "from": "firing", "to": "resolved"})
        if day % 3 == 0:
            store.add_event(t + 1200, ev.ENGINE_PAUSED, "info", "engine", "engine paused by alice@203.0.113.9")
            store.add_event(t + 1260, ev.ENGINE_RESUMED, "info", "engine", "engine resumed by alice@203.0.113.9")
            store.add_audit(t + 1200, ALICE, "pause", {}, "paused", True)
    r0 = t0 + 0.66 * days * DAY
    store.upsert_rollout({"id": 1, "service": "checkout", "started": r0, "ended": r0 + 2400, "status": "rolled-back",
                          "stage": 1, "weight": 0, "reason": "rolled back"})
    for dt, code, before, to, stage, weight, actor in (
            (0, ev.ROLLOUT_STARTED, "idle", "running", 1, 5, "alice@203.0.113.9"),
            (600, ev.ROLLOUT_STAGE_ENTERED, "running", "running", 2, 50, "engine"),
            (2400, ev.ROLLOUT_ROLLING_BACK, "running", "rolling-back", 2, 50, "engine"),
            (2400.5, ev.ROLLOUT_ROLLED_BACK, "rolling-back", "rolled-back", 2, 0, "engine")):
        store.add_event(r0 + dt, code, "info", "canary", f"{to} at {weight}%",
                        {"rollout_id": 1, "from": before, "to": to, "stage": stage, "weight": weight, "actor": actor})
    store.flush(timeout=600)
    store.close()
    written = time.perf_counter() - started
    report = run_retention(path, loaded.config.store, now=end + 1)
    print(f"built in {written:.1f}s (+ retention {report.seconds:.1f}s: {report.summary()})")
    return path, total, end


def panel_views(snapshot: object) -> None:
    from console.app import OpsConsoleApp

    for panel in _PANELS.setdefault("p", OpsConsoleApp(None).panels):  # type: ignore[arg-type]
        panel.view(snapshot, 40)  # 120 columns, three panels a row


_PANELS: dict[str, tuple] = {}


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)] * 1000


def floor_window(path: Path, t: float, store_read: bool = False) -> float:
    """The series reads of a 24 h window alone: HistoryDB.slot_sums' statement per series
    (or, with store_read, the store's read_window in minute buckets)."""
    opened = open_history(path)
    conn = opened.db._conn  # the same statement on the same kind of connection, without the rest
    try:
        ids = conn.execute("SELECT id, source, metric FROM series").fetchall()
        started = time.perf_counter()
        for sid, source, metric in ids:
            if store_read:
                read_window(conn, source, metric, t - WINDOW, t)
            else:
                opened.db.slot_sums(sid, t - WINDOW, t, WINDOW / 120)
        return time.perf_counter() - started
    finally:
        opened.close()


def floor_ring(conn: sqlite3.Connection, ids: list[int], t: float) -> float:
    started = time.perf_counter()
    for sid in ids:
        conn.execute("SELECT t, value FROM samples WHERE series_id = ? AND t <= ? ORDER BY t DESC LIMIT 120",
                     (sid, t)).fetchall()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--series", type=int, default=30)
    parser.add_argument("--step", type=float, default=10.0, help="seconds between samples of a series")
    parser.add_argument("--raw", default="1d", help="raw retention: older samples are rolled up")
    parser.add_argument("--steps", type=int, default=40, help="cursor steps measured per mode")
    parser.add_argument("--keep", metavar="DIR", help="build the history here and keep it")
    args = parser.parse_args()
    directory = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-review-"))
    directory.mkdir(parents=True, exist_ok=True)
    path, total, end = build(directory, args.days, args.series, args.step, args.raw)
    size = sum(p.stat().st_size for p in directory.glob("history.db*"))
    print(f"history: {args.days:g} days x {args.series} series every {args.step:g}s = {total:,} samples written;"
          f" raw for the last {args.raw}, minute/hour rollups before; {format_size(size)} on disk")

    opens, floors, store_reads = [], [], []
    for _ in range(5):
        started = time.perf_counter()
        source = HistorySource(open_history(path), window=WINDOW)
        panel_views(source.snapshot())
        opens.append(time.perf_counter() - started)
        t = source.range.last
        source.close()
        floors.append(floor_window(path, t))
        store_reads.append(floor_window(path, t, store_read=True))
    o, f = median_ms(opens), median_ms(floors)
    print(f"open + draw 24h window:    {o:7.1f} ms median (best {min(opens) * 1000:.1f})   target <= 300 ms   "
          f"floor (the series reads alone) {f:6.1f} ms   ratio {o / f:.2f}   "
          f"(the store's read_window, minute buckets: {median_ms(store_reads):.1f} ms)")

    rng = random.Random(11)
    source = HistorySource(open_history(path))
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    ids = [sid for (sid,) in conn.execute("SELECT id FROM series")]
    moments = [source.range.first + rng.random() * source.range.span for _ in range(args.steps)]
    moments[:5] = [source.range.last - 60 * i for i in range(5)]  # and the recent, raw part
    for window, label in ((None, "live ring (120 points)"), (WINDOW, "24h window")):
        source.window = window
        steps, bare = [], []
        for t in moments:
            source.seek(t)
            started = time.perf_counter()
            panel_views(source.seek(t - args.step))
            steps.append(time.perf_counter() - started)
            bare.append(floor_ring(conn, ids, t) if window is None else floor_window(path, t))
        s, b = median_ms(steps), median_ms(bare)
        print(f"cursor step + redraw, {label:<22} {s:6.1f} ms median, p95 {p95_ms(steps):6.1f} ms   target <= 100 ms"
              f"   floor {b:6.1f} ms   ratio {s / b:.2f}")
    conn.close()
    source.close()
    if not args.keep:
        for p in directory.iterdir():
            p.unlink()
        directory.rmdir()


if __name__ == "__main__":
    main()
