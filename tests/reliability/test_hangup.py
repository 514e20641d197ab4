"""Drill 2: the operator's SSH link drops while a rollout runs. opsconsole (the Textual console,
in a real pseudo-terminal) exits within 2 s, leaves no process or thread behind, and the rollout
is paused at its stage with the reason in the history.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.headlessfixtures import db_rows, events, wait_until
from tests.httpfixtures import HttpFixture
from tests.ptyrun import PtyProcess, opsconsole_argv

EXIT_BUDGET = 2.0  # seconds from the hang-up to the process gone (issue #10)



def console_config(tmp_path: Path, actuator_url: str) -> Path:
    """The demo under load and a rollout that starts by itself and holds 10% for an hour."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "store: {path: history.db, flush_interval: 200ms}\n"
        "demo: {enabled: true, port: 0, rps: 50, dir: demo}\n"
        "monitor: {host: {interval: 200ms}}\n"
        "logging: {file: opsconsole.log}\n"
        "canary:\n"
        "  service: checkout\n"
        "  interval: 100ms\n"
        "  stages: [{weight: 10, hold: 1h}, {weight: 100}]\n"
        "  auto_start: true\n"
        f"  actuator: {{kind: http, base_url: '{actuator_url}', retries: 0, timeout: 2s,"
        " set_weight: {url: /canary/enable, body: {traffic_percentage: '{weight}'}},"
        " rollback: {url: /canary/rollback}, promote: {url: /canary/promote}}\n"
    )
    return path


def gone(pid: int) -> bool:
    """No process, not even a zombie: its /proc entry is gone (PtyProcess reaped it)."""
    return not Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize("how", ["sighup", "terminal-closed"])
def test_hangup_mid_rollout_exits_in_2s_leaves_nothing_and_pauses_the_rollout(
    tmp_path: Path, actuator: HttpFixture, how: str, capsys: pytest.CaptureFixture[str],
) -> None:
    config = console_config(tmp_path, actuator.url(""))
    proc = PtyProcess(opsconsole_argv("--config", str(config)), env=dict(os.environ, TERM="xterm-256color"))
    try:
        proc.wait_for_text("RUNNING", timeout=20)
        actuator.wait_for_hits("/canary/enable", 1, 10)
        descendants = [child.pid for child in psutil.Process(proc.pid).children(recursive=True)]
        started = time.monotonic()
        if how == "sighup":
            proc.signal(signal.SIGHUP)
        else:
            proc.close_terminal()
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        proc.kill()
    with capsys.disabled():
        print(f"\n[drill 2] {how}: exited {code} after {elapsed:.2f}s")
    assert code is not None, "opsconsole kept running after the hang-up"
    assert elapsed < EXIT_BUDGET, f"took {elapsed:.2f}s to exit after the hang-up"
    wait_until(lambda: gone(proc.pid) and all(not psutil.pid_exists(p) for p in descendants), 2,
               "the console and every process it started gone")

    log = (tmp_path / "opsconsole.log").read_text()
    assert "forced exit" not in log, "the console left through the exit watchdog, not its own exit path"

    db = tmp_path / "history.db"
    assert db_rows(db, "SELECT status, stage, weight FROM rollouts") == [("paused", 0, 10)]
    assert events(db, "paused at 10% (stage 1/2): the engine is stopping%"), "the pause's reason is not recorded"
    assert events(db, "engine stopped"), "the engine did not record its stop"
    assert not actuator.hits("/canary/rollback"), "a hang-up must pause, never roll back"
