"""One writer per history database: an flock on `<db>.lock`, held by the process running the engine.

Two engines writing one history would interleave rollouts and double-count samples, and two
canaries would fight over the same traffic weights. So whichever process runs the engine (the
console, or `opsconsole --headless`) holds an exclusive lock for as long as the engine runs; a
second engine on the same database refuses to start and says who owns it:

    a headless opsconsole (pid 4242) owns history.db — use `opsconsole attach`

flock rather than fcntl record locks: an flock belongs to the open file, so a second engine in
the same process (tests, an in-process restart) conflicts too, and the kernel drops it when the
process dies however it dies, so a crash never leaves a stale lock behind. The file keeps the
owner's pid and mode (written after locking) for that message; it is never deleted (deleting a
lock file while another process waits on it would let two processes "hold" it).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from pathlib import Path

from engine.store import paths
from engine.store.errors import StoreError

LOCK_SUFFIX = ".lock"
HEADLESS, CONSOLE = "headless", "console"


class EngineLockedError(Exception):
    """Another engine owns the database; str() is the sentence for the operator."""

    def __init__(self, message: str, owner_pid: int | None) -> None:
        super().__init__(message)
        self.owner_pid = owner_pid


def lock_path(db_path: Path) -> Path:
    return Path(str(db_path) + LOCK_SUFFIX)


class EngineLock:
    """Held from `acquire` to `release` (or the process's end)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, db_path: Path, mode: str) -> EngineLock:
        """Lock `db_path` for this process's engine; EngineLockedError if another engine has it.

        `mode` (headless / console) is recorded for the other side's message. Raises the store's
        StoreError for a database path that cannot be used at all (a directory, no permission)."""
        db_path = Path(db_path).expanduser()
        _make_parent(db_path)
        path = lock_path(db_path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open the lock file {path}: {exc.strerror or exc}") from exc
        try:
            os.fchmod(fd, 0o600)  # a file an older version or a `cp` left wider
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise _locked_error(db_path, path) from None
            raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from exc
        owner = json.dumps({"pid": os.getpid(), "mode": mode, "since": time.time()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, owner.encode() + b"\n", 0)
        return cls(path, fd)

    def release(self) -> None:
        """Unlock (the file stays: see the module docstring). Safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock

    @property
    def held(self) -> bool:
        return self._fd is not None


def read_owner(db_path: Path) -> dict[str, object]:
    """What the lock file says about its owner ({} if unreadable or not yet written)."""
    try:
        data = json.loads(lock_path(Path(db_path).expanduser()).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _locked_error(db_path: Path, path: Path) -> EngineLockedError:
    owner = read_owner(db_path)
    given = owner.get("pid")
    pid = given if isinstance(given, int) else None
    who = f"pid {pid}" if pid is not None else "pid unknown"
    if owner.get("mode") == HEADLESS:
        text = f"a headless opsconsole ({who}) owns {db_path.name} — use `opsconsole attach`"
    else:
        text = (f"another opsconsole ({who}) owns {db_path.name} — quit that console, "
                "or use `opsconsole attach` to share its engine")
    return EngineLockedError(f"{text} (lock: {path})", pid)


def _make_parent(db_path: Path) -> None:
    """The lock sits next to the database: let the store create its private directories (and
    refuse a path it could not use), but leave creating the database itself to the store, which
    removes a file it created if the first open fails."""
    if db_path.parent.is_dir():
        return
    if paths.prepare(db_path):
        db_path.unlink()
