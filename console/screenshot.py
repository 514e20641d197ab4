"""The command palette's "Screenshot": the screen as SVG in a file only its user can read.

Textual's own delivery saves to the downloads directory (often missing on a server, so it
failed) with the umask's mode; a screen may show hostnames, targets and reasons, so ours goes to
$XDG_STATE_HOME/opsconsole/screenshots (0700), each file 0600, never overwriting one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine.config.schema import default_state_dir
from engine.privatefs import make_missing_dirs


def screenshot_dir() -> Path:
    return default_state_dir() / "screenshots"


def save_private(svg: str, directory: Path | None = None, now: float | None = None) -> Path:
    """Write `svg` to a new 0600 file in `directory` (created 0700) and return its path."""
    directory = directory or screenshot_dir()
    make_missing_dirs(directory)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    for n in range(1000):
        path = directory / (f"opsconsole-{stamp}.svg" if n == 0 else f"opsconsole-{stamp}-{n}.svg")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue  # two in the same second: the next name
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(svg)
        return path
    raise OSError(f"{directory}: 1000 screenshots named opsconsole-{stamp}*.svg already; remove some")
