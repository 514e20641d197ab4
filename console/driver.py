"""Textual's Linux driver, made safe for a terminal that disappears (a dropped SSH session).

Textual writes the screen through a writer thread fed by a queue of at most 30 writes. When the
pseudo-terminal is hung up, the thread's next write raises EIO and the thread dies; the queue then
fills, and the UI thread blocks for ever on its next write or in `driver.close()` on the way out.
(Found by the hang-up drill: the process only left through the 1.5 s exit watchdog.)

Here the writer thread writes to `TerminalOutput`, which drops output once the terminal has gone
and logs that once, so the thread drains its queue and the exit path never waits on it.

The same file sends each frame through `ScreenDiff` (console/screendiff.py): only the cells that
changed reach the terminal (~2,000 -> ~560 B/s on the demo config at 120x40). That runs in the
writer thread, off the UI loop; on a file that is not a terminal every frame goes through as is.
"""

from __future__ import annotations

import logging
import os
from typing import IO

from textual.drivers.linux_driver import LinuxDriver

from console.screendiff import ScreenDiff

log = logging.getLogger(__name__)


class TerminalOutput:
    """The terminal's file, for Textual's writer thread: after the first OSError on write or
    flush (EIO, EPIPE: the terminal is gone), everything written is dropped."""

    def __init__(self, file: IO[str], *, changed_cells_only: bool = True) -> None:
        self._file = file
        self.gone: OSError | None = None
        self.diff = ScreenDiff(self._terminal_size) if changed_cells_only else None

    def write(self, text: str) -> int:
        if self.gone is None:
            try:
                return self._file.write(text if self.diff is None else self.diff.feed(text))
            except OSError as exc:
                self._lost(exc)
        return len(text)

    def flush(self) -> None:
        if self.gone is None:
            try:
                self._file.flush()
            except OSError as exc:
                self._lost(exc)

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return self._file.isatty()

    def _terminal_size(self) -> tuple[int, int]:
        try:
            return tuple(os.get_terminal_size(self._file.fileno()))  # type: ignore[return-value]
        except OSError:  # not a terminal any more: ScreenDiff forgets its screen each frame
            return (0, 0)

    def _lost(self, exc: OSError) -> None:
        self.gone = exc
        log.info("the terminal is gone (%s): screen output is dropped from here on", exc.strerror or exc)


class HangupSafeLinuxDriver(LinuxDriver):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._file = TerminalOutput(self._file)  # type: ignore[assignment]
