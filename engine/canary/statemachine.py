"""The rollout state machine: which verbs are possible in which state, and what each one does.

Pure: no I/O, and time comes from an injected clock, so every transition is testable with a fake
clock. The component (component.py) actuates first and then applies the transition here, so the
machine only ever records what really happened; every transition carries its reason.

    idle ──start──▶ running ◀──resume── paused / frozen
                      │  hold passed, clean check: next stage (a `manual` hold: waiting-for-promotion)
                      │  last stage: promoting ──▶ promoted ──rollback (within rollback_window)──┐
                      └─ rollback (operator or a rule's limit): rolling-back ──▶ rolled-back ◀──────┘
    a start that cannot begin (gate, actuator): aborted

A promotion to 100% can be undone for `rollback_window` seconds after it (Argo Rollouts'
rollbackWindow, in time rather than revisions): the window is counted from the rollout's `ended`,
which the store keeps, so a restart inside the window keeps it. Only an operator rolls back a
promoted rollout; the analysis stops at the promotion.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine import eventcodes as ev
from engine.canary.config import MANUAL, Stage
from engine.eventcodes import EventCode
from engine.snapshot import RolloutStatus
from engine.units import format_duration
from engine.verbs import BY_VERB, Verb

Status = RolloutStatus  # defined once, in the Snapshot contract; this module moves it

FINISHED = frozenset({Status.PROMOTED, Status.ROLLED_BACK, Status.ABORTED})
# Statuses in which traffic is (partly) on the canary and the operator may act.
HOLDING = frozenset({Status.RUNNING, Status.WAITING, Status.PAUSED, Status.FROZEN})

VERBS: dict[Status, tuple[Verb, ...]] = {
    Status.IDLE: (Verb.START,),
    Status.RUNNING: (Verb.PROMOTE, Verb.PROMOTE_FULL, Verb.PAUSE, Verb.FREEZE, Verb.ROLLBACK),
    Status.WAITING: (Verb.PROMOTE, Verb.PROMOTE_FULL, Verb.PAUSE, Verb.FREEZE, Verb.ROLLBACK),
    Status.PAUSED: (Verb.RESUME, Verb.PROMOTE, Verb.PROMOTE_FULL, Verb.FREEZE, Verb.ROLLBACK),
    Status.FROZEN: (Verb.RESUME, Verb.PROMOTE, Verb.PROMOTE_FULL, Verb.ROLLBACK),
    Status.PROMOTING: (),
    Status.ROLLING_BACK: (Verb.ROLLBACK,),  # retry now
    Status.PROMOTED: (Verb.START,),  # and ROLLBACK while the rollback window is open (verbs())
    Status.ROLLED_BACK: (Verb.START,),
    Status.ABORTED: (Verb.START,),
}

def clock_text(t: float) -> str:
    """A wall time as an operator reads it in decisions and refusals: 14:32:05."""
    return time.strftime("%H:%M:%S", time.localtime(t))


class Refused(Exception):
    """A verb that makes no sense now; str() says why."""


@dataclass(frozen=True)
class Rollout:
    id: int
    service: str
    status: Status
    stage: int
    weight: int  # the canary weight last actuated
    started: float
    stage_entered: float
    hold_deadline: float | None = None  # when this stage's hold ends; None while held or manual
    hold_left: float | None = None  # what was left of the hold when paused or frozen
    ended: float | None = None
    reason: str = ""

    def row(self) -> dict[str, Any]:
        """The store's rollouts row."""
        return {"id": self.id, "service": self.service, "started": self.started, "ended": self.ended,
                "status": str(self.status), "stage": self.stage, "weight": self.weight, "reason": self.reason}


@dataclass(frozen=True)
class Transition:
    rollout: Rollout  # after
    before: Status
    reason: str
    at: float
    code: EventCode  # what the history records it as (engine/eventcodes.py)

    @property
    def after(self) -> Status:
        return self.rollout.status


class RolloutMachine:
    def __init__(self, service: str, stages: Sequence[Stage], clock: Callable[[], float] = time.time,
                 rollback_window: float = 0.0) -> None:
        self.service = service
        self.stages = tuple(stages)
        self.clock = clock
        self.rollback_window = rollback_window  # seconds after a promotion to 100% that R undoes it
        self.rollout: Rollout | None = None

    # -- questions -----------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        return self.rollout.status if self.rollout is not None else Status.IDLE

    @property
    def rollback_until(self) -> float | None:
        """When the rollback window of a promoted rollout closes (open or not); None when the
        rollout is not promoted or a promotion is final (rollback_window 0)."""
        r = self.rollout
        if r is None or r.status is not Status.PROMOTED or r.ended is None or self.rollback_window <= 0:
            return None
        return float(r.ended) + self.rollback_window

    def verbs(self) -> tuple[Verb, ...]:
        until = self.rollback_until
        if until is not None and self.clock() < until:
            return (*VERBS[Status.PROMOTED], Verb.ROLLBACK)
        return VERBS[self.status]

    def require(self, verb: Verb) -> None:
        if verb not in self.verbs():
            status = self.status
            what = "there is no rollout" if status is Status.IDLE else f"the rollout is {status}"
            if verb is Verb.ROLLBACK and status is Status.PROMOTED:
                what = self._window_closed()
            raise Refused(f"cannot {BY_VERB[verb].words}: {what}")  # "cannot resume: the rollout is running"

    def _window_closed(self) -> str:
        """Why a promoted rollout cannot be rolled back any more: the window closed, or there is none."""
        r = self.rollout
        assert r is not None
        until = self.rollback_until
        if until is None:
            return "the rollout is promoted, and a promotion is final (canary.rollback_window is 0)"
        return (f"the rollout was promoted to 100% at {clock_text(until - self.rollback_window)}; its rollback window "
                f"({format_duration(self.rollback_window)}) closed at {clock_text(until)}")

    def stage_weight(self, index: int) -> int:
        return self.stages[index].weight

    @property
    def at_last_stage(self) -> bool:
        return self.rollout is not None and self.rollout.stage >= len(self.stages) - 1

    def target_weight(self) -> int:
        """Where traffic is heading: the next stage, 100 from the last, 0 when rolling back."""
        r = self.rollout
        if r is None:
            return 0
        if r.status in (Status.ROLLING_BACK, Status.ROLLED_BACK):
            return 0
        if r.status in FINISHED:
            return r.weight
        if r.status is Status.PROMOTING or self.at_last_stage:
            return 100
        return self.stage_weight(r.stage + 1)

    def hold_passed(self, slack: float = 0.0) -> bool:
        r = self.rollout
        return (r is not None and r.status is Status.RUNNING and r.hold_deadline is not None
                and self.clock() >= r.hold_deadline - slack)

    # -- transitions ---------------------------------------------------------------------------

    def _move(self, code: EventCode, reason: str, **changes: Any) -> Transition:
        assert self.rollout is not None
        before = self.rollout.status
        self.rollout = replace(self.rollout, reason=reason, **changes)
        return Transition(self.rollout, before, reason, self.clock(), code)

    def _stage_fields(self, index: int, now: float) -> dict[str, Any]:
        hold = self.stages[index].hold
        manual = hold == MANUAL
        return {
            "stage": index, "weight": self.stage_weight(index), "stage_entered": now,
            "status": Status.WAITING if manual else Status.RUNNING,
            "hold_deadline": None if manual else now + float(hold or 0.0), "hold_left": None,
        }

    def start(self, rollout_id: int, reason: str) -> Transition:
        """The first stage's weight is set: the rollout runs."""
        self.require(Verb.START)
        before = self.status
        now = self.clock()
        self.rollout = Rollout(rollout_id, self.service, Status.RUNNING, 0, 0, now, now, reason=reason)
        self.rollout = replace(self.rollout, **self._stage_fields(0, now))
        return Transition(self.rollout, before, reason, now, ev.ROLLOUT_STARTED)

    def abort_start(self, rollout_id: int, reason: str) -> Transition:
        """A start that could not begin (a gate said no, the actuator failed): recorded, ended."""
        before = self.status
        now = self.clock()
        self.rollout = Rollout(rollout_id, self.service, Status.ABORTED, 0, 0, now, now, ended=now, reason=reason)
        return Transition(self.rollout, before, reason, now, ev.ROLLOUT_ABORTED)

    def enter_stage(self, index: int, reason: str) -> Transition:
        """The weight of stage `index` is set (automatic or operator promotion)."""
        return self._move(ev.ROLLOUT_STAGE_ENTERED, reason, **self._stage_fields(index, self.clock()))

    def begin_promotion(self, reason: str) -> Transition:
        return self._move(ev.ROLLOUT_PROMOTING, reason, status=Status.PROMOTING, hold_deadline=None, hold_left=None)

    def promoted(self, reason: str) -> Transition:
        return self._move(ev.ROLLOUT_PROMOTED, reason, status=Status.PROMOTED, weight=100, ended=self.clock())

    def pause(self, reason: str) -> Transition:
        return self._hold(ev.ROLLOUT_PAUSED, Status.PAUSED, reason)

    def freeze(self, reason: str) -> Transition:
        return self._hold(ev.ROLLOUT_FROZEN, Status.FROZEN, reason)

    def _hold(self, code: EventCode, status: Status, reason: str) -> Transition:
        assert self.rollout is not None
        r = self.rollout
        left = r.hold_left
        if r.hold_deadline is not None:
            left = max(0.0, r.hold_deadline - self.clock())
        return self._move(code, reason, status=status, hold_deadline=None, hold_left=left)

    def resume(self, reason: str) -> Transition:
        """Back to the stage's hold, with what was left of it (a manual stage waits again)."""
        assert self.rollout is not None
        r = self.rollout
        if self.stages[r.stage].hold == MANUAL:
            return self._move(ev.ROLLOUT_RESUMED, reason, status=Status.WAITING, hold_deadline=None, hold_left=None)
        left = r.hold_left if r.hold_left is not None else float(self.stages[r.stage].hold or 0.0)
        return self._move(ev.ROLLOUT_RESUMED, reason, status=Status.RUNNING, hold_deadline=self.clock() + left, hold_left=None)

    def begin_rollback(self, reason: str) -> Transition:
        # Not ended while traffic is on its way back (a promoted rollout had ended; its rollback has not).
        return self._move(ev.ROLLOUT_ROLLING_BACK, reason, status=Status.ROLLING_BACK, hold_deadline=None, hold_left=None,
                          ended=None)

    def rolled_back(self, reason: str) -> Transition:
        return self._move(ev.ROLLOUT_ROLLED_BACK, reason, status=Status.ROLLED_BACK, weight=0, ended=self.clock())

    def note(self, reason: str) -> Transition:
        """Same status, new reason (a failed actuation that is being retried, say)."""
        return self._move(ev.ROLLOUT_NOTED, reason)

    def recover(self, row: Mapping[str, Any]) -> Transition | None:
        """The last rollout from the store, after a restart or a crash.

        An unfinished one comes back paused at its stage for the operator to decide (its hold
        resumes with what was left of it), a frozen one stays frozen, and one that was rolling back goes on
        rolling back: that decision was already taken, and stopping half-way would leave traffic
        on the failing version. A finished one is only shown. Returns the transition, if any.
        """
        now = self.clock()
        status = Status(row["status"])
        stage = min(max(int(row.get("stage") or 0), 0), len(self.stages) - 1)
        rollout = Rollout(
            int(row["id"]), self.service, status, stage, int(row.get("weight") or 0),
            float(row.get("started") or now), now, ended=row.get("ended"), reason=str(row.get("reason") or ""),
        )
        self.rollout = rollout
        if status in FINISHED or status is Status.IDLE:
            return None
        where = f"{rollout.weight}% (stage {stage + 1}/{len(self.stages)})"
        if status is Status.ROLLING_BACK:
            return Transition(rollout, status, f"was rolling back at {where} when the engine stopped; "
                              "finishing the rollback", now, ev.ROLLOUT_RECOVERED)
        if status is Status.FROZEN:
            return self._move(ev.ROLLOUT_RECOVERED, f"recovered after a restart: still frozen at {where}", hold_left=None)
        hold = self.stages[stage].hold
        saved = row.get("hold_left")  # what was left of the hold when it stopped (schema v5)
        left = None if hold == MANUAL else float(saved) if saved is not None else float(hold or 0.0)
        return self._move(
            ev.ROLLOUT_RECOVERED, f"recovered after a restart: was {status} at {where}; paused — resume, promote or roll back",
            status=Status.PAUSED, hold_deadline=None, hold_left=left,
        )
