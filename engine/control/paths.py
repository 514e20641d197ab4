"""Where an engine's control socket lives, in the order the engine chooses and clients look.

One socket per history database. The places, first usable one wins:

1. `$XDG_RUNTIME_DIR/opsconsole/<hash>.sock` (a login session, a user service): the hash is taken
   from the database's real path, so `opsconsole attach --config X` finds the engine writing X's
   history;
2. beside the history, `<history>.sock` (e.g. `history.db.sock`), when there is no runtime dir
   (`su`, cron, a system service), the history's directory is ours and nobody else can write it,
   and the path fits a Unix socket's 107 bytes. Nobody else can create that name, so no other
   user can squat it the way they can squat a name in /tmp;
3. `/tmp/opsconsole-<uid>/<hash>.sock`, the last resort (a history path too long, or in a shared
   directory). Another user can create that directory first: then both sides refuse it, loudly
   (trust.py), and never talk through it.

A client tries every place, so an engine started by systemd without a runtime dir is found from an
SSH session that has one. Discovery with no config (discover.py) lists the runtime dir, the
default history's directory and /tmp's; an engine beside a history elsewhere is named with
--history or --config (docs/headless.md says why).

Our own directories are 0700 and must belong to us: the socket itself is chmod-ed 0600 right
after bind (we do not touch the process-wide umask: the engine is multi-threaded), and the private
directory is what closes the short window before that chmod. The server also checks every peer's
uid (server.py), and every client the listener's (client.py), so file modes are not the only guard.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from engine.control.trust import (
    DIR_MODE,
    ControlPathError,
    history_dir_problem,
    private_dir_problem,
)
from engine.statedir import state_dir

__all__ = ["ControlPathError", "Place", "db_key", "engine_socket", "places", "socket_candidates",
           "socket_dirs", "socket_path"]

SOCKET_DIR_NAME = "opsconsole"
SUFFIX = ".sock"
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes on Linux, including the terminating NUL
KEY_SOCKET_NAME_LEN = 16 + len(SUFFIX)


@dataclass(frozen=True)
class Place:
    path: Path  # the socket
    own_dir: bool  # in a directory of ours (0700, trust.private_dir_problem), not the history's


def db_key(db_path: Path) -> str:
    """16 hex digits naming a history database: the same for every way of writing its path."""
    real = os.path.realpath(os.path.expanduser(str(db_path)))
    return hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH


def runtime_dir() -> Path | None:
    """$XDG_RUNTIME_DIR/opsconsole, or None without a usable $XDG_RUNTIME_DIR."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if not runtime or not os.path.isabs(runtime) or not os.path.isdir(runtime):
        return None
    directory = Path(runtime) / SOCKET_DIR_NAME
    return directory if len(os.fsencode(directory)) + 1 + KEY_SOCKET_NAME_LEN <= MAX_SOCKET_PATH else None


def fallback_dir() -> Path:
    return Path("/tmp") / f"opsconsole-{os.getuid()}"


def beside_history(db_path: Path) -> Path:
    """`<history>.sock` next to the history's real path (what db_key hashes)."""
    real = Path(os.path.realpath(os.path.expanduser(str(db_path))))
    return real.with_name(real.name + SUFFIX)


def default_history_dir() -> Path:
    """Where the default history lives (engine/statedir.py), symlinks resolved."""
    return Path(os.path.realpath(state_dir()))


def places(db_path: Path) -> list[Place]:
    """Every place an engine on `db_path` may listen, in order (module docstring)."""
    key = db_key(db_path)
    found: list[Place] = []
    runtime = runtime_dir()
    if runtime is not None:
        found.append(Place(runtime / f"{key}{SUFFIX}", True))
    else:
        beside = beside_history(db_path)
        if _fits(beside):
            found.append(Place(beside, False))
    found.append(Place(fallback_dir() / f"{key}{SUFFIX}", True))
    return found


def socket_candidates(db_path: Path) -> list[Path]:
    """Every path where a client looks for the engine on `db_path`, in order."""
    paths = [p.path for p in places(db_path)]
    if runtime_dir() is not None:  # an engine without a runtime dir (systemd) listens beside the history
        beside = beside_history(db_path)
        if _fits(beside):
            paths.insert(1, beside)
    return list(dict.fromkeys(paths))


def client_places(db_path: Path) -> list[Place]:
    """socket_candidates with how each one's directory is checked."""
    own = {p.path for p in places(db_path) if p.own_dir}
    return [Place(path, path in own) for path in socket_candidates(db_path)]


def socket_dirs() -> list[tuple[Path, bool]]:
    """Where discovery looks for this user's engines, in order: (directory, own_dir)."""
    dirs = [(d, True) for d in (runtime_dir(),) if d is not None]
    dirs += [(default_history_dir(), False), (fallback_dir(), True)]
    return list(dict.fromkeys(dirs))


def socket_path(db_path: Path) -> Path:
    """Where an engine on `db_path` would listen now, without creating or checking anything."""
    return engine_socket(db_path, create=False, check=False)


def engine_socket(db_path: Path, *, create: bool = True, check: bool = True) -> Path:
    """The socket an engine on `db_path` listens on. With `create`, makes our own directory (0700)
    when missing. ControlPathError if the place to use is not safe: it is never skipped for the
    next one, so a squatted directory is reported rather than worked around unnoticed. A history
    directory that is missing counts as usable (the store creates it 0700 before the server binds)."""
    for place in places(db_path):
        directory = place.path.parent
        if place.own_dir:
            if check:
                _private_dir(directory, create)
            return place.path
        if _history_dir_usable(directory, missing_ok=not (create and check)):
            return place.path
    raise AssertionError("unreachable: the last place is always our own /tmp directory")


def _history_dir_usable(directory: Path, *, missing_ok: bool) -> bool:
    try:
        return history_dir_problem(directory) is None
    except FileNotFoundError:
        return missing_ok
    except OSError:
        return False


def _private_dir(directory: Path, create: bool) -> None:
    """Create `directory` 0700 (with `create`), then check it is ours alone (trust.py)."""
    if create:
        try:
            os.mkdir(directory, DIR_MODE)
            os.chmod(directory, DIR_MODE)  # mkdir's mode is masked by the umask; chmod's is not
        except FileExistsError:
            pass  # checked below, never "fixed": a directory we did not just make is not ours to trust
        except OSError as exc:
            raise ControlPathError(f"cannot create {directory}: {exc.strerror or exc}") from exc
    try:
        problem = private_dir_problem(directory)
    except FileNotFoundError:
        if create:
            raise ControlPathError(f"{directory} vanished while it was being created: start the engine again") from None
        return
    except OSError as exc:
        raise ControlPathError(f"cannot check {directory}: {exc.strerror or exc}") from exc
    if problem is not None:
        raise ControlPathError(problem)
