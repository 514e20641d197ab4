"""Restoring a backup: verify first, never over a database in use, never over a file without
`force`, and say what was restored (time range, rows per table).

"In use" is decided twice, by locks the kernel drops when a process dies (so never stale):

1. the engine's own lock (engine/lock.py, an flock on `<db>.lock`): we take it for the whole
   restore, so a running console or headless engine makes us refuse, naming its pid, and an
   engine starting while we write refuses to start instead of opening a half-replaced file;
2. SQLite's own locks, for everyone else (a review or attach Reader, an sqlite3 shell, an
   engine from before the lock file existed): every connection to a WAL database holds a shared
   POSIX lock on the database file's "shared" byte range for as long as it is open, idle or not.
   We ask the kernel for a write lock on that range without waiting: refused means another
   process has the file open. (POSIX locks do not conflict within one process, so this checks
   OTHER processes: the restore runs in its own, `opsconsole restore`.)

Where the bytes go: the backup is decompressed and checked next to the target (same filesystem).
A new target is then renamed into place, atomically. An existing one (with `force`, not in use)
is overwritten through SQLite's backup API, which takes the file's locks like any writer, so a
process that opens it at that moment waits and then sees the whole restored database, and any
-wal beside the old file is dealt with by SQLite rather than left to be replayed into the new one.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.backup.compress import sha256_of
from engine.backup.errors import BackupError, RestoreRefused, os_error, sqlite_error
from engine.backup.files import (
    MANIFEST_SUFFIX,
    PARTIAL,
    SUFFIXES,
    ensure_dir,
    manifest_path,
    method_of,
    newest_verified,
    remove_quietly,
)
from engine.backup.verify import Inspection, Manifest, read_manifest, verify_backup
from engine.lock import EngineLock, EngineLockedError
from engine.store import StoreError, schema
from engine.store.paths import make_private

# SQLite's lock bytes (os_unix.c): the "shared" range starts 2 bytes after the 1 GiB mark.
SHARED_FIRST = 0x40000000 + 2
SHARED_SIZE = 510
RESTORE_MODE = "restore"  # what the engine lock file says its owner is doing


@dataclass(frozen=True)
class RestoreResult:
    backup: Path
    target: Path
    found: Inspection
    replaced: bool  # an existing file was overwritten (with --force)
    checked_manifest: bool
    seconds: float

    def message(self) -> str:
        t = self.found.tables
        counts = (
            f"{t.get('samples', 0):,} samples, {t.get('samples_1m', 0):,} minute and {t.get('samples_1h', 0):,}"
            f" hour aggregates, {t.get('events', 0):,} events, {t.get('audit', 0):,} audit rows,"
            f" {t.get('rollouts', 0):,} rollouts"
        )
        span = "an empty history"
        if self.found.time_range:
            span = f"history from {_utc(self.found.time_range[0])} to {_utc(self.found.time_range[1])}"
        checks = "integrity ok" + (", matches its manifest" if self.checked_manifest else ", no manifest to compare")
        verb = "replaced" if self.replaced else "created"
        return f"restored {self.backup.name} to {self.target} ({verb}): {span}; {counts}; {checks}"


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def database_in_use(path: Path) -> bool:
    """True if another process has the SQLite database at `path` open (see the module docstring)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise os_error(exc, path, "check whether it is in use:") from exc
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, SHARED_SIZE, SHARED_FIRST)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return True
        raise os_error(exc, path, "check whether it is in use:") from exc
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, SHARED_SIZE, SHARED_FIRST)
        return False
    finally:
        os.close(fd)


def resolve_backup(given: Path) -> Path:
    """A backup file, its manifest, or a directory (its newest verified backup)."""
    given = given.expanduser()
    if given.is_dir():
        newest = newest_verified(given)
        if newest is None:
            raise RestoreRefused(f"no verified backup in {given} (a backup is verified once its .json manifest exists)")
        return newest.path
    if given.name.endswith(MANIFEST_SUFFIX):
        stem = given.name.removesuffix(MANIFEST_SUFFIX)
        for suffix in SUFFIXES.values():
            if (candidate := given.with_name(stem + suffix)).exists():
                return candidate
        raise RestoreRefused(f"{given} is a manifest, but its backup file ({stem}.db.zst or .db.gz) is not beside it")
    if not given.exists():
        raise RestoreRefused(f"backup {given} does not exist")
    if method_of(given) is None:
        raise RestoreRefused(f"{given} is not a backup file (expected a name ending in .db.zst or .db.gz)")
    return given


def restore(
    given: Path, target: Path, *, force: bool = False, progress: Callable[[float], None] | None = None
) -> RestoreResult:
    """Verify the backup, then put it at `target`. RestoreRefused for what --force or another
    BACKUP would fix, BackupError for everything else; in both cases the target is unchanged."""
    started = time.monotonic()
    backup = resolve_backup(given)
    target = target.expanduser().absolute()
    if target.is_dir():
        raise RestoreRefused(
            f"--to {target} is a directory: give the database's file name, e.g. {target / 'history.db'}"
        )
    exists = target.exists()
    if exists and not force:
        raise RestoreRefused(f"{target} already exists: add --force to replace it, or restore --to another path")
    manifest = _manifest_if_any(backup)
    ensure_dir(target.parent, create=True, what="directory")
    try:
        lock = EngineLock.acquire(target, RESTORE_MODE)
    except EngineLockedError as exc:
        raise BackupError(f"{target} is in use: {exc}; nothing was changed") from exc
    except StoreError as exc:
        raise BackupError(str(exc)) from exc
    try:
        return _restore_locked(backup, manifest, target, exists, progress, started)
    finally:
        lock.release()


def _restore_locked(
    backup: Path,
    manifest: Manifest | None,
    target: Path,
    exists: bool,
    progress: Callable[[float], None] | None,
    started: float,
) -> RestoreResult:
    if exists and database_in_use(target):
        raise BackupError(
            f"{target} is in use by another process (a review, an attached console, an sqlite3 shell?):"
            " stop it first; nothing was changed"
        )
    if manifest is not None and sha256_of(backup) != manifest.sha256:
        raise BackupError(f"{backup} does not match the checksum in its manifest: it was changed or damaged")
    scratch = target.with_name(f"{target.name}.restore{PARTIAL}")
    remove_quietly(scratch)  # left by a restore that was killed: never a file anyone else uses
    try:
        found = verify_backup(backup, scratch, manifest, progress)
        try:
            schema.check_not_newer(found.schema_version, backup)
        except StoreError as exc:
            raise BackupError(str(exc)) from exc
        if exists:
            _overwrite(scratch, target)
            scratch.unlink()
        else:
            try:
                os.replace(scratch, target)
            except OSError as exc:
                raise os_error(exc, target, "move the restored database to") from exc
        make_private(target)
    except StoreError as exc:  # from make_private
        remove_quietly(scratch)
        raise BackupError(str(exc)) from exc
    except BaseException:
        remove_quietly(scratch)
        raise
    return RestoreResult(backup, target, found, exists, manifest is not None, time.monotonic() - started)


def _manifest_if_any(backup: Path) -> Manifest | None:
    path = manifest_path(backup)
    return read_manifest(path) if path.exists() else None


def _overwrite(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = schema.connect(target)
    except sqlite3.Error as exc:
        src.close()
        raise sqlite_error(exc, target, "open") from exc
    try:
        src.backup(dst)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise BackupError(
                f"{target} is not an SQLite database, so it was left alone: move it away or restore --to another path"
            ) from exc
        raise sqlite_error(exc, target, "write the restored database to") from exc
    finally:
        dst.close()
        src.close()
