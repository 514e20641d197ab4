"""A real `opsconsole --headless` subprocess for tests, and small waits around it.

    with HeadlessProcess(config) as engine:      # started, and answering on its control socket
        client = engine.client()                 # a ControlClient on its history
        engine.signal(signal.SIGHUP)
        assert engine.stop() == 0                 # SIGTERM, wait, exit code
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from engine.control.client import ControlClient, ControlRefused, ControlUnavailable
from engine.control.paths import socket_candidates
from tests.ptyrun import opsconsole_argv

T = TypeVar("T")
START_TIMEOUT = 30.0  # a shared 2-core CI machine, other suites running
FAST = (
    "store: {path: history.db, flush_interval: 50ms}\n"
    "engine: {snapshot_interval: 100ms}\n"
    "monitor: {host: {interval: 200ms}}\n"
    "logging: {file: opsconsole.log}\n"
)


def canary_section(actuator_url: str) -> str:
    """A rollout that holds at 10% until an operator acts, moving traffic through a test HTTP
    server (tests/httpfixtures.py) that records every actuation."""
    return (
        "canary:\n"
        "  service: checkout\n"
        "  interval: 100ms\n"
        "  stages: [{weight: 10, hold: manual}, {weight: 100}]\n"
        f"  actuator: {{kind: http, base_url: '{actuator_url}', retries: 0, timeout: 2s,"
        " set_weight: {url: /canary/enable, body: {traffic_percentage: '{weight}'}},"
        " rollback: {url: /canary/rollback}, promote: {url: /canary/promote}}\n"
    )


def wait_until(check: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """The first truthy result of `check()`, polling; AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true after {timeout}s")
        time.sleep(0.05)


def free_port() -> int:
    """A port free on 127.0.0.1 right now (for configs that must name one up front)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(sql, params).fetchall()


def events(db: Path, like: str) -> list[str]:
    return [m for (m,) in db_rows(db, "SELECT message FROM events WHERE message LIKE ? ORDER BY t", (like,))]


class HeadlessProcess:
    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None,
                 stderr_dir: Path | None = None) -> None:
        self.config = config
        self.db = _db_path(config)
        self.stderr_path = (stderr_dir or config.parent) / f"headless-{time.monotonic_ns()}.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            opsconsole_argv("--headless", "--config", str(config), *args),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
            env=env if env is not None else dict(os.environ),
        )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> HeadlessProcess:
        def answering() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"headless engine exited with {self.proc.returncode}:\n{self.stderr()[-3000:]}")
            try:
                with self.client() as client:
                    return client.snapshot().state.value == "running"
            except (ControlUnavailable, ControlRefused):
                return False

        try:
            wait_until(answering, timeout, "the headless engine answering on its control socket")
        except AssertionError as exc:  # say what the engine said: a CI run leaves nothing else behind
            raise AssertionError(f"{exc}; sockets looked for: {[str(p) for p in socket_candidates(self.db)]}; "
                                 f"its stderr:\n{self.stderr()[-3000:]}") from None
        return self

    def client(self) -> ControlClient:
        return ControlClient(self.db)

    def snapshot(self):
        with self.client() as client:
            return client.snapshot()

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and the exit code; AssertionError if it is still running after `timeout`."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {timeout}s after SIGTERM:\n{self.stderr()[-3000:]}") from None

    def kill(self) -> None:
        """SIGKILL, as a crash would: the socket file stays (the next engine replaces it); removed
        here so the tests leave nothing in /tmp."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for path in socket_candidates(self.db):
            if path.is_socket():
                path.unlink(missing_ok=True)

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def __enter__(self) -> HeadlessProcess:
        try:
            return self.wait_ready()
        except BaseException:
            self.kill()
            self._stderr.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self._stderr.close()


def _db_path(config: Path) -> Path:
    from engine.config.loader import load_config

    return Path(load_config(config).config.store.path)
