"""`opsconsole rollout ...` (console/cli_remote.py): thin clients of a running engine's control
socket, with confirmation for the verbs that move all traffic at once."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from engine.control.server import user_name
from engine.runtime import Engine
from tests.enginefixtures import control_answers
from tests.headlessfixtures import canary_section, db_rows, wait_until
from tests.httpfixtures import HttpFixture
from tests.ptyrun import PtyProcess, opsconsole_argv


@pytest.fixture
def engine(start_engine, actuator: HttpFixture, tmp_path: Path) -> Engine:
    engine = start_engine(canary_section(actuator.url("")))
    control_answers(tmp_path / "history.db")
    return engine


def rollout(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(opsconsole_argv("rollout", *args, "--config", str(tmp_path / "history.yaml")),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_verbs_status_and_refusals(engine: Engine, tmp_path: Path, actuator: HttpFixture) -> None:
    refused = rollout(tmp_path, "pause")  # nothing to pause yet: the engine's refusal, exit 1
    assert refused.returncode == 1 and refused.stderr.startswith("rollout.pause: "), refused

    started = rollout(tmp_path, "start", "--reason", "release 42")
    assert started.returncode == 0 and started.stdout.startswith("rollout.start: started by"), started
    shown = rollout(tmp_path, "status", "--json")
    assert json.loads(shown.stdout)["weight"] == 10 and json.loads(shown.stdout)["service"] == "checkout"
    text = rollout(tmp_path, "status").stdout
    assert "checkout: waiting-for-promotion at 10% (stage 1/2, heading to 100%)" in text

    unconfirmed = rollout(tmp_path, "rollback")
    assert unconfirmed.returncode == 2
    assert "rollout.rollback changes live traffic: confirm with --yes (no terminal to ask on)" in unconfirmed.stderr
    assert not actuator.hits("/canary/rollback")

    full = rollout(tmp_path, "promote", "--full", "--yes", "--reason", "looks good")
    assert full.returncode == 0, full
    wait_until(lambda: engine.snapshot().rollout.status == "promoted", 10, "promoted to 100%")
    me = user_name(os.getuid())
    wait_until(lambda: len(db_rows(tmp_path / "history.db", "SELECT id FROM audit")) == 3, 5, "three audit rows")
    rows = db_rows(tmp_path / "history.db", "SELECT action, user, origin, ok FROM audit ORDER BY t")
    assert rows == [("rollout.pause", me, "cli", 0), ("rollout.start", me, "cli", 1),
                    ("rollout.promote_full", me, "cli", 1)]


def test_rollback_on_a_terminal_asks_first(engine: Engine, tmp_path: Path, actuator: HttpFixture) -> None:
    assert rollout(tmp_path, "start").returncode == 0
    argv = opsconsole_argv("rollout", "rollback", "--config", str(tmp_path / "history.yaml"), "--reason", "5xx")
    declined = PtyProcess(argv)
    try:
        declined.wait_for_text("Roll back checkout #1 at 10% (stage 1/2, waiting-for-promotion): all traffic back "
                                "to the stable version (0%)? [y/N]", timeout=30)
        declined.send(b"n\r")
        assert declined.wait(timeout=10) == 2
        assert "rollout.rollback: cancelled" in declined.text()
    finally:
        declined.kill()
    assert not actuator.hits("/canary/rollback")
    accepted = PtyProcess(argv)
    try:
        accepted.wait_for_text("[y/N]", timeout=30)
        accepted.send(b"y\r")
        assert accepted.wait(timeout=30) == 0, accepted.text()
    finally:
        accepted.kill()
    assert actuator.hits("/canary/rollback")
    wait_until(lambda: engine.snapshot().rollout.status == "rolled-back", 10, "rolled back")
