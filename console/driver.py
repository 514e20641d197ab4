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

Textual's input thread wakes every 0.1 s to ask whether it should stop and to time out a lone
Escape. Ten wake-ups a second in a process whose other threads hold the GIL cost ~0.2% of a core
(/proc's per-thread CPU, bench/tui_cost.py --real) while nobody types. Here it blocks until a key
arrives or the driver stops (a wake pipe), and polls at 0.1 s only in the moments after input, when
the parser may be holding an Escape that needs its timeout.
"""

from __future__ import annotations

import logging
import os
import selectors
import threading
import time
from codecs import getincrementaldecoder
from typing import IO

from textual import constants
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
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


# After input, the parser may hold a partial sequence (a lone Escape) that only its timeout ends
# ($ESCDELAY, 0.1 s by default). Poll at TICK for a while after the last byte, then block.
TICK = 0.1
AFTER_INPUT = max(0.5, 3 * constants.ESCAPE_DELAY)


class WakingEvent(threading.Event):
    """An Event whose set() also wakes a select() on the pipe `open()` returns: the input thread's stop.

    The pipe lives as long as one input thread: Textual's suspend (Ctrl+Z) calls the driver's
    close() and later starts a new input thread on the same driver and the same event.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()  # set() from the UI thread never writes to a closed pipe
        self._pipe: tuple[int, int] | None = None

    def open(self) -> int:
        """A new wake pipe for the calling input thread; returns the end to select() on."""
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        with self._lock:
            self._close_pipe()
            self._pipe = (read, write)
        return read

    def set(self) -> None:
        super().set()
        with self._lock:
            if self._pipe is not None:
                try:
                    os.write(self._pipe[1], b"x")
                except BlockingIOError:  # the pipe is full of wake-ups already: one is enough
                    pass

    def drain(self) -> None:
        with self._lock:
            if self._pipe is None:
                return
            try:
                while os.read(self._pipe[0], 512):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        with self._lock:
            self._close_pipe()

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None


class HangupSafeLinuxDriver(LinuxDriver):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._file = TerminalOutput(self._file)  # type: ignore[assignment]
        self.exit_event: WakingEvent = WakingEvent()

    def run_input_thread(self) -> None:
        """Textual's input loop (LinuxDriver.run_input_thread), blocking while nothing is typed."""
        stop = self.exit_event
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(stop.open(), selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        last_input = float("-inf")

        def feed(data: str) -> None:
            for event in parser.feed(data):
                self.process_message(event)

        def tick() -> None:
            for event in parser.tick():
                self.process_message(event)

        try:
            while not stop.is_set():
                recent = time.monotonic() - last_input < AFTER_INPUT
                for key, _mask in selector.select(TICK if recent else None):
                    if key.fd == self.fileno:
                        data = decode(os.read(self.fileno, 4096))
                        if data:
                            last_input = time.monotonic()
                            feed(data)
                        else:  # end of input (stdin was a pipe): readable for ever, so stop asking
                            selector.unregister(self.fileno)
                    else:
                        stop.drain()
                tick()
            feed(decode(b"", final=True))
            tick()
        finally:
            selector.close()
            stop.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
