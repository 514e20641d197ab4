"""The console's terminal output survives the terminal hanging up (console/driver.py).

Real pseudo-terminal: once its master side is closed, writes to the slave fail with EIO, as they do
for a dropped SSH session. Textual's writer thread must keep draining its bounded queue, or the UI
thread blocks for ever on its next write or on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import queue
import signal
import threading
import tty
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from textual import events
from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread
from textual.message import Message

from console.driver import HangupSafeLinuxDriver, TerminalOutput


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


# The input thread (HangupSafeLinuxDriver.run_input_thread) on a real pseudo-terminal: keys arrive,
# a lone Escape still times out into a key, the thread stops when told, and while nobody types it
# sleeps instead of waking ten times a second as Textual's loop does.


class _RecordingDriver(HangupSafeLinuxDriver):
    """The real driver; what it would post to the app is kept here instead."""

    def __init__(self, fileno: int) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # the app is only reached through process_message
        self.fileno = fileno
        self.got: queue.Queue[Message] = queue.Queue()

    def process_message(self, message: Message) -> None:
        self.got.put(message)

    def next_key(self, timeout: float = 5) -> str:
        while True:
            message = self.got.get(timeout=timeout)
            if isinstance(message, events.Key):
                return message.key


def _wakeups(thread: threading.Thread) -> int:
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("voluntary_ctxt_switches")))


@contextlib.asynccontextmanager
async def _input_thread(fileno: int) -> AsyncIterator[tuple[_RecordingDriver, threading.Thread]]:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGCONT)}
    driver = _RecordingDriver(fileno)  # Textual's driver wants a running loop, and sets these two
    thread = threading.Thread(target=driver.run_input_thread, name="input", daemon=True)
    thread.start()
    try:
        yield driver, thread
    finally:
        _stopped(driver, thread)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _raw_pty() -> Iterator[tuple[int, int]]:
    master, slave = pty.openpty()
    tty.setraw(slave)  # as Textual's start_application_mode leaves the terminal: bytes, not lines
    try:
        yield master, slave
    finally:
        os.close(master)
        os.close(slave)


def _stopped(driver: _RecordingDriver, thread: threading.Thread) -> bool:
    """Tell the input thread to stop, as Textual's disable_input does; whether it did."""
    driver.exit_event.set()
    thread.join(5)
    return not thread.is_alive()


async def test_keys_arrive_and_a_lone_escape_still_times_out_into_a_key() -> None:
    with _raw_pty() as (master, slave):
        async with _input_thread(slave) as (driver, thread):
            os.write(master, b"a")
            assert driver.next_key() == "a"
            os.write(master, b"\x1b[A")
            assert driver.next_key() == "up"
            os.write(master, b"\x1b")  # Escape alone: only the parser's timeout makes it a key
            assert driver.next_key() == "escape"
            assert _stopped(driver, thread), "the input thread did not stop when told"


async def test_input_still_arrives_and_stops_after_a_suspend_and_resume() -> None:
    # Ctrl+Z: Textual stops the input thread, calls the driver's close(), clears the event, and on
    # fg starts a new input thread on the same driver; the stop must still wake it.
    with _raw_pty() as (master, slave):
        async with _input_thread(slave) as (driver, thread):
            _stopped(driver, thread)  # as Ctrl+Z does
            driver.close()
            driver.exit_event.clear()
            resumed = threading.Thread(target=driver.run_input_thread, name="input", daemon=True)
            resumed.start()
            os.write(master, b"k")
            assert driver.next_key() == "k"
            assert _stopped(driver, resumed), "the resumed input thread did not stop when told"


async def test_the_input_thread_sleeps_while_nobody_types() -> None:
    with _raw_pty() as (master, slave):
        async with _input_thread(slave) as (driver, thread):
            os.write(master, b"x")
            assert driver.next_key() == "x"
            await asyncio.sleep(1.0)  # past the short polling that follows input
            before = _wakeups(thread)
            await asyncio.sleep(2.0)
            assert _wakeups(thread) - before <= 2, "Textual's loop wakes 20 times in 2 s; this one should sleep"
            os.write(master, b"y")  # and it still wakes for a key
            assert driver.next_key() == "y"


async def test_input_that_ends_is_not_read_in_a_busy_loop() -> None:
    read, write = os.pipe()
    try:
        async with _input_thread(read) as (driver, thread):
            os.write(write, b"z")
            assert driver.next_key() == "z"
            os.close(write)  # stdin was a pipe and it ended: readable for ever from here on
            write = -1
            await asyncio.sleep(1.0)
            before = _wakeups(thread)
            await asyncio.sleep(1.0)
            assert _wakeups(thread) - before <= 2
            assert thread.is_alive(), "the end of input is not a reason to stop; the driver says when"
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)
