"""What recording the Snapshot's state costs (engine/statelog.py, issue 19): time per publish and
bytes in the history, on the demo config (config.yaml) run headless in this process.

Floors, measured in the same run: the time the engine takes to build the snapshot it publishes
(the work the recording rides on), and the bytes the same run's samples take in the file.

    python bench/states.py [--seconds 60]

Ends with one JSON line: publishes, build_ms, record_ms, record_vs_build, states_kib_per_min,
samples_kib_per_min, states_vs_samples.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config.loader import load_config  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.statelog import StateRecorder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def timed(owner: type, name: str, spent: list[float]) -> None:
    original = getattr(owner, name)

    def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    setattr(owner, name, wrapper)


def table_bytes(db: Path, table: str) -> int:
    """Bytes of a table's pages (SQLite's dbstat), or -1 where SQLite was built without it."""
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (table,)).fetchone()[0] or 0)
        except sqlite3.OperationalError:
            return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="opsconsole-bench-states-"))
    os.environ["XDG_RUNTIME_DIR"] = str(work)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.setdefault("store", {})["path"] = str(work / "history.db")
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    build: list[float] = []
    record: list[float] = []
    timed(Engine, "_build_snapshot", build)
    timed(StateRecorder, "changes", record)
    engine = Engine(load_config(work / "config.yaml"), headless=True)
    engine.start()
    time.sleep(args.seconds)
    engine.stop()
    db = work / "history.db"
    minutes = args.seconds / 60
    with sqlite3.connect(db) as conn:
        rows, body = conn.execute("SELECT count(*), coalesce(sum(length(body)), 0) FROM states").fetchone()
    states_b, samples_b = table_bytes(db, "states"), table_bytes(db, "samples")
    if states_b < 0:  # no dbstat: the bodies, and 32 B per sample row (docs/performance.md's figure)
        states_b = body
        with sqlite3.connect(db) as conn:
            samples_b = 32 * conn.execute("SELECT count(*) FROM samples").fetchone()[0]
    build_ms = sum(build) / len(build) * 1000
    record_ms = sum(record) / len(record) * 1000
    figures = {
        "publishes": len(record), "build_ms": round(build_ms, 3), "record_ms": round(record_ms, 3),
        "record_vs_build": round(record_ms / build_ms, 3),
        "states_rows": rows, "states_kib_per_min": round(states_b / 1024 / minutes, 1),
        "samples_kib_per_min": round(samples_b / 1024 / minutes, 1),
        "states_vs_samples": round(states_b / samples_b, 3) if samples_b else None,
    }
    print(f"{len(record)} publishes in {args.seconds:.0f}s: building the snapshot {build_ms:.3f} ms (floor), "
          f"recording its changed state {record_ms:.3f} ms ({figures['record_vs_build']}x the build)")
    print(f"history: states {figures['states_kib_per_min']} KiB/min ({rows} rows), samples "
          f"{figures['samples_kib_per_min']} KiB/min (floor): {figures['states_vs_samples']}x")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
