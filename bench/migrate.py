"""How long schema migration 6 takes on an older history: every event classified from its sentence
(engine/store/legacy_events.py) and given its code, the first time a new opsconsole opens the file.

Floor, measured in the same run on a copy of the same file: the same batched UPDATE with a constant
code (the SQLite work without the classification).

    python bench/migrate.py [--events 200000]

Ends with one JSON line: events, migrate_s, events_per_s, floor_s, vs_floor.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.store import schema  # noqa: E402

SENTENCES = [  # one of each family review reads, as an opsconsole before version 6 wrote them
    ("rollout", "info", "canary", "promoted to 25% (stage 2/3): 5m at 5% passed with clean checks",
     '{"rollout_id":1,"from":"running","to":"running","stage":2,"weight":25,"actor":"engine"}'),
    ("collect", "warning", "collect:api", "api: OK -> RETRYING: connection refused", '{"target":"api"}'),
    ("health", "warning", "health:db", "db is WARN (was OK): answered in 900ms", '{"status":"WARN"}'),
    ("gap", "warning", "host", "gap opened: no data from host (target down)", '{"series":"host","start":1}'),
    ("engine", "critical", "collect", "collect failed: boom — restarting in 2s", '{"restarts":1}'),
    ("watch", "warning", "access", "line does not parse as nginx_json: not JSON", '{"file":"a","sample":"x"}'),
]


def old_history(path: Path, events: int) -> None:
    from sqlite_utils import Database

    conn = schema.connect(path)
    db = Database(conn)
    for migration in schema.MIGRATIONS[:5]:
        migration(db)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '5')")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events (t, kind, severity, source, message, data) VALUES (?, ?, ?, ?, ?, ?)",
                     ((float(i), *SENTENCES[i % len(SENTENCES)]) for i in range(events)))
    conn.execute("COMMIT")
    conn.close()


def floor(path: Path) -> float:
    conn = schema.connect(path)
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.execute("ALTER TABLE events ADD COLUMN code TEXT NOT NULL DEFAULT ''")
    last = -1
    while rows := conn.execute("SELECT id FROM events WHERE id > ? ORDER BY id LIMIT 20000", [last]).fetchall():
        conn.executemany("UPDATE events SET code = 'x', data = coalesce(NULL, data) WHERE id = ?", rows)
        last = rows[-1][0]
    conn.execute("CREATE INDEX idx_code ON events (code, t)")
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="opsconsole-bench-migrate-"))
    try:
        original, copy = work / "v5.db", work / "floor.db"
        old_history(original, args.events)
        shutil.copyfile(original, copy)
        floor_s = floor(copy)
        conn = schema.connect(original)
        started = time.perf_counter()
        schema.migrate(conn, original)
        migrate_s = time.perf_counter() - started
        legacy = conn.execute("SELECT count(*) FROM events WHERE code = 'legacy.unclassified'").fetchone()[0]
        conn.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = {"events": args.events, "migrate_s": round(migrate_s, 3),
               "events_per_s": round(args.events / migrate_s), "floor_s": round(floor_s, 3),
               "vs_floor": round(migrate_s / floor_s, 2), "unclassified": legacy}
    print(f"{args.events:,} events from schema 5 to {schema.latest_version()}: {migrate_s:.2f}s "
          f"({figures['events_per_s']:,}/s), {figures['vs_floor']}x the same UPDATEs without classifying "
          f"({floor_s:.2f}s); {legacy} left unclassified")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
