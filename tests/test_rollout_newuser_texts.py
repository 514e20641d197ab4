"""Rollout texts the new user of examples/nginx-canary read wrong, on a real engine (in-process,
an HTTP actuator on a real test server):

- the final decision of a rollout whose last stage is 100%: `promoted to 100% from 100%`;
- a fresh stage with a 1m hold: `in stage 0s · next promotion in 50s`;
- `opsconsole rollout status` printing a rule named "error rate" as `0.062 (max 0.1)` while the
  panel shows `6.2% / 10.0%`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.panels.rollout import RolloutPanel
from engine.commands import Command
from tests.canaryfixtures import CANARY, Feeder, http_actuator, running, write_config
from tests.enginefixtures import control_answers
from tests.headlessfixtures import wait_until
from tests.httpfixtures import HttpFixture, Reply
from tests.ptyrun import opsconsole_argv


@pytest.fixture
def server() -> Iterator[HttpFixture]:
    with HttpFixture() as fixture:
        for path in ("/canary/enable", "/canary/rollback", "/canary/promote"):
            fixture.route(path, Reply(200, "ok"))
        yield fixture


def stages(text: str) -> str:
    return f"  interval: 50ms\n  window: 200ms\n  stages: {text}\n"


def test_a_last_stage_at_100_is_promoted_at_100_not_from_it(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")),
                              stages("[{weight: 10, hold: 200ms}, {weight: 100, hold: 200ms}]"))) as engine:
        assert engine.submit(Command("rollout.start")).result(10).ok
        wait_until(lambda: engine.snapshot().rollout.status == "promoted", 15, "promoted")
        decision = engine.snapshot().rollout.last_decision
    assert decision.startswith("promoted at 100% (stage 2/2), the canary now the only version"), decision
    assert "from 100%" not in decision


def test_a_promotion_from_a_lower_weight_says_from_where(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")),
                              stages("[{weight: 10, hold: 1h}, {weight: 50}]"))) as engine:
        assert engine.submit(Command("rollout.start")).result(10).ok
        assert engine.submit(Command("rollout.promote_full")).result(10).ok
        decision = engine.snapshot().rollout.last_decision
    assert decision.startswith("promoted to 100% from 10% (stage 1/2) by "), decision


def test_a_fresh_1m_hold_reads_1m_to_the_next_promotion(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")),
                              stages("[{weight: 10, hold: 1m}, {weight: 100}]"))) as engine:
        assert engine.submit(Command("rollout.start")).result(10).ok
        r = wait_until(lambda: engine.snapshot().rollout, 5, "the rollout's view")
    assert r.stage_started is not None and r.next_promotion_at is not None
    # Read at the moment the stage began, and 9.9 s later: the time left is rounded up.
    assert RolloutPanel._timing(r, r.stage_started)[0] == "in stage 0s · next promotion in 1m"
    assert RolloutPanel._timing(r, r.stage_started + 10.1)[0] == "in stage 10s · next promotion in 50s"
    # At its end the hold no longer counts down: the stage waits for a clean check.
    assert RolloutPanel._timing(r, r.next_promotion_at)[0] == "in stage 1m · hold done · promotes at the next clean check"


def test_rollout_status_writes_rates_as_the_panel_does(start_engine, tmp_path: Path, server: HttpFixture) -> None:
    feeder = Feeder()
    feeder.set(CANARY, 0.062)
    start_engine(
        "canary:\n  service: checkout\n  interval: 50ms\n  window: 200ms\n"
        "  stages: [{weight: 10, hold: manual}, {weight: 100}]\n"
        f"  rules: [{{name: error rate, series: '{CANARY}', max: 0.1, consecutive: 3}}]\n"
        f"  actuator: {http_actuator(server.url(''))}\n", components=[feeder])
    control_answers(tmp_path / "history.db")

    def status() -> str:
        done = subprocess.run(opsconsole_argv("rollout", "status", "--config", str(tmp_path / "history.yaml")),
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert done.returncode == 0, done
        return done.stdout

    started = subprocess.run(opsconsole_argv("rollout", "start", "--config", str(tmp_path / "history.yaml")),
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert started.returncode == 0, started
    def checked() -> str | None:
        text = status()
        return text if "PASS" in text else None

    text = wait_until(checked, 15, "a checked rule in the status")
    assert "  error rate 6.2% / 10.0%  PASS  0/3 consecutive" in text, text
    assert "0.062" not in text and "(max 0.1)" not in text

