"""The rollout panel at any moment of a history, built by the canary's own code.

The live RolloutView comes from engine/canary/view.py `build_view(config, machine, last_check,
last_decision, alert)`. Review builds the same three inputs from the file and calls it:

- the machine: a `RolloutMachine` driven through the recorded transitions (events of kind
  "rollout" carrying the rollout's id, its from/to status and stage), each applied with the
  machine's clock set to the event's time, so stage start, hold deadline and hold left are
  computed by the machine itself, as they were live;
- the last check: `engine.canary.analysis.Analysis` re-run over the recorded samples at the live
  check times (engine/history/checks.py), with the counters reset where the live ones were (a
  rollout's start, an engine start), counting exactly when the live loop counted;
- the last decision and the red alert line: the messages of the transitions (told apart by code).

Replayed checks are cached per rollout and run, so scrubbing forward costs only the new checks.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine import eventcodes as ev
from engine.canary.analysis import Analysis, CheckContext, CheckResult
from engine.canary.checking import check_context
from engine.canary.config import CanaryConfig
from engine.canary.statemachine import FINISHED, HOLDING, RolloutMachine, Status
from engine.canary.view import build_view
from engine.history.checks import SampleCache, Schedule, schedule
from engine.history.db import HistoryDB, codes_in
from engine.history.runs import Run
from engine.snapshot import RolloutView


def apply_transition(machine: RolloutMachine, event: dict[str, Any], started: float | None = None) -> bool:
    """Apply one recorded transition to `machine` (whose clock must read the event's time), by its
    code. Returns False for rollout events that are not transitions (a held promotion, a re-applied weight)."""
    data = event.get("data") or {}
    code, reason = event["code"], event["message"]
    if code not in ev.ROLLOUT_TRANSITIONS or "rollout_id" not in data:
        return False
    rid = int(data["rollout_id"])
    stage = max(0, int(data.get("stage") or 1) - 1)
    r = machine.rollout
    if code == ev.ROLLOUT_ABORTED.code:
        machine.abort_start(rid, reason)
    elif code == ev.ROLLOUT_RECOVERED.code:
        machine.recover({"id": rid, "status": data.get("from"), "stage": stage, "weight": data.get("weight"),
                         "started": r.started if r is not None and r.id == rid else started,
                         "ended": None, "reason": r.reason if r is not None else ""})
    elif code == ev.ROLLOUT_STARTED.code or r is None or r.id != rid:
        machine.rollout = None
        machine.start(rid, reason)
    elif code == ev.ROLLOUT_ROLLING_BACK.code and r.status is Status.ROLLING_BACK:
        machine.note(reason)
    else:
        _APPLY[code](machine, stage, reason)
    return True


_APPLY: dict[str, Callable[[RolloutMachine, int, str], Any]] = {
    ev.ROLLOUT_STAGE_ENTERED.code: lambda m, stage, reason: m.enter_stage(stage, reason),
    ev.ROLLOUT_RESUMED.code: lambda m, stage, reason: m.resume(reason),
    ev.ROLLOUT_PAUSED.code: lambda m, stage, reason: m.pause(reason),
    ev.ROLLOUT_FROZEN.code: lambda m, stage, reason: m.freeze(reason),
    ev.ROLLOUT_PROMOTING.code: lambda m, stage, reason: m.begin_promotion(reason),
    ev.ROLLOUT_PROMOTED.code: lambda m, stage, reason: m.promoted(reason),
    ev.ROLLOUT_ROLLING_BACK.code: lambda m, stage, reason: m.begin_rollback(reason),
    ev.ROLLOUT_ROLLED_BACK.code: lambda m, stage, reason: m.rolled_back(reason),
    ev.ROLLOUT_NOTED.code: lambda m, stage, reason: m.note(reason),
}


class Clock:
    """A settable clock for the machine: replay moves it to each event's time."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def replay_machine(config: CanaryConfig, events: list[dict[str, Any]], until: float,
                   started: float | None = None) -> tuple[RolloutMachine, str, str]:
    """The machine after every transition at or before `until`; with the last decision and the
    alert line, as the component kept them."""
    clock = Clock()
    machine = RolloutMachine(config.service, config.stages, clock)
    last_decision = alert = ""
    for event in events:
        if event["t"] > until:
            break
        clock.t = event["t"]
        message = event["message"]
        if apply_transition(machine, event, started):
            last_decision = message
            if (event["data"] or {}).get("cause") == "rollback_failed":
                alert = message
            elif machine.status is not Status.ROLLING_BACK:
                alert = ""
        elif event["code"] == ev.ROLLOUT_PROMOTION_HELD.code:
            last_decision = message
    return machine, last_decision, alert


@dataclass
class _Pending:
    """A check the live component evaluated without counting (paused, warming up): it changes no
    counter, so it is evaluated only if someone looks at it, from a copy of the counters then."""

    analysis: Analysis
    result: CheckResult | None = None
    context: CheckContext | None = None


@dataclass
class _Checks:
    """Replayed checks of one rollout within one run, computed forward and kept."""

    analysis: Analysis
    samples: SampleCache
    schedule: Schedule
    events: list[dict[str, Any]]
    clock: Clock = field(default_factory=Clock)
    machine: RolloutMachine | None = None
    applied: int = 0  # events applied to `machine`
    times: list[float] = field(default_factory=list)
    results: list[CheckResult | _Pending] = field(default_factory=list)  # at HOLDING checks only
    frontier: float = float("-inf")
    done: bool = False  # the rollout finished: no check after it matters
    started: float | None = None  # the rollouts row's start (a rollout recovered from an earlier run)
    previous: float | None = None  # the last check's time

class RolloutReplay:
    def __init__(self, db: HistoryDB) -> None:
        self.db = db
        self._service_of = {int(r["id"]): r for r in db.all_rollouts()}
        self._events: dict[int, list[dict[str, Any]]] = {}
        self._checks: dict[tuple[int, float], _Checks] = {}

    def has_rollouts(self) -> bool:
        return bool(self._service_of)

    def rollout_at(self, service: str, t: float) -> int | None:
        """The id of the rollout the component held at t: the newest one of `service` that had a
        transition at or before t."""
        rows = self.db.find_events(None, t, codes_in(*ev.ROLLOUT_TRANSITION_CODES), limit=200)
        for e in reversed(rows):
            rid = (e["data"] or {}).get("rollout_id")
            if rid is None:
                continue
            row = self._service_of.get(int(rid))
            if row is not None and row["service"] == service:
                return int(rid)
        return None

    def events_of(self, rollout_id: int) -> list[dict[str, Any]]:
        if rollout_id not in self._events:
            self._events[rollout_id] = self.db.rollout_events(rollout_id)
        return self._events[rollout_id]

    def view_at(self, run: Run, t: float) -> RolloutView | None:
        config = run.config.canary if run.config is not None else None
        if config is None:
            return None
        rid = self.rollout_at(config.service, t)
        if rid is None:
            return build_view(config, RolloutMachine(config.service, config.stages), None, "", "")
        events = self.events_of(rid)
        row = self._service_of.get(rid) or {}
        machine, last_decision, alert = replay_machine(config, events, t, row.get("started"))
        return build_view(config, machine, self.last_check(run, config, rid, t), last_decision, alert)

    def last_check(self, run: Run, config: CanaryConfig, rid: int, t: float) -> CheckResult | None:
        """The newest check the live component had evaluated at t, for this rollout in this run."""
        events = self.events_of(rid)
        if not events:
            return None
        key = (rid, run.started)
        checks = self._checks.get(key)
        if checks is None:
            # Fresh counters, as the live ones were: the component builds its Analysis when the
            # engine starts and resets it when a rollout starts; checks begin at the later of both.
            analysis = Analysis(config)
            checks = self._checks[key] = _Checks(analysis, SampleCache(self.db, analysis.series_keys()),
                                                 schedule(self.db, run, config.interval), events)
            checks.machine = RolloutMachine(config.service, config.stages, checks.clock)
            checks.started = (self._service_of.get(rid) or {}).get("started")
            checks.frontier = max(run.started, events[0]["t"]) - 1e-9
        self._advance(checks, config, t)
        index = bisect.bisect_right(checks.times, t) - 1
        if index < 0:
            return None
        found = checks.results[index]
        if isinstance(found, _Pending):
            if found.result is None:
                c = checks.times[index]
                window = checks.samples.readings(found.analysis.series_keys(), c - config.analysis_window, c)
                found.result = copy.deepcopy(found.analysis).evaluate(window, count=False, context=found.context)
            return found.result
        return found

    def _advance(self, checks: _Checks, config: CanaryConfig, t: float) -> None:
        if t <= checks.frontier or checks.done:
            return
        machine = checks.machine
        assert machine is not None
        events = checks.events
        pending: _Pending | None = None
        for c in checks.schedule.times(checks.frontier, t):
            if c <= checks.frontier:
                continue
            # The state the live check saw: every transition recorded before it.
            while checks.applied < len(events) and events[checks.applied]["t"] < c:
                checks.clock.t = events[checks.applied]["t"]
                apply_transition(machine, events[checks.applied], checks.started)
                checks.applied += 1
                pending = None  # a transition may change what counts
            r = machine.rollout
            if r is None or r.status not in HOLDING:
                if machine.status in FINISHED and checks.applied == len(events):
                    checks.done = True
                    break
                continue
            down = checks.samples.down_at(c, config.interval)
            counted, context = check_context(config, r, c, down=down, previous_check=checks.previous)
            checks.previous = c
            if counted:
                pending = None
                window = checks.samples.readings(checks.analysis.series_keys(), c - config.analysis_window, c)
                checks.results.append(checks.analysis.evaluate(window, count=True, context=context))
            else:
                if pending is None:
                    pending = _Pending(copy.deepcopy(checks.analysis))
                checks.results.append(_Pending(pending.analysis, context=context))
            checks.times.append(c)
        checks.frontier = max(checks.frontier, t)
