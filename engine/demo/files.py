"""Private files for the demo: directories 0700, files 0600, and atomic writes.

The demo writes an access log and inbox files under the operator's state directory; other users on
the host have no business reading them, so modes are set explicitly instead of trusting the umask.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from engine.privatefs import DIR_MODE, make_missing_dirs

FILE_MODE = 0o600


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing leaf is tightened to 0700 (the
    demo's own directory, never a shared one)."""
    make_missing_dirs(path)
    os.chmod(path, DIR_MODE)
    return path


def open_private_append(path: Path) -> BinaryIO:
    """Open `path` for appending, created 0600 (an existing file is tightened to 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise


def write_atomic(directory: Path, name: str, data: bytes) -> Path:
    """Write `data` to `directory/name` so readers see either nothing or the whole file.

    The temporary name starts with "." and ends with ".tmp", so a watcher matching "*.json" never
    picks it up; os.replace within one directory is atomic. No fsync: this is demo data, and the
    rename alone gives readers the all-or-nothing view they need.
    """
    final = directory / name
    temp = directory / f".{name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return final
