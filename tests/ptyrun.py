"""Run a command in a real pseudo-terminal, read its screen text, signal it: what sshd would do.

Used by tests that must see opsconsole as an operator over SSH does (start-up, hang-up).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
from collections.abc import Sequence

ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][0-~]|\x1b[=>78]")


class PtyProcess:
    def __init__(self, argv: Sequence[str], *, cols: int = 120, rows: int = 40, env: dict[str, str] | None = None):
        pid, fd = pty.fork()
        if pid == 0:  # child: becomes session leader with the pty as its controlling terminal
            try:
                os.execvpe(argv[0], list(argv), env if env is not None else dict(os.environ))
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.cols, self.rows = cols, rows
        self.output = bytearray()
        self.returncode: int | None = None
        self._screen: tuple[int, str] = (-1, "")  # (output length it was built from, its rows)

    def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self._read_once(min(0.05, max(0.0, deadline - time.monotonic()))):
                if self.poll() is not None:
                    return

    def _read_once(self, timeout: float) -> bool:
        if self.fd < 0:
            time.sleep(timeout)
            return False
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child side closed
            return False
        self.output.extend(chunk)
        return bool(chunk)

    def text(self) -> str:
        return ANSI.sub(b"", bytes(self.output)).decode("utf-8", "replace")

    def screen(self) -> str:
        """The screen a terminal shows now, rows joined by newlines. The console sends only the
        cells that change (console/screendiff.py): a clock going 14:13:19 -> 14:13:20 is the one
        byte "0" in the stream, so text() alone cannot find it."""
        if self._screen[0] != len(self.output):
            from tests.termscreen import TermScreen

            term = TermScreen(self.cols, self.rows)
            try:
                term.feed(bytes(self.output).decode("utf-8", "replace"))
            except IndexError:  # drawn past the edge (a resize, a shell's line): what was placed stands
                pass
            self._screen = (len(self.output), "\n".join(term.text()))
        return self._screen[1]

    def wait_for_text(self, needle: str, timeout: float) -> float:
        """Seconds until `needle` appeared on screen; AssertionError with the screen if it never did."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if needle in self.text() or needle in self.screen():
                return time.monotonic() - start
            self._read_once(0.05)
            if self.poll() is not None:
                break
        raise AssertionError(f"{needle!r} not on screen after {timeout}s; exit={self.returncode}\n{self.screen()}")

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def close_terminal(self) -> None:
        """What a dropped SSH link does: the master side goes away (the kernel sends SIGHUP)."""
        os.close(self.fd)
        self.fd = -1

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int | None:
        """Exit code, or None if still running after `timeout` (draining the terminal meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.poll() is not None:
                return self.returncode
            self._read_once(0.02)
        return self.poll()

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def opsconsole_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "console", *args]
