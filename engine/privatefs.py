"""Directories the tool creates are private to its user (0700), whatever the umask.

`Path.mkdir(parents=True, mode=0o700)` is not enough: pathlib creates the *parents* with the
default 0777, so under `umask 000` a fresh $XDG_STATE_HOME came out world-writable. Every part
that creates directories goes through make_missing_dirs instead.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700


def make_missing_dirs(directory: Path) -> None:
    """Create `directory` and each missing parent as 0700. Directories that already exist are
    left as they are (the user may have chosen a shared parent). Raises OSError with the path."""
    missing: list[Path] = []
    probe = directory
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for each in reversed(missing):
        try:
            each.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # created in between by another part or process: not ours to chmod
        os.chmod(each, DIR_MODE)  # mkdir's mode is masked by the umask; chmod's is not
