"""Creating the history file and its directory private to the user, and explaining why not.

The history holds audit records (who did what from where) and event texts, so it is created
0600 inside a 0700 directory. We do not touch the process umask: it is process-wide, and the
engine is multi-threaded, so changing it around an open would race other threads' files. Instead:

- missing directories are created one by one and chmod-ed to 0700 (chmod ignores the umask);
  directories that already exist are left alone (the user may have chosen a shared parent);
- the database file is pre-created with mode 0600 before SQLite opens it. SQLite creates its
  -wal and -shm files with the permissions of the database file, so they are 0600 too;
  `make_private` re-applies 0600 to all three after opening, which also tightens a file an
  older version (or a user's `cp`) left wider.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.privatefs import make_missing_dirs
from engine.store.errors import StoreError

FILE_MODE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")


def unusable(path: Path) -> str | None:
    """Why `path` cannot become the history file, found without creating anything (for `config
    check`, and said the same way when the engine starts); None when it can."""
    if path.is_dir():
        return f"{path} is a directory: set store.path to a file, e.g. {path / 'history.db'}"
    if path.exists():
        if _read_only_fs(path):
            return f"cannot open {path} for writing: it is on a read-only filesystem"
        if not os.access(path, os.R_OK | os.W_OK):
            return f"cannot open {path}: permission denied (it must be readable and writable by this user)"
        return None
    probe = path.parent
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        return f"cannot create {path}: {probe} is not a directory"
    if _read_only_fs(probe):
        return f"cannot create {path}: {probe} is on a read-only filesystem"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"cannot create {path}: {probe} is not writable by this user"
    return None


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False  # cannot tell: the open itself will say why


def prepare(path: Path) -> bool:
    """Make sure `path` can be opened as the history file. Returns True if this call created it.

    Raises StoreError naming the path when it is a directory or cannot be created.
    """
    problem = unusable(path)
    if problem is not None:
        raise StoreError(f"store.path {problem}" if problem.startswith(str(path)) else problem)
    _make_dirs(path.parent, path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False  # another process created it in between: unusable() found it fine a moment ago
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    return True


def _make_dirs(directory: Path, for_file: Path) -> None:
    try:
        make_missing_dirs(directory)
    except OSError as exc:
        raise StoreError(f"cannot create directory {exc.filename or directory} for {for_file}: "
                         f"{exc.strerror or exc}") from exc


def make_private(path: Path) -> None:
    """chmod 0600 the database and its side files (those that exist right now)."""
    for suffix in ("", *SIDE_FILES):
        target = Path(str(path) + suffix)
        try:
            if stat.S_IMODE(target.stat().st_mode) != FILE_MODE:
                os.chmod(target, FILE_MODE)
        except FileNotFoundError:
            continue  # -wal/-shm come and go with connections; SQLite copies the db's mode anyway
        except OSError as exc:
            raise StoreError(f"cannot make {target} private (chmod 600): {exc.strerror or exc}") from exc


def remove_created(path: Path) -> None:
    """Undo `prepare` after a failed first open, so a failed start leaves no empty history behind."""
    for suffix in ("", *SIDE_FILES):
        Path(str(path) + suffix).unlink(missing_ok=True)
