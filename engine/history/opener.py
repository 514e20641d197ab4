"""Opening a history for review without writing a byte to it, whatever state it is in.

SQLite's `mode=ro` alone is not enough for that: on a WAL database it creates `-wal` and `-shm`
files beside the database when they are missing, and rewrites a `-shm` copied from another
machine (measured with SQLite 3.40). So the file is opened one of four ways:

1. a compressed backup (`*.db.zst`, `*.db.gz`, or by its magic bytes): checked against its
   manifest's SHA-256 when one is beside it, decompressed into a private temp directory (0700),
   and the copy opened;
2. a live file, one that another SQLite connection has open right now (an engine is writing it):
   `mode=ro` in place. The engine's `-wal` and `-shm` already exist; we read them like any reader
   and write neither the database nor the WAL;
3. a file at rest with a non-empty `-wal` (copied from a live engine with its WAL): the database
   and its WAL are copied into a private temp directory and the copy is opened, so the frames in
   the WAL are read (opening the database alone would miss them) and SQLite's side files go to
   the temp directory, not beside the operator's copy;
4. a file at rest with no WAL content: in place with `mode=ro&immutable=1`. Justified because
   nothing has it open and it has no WAL to read: `immutable` is then exact, and it is what stops
   SQLite from creating `-wal`/`-shm` beside the file. (A writer that starts on the same file
   during the review is not seen; review a live file while its engine runs, not before.)

"Open by another connection" is decided by the lock every WAL connection holds on byte 128 of the
`-shm` file for as long as it is open. On Linux we read it from /proc/locks, which needs no file
descriptor: opening and closing one would release this process's own POSIX locks on that file
(tests run an engine and a review in one process). Elsewhere, F_GETLK on the `-shm`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import struct
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.history.db import HistoryDB
from engine.store import schema
from engine.store.errors import StoreError

SHM_DMS_BYTE = 128  # SQLite's "dead man switch" lock in the -shm file (os_unix.c UNIX_SHM_DMS)
MAGIC = {b"\x28\xb5\x2f\xfd": "zstd", b"\x1f\x8b": "gzip"}
TEMP_PREFIX = "opsconsole-review-"


class HistoryError(StoreError):
    """A history that cannot be reviewed; str() names the file and says why."""


@dataclass
class OpenedHistory:
    db: HistoryDB
    origin: Path  # the file the operator named
    how: str  # one line for the header/notice: how it was opened and why
    temp_dir: Path | None = None
    closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.db.close()
        finally:
            if self.temp_dir is not None:
                shutil.rmtree(self.temp_dir, ignore_errors=True)


def open_history(path: Path) -> OpenedHistory:
    """Open `path` for review (see the module docstring). HistoryError with a sentence if not."""
    path = Path(path).expanduser()
    if not path.exists():
        raise HistoryError(f"{path} does not exist")
    if path.is_dir():
        raise HistoryError(f"{path} is a directory: give the history file (e.g. {path / 'history.db'}) or a backup")
    try:
        method = compression_of(path)
    except OSError as exc:
        raise HistoryError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if method is not None:
        return _open_backup(path, method)
    wal = Path(f"{path}-wal")
    if in_use(path):
        return _connect(path, path, "live: another process is writing this file; read alongside it", immutable=False)
    if wal.exists() and wal.stat().st_size > 0:
        temp = _private_temp_dir()
        try:
            copy = temp / path.name
            shutil.copyfile(path, copy)
            shutil.copyfile(wal, Path(f"{copy}-wal"))
            return _connect(copy, path, "at rest with a WAL: read from a private copy of the file and its WAL",
                            immutable=False, temp_dir=temp)
        except BaseException as exc:
            shutil.rmtree(temp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise HistoryError(f"cannot copy {path} and its WAL to a private temp directory: {exc}") from exc
            raise
    return _connect(path, path, "read in place, read-only (immutable: nothing has it open, no WAL)", immutable=True)


def compression_of(path: Path) -> str | None:
    """zstd / gzip by the backup's name, else by the file's first bytes; None for a database."""
    from engine.backup.files import method_of  # the backup's own naming (engine/backup/files.py)

    named = method_of(path)
    if named is not None:
        return named
    with open(path, "rb") as f:
        head = f.read(4)
    return next((m for magic, m in MAGIC.items() if head.startswith(magic)), None)


def in_use(path: Path) -> bool:
    """True if some SQLite connection (any process, this one included on Linux) has `path` open
    in WAL mode right now."""
    shm = Path(f"{path}-shm")
    try:
        st = shm.stat()
    except FileNotFoundError:
        return False
    if sys.platform.startswith("linux") and os.path.exists("/proc/locks"):
        return _locked_in_proc(st)
    return _locked_by_fcntl(shm)


def _locked_in_proc(st: os.stat_result) -> bool:
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    with open("/proc/locks", encoding="ascii", errors="replace") as f:
        for line in f:
            parts = line.split()
            # "3: POSIX  ADVISORY  READ 895 fe:00:2147221 128 128" (blocked waiters start "->")
            if len(parts) < 8 or parts[1] == "->" or parts[5] != device:
                continue
            start, end = parts[6], parts[7]
            if int(start) <= SHM_DMS_BYTE and (end == "EOF" or int(end) >= SHM_DMS_BYTE):
                return True
    return False


def _locked_by_fcntl(shm: Path) -> bool:
    if sys.platform == "darwin" or "bsd" in sys.platform:
        layout, pack = "qqihh", lambda: (SHM_DMS_BYTE, 1, 0, fcntl.F_WRLCK, os.SEEK_SET)
        type_index = 3
    else:
        layout, pack = "hhqqi", lambda: (fcntl.F_WRLCK, os.SEEK_SET, SHM_DMS_BYTE, 1, 0)
        type_index = 0
    fd = os.open(shm, os.O_RDONLY)
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(layout, *pack()))
    finally:
        os.close(fd)
    return struct.unpack(layout, answer)[type_index] != fcntl.F_UNLCK


def _open_backup(path: Path, method: str) -> OpenedHistory:
    from engine.backup.compress import decompress, sha256_of
    from engine.backup.errors import BackupError
    from engine.backup.files import manifest_path
    from engine.backup.verify import read_manifest

    checked = ""
    manifest = manifest_path(path) if path.name.endswith((".db.zst", ".db.gz")) else None
    temp = _private_temp_dir()
    try:
        if manifest is not None and manifest.exists():
            expected = read_manifest(manifest)
            if sha256_of(path) != expected.sha256:
                raise HistoryError(f"{path} does not match its manifest {manifest.name} (SHA-256 differs): "
                                   "the backup is damaged or was replaced")
            checked = ", matches its manifest"
        copy = temp / (path.name.split(".")[0] + ".db")
        decompress(path, copy, method)
        return _connect(copy, path, f"{method} backup, decompressed to a private temp copy{checked}",
                        immutable=True, temp_dir=temp)
    except BackupError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise HistoryError(str(exc)) from exc
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _upgraded_copy(conn: sqlite3.Connection, origin: Path, version: int, temp_dir: Path | None
                   ) -> tuple[sqlite3.Connection, Path]:
    """An older file: review reads only the latest schema (event codes, ...), and never writes to
    what it reads, so the file is copied (SQLite's backup: the WAL's frames included) into a private
    temp directory and the copy migrated there, by the engine's own migrations."""
    temp = temp_dir if temp_dir is not None else _private_temp_dir()
    copy = temp / f"upgraded-v{version}.db"
    try:
        with sqlite3.connect(copy) as target:
            conn.backup(target)
        writer = schema.connect(copy)
        try:
            schema.migrate(writer, copy)
        finally:
            writer.close()
    except (sqlite3.Error, OSError) as exc:
        raise HistoryError(f"{origin} has schema version {version} and cannot be upgraded in a private copy "
                           f"in {temp} (for review; the file is not changed): {exc}") from exc
    finally:
        conn.close()
    uri = copy.resolve().as_uri() + "?mode=ro"
    upgraded = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    upgraded.execute("PRAGMA query_only = 1")
    return upgraded, temp


def _private_temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))  # mkdtemp creates it 0700


def _connect(
    path: Path, origin: Path, how: str, *, immutable: bool, temp_dir: Path | None = None
) -> OpenedHistory:
    uri = path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise HistoryError(f"cannot open {origin} for reading: {exc}") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA query_only = 1")  # belt and braces: this connection never writes
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            raise HistoryError(f"{origin} is empty: no history has been written there")
        if "meta" not in tables:
            raise HistoryError(f"{origin} is an SQLite database but not an opsconsole history (it has no meta table)")
        version = schema.read_version(conn, origin)
        if version > schema.latest_version():
            raise HistoryError(f"{origin} has schema version {version}; this opsconsole reads up to "
                               f"{schema.latest_version()}: review it with a newer opsconsole")
        if version < schema.latest_version():
            upgraded = (f"written with schema version {version}: read from a private copy upgraded to "
                        f"{schema.latest_version()} (the file itself is not changed)")
            how = upgraded if temp_dir is None else f"{how}; {upgraded}"
            conn, temp_dir = _upgraded_copy(conn, origin, version, temp_dir)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise HistoryError(f"{origin} is not an SQLite database ({exc})") from exc
    except StoreError as exc:
        conn.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise exc if isinstance(exc, HistoryError) else HistoryError(str(exc)) from exc
    except BaseException:
        conn.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return OpenedHistory(HistoryDB(conn, origin), origin, how, temp_dir)
