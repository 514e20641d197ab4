"""Whether a control socket can be trusted, checked before anything is sent to it or bound in it.

A socket path says nothing about who listens there: in a shared directory (/tmp) another local
user can make `opsconsole-<uid>/` first and listen under the engine's name, and a client that just
connects would hand its verb and reason to that user and print whatever it answers. So, on both
sides (engine/control/client.py, server.py, discover.py):

- a directory of our own (`$XDG_RUNTIME_DIR/opsconsole`, `/tmp/opsconsole-<uid>`) must be a real
  directory (lstat: not a symlink), owned by us, mode 0700, in a parent that nobody else can
  rename it out of (owned by us or root, and not writable by others unless sticky, like /tmp);
- the history's own directory (the socket beside the history, paths.py) must be ours and not
  writable by group or others;
- the process listening must run as our uid (SO_PEERCRED, from the kernel), checked right after
  connect and before the first byte is written.

Each check answers with a sentence naming the path, the owner found and what to do, or None.
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
import struct
from pathlib import Path

DIR_MODE = 0o700


class ControlPathError(Exception):
    """The socket's directory cannot be used safely; str() says which, why and what to do."""


def who(uid: int) -> str:
    """"uid 65534 (nobody)": the number the kernel reports, and the name an operator knows."""
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:  # no passwd entry (containers)
        return f"uid {uid}"


def private_dir_problem(directory: Path) -> str | None:
    """Why `directory` is not a private directory of ours (None: it is). FileNotFoundError if it
    does not exist."""
    info = os.lstat(directory)  # lstat: a symlink planted in /tmp must not redirect us
    me = os.getuid()
    if stat.S_ISLNK(info.st_mode):
        return (f"{directory} is a symbolic link (to {os.readlink(directory)}, made by {who(info.st_uid)}), not a "
                f"directory opsconsole made: remove it (rm {directory}) and start the engine again")
    if not stat.S_ISDIR(info.st_mode):
        return (f"{directory} is not a directory (it belongs to {who(info.st_uid)}): remove it and start the "
                "engine again")
    if info.st_uid != me:
        return (f"{directory} belongs to {who(info.st_uid)}, not to you ({who(me)}): another user made it first "
                f"and may be listening in your engine's place; have it removed (as root: rm -r {directory}) or "
                "give the engine and this shell an $XDG_RUNTIME_DIR, then start the engine again")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        could = "write to" if mode & 0o022 else "look into"
        return (f"{directory} is yours but has mode {mode:04o}, not 0700: other users can {could} it; if nobody "
                f"else put anything there, chmod 700 {directory}, then start the engine again")
    return _parent_problem(directory)


def _parent_problem(directory: Path) -> str | None:
    """Another user able to rename entries of the parent could swap our directory for theirs."""
    parent = directory.parent
    info = os.stat(parent)
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid in (os.getuid(), 0) and (not mode & 0o022 or mode & stat.S_ISVTX):
        return None
    return (f"{directory} is in {parent}, which belongs to {who(info.st_uid)} with mode {mode:04o}: another user "
            f"could replace {directory.name} there; use a directory only you (or root, with the sticky bit) can "
            "write, e.g. an $XDG_RUNTIME_DIR")


def history_dir_problem(directory: Path) -> str | None:
    """Why the history's directory cannot hold the socket (None: it can). FileNotFoundError if it
    does not exist. Looser than a private dir: a history dir may be readable by others, but
    nobody else may create or rename entries in it."""
    info = os.lstat(directory)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return f"{directory} is not a plain directory"
    if info.st_uid != os.getuid():
        return f"{directory} belongs to {who(info.st_uid)}, not to you"
    if stat.S_IMODE(info.st_mode) & 0o022:
        return f"{directory} is writable by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def peer_uid_pid(sock: socket.socket) -> tuple[int, int]:
    """(uid, pid) of the process at the other end of a Unix socket, from the kernel."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    return uid, pid


def peer_problem(sock: socket.socket, path: Path) -> str | None:
    """Why the process listening on `path` (connected as `sock`) is not our engine (None: it may be)."""
    uid, pid = peer_uid_pid(sock)
    if uid == os.getuid():
        return None
    return (f"the process listening on {path} (pid {pid}) runs as {who(uid)}, not as you ({who(os.getuid())}): "
            f"it is not your engine; have it stopped and {path} removed (as root), then start the engine again")
