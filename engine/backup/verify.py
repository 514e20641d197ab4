"""Proving a backup restores: decompress it, `PRAGMA integrity_check`, count the rows of every
table, and keep those facts in a small JSON manifest beside the backup.

A backup counts as verified only once its manifest exists with `"integrity": "ok"`: retention
deletes older backups only after a newer one is verified, and restore re-checks the file against
the manifest (SHA-256 of the compressed file, then integrity and row counts of what it restores).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.backup.compress import Progress, decompress
from engine.backup.errors import BackupError, os_error, sqlite_error
from engine.backup.files import PARTIAL, create_private, method_of
from engine.store import schema
from engine.store.errors import StoreError

MANIFEST_FORMAT = 1
SERIES_TABLES = ("samples", "samples_1m", "samples_1h")  # keyed (series_id, t): seek per series


@dataclass(frozen=True)
class Inspection:
    integrity: str  # "ok", or SQLite's first complaints
    schema_version: int
    tables: dict[str, int]  # rows per table
    time_range: tuple[float, float] | None  # first and last sample/event; None if empty

    @property
    def ok(self) -> bool:
        return self.integrity == "ok"


@dataclass(frozen=True)
class Manifest:
    file: str
    created_at: float
    source: str
    compress: str
    bytes: int  # the compressed file
    db_bytes: int  # the database inside
    sha256: str
    integrity: str
    schema_version: int
    tables: dict[str, int]
    time_range: list[float] | None
    seconds: dict[str, float] = field(default_factory=dict)  # per phase: copy, compress, verify
    opsconsole: str = ""
    format: int = MANIFEST_FORMAT

    @property
    def saved(self) -> float:
        return 1 - self.bytes / self.db_bytes if self.db_bytes else 0.0

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["created"] = datetime.fromtimestamp(self.created_at, UTC).isoformat(timespec="milliseconds")
        data["saved"] = round(self.saved, 4)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def inspect_database(path: Path) -> Inspection:
    """Integrity, schema version, rows per table and time range of a database file (read-only)."""
    try:
        conn = schema.connect(path, read_only=True)
    except sqlite3.Error as exc:
        raise sqlite_error(exc, path, "open") from exc
    try:
        try:
            version = schema.read_version(conn, path)
        except StoreError as exc:
            raise BackupError(str(exc)) from exc
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(10)")]
        integrity = "ok" if problems == ["ok"] else "; ".join(problems)
        names = [
            n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if not n.startswith("sqlite_")
        ]
        # Names come from the file's own catalogue; quoted, so any name is a valid identifier.
        tables = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
        return Inspection(integrity, version, tables, _time_range(conn, set(names)))
    except sqlite3.DatabaseError as exc:
        return Inspection(f"unreadable: {exc}", 0, {}, None)
    finally:
        conn.close()


def _time_range(conn: sqlite3.Connection, tables: set[str]) -> tuple[float, float] | None:
    parts = []
    if "series" in tables:
        for t in (name for name in SERIES_TABLES if name in tables):
            parts.append(
                f"SELECT (SELECT t FROM {t} WHERE series_id = k.id ORDER BY t LIMIT 1) AS a,"
                f" (SELECT t FROM {t} WHERE series_id = k.id ORDER BY t DESC LIMIT 1) AS b FROM series AS k"
            )
    if "events" in tables:
        parts.append("SELECT min(t) AS a, max(t) AS b FROM events")
    if not parts:
        return None
    lo, hi = conn.execute(f"SELECT min(a), max(b) FROM ({' UNION ALL '.join(parts)})").fetchone()
    return None if lo is None or hi is None else (float(lo), float(hi))


def verify_backup(
    backup: Path,
    scratch: Path,
    expected: Manifest | None = None,
    progress: Progress | None = None,
    method: str | None = None,
) -> Inspection:
    """Decompress `backup` into `scratch` (a new file; the caller removes or keeps it) and inspect
    it. BackupError if it is damaged, fails the integrity check, or disagrees with `expected`.
    `method` defaults to the one its name says (a `.partial` in the making has none)."""
    method = method or method_of(backup)
    if method is None:
        raise BackupError(f"{backup} is not a backup file (expected a name ending in .db.zst or .db.gz)")
    decompress(backup, scratch, method, progress)
    found = inspect_database(scratch)
    if not found.ok:
        raise BackupError(f"{backup} fails the integrity check: {found.integrity}")
    if expected is not None and found.tables != expected.tables:
        diff = ", ".join(
            f"{t}: {found.tables.get(t, 0):,} rows, manifest says {expected.tables.get(t, 0):,}"
            for t in sorted(set(found.tables) | set(expected.tables))
            if found.tables.get(t) != expected.tables.get(t)
        )
        raise BackupError(f"{backup} does not match its manifest ({diff})")
    return found


def write_manifest(manifest: Manifest, path: Path) -> None:
    """Private, and atomic: a reader sees the whole manifest or none."""
    partial = path.with_name(path.name + PARTIAL)
    try:
        with os.fdopen(create_private(partial), "w", encoding="utf-8") as f:
            f.write(manifest.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise os_error(exc, path.parent, "writing the manifest") from exc


def read_manifest(path: Path) -> Manifest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist: the backup has no manifest") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read the manifest {path}: {exc}") from exc
    known = set(Manifest.__dataclass_fields__)
    try:
        return Manifest(**{k: v for k, v in data.items() if k in known})
    except TypeError as exc:
        raise BackupError(f"{path} is not a backup manifest: {exc}") from exc
