"""AttachSource: the SnapshotSource of `opsconsole attach`, a console on an engine that runs in
another process on this host (normally `opsconsole --headless`), reached through its control
socket (engine/control/).

- `snapshot()` never blocks: it returns the snapshot a background thread fetched last. The thread
  polls at the console's refresh period, so the UI thread never waits on the socket.
- `submit()` sends the command from a small worker pool and returns a Future; the engine runs it
  (serialized with every other console's) and audits it with this user, SSH_CLIENT address and
  origin "attach". The new state is fetched before the Future resolves, so the console shows the
  command's effect at once.
- The header names the config "<name> · attached". When the engine goes away, the panels keep
  the last data, the header says "ENGINE NOT REACHABLE", the notice "engine not reachable:
  <reason>", and the thread keeps trying (backing off to 5 s) until it is
  back. Commands sent meanwhile are refused with that reason, never left hanging.
- Closing it (quit, a dropped SSH session) only closes the socket: the engine, and any rollout,
  carries on untouched.

Textual is not imported here: this is engine-side plumbing living with the console that uses it.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
import time
from pathlib import Path

from engine.commands import Command, CommandResult
from engine.control.client import ControlClient, ControlRefused, ControlUnavailable
from engine.snapshot import EngineState, Snapshot, SourceMode

log = logging.getLogger("opsconsole.attach")

ORIGIN = "attach"
MAX_RETRY_WAIT = 5.0  # seconds between attempts while the engine is unreachable
COMMAND_WORKERS = 4  # the engine serializes; this only keeps one slow command from queueing the next


class AttachSource:
    mode = SourceMode.ATTACH

    def __init__(self, db_path: Path, *, refresh: float = 1.0) -> None:
        self.db_path = Path(db_path)
        self.refresh = refresh
        self.unreachable: str | None = None  # why the engine cannot be reached, while it cannot
        self._last: Snapshot | None = None  # the engine's own, as received
        self._view = self._placeholder("connecting to the engine…")
        self._poll_client = ControlClient(self.db_path)
        self._lock = threading.Lock()  # orders snapshot updates from the poller and command workers
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._commands = concurrent.futures.ThreadPoolExecutor(COMMAND_WORKERS, thread_name_prefix="attach-command")
        self._thread = threading.Thread(target=self._poll_forever, name="attach-poller", daemon=True)

    # ------------------------------------------------------------------------ SnapshotSource
    def start(self) -> None:
        """Fetch once (so the first screen has data, or the reason there is none), then poll."""
        self._poll_once()
        self._thread.start()

    def snapshot(self) -> Snapshot:
        return self._view

    @property
    def history_path(self) -> Path:
        """The engine's history file (the socket lives beside or is named after it)."""
        return self.db_path

    def submit(self, command: Command) -> concurrent.futures.Future[CommandResult]:
        if self._stop.is_set():
            done: concurrent.futures.Future[CommandResult] = concurrent.futures.Future()
            done.set_result(CommandResult.refused(f"{command.name}: the console is detaching"))
            return done
        return self._commands.submit(self._send, command)

    def close(self, timeout: float = 2.0) -> None:
        """Detach: stop polling and close the sockets. The engine is not told anything."""
        self._stop.set()
        self._wake.set()
        self._commands.shutdown(wait=False, cancel_futures=True)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)  # a poll in flight ends within its socket timeout anyway
        self._poll_client.close()

    def stop(self, timeout: float = 2.0) -> None:
        """The CLI's hang-up watchdog calls stop(timeout=...) on whatever source it was given."""
        self.close(timeout)

    # ------------------------------------------------------------------------ polling
    def _poll_forever(self) -> None:
        failures = 0
        while not self._stop.is_set():
            failures = 0 if self._poll_once() else failures + 1
            wait = self.refresh if failures == 0 else min(MAX_RETRY_WAIT, self.refresh * 2 ** min(failures - 1, 6))
            self._wake.wait(wait)
            self._wake.clear()

    def _poll_once(self) -> bool:
        reason = ""
        for _attempt in range(2):  # a kept connection may have been closed (an engine reload): reconnect once
            try:
                snapshot = self._poll_client.snapshot()
            except (ControlUnavailable, ControlRefused) as exc:
                self._poll_client.close()
                reason = str(exc)
                continue
            self._received(snapshot)
            return True
        self._lost(reason)
        return False

    def _received(self, snapshot: Snapshot) -> None:
        with self._lock:
            if self._last is not None and snapshot.taken_at < self._last.taken_at:
                return  # a command worker already delivered a newer one
            if self.unreachable is not None:
                log.info("engine reachable again")
            self._last, self.unreachable = snapshot, None
            self._view = dataclasses.replace(snapshot, mode=SourceMode.ATTACH, config_name=f"{snapshot.config_name} · attached")

    def _lost(self, reason: str) -> None:
        with self._lock:
            if reason != self.unreachable:
                log.warning("engine not reachable: %s", reason)
            self.unreachable = reason
            notice = f"engine not reachable: {reason}"
            if self._last is None:
                self._view = self._placeholder(notice)
            else:  # keep the last data; its own time stays, so the clock shows how old it is
                self._view = dataclasses.replace(
                    self._last, mode=SourceMode.ATTACH, notice=notice,
                    config_name=f"{self._last.config_name} · ENGINE NOT REACHABLE",
                )

    def _placeholder(self, notice: str) -> Snapshot:
        return Snapshot(
            taken_at=time.time(), mode=SourceMode.ATTACH, state=EngineState.STARTING,
            config_name=f"attach {self.db_path.name}", notice=notice,
        )

    # ------------------------------------------------------------------------ commands
    def _send(self, command: Command) -> CommandResult:
        try:
            with ControlClient(self.db_path) as client:
                result = client.command(command, ORIGIN)
                try:
                    self._received(client.snapshot())  # the command's effect, before the caller looks
                except (ControlUnavailable, ControlRefused) as exc:
                    log.warning("snapshot after %s failed: %s", command.name, exc)
        except ControlUnavailable as exc:
            return CommandResult.refused(f"{command.name}: engine not reachable: {exc}")
        except ControlRefused as exc:
            return CommandResult.refused(f"{command.name}: {exc}")
        self._wake.set()
        return result
