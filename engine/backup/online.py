"""A consistent copy of the live history while the engine keeps writing.

`VACUUM INTO` on a separate read-only connection: it runs as ONE read transaction, so the copy
is exactly the database as of the moment it began — every row committed before that is in it,
nothing half-committed is — while the writer goes on committing to the WAL (in WAL mode readers
and the writer never block each other). We never copy the files: a copy of a live WAL database
can catch the main file and the -wal at different moments and be corrupt.

Why VACUUM INTO rather than the backup API: the backup API, stepped to show progress, restarts
from scratch whenever another connection writes, so under steady collection it may never
finish; in one step it is as consistent as VACUUM INTO but copies free pages too. VACUUM INTO
writes a compact file in rollback-journal mode (one self-contained file, nothing beside it) and
keeps the source's page size and auto_vacuum setting. The cost is CPU: it rebuilds the B-trees.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from engine.backup.errors import BackupCancelled, BackupError, sqlite_error
from engine.backup.files import create_private
from engine.store import StoreError, schema

PROGRESS_STEPS = 100_000  # SQLite VM steps between checks of `cancel` (well under a millisecond)


def copy_database(db_path: Path, dest: Path, cancel: threading.Event | None = None) -> int:
    """Write a consistent copy of `db_path` to `dest` (which must not exist); returns its size.

    BackupError (a sentence) if the source is not an opsconsole history or the copy fails;
    BackupCancelled if `cancel` is set meanwhile (SQLite stops within a fraction of a second).
    """
    if not db_path.is_file():
        raise BackupError(f"no history at {db_path}: nothing to back up (check store.path)")
    try:
        conn = schema.connect(db_path, read_only=True)
    except sqlite3.Error as exc:
        raise sqlite_error(exc, db_path, "open for backup") from exc
    try:
        try:
            if schema.read_version(conn, db_path) == 0:
                raise BackupError(f"{db_path} is empty: no history has been written there yet")
        except StoreError as exc:
            raise BackupError(str(exc)) from exc
        # VACUUM INTO wants a file that does not exist or is empty: an empty private one, so the
        # copy is 0600 from its first byte.
        os.close(create_private(dest))
        if cancel is not None:
            conn.set_progress_handler(lambda: int(cancel.is_set()), PROGRESS_STEPS)  # non-zero aborts
        try:
            conn.execute("VACUUM INTO ?", (str(dest),))
        except sqlite3.Error as exc:
            if cancel is not None and cancel.is_set():
                raise BackupCancelled("backup cancelled: the engine is stopping") from exc
            raise sqlite_error(exc, dest, "copy the history to") from exc
    finally:
        conn.close()
    return dest.stat().st_size
