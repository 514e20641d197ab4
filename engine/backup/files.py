"""Backup files on disk: names, listing, the directory lock, and leftovers of interrupted runs.

Names sort by time: `history-20261122T001508.123Z.db.zst` (the history's file stem, the UTC
time, the compression), its manifest beside it as `history-20261122T001508.123Z.json`.
Everything is private: the directory 0700 when we create it, every file 0600 from creation.

While a backup runs, its files end in `.partial` (SQLite may add a `-journal` beside one); only
a verified backup is renamed to its final name, and only then does its manifest appear. A run
killed with -9 therefore leaves `*.partial` files and nothing that looks finished; the next
backup (and every engine start) removes them — but only while holding the directory lock (an
flock on `DIR/.lock`, which the kernel releases when a process dies), so a partial file that
another process is still writing is never touched.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.backup.errors import BackupError, os_error
from engine.privatefs import make_missing_dirs
from engine.store.paths import SIDE_FILES

log = logging.getLogger("opsconsole.backup")

FILE_MODE = 0o600
PARTIAL = ".partial"
LOCK_NAME = ".lock"
SUFFIXES = {"zstd": ".db.zst", "gzip": ".db.gz"}
MANIFEST_SUFFIX = ".json"


class BackupBusy(BackupError):
    """Another backup into the same directory is running."""


@dataclass(frozen=True)
class BackupFile:
    path: Path
    created: float  # from the manifest when there is one, else the file's mtime
    verified: bool  # a manifest beside it says integrity ok

    @property
    def manifest(self) -> Path:
        return manifest_path(self.path)


def backup_name(db_path: Path, when: float, method: str) -> str:
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y%m%dT%H%M%S")
    return f"{db_path.stem}-{stamp}.{int(when * 1000) % 1000:03d}Z{SUFFIXES[method]}"


def method_of(path: Path) -> str | None:
    return next((m for m, suffix in SUFFIXES.items() if path.name.endswith(suffix)), None)


def manifest_path(backup: Path) -> Path:
    suffix = SUFFIXES[method_of(backup) or "zstd"]
    return backup.with_name(backup.name.removesuffix(suffix) + MANIFEST_SUFFIX)


def list_backups(directory: Path) -> list[BackupFile]:
    """Every backup file in `directory`, oldest first (names sort by time)."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise os_error(exc, directory, "list backups in") from exc
    found = []
    for name in names:
        path = directory / name
        if method_of(path) is None:
            continue
        created, verified = _manifest_facts(path)
        if created is None:
            try:
                created = path.stat().st_mtime
            except FileNotFoundError:
                continue  # deleted while we listed (retention in another process)
        found.append(BackupFile(path, created, verified))
    return found


def _manifest_facts(path: Path) -> tuple[float | None, bool]:
    try:
        data = json.loads(manifest_path(path).read_text(encoding="utf-8"))
        return float(data["created_at"]), data.get("integrity") == "ok"
    except (OSError, ValueError, KeyError, TypeError):
        return None, False  # no manifest, or not ours: the file counts as unverified


def newest_verified(directory: Path) -> BackupFile | None:
    verified = [b for b in list_backups(directory) if b.verified]
    return verified[-1] if verified else None


def ensure_dir(directory: Path, *, create: bool, what: str = "backup directory") -> None:
    """`directory` exists, is a directory and is writable; created (0700) if `create`."""
    if not directory.exists():
        if not create:
            raise BackupError(f"{what} {directory} does not exist: create it or choose another --to")
        try:
            make_missing_dirs(directory)  # each level we create is private, not just the last
        except OSError as exc:
            raise os_error(exc, Path(exc.filename or directory), "create the directory") from exc
    if not directory.is_dir():
        raise BackupError(f"{what} {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        probe = os.statvfs(directory)
        if probe.f_flag & os.ST_RDONLY:
            raise BackupError(f"{what} {directory} is on a read-only filesystem")
        raise BackupError(f"{what} {directory} is not writable by this user")


def create_private(path: Path) -> int:
    """A new file, 0600 from its first moment (never through the umask); returns its fd."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError as exc:
        raise os_error(exc, path, "create") from exc


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (a power cut must not undo a finished backup)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def directory_lock(directory: Path, wait: float = 0.0) -> Iterator[None]:
    """One backup at a time per directory, across processes (engine, CLI, another engine)."""
    lock_path = directory / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise os_error(exc, lock_path, "create the lock file") from exc
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise os_error(exc, lock_path, "lock") from exc
                if time.monotonic() >= deadline:
                    raise BackupBusy(
                        f"another backup into {directory} is running (it holds {lock_path}); try again when it finishes"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the flock


def remove_partials(directory: Path) -> list[Path]:
    """Delete what interrupted backups left (`*.partial`). Call with the directory lock held."""
    removed = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise os_error(exc, directory, "list") from exc
    for name in names:
        if is_partial(name):
            path = directory / name
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise os_error(exc, path, "remove the leftover of an interrupted backup") from exc
            removed.append(path)
    return removed


def is_partial(name: str) -> bool:
    """A file of an unfinished run: `*.partial`, or SQLite's journal beside one."""
    return name.endswith(PARTIAL) or any(name.endswith(PARTIAL + side) for side in SIDE_FILES)


def with_side_files(path: Path) -> list[Path]:
    """`path` and the -journal/-wal/-shm SQLite may have left beside it."""
    return [path, *(path.with_name(path.name + side) for side in SIDE_FILES)]


def clean_interrupted(directory: Path) -> list[Path]:
    """At start: remove leftovers unless a backup is running right now (then they are its own)."""
    if not directory.is_dir():
        return []
    try:
        with directory_lock(directory):
            return remove_partials(directory)
    except BackupBusy:
        return []  # a backup in another process holds the lock: its partial files are live


def remove_quietly(*paths: Path) -> None:
    """Cleanup after a failure: the failure is what gets reported; a file we cannot remove is
    logged (and, if it is a `.partial`, removed by the next run)."""
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not remove %s after a failed backup: %s", path, exc.strerror or exc)
