"""What-if replays a person's recorded verbs on the simulated rollout only where it allows them
(engine/history/whatif.py `_apply_if_allowed`), by the transition's code, never its message."""

from __future__ import annotations

from typing import Any

from engine import eventcodes as ev
from engine.canary.config import Stage
from engine.canary.statemachine import RolloutMachine, Status
from engine.eventcodes import EventCode
from engine.history.rollout import Clock
from engine.history.whatif import _apply_if_allowed

STAGES = [Stage(weight=5, hold=60.0), Stage(weight=25, hold=60.0), Stage(weight=100)]


def recorded(code: EventCode, before: str, to: str, stage: int, t: float) -> dict[str, Any]:
    return {"t": t, "code": code.code, "message": "¶ any words at all",
            "data": {"rollout_id": 1, "from": before, "to": to, "stage": stage, "weight": 5, "actor": "alice"}}


def started(clock: Clock) -> RolloutMachine:
    machine = RolloutMachine("checkout", STAGES, clock)
    machine.start(1, "started")
    return machine


def test_a_person_pausing_then_resuming_is_replayed() -> None:
    clock = Clock(100.0)
    machine = started(clock)
    _apply_if_allowed(machine, recorded(ev.ROLLOUT_PAUSED, "running", "paused", 1, 110.0))
    assert machine.status is Status.PAUSED
    _apply_if_allowed(machine, recorded(ev.ROLLOUT_RESUMED, "paused", "running", 1, 120.0))
    assert machine.status is Status.RUNNING


def test_a_person_promoting_moves_the_simulation_one_stage_up_from_where_it_is() -> None:
    clock = Clock(100.0)
    machine = started(clock)
    _apply_if_allowed(machine, recorded(ev.ROLLOUT_STAGE_ENTERED, "running", "running", 2, 110.0))
    assert machine.rollout is not None and machine.rollout.stage == 1 and machine.rollout.weight == 25
    # recorded later at stage 2, which the simulation has reached already: nothing more
    _apply_if_allowed(machine, recorded(ev.ROLLOUT_STAGE_ENTERED, "running", "running", 2, 115.0))
    assert machine.rollout.stage == 1


def test_a_verb_the_simulated_rollout_does_not_allow_is_skipped() -> None:
    clock = Clock(100.0)
    machine = started(clock)
    machine.begin_rollback("the other config rolled back first")
    machine.rolled_back("rolled back")
    _apply_if_allowed(machine, recorded(ev.ROLLOUT_PAUSED, "running", "paused", 1, 130.0))
    assert machine.status is Status.ROLLED_BACK


def test_a_person_rolling_back_finishes_in_the_simulation() -> None:
    clock = Clock(100.0)
    machine = started(clock)
    _apply_if_allowed(machine, recorded(ev.ROLLOUT_ROLLING_BACK, "running", "rolling-back", 1, 110.0))
    assert machine.status is Status.ROLLED_BACK  # in a what-if, actuation succeeds
