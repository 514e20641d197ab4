"""Where an engine's control socket lives, and making sure nobody else can reach it.

One socket per history database: `$XDG_RUNTIME_DIR/opsconsole/<hash>.sock`, the hash taken from
the database's real path, so `opsconsole attach --config X` finds the engine that writes X's
history. Without a usable $XDG_RUNTIME_DIR (a system service, `su`, a path too long for a Unix
socket's 107 bytes) it is `/tmp/opsconsole-<uid>/<hash>.sock`. A client tries both, so an engine
started by systemd without a runtime dir is found from an SSH session that has one.

Both directories are 0700 and must belong to us: the socket itself is chmod-ed 0600 right after
bind (we do not touch the process-wide umask: the engine is multi-threaded), and the private
directory is what closes the short window before that chmod. The server also checks every
peer's uid (server.py), so the socket's mode is not the only guard.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

SOCKET_DIR_NAME = "opsconsole"
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes on Linux, including the terminating NUL
DIR_MODE = 0o700


class ControlPathError(Exception):
    """The socket's directory cannot be used safely; str() says which and why."""


def db_key(db_path: Path) -> str:
    """16 hex digits naming a history database: the same for every way of writing its path."""
    real = os.path.realpath(os.path.expanduser(str(db_path)))
    return hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def runtime_dir() -> Path | None:
    """$XDG_RUNTIME_DIR/opsconsole, or None without a usable $XDG_RUNTIME_DIR."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if not runtime or not os.path.isabs(runtime) or not os.path.isdir(runtime):
        return None
    return Path(runtime) / SOCKET_DIR_NAME


def fallback_dir() -> Path:
    return Path("/tmp") / f"opsconsole-{os.getuid()}"


def socket_dirs() -> list[Path]:
    """Every directory where this user's engines may listen, in the order clients look."""
    return list(dict.fromkeys(d for d in (runtime_dir(), fallback_dir()) if d is not None))


def runtime_socket(db_path: Path) -> Path | None:
    """The socket under $XDG_RUNTIME_DIR, or None if there is none usable."""
    directory = runtime_dir()
    if directory is None:
        return None
    path = directory / f"{db_key(db_path)}.sock"
    return path if len(os.fsencode(path)) <= MAX_SOCKET_PATH else None


def fallback_socket(db_path: Path) -> Path:
    return fallback_dir() / f"{db_key(db_path)}.sock"


def socket_path(db_path: Path) -> Path:
    """Where an engine on `db_path` listens."""
    return runtime_socket(db_path) or fallback_socket(db_path)


def socket_candidates(db_path: Path) -> list[Path]:
    """Where a client looks, in order (see the module docstring)."""
    found = [p for p in (runtime_socket(db_path), fallback_socket(db_path)) if p is not None]
    return list(dict.fromkeys(found))


def private_dir(directory: Path) -> None:
    """Create `directory` 0700, or check that an existing one is ours and private (tightening it
    if it is ours but wider). ControlPathError if it is not ours, or not a directory."""
    try:
        os.mkdir(directory, DIR_MODE)
        os.chmod(directory, DIR_MODE)  # mkdir's mode is masked by the umask; chmod is not
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise ControlPathError(f"cannot create {directory}: {exc.strerror or exc}") from exc
    info = os.lstat(directory)  # lstat: a symlink planted in /tmp must not redirect us
    if not stat.S_ISDIR(info.st_mode):
        raise ControlPathError(f"{directory} exists and is not a directory: remove it")
    if info.st_uid != os.getuid():
        raise ControlPathError(
            f"{directory} belongs to uid {info.st_uid}, not to you (uid {os.getuid()}): "
            "refusing to put the control socket there"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(directory, DIR_MODE)
