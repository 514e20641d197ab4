"""The history's tables, their versions, and opening a file safely (validate, migrate, pragmas).

Tables (schema version 1)::

    meta(key PK, value)                       schema_version, created_at, created_by
    series(id PK, source, metric, unit)       UNIQUE (source, metric)
    samples(series_id, t, value)              PRIMARY KEY (series_id, t) WITHOUT ROWID
    events(id PK, t, kind, severity, source, message, data JSON)
    rollouts(id PK, service, started, ended, status, stage, weight, reason)
    audit(id PK, t, user, address, origin, action, args JSON, result, ok)
    watched_files(path PK, size, mtime, digest, status, error, processed_at)
    samples_1m, samples_1h(series_id, t, min, max, avg, count, last)   version 2: rollups
    log_offsets(source PK, path, inode, device, offset, head, updated_at)   version 3: tailing
    views rollout_decisions, gaps, actions, series_latest   version 4 (docs/schema.md)
    rollouts.analysis (JSON counters), rollouts.hold_left   version 5: a restart continues the analysis

Why samples reference a `series` row instead of carrying (source, metric) text:

- samples are ~99% of the rows. A row of (series_id INTEGER, t REAL, value REAL) is ~20 bytes;
  with the two strings repeated on every row, plus an index over them, it is ~80.
  Measured, 1M samples over 50 series (SQLite 3.40, WAL): 27 MB and ~870k rows/s with the
  series table, 82 MB and ~460k rows/s with text columns and a (source, metric, t) index.
- the only hot query is "series X between t0 and t1" (sparklines, review scrubbing). With the
  primary key (series_id, t) on a WITHOUT ROWID table, the table *is* that index: one B-tree
  seek then a sequential range read, and no second B-tree to maintain on insert (a rowid table
  plus a (series_id, t) index measured 48 MB and ~700k rows/s).
- the cost: one samples row per (series, t). A second value for the same series at the same
  instant replaces the first (INSERT OR REPLACE); a duplicate must never fail a whole batch.
- series ids are handed out by the Store in memory (it knows max(id) at open) so callers never
  wait for the disk to learn an id; the series row is written in the same transaction as, and
  before, the first samples that use it.

Migrations: `MIGRATIONS[i]` takes the schema from version i to i+1. Each runs inside one
transaction together with the version bump in `meta`, so a migration that raises leaves the file
exactly as it was (fail closed, DESIGN.md). A file with a newer version than we know is refused
before anything is written, so an old opsconsole cannot damage a newer history.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import engine
from engine.config.schema import StoreConfig
from engine.store import fresh, paths
from engine.store.errors import StoreError

log = logging.getLogger("opsconsole.store")

if TYPE_CHECKING:  # sqlite-utils (with click, pluggy, dateutil: ~13 MB) is loaded only to migrate
    from sqlite_utils import Database

Migration = Callable[["Database"], None]


def _v1_initial(db: Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("series").create(
        {"id": int, "source": str, "metric": str, "unit": str},
        pk="id",
        not_null=["source", "metric", "unit"],
        defaults={"unit": ""},
    )
    db.table("series").create_index(["source", "metric"], unique=True)
    # sqlite-utils cannot say WITHOUT ROWID, so we let it write the CREATE TABLE and append it.
    samples_sql = db.create_table_sql(
        "samples",
        {"series_id": int, "t": float, "value": float},
        pk=("series_id", "t"),
        not_null=["series_id", "t"],
        foreign_keys=[("series_id", "series", "id")],
    )
    db.execute(samples_sql.strip().rstrip(";") + " WITHOUT ROWID")
    db.table("events").create(
        {"id": int, "t": float, "kind": str, "severity": str, "source": str, "message": str, "data": str},
        pk="id",
        not_null=["t", "kind", "severity", "source", "message"],
    )
    db.table("events").create_index(["t"])
    db.table("events").create_index(["kind", "t"])
    db.table("rollouts").create(
        {
            "id": int,
            "service": str,
            "started": float,
            "ended": float,
            "status": str,
            "stage": int,
            "weight": int,
            "reason": str,
        },
        pk="id",
    )
    db.table("rollouts").create_index(["started"])
    db.table("audit").create(
        {
            "id": int,
            "t": float,
            "user": str,
            "address": str,
            "origin": str,
            "action": str,
            "args": str,
            "result": str,
            "ok": int,
        },
        pk="id",
        not_null=["t", "user", "action", "ok"],
    )
    db.table("audit").create_index(["t"])
    db.table("watched_files").create(
        {
            "path": str,
            "size": int,
            "mtime": float,
            "digest": str,
            "status": str,
            "error": str,
            "processed_at": float,
        },
        pk="path",
    )
    db.table("meta").insert_all(
        [
            {"key": "schema_version", "value": "0"},
            {"key": "created_at", "value": repr(time.time())},
            {"key": "created_by", "value": f"opsconsole {engine.__version__}"},
        ]
    )


def _v2_rollups(db: Database) -> None:
    """Per-minute and per-hour aggregates of samples older than store.retention.raw
    (engine/store/retention.py writes them): same key and layout reasoning as samples."""
    for table in ("samples_1m", "samples_1h"):
        sql = db.create_table_sql(
            table,
            {"series_id": int, "t": float, "min": float, "max": float, "avg": float, "count": int, "last": float},
            pk=("series_id", "t"),
            not_null=["series_id", "t", "count"],
            foreign_keys=[("series_id", "series", "id")],
        )
        db.execute(sql.strip().rstrip(";") + " WITHOUT ROWID")


def _v3_log_offsets(db: Database) -> None:
    """Where each log source stopped reading (engine/watch/tail.py): the file's identity (inode,
    device, a digest of its first bytes) and the offset after the last line counted, so a restart
    neither re-reads nor skips."""
    db.table("log_offsets").create(
        {"source": str, "path": str, "inode": int, "device": int, "offset": int, "head": str, "updated_at": float},
        pk="source",
        not_null=["source", "path", "offset"],
    )


# Views for other tools (sqlite-utils, Datasette): the common questions without reading our code.
# Frozen text, like every released migration; docs/schema.md documents them, and a review of an
# older file creates the same views as TEMP views (engine/history/views.py), never in the file.
V4_VIEWS = {
    "rollout_decisions": """
        SELECT e.t, datetime(e.t, 'unixepoch') AS utc, json_extract(e.data, '$.rollout_id') AS rollout_id,
               r.service, json_extract(e.data, '$.from') AS from_status, json_extract(e.data, '$.to') AS to_status,
               json_extract(e.data, '$.stage') AS stage, json_extract(e.data, '$.weight') AS weight,
               json_extract(e.data, '$.actor') AS actor, e.severity, e.message AS reason
        FROM events AS e LEFT JOIN rollouts AS r ON r.id = json_extract(e.data, '$.rollout_id')
        WHERE e.kind = 'rollout' AND json_extract(e.data, '$.to') IS NOT NULL""",
    "gaps": """
        SELECT json_extract(data, '$.series') AS series, json_extract(data, '$.start') AS start,
               json_extract(data, '$.end') AS "end", json_extract(data, '$.duration_s') AS duration_s,
               json_extract(data, '$.cause') AS cause, 'closed' AS state, datetime(json_extract(data, '$.start'),
               'unixepoch') AS start_utc
        FROM events WHERE kind = 'gap' AND json_extract(data, '$.end') IS NOT NULL
        UNION ALL
        SELECT json_extract(o.data, '$.series'), json_extract(o.data, '$.start'), NULL, NULL,
               json_extract(o.data, '$.cause'), 'open', datetime(json_extract(o.data, '$.start'), 'unixepoch')
        FROM events AS o WHERE o.kind = 'gap' AND json_extract(o.data, '$.end') IS NULL
          AND json_extract(o.data, '$.series') IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM events AS c WHERE c.kind = 'gap' AND c.t >= o.t
                          AND json_extract(c.data, '$.series') = json_extract(o.data, '$.series')
                          AND json_extract(c.data, '$.start') = json_extract(o.data, '$.start')
                          AND json_extract(c.data, '$.end') IS NOT NULL)""",
    "actions": """
        SELECT t, datetime(t, 'unixepoch') AS utc, user, address, origin, action, args, result, ok
        FROM audit""",
    "series_latest": """
        SELECT k.source, k.metric, k.unit, s.t, datetime(s.t, 'unixepoch') AS utc, s.value
        FROM series AS k JOIN samples AS s
          ON s.series_id = k.id AND s.t = (SELECT max(t) FROM samples WHERE series_id = k.id)""",
}


def _v4_views(db: Database) -> None:
    """rollout_decisions, gaps, actions, series_latest: see V4_VIEWS and docs/schema.md."""
    for name, select in V4_VIEWS.items():
        db.execute(f"CREATE VIEW {name} AS {select.strip()}")


def _v5_rollout_analysis(db: Database) -> None:
    """What a restart needs to continue a rollout's analysis where it was: the counters and
    where each rule's evidence starts (`analysis`, JSON), and what was left of the stage's hold."""
    db.execute("ALTER TABLE rollouts ADD COLUMN analysis TEXT")
    db.execute("ALTER TABLE rollouts ADD COLUMN hold_left REAL")


def _v6_event_codes(db: Database) -> None:
    """Every event gets its machine code (engine/eventcodes.py); rows written before get theirs
    from engine/store/legacy_events.py, with the data review used to read out of the message."""
    from engine.store import legacy_events

    db.execute("ALTER TABLE events ADD COLUMN code TEXT NOT NULL DEFAULT ''")
    last = -1
    while True:  # in batches by id: a history of millions of events is never all in memory
        rows = db.execute("SELECT id, kind, severity, source, message, data FROM events WHERE id > ?"
                          " ORDER BY id LIMIT 20000", [last]).fetchall()
        if not rows:
            break
        db.conn.executemany("UPDATE events SET code = ?, data = coalesce(?, data) WHERE id = ?",
                            list(legacy_events.updates(rows)))
        last = rows[-1][0]
    db.execute("CREATE INDEX idx_events_code_t ON events (code, t)")


def _v7_states(db: Database) -> None:
    """The Snapshot's state fields (rollout, alerts, health, ...) each time one changes:
    engine/statelog.py writes them, review reads them (zlib-compressed JSON of the snapshot codec)."""
    db.execute("CREATE TABLE states (part TEXT NOT NULL, t REAL NOT NULL, body BLOB NOT NULL,"
               " PRIMARY KEY (part, t)) WITHOUT ROWID")


# Append only. Never edit a released migration: write the next one.
MIGRATIONS: list[Migration] = [_v1_initial, _v2_rollups, _v3_log_offsets, _v4_views, _v5_rollout_analysis,
                               _v6_event_codes, _v7_states]

# Columns callers may set through Store.upsert_rollout / upsert_watched_file(s) / upsert_log_offset
# (the writer builds the upsert SQL from these names, so they must never come from outside this list).
ROLLOUT_COLUMNS = ("id", "service", "started", "ended", "status", "stage", "weight", "reason", "analysis",
                   "hold_left")
WATCHED_FILE_COLUMNS = ("path", "size", "mtime", "digest", "status", "error", "processed_at")
LOG_OFFSET_COLUMNS = ("source", "path", "inode", "device", "offset", "head", "updated_at")


def latest_version() -> int:
    return len(MIGRATIONS)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (we write BEGIN/COMMIT ourselves), usable from another thread.

    The writer's connection is opened here and then used only by the writer thread; a Reader's
    is shared between threads under its own lock.
    """
    if read_only:
        conn = sqlite3.connect(
            path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")  # another process mid-commit: wait, don't fail
    return conn


def read_version(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version in `meta`: 0 for an empty file. Refuses files that are not ours."""
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} is not an SQLite database ({exc}): move it away or set store.path to another file"
        ) from exc
    if not tables:
        return 0
    if "meta" not in tables:
        raise StoreError(
            f"{path} is an SQLite database but not an opsconsole history (it has no meta table): "
            "set store.path to another file"
        )
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else 0
    except ValueError:
        raise StoreError(f"{path} has an unreadable schema version {row[0]!r}: set store.path to another file") from None


def check_not_newer(version: int, path: Path) -> None:
    known = latest_version()
    if version > known:
        raise StoreError(
            f"{path} has schema version {version}, this opsconsole understands up to {known}: "
            "upgrade opsconsole or use another store.path"
        )


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the file to `latest_version()`, one transaction per migration. Returns the version."""
    version = read_version(conn, path)
    check_not_newer(version, path)
    if version == 0:
        # Only possible before the first table exists: lets retention hand freed pages back to
        # the filesystem (PRAGMA incremental_vacuum). Older files keep reusing their free pages.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    if version == latest_version():
        return version
    if version == 0 and fresh.VERSION == latest_version():
        try:
            fresh.create(conn)  # engine/store/fresh.py: the same tables, without loading sqlite-utils
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: creating the history failed ({exc}); nothing was written") from exc
        log.info("store %s created at schema version %d", path, fresh.VERSION)
        return fresh.VERSION
    return _run_migrations(conn, path, version)


def migrate_from_empty(conn: sqlite3.Connection, path: Path) -> int:
    """An empty file through every migration (what engine/store/fresh.py's statements are made of)."""
    if read_version(conn, path) != 0:
        raise StoreError(f"{path} is not empty")
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    return _run_migrations(conn, path, 0)


def _run_migrations(conn: sqlite3.Connection, path: Path, version: int) -> int:
    from sqlite_utils import Database  # only when there is something to migrate: see TYPE_CHECKING above

    db = Database(conn, recursive_triggers=False, execute_plugins=False)
    for target in range(version + 1, latest_version() + 1):
        migration = MIGRATIONS[target - 1]
        try:
            with db.atomic():
                migration(db)
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(target)])
        except Exception as exc:  # any failure: the transaction was rolled back, refuse to start
            raise StoreError(
                f"{path}: migration to schema version {target} failed ({type(exc).__name__}: {exc}); "
                f"nothing was changed, the file is still at version {version}"
            ) from exc
        log.info("store %s migrated to schema version %d", path, target)
        version = target
    return version


def apply_pragmas(conn: sqlite3.Connection, path: Path, config: StoreConfig) -> None:
    """WAL (readers never block the writer), synchronous=NORMAL (no fsync per commit; WAL keeps
    the file consistent, a power cut loses at most the last flush), bounded WAL size."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(
            f"{path}: SQLite could not switch to WAL mode (got {mode!r}); "
            "is it on a network filesystem? set store.path to a local disk"
        )
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA journal_size_limit = {int(config.journal_size_limit)}")


def open_for_writing(path: Path, config: StoreConfig) -> sqlite3.Connection:
    """Create or open, validate, migrate and configure the history file. Fails closed."""
    created = paths.prepare(path)
    conn: sqlite3.Connection | None = None
    try:
        conn = connect(path)
        migrate(conn, path)
        apply_pragmas(conn, path, config)
        paths.make_private(path)
        return conn
    except BaseException as exc:
        if conn is not None:
            conn.close()
        if created:
            paths.remove_created(path)
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"cannot open {path}: {exc}") from exc
        raise
