"""AttachSource (console/attach.py) against a real headless engine process: live state, a rollback
the engine performs and audits with the attached user, two consoles at once, and an engine that
goes away and comes back."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.attach import AttachSource
from engine.commands import Command
from engine.control.server import user_name
from engine.snapshot import EngineState, SourceMode
from tests.headlessfixtures import FAST, HeadlessProcess, canary_section, db_rows, wait_until
from tests.httpfixtures import HttpFixture
from tests.ptyrun import opsconsole_argv


@pytest.fixture
def config(tmp_path: Path, actuator: HttpFixture) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(FAST + canary_section(actuator.url("")))
    return path


@pytest.fixture
def attached() -> Iterator[list[AttachSource]]:
    sources: list[AttachSource] = []
    yield sources
    for source in sources:
        source.close()


def attach(sources: list[AttachSource], db: Path) -> AttachSource:
    source = AttachSource(db, refresh=0.1)
    sources.append(source)
    source.start()
    return source


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(opsconsole_argv(*args), capture_output=True, text=True, timeout=60)


HOLDING = "waiting-for-promotion"  # a manual hold: at 10% until an operator acts


def rollout_status(source: AttachSource) -> str | None:
    r = source.snapshot().rollout
    return r.status if r else None


def test_attach_sees_live_state_and_sends_a_rollback_the_engine_performs_and_audits(
    config: Path, actuator: HttpFixture, attached: list[AttachSource]
) -> None:
    with HeadlessProcess(config) as engine:
        started = cli("rollout", "start", "--config", str(config), "--reason", "release 42")
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith("rollout.start: ")
        source = attach(attached, engine.db)
        wait_until(lambda: rollout_status(source) == HOLDING, 10, "the rollout at its first stage, seen through attach")
        snap = source.snapshot()
        assert snap.mode is SourceMode.ATTACH and snap.config_name == "config.yaml · attached"
        assert snap.rollout is not None and snap.rollout.weight == 10
        first = snap.get("host", "cpu_pct")
        wait_until(lambda: (s := source.snapshot().get("host", "cpu_pct")) and s.last_time > (first.last_time if first else 0),
                   10, "live host samples through attach")

        result = source.submit(Command("rollout.rollback", {"reason": "error budget burning"})).result(30)

        assert result.ok, result.message
        assert rollout_status(source) in ("rolling-back", "rolled-back")  # fetched before the future resolved
        wait_until(lambda: rollout_status(source) == "rolled-back", 10, "the rollback finished")
        assert actuator.hits("/canary/rollback"), "the rollback reached the actuator"
        audit = wait_until(lambda: db_rows(engine.db, "SELECT user, origin, action, ok, args FROM audit"
                                                      " WHERE action = 'rollout.rollback'"), 5, "the audit row")
        user, origin, _, ok, args = audit[0]
        assert (user, origin, ok) == (user_name(os.getuid()), "attach", 1)
        assert "error budget burning" in args
        status = cli("rollout", "status", "--config", str(config))
        assert status.returncode == 0 and "rolled-back" in status.stdout, status
        assert engine.stop() == 0


def test_two_attached_consoles_see_the_same_state(config: Path, attached: list[AttachSource]) -> None:
    with HeadlessProcess(config) as engine:
        one, two = attach(attached, engine.db), attach(attached, engine.db)
        assert one.submit(Command("pause")).result(30).ok
        wait_until(lambda: two.snapshot().state is EngineState.PAUSED, 10, "the second console seeing PAUSED")
        assert two.submit(Command("resume")).result(30).ok
        wait_until(lambda: one.snapshot().state is EngineState.RUNNING, 10, "the first console seeing RUNNING")
        origins = db_rows(engine.db, "SELECT action, origin FROM audit ORDER BY t")
        assert origins == [("pause", "attach"), ("resume", "attach")]


def test_an_engine_that_goes_away_keeps_the_last_data_and_is_reconnected(
    config: Path, attached: list[AttachSource]
) -> None:
    with HeadlessProcess(config) as engine:
        source = attach(attached, engine.db)
        wait_until(lambda: source.snapshot().get("host", "cpu_pct"), 10, "host samples")
        engine.kill()
    wait_until(lambda: source.unreachable, 10, "the loss noticed")
    snap = source.snapshot()
    assert snap.notice.startswith("engine not reachable: ")
    assert snap.config_name == "config.yaml · ENGINE NOT REACHABLE"
    assert snap.get("host", "cpu_pct") is not None, "the panels keep the last data"
    began = time.monotonic()
    refused = source.submit(Command("pause")).result(10)
    assert not refused.ok and refused.message.startswith("pause: engine not reachable: ")
    assert time.monotonic() - began < 5, "a command to a gone engine is refused promptly, not left hanging"

    with HeadlessProcess(config) as again:
        wait_until(lambda: source.unreachable is None, 15, "the reconnection")
        snap = source.snapshot()
        assert snap.notice == "" and snap.config_name == "config.yaml · attached"
        assert snap.started_at is not None and snap.started_at > engine_started(again) - 1
        assert again.stop() == 0


def engine_started(engine: HeadlessProcess) -> float:
    started = engine.snapshot().started_at
    assert started is not None
    return started


def test_attach_without_an_engine_says_how_to_start_one(config: Path) -> None:
    result = subprocess.run(opsconsole_argv("rollout", "status", "--config", str(config)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no engine is running for" in result.stderr and "opsconsole --headless" in result.stderr
