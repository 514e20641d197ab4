"""Undoing a promotion (issue 17, item 3): for `canary.rollback_window` after a promotion to
100%, a rollback sends traffic back to the stable version; after it, the refusal says the window
closed and when. The machine with a fake clock, then a real engine with a real HTTP actuator
(every actuation recorded), across a restart, and `opsconsole rollout rollback` from a shell."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from engine.canary.config import Stage
from engine.canary.statemachine import Refused, RolloutMachine, Status, Verb, clock_text
from engine.commands import Command
from tests.canaryfixtures import http_actuator, query, running, status, wait_until, write_config
from tests.headlessfixtures import FAST, HeadlessProcess, canary_section, db_rows
from tests.httpfixtures import HttpFixture
from tests.ptyrun import opsconsole_argv

STAGES = [Stage(weight=10, hold="manual"), Stage(weight=100)]
WINDOW = 600.0


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def promoted(clock: Clock, window: float = WINDOW) -> RolloutMachine:
    machine = RolloutMachine("checkout", STAGES, clock, rollback_window=window)
    machine.start(1, "started")
    machine.begin_promotion("promoting")
    machine.promoted("promoted")
    return machine


# -- the machine -----------------------------------------------------------------------------------

def test_inside_the_window_a_promoted_rollout_can_roll_back_to_zero() -> None:
    clock = Clock()
    machine = promoted(clock)
    assert machine.rollback_until == clock.t + WINDOW
    clock.t += WINDOW - 1
    assert machine.verbs() == (Verb.START, Verb.ROLLBACK)
    machine.require(Verb.ROLLBACK)
    t = machine.begin_rollback("rolling back the promotion")
    assert (t.before, t.after) == (Status.PROMOTED, Status.ROLLING_BACK)
    assert machine.rollout.ended is None and machine.target_weight() == 0 and machine.rollback_until is None
    t = machine.rolled_back("rolled back")
    assert t.after is Status.ROLLED_BACK and machine.rollout.weight == 0 and machine.rollout.ended == clock.t
    assert machine.verbs() == (Verb.START,)  # rolled back is final: no window on a rollback


def test_after_the_window_the_refusal_says_it_closed_and_when() -> None:
    clock = Clock()
    machine = promoted(clock)
    promoted_at = clock.t
    clock.t += WINDOW
    assert machine.verbs() == (Verb.START,)
    with pytest.raises(Refused) as refused:
        machine.require(Verb.ROLLBACK)
    assert str(refused.value) == (f"cannot roll back: the rollout was promoted to 100% at {clock_text(promoted_at)}; "
                                  f"its rollback window (10m) closed at {clock_text(promoted_at + WINDOW)}")
    assert machine.rollback_until == promoted_at + WINDOW  # still known: the panel says when it closed


def test_a_zero_window_makes_a_promotion_final() -> None:
    machine = promoted(Clock(), window=0.0)
    assert machine.rollback_until is None and machine.verbs() == (Verb.START,)
    with pytest.raises(Refused, match=r"a promotion is final \(canary.rollback_window is 0\)"):
        machine.require(Verb.ROLLBACK)


def test_the_window_survives_a_restart_from_the_stored_row() -> None:
    clock = Clock()
    before = promoted(clock)
    row = before.rollout.row()
    clock.t += 120  # the engine was down for two minutes
    after = RolloutMachine("checkout", STAGES, clock, rollback_window=WINDOW)
    assert after.recover(row) is None  # a finished rollout is only shown...
    assert after.status is Status.PROMOTED and after.rollback_until == before.rollback_until  # ...and its window kept
    assert Verb.ROLLBACK in after.verbs()


def test_other_finished_rollouts_and_other_verbs_are_unchanged() -> None:
    clock = Clock()
    machine = promoted(clock)
    for verb in (Verb.PROMOTE, Verb.PROMOTE_FULL, Verb.PAUSE, Verb.RESUME, Verb.FREEZE):
        with pytest.raises(Refused, match="the rollout is promoted"):
            machine.require(verb)
    aborted = RolloutMachine("checkout", STAGES, clock, rollback_window=WINDOW)
    aborted.abort_start(2, "gate said no")
    assert aborted.rollback_until is None and aborted.verbs() == (Verb.START,)


# -- a real engine and a real actuator ---------------------------------------------------------------

@pytest.fixture
def server(actuator: HttpFixture) -> HttpFixture:
    """tests/conftest.py's actuator: set-weight, rollback and promote answered 200, calls recorded."""
    return actuator


def canary(window: str) -> str:
    return ("  interval: 50ms\n  stages: [{weight: 10, hold: manual}, {weight: 100}]\n"
            f"  rollback_window: {window}\n")


def test_engine_rolls_back_a_promotion_inside_the_window_and_audits_it(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")), canary("10m"))) as engine:
        assert engine.submit(Command("rollout.start")).result(10).ok
        result = engine.submit(Command("rollout.promote_full")).result(10)
        assert result.ok and "; rollback possible until " in result.message
        r = engine.snapshot().rollout
        assert r.status == "promoted" and "rollback" in r.verbs and r.rollback_until == pytest.approx(r.ended + 600)
        result = engine.submit(Command("rollout.rollback", {"reason": "500s at full traffic"})).result(10)
        assert result.ok, result.message
        assert result.message.startswith("rolled back at 100% by ") and "500s at full traffic" in result.message
        wait_until(lambda: status(engine) == "rolled-back", engine=engine)
        assert engine.snapshot().rollout.weight == 0
    assert len(server.hits("/canary/promote")) == 1 and len(server.hits("/canary/rollback")) == 1
    ((args, ok),) = query(tmp_path / "history.db", "SELECT args, ok FROM audit WHERE action = 'rollout.rollback'")
    assert ok == 1 and json.loads(args)["reason"] == "500s at full traffic"
    assert json.loads(args)["context"]["status"] == "promoted" and json.loads(args)["context"]["weight"] == 100
    (row,) = query(tmp_path / "history.db", "SELECT status, weight FROM rollouts")
    assert row == ("rolled-back", 0)


def test_engine_refuses_after_the_window_with_the_sentence(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")), canary("300ms"))) as engine:
        engine.submit(Command("rollout.start")).result(10)
        assert engine.submit(Command("rollout.promote_full")).result(10).ok
        wait_until(lambda: "rollback" not in engine.snapshot().rollout.verbs, what="the window to close", engine=engine)
        result = engine.submit(Command("rollout.rollback")).result(10)
        assert not result.ok
        assert "cannot roll back: the rollout was promoted to 100% at " in result.message
        assert "its rollback window (300ms) closed at " in result.message
        assert status(engine) == "promoted"
    assert not server.hits("/canary/rollback")
    ((ok, message),) = query(tmp_path / "history.db", "SELECT ok, result FROM audit WHERE action = 'rollout.rollback'")
    assert ok == 0 and "rollback window (300ms) closed at" in message


def test_the_window_is_kept_across_an_engine_restart(tmp_path: Path, server: HttpFixture) -> None:
    loaded = write_config(tmp_path, http_actuator(server.url("")), canary("10m"))
    with running(loaded) as engine:
        engine.submit(Command("rollout.start")).result(10)
        assert engine.submit(Command("rollout.promote_full")).result(10).ok
        until = engine.snapshot().rollout.rollback_until
    with running(loaded) as engine:
        wait_until(lambda: status(engine) == "promoted", engine=engine)
        r = engine.snapshot().rollout
        assert r.rollback_until == pytest.approx(until) and "rollback" in r.verbs
        assert engine.submit(Command("rollout.rollback")).result(10).ok
        wait_until(lambda: status(engine) == "rolled-back", engine=engine)
    assert len(server.hits("/canary/rollback")) == 1
    assert time.time() < until  # the test itself ran inside the window it checked


# -- from a shell: a real headless engine, `opsconsole rollout status` and `rollout rollback` ----------

def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(opsconsole_argv(*args), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)


def test_status_and_rollback_from_a_shell_after_a_crash_inside_the_window(
        tmp_path: Path, server: HttpFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    config = tmp_path / "engine.yaml"
    config.write_text(FAST + canary_section(server.url("")) + "  rollback_window: 1h\n")
    with HeadlessProcess(config) as engine:
        assert cli("rollout", "start", "--config", str(config)).returncode == 0
        assert cli("rollout", "promote", "--full", "--yes", "--config", str(config)).returncode == 0
        until = engine.snapshot().rollout.rollback_until
        engine.kill()  # a crash: the window must come back from the history
    with HeadlessProcess(config) as engine:
        wait_until(lambda: (engine.snapshot().rollout or None) is not None
                   and engine.snapshot().rollout.status == "promoted", what="the promoted rollout recovered")
        shown = cli("rollout", "status", "--config", str(config))
        assert shown.returncode == 0, shown.stderr
        assert f"  rollback window open until {clock_text(until)} (" in shown.stdout
        assert "left): `opsconsole rollout rollback` sends all traffic back to the stable version" in shown.stdout
        done = cli("rollout", "rollback", "--yes", "--reason", "errors at 100%", "--config", str(config))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("rollout.rollback: rolled back at 100% by ")
        wait_until(lambda: engine.snapshot().rollout.status == "rolled-back", what="rolled back")
        assert "no rollback" not in cli("rollout", "status", "--config", str(config)).stdout
    assert len(server.hits("/canary/rollback")) == 1
    (row,) = db_rows(engine.db, "SELECT origin, ok FROM audit WHERE action = 'rollout.rollback'")
    assert row == ("cli", 1)


def test_status_says_the_window_closed_and_the_cli_is_refused(
        tmp_path: Path, server: HttpFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    config = tmp_path / "engine.yaml"
    config.write_text(FAST + canary_section(server.url("")) + "  rollback_window: 200ms\n")
    with HeadlessProcess(config) as engine:
        cli("rollout", "start", "--config", str(config))
        cli("rollout", "promote", "--full", "--yes", "--config", str(config))
        wait_until(lambda: "rollback" not in engine.snapshot().rollout.verbs, what="the window to close")
        shown = cli("rollout", "status", "--config", str(config)).stdout
        assert re.search(r"  no rollback: the rollout was promoted to 100% at \d\d:\d\d:\d\d; its rollback window "
                         r"\(200ms\) closed at \d\d:\d\d:\d\d\n", shown), shown
        refused = cli("rollout", "rollback", "--yes", "--config", str(config))
        assert refused.returncode != 0 and "its rollback window (200ms) closed at" in refused.stderr
    assert not server.hits("/canary/rollback")
