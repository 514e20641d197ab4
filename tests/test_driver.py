"""The console's terminal output survives the terminal hanging up (console/driver.py).

Real pseudo-terminal: once its master side is closed, writes to the slave fail with EIO, as they do
for a dropped SSH session. Textual's writer thread must keep draining its bounded queue, or the UI
thread blocks for ever on its next write or on the way out."""

from __future__ import annotations

import contextlib
import os
import pty
import threading

from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread

from console.driver import TerminalOutput


def test_writer_thread_keeps_draining_after_the_terminal_hangs_up() -> None:
    master, slave = pty.openpty()
    terminal = open(slave, "w", encoding="utf-8", closefd=True)
    output = TerminalOutput(terminal)
    writer = WriterThread(output)  # type: ignore[arg-type]
    writer.start()
    try:
        writer.write("before the hang-up\n")
        os.close(master)  # the SSH session drops
        done = threading.Event()

        def ui_thread() -> None:
            for frame in range(MAX_QUEUED_WRITES * 4):  # more than the queue holds
                writer.write(f"frame {frame}\n" * 50)
            writer.stop()  # what Textual's driver.close() does on the way out
            done.set()

        threading.Thread(target=ui_thread, daemon=True).start()
        assert done.wait(5), "the UI thread blocked on a dead terminal"
        assert isinstance(output.gone, OSError), "the lost terminal was not noticed"
        assert not writer.is_alive()
    finally:
        # Closing flushes what the buffer still holds into the dead terminal: EIO, as expected.
        with contextlib.suppress(OSError):
            terminal.close()


def test_output_reaches_a_live_terminal() -> None:
    master, slave = pty.openpty()
    with open(slave, "w", encoding="utf-8") as terminal:
        output = TerminalOutput(terminal)
        output.write("hello")
        output.flush()
        assert os.read(master, 100) == b"hello"
        assert output.gone is None
    os.close(master)
