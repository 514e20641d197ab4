"""What-if: re-run the canary analysis and the alert rules over the recorded samples with other
thresholds, and say side by side what would have been decided, and when.

Same code as the live engine, not a copy of it:
- canary: `engine.canary.analysis.Analysis` judges each check (its counters, its explanation
  words), `engine.canary.statemachine.RolloutMachine` moves the rollout; checks at the live check
  times (engine/history/checks.py). Only the glue the component runs after a verdict is here
  (`decide()`, mirroring CanaryComponent._check / _maybe_promote): roll back, pause, or promote when
  the hold has passed with a clean check; actuation always succeeds and gates are not asked;
- alerts: `engine.alerts.evaluator.AlertEvaluator` with a clock set to each evaluation time (every
  EVALUATE_EVERY while the engine ran), reading the newest recorded sample of each rule's series,
  and for windowed rules (ratio, rate, ...) every recorded sample of their window, count series
  included: what the live rule read from its ring buffers and the history.

Three columns per rollout and per rule: what was recorded, the replay with the run's own recorded
config (it must reproduce the record: that is the check that the replay is faithful), and the
replay with the other config. A simulated rollout stops at its first final decision (promoted,
rolled back): after a diverging decision, the recorded samples no longer describe what traffic
would have done. Operator verbs (by a person, not the engine) are replayed at their times when
the simulated rollout allows them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import eventcodes as ev
from engine.canary.analysis import NONE, PAUSE, ROLLBACK, Analysis
from engine.canary.checking import check_context
from engine.canary.config import CanaryConfig
from engine.canary.statemachine import FINISHED, HOLDING, RolloutMachine, Status
from engine.history.checks import SampleCache, schedule
from engine.history.cursor import format_time
from engine.history.db import HistoryDB, codes_in
from engine.history.rollout import Clock, apply_transition
from engine.history.runs import Run, run_at
from engine.snapshot import SeriesView
from engine.units import format_duration
from engine.verbs import Verb

SAME_TIME = 1.5  # seconds: decisions this close count as "at the same time"


@dataclass(frozen=True)
class WhatIfInput:
    """The other config: its path and the validated Config."""

    path: Path
    config: Any


def load_what_if(path: Path) -> Any:
    """The other config, validated (ConfigError lists every problem as file:line: key: message)."""
    from engine.config.loader import load_config

    return load_config(path).config
DEFAULT_SPAN = 24 * 3600.0  # without rollouts, what-if looks at the last day of the file
MARGIN = 600.0  # around the recorded rollouts


def span_for(db: HistoryDB, first: float, last: float) -> tuple[float, float]:
    """The span a what-if replays by default: every recorded rollout with 10 minutes around,
    else the file's last day (alert rules are evaluated every second of it)."""
    rows = [r for r in db.all_rollouts() if r["started"] is not None]
    if rows:
        lo = min(float(r["started"]) for r in rows) - MARGIN
        hi = max(float(r["ended"] if r["ended"] is not None else last) for r in rows) + MARGIN
        return max(first, lo), min(last, hi)
    return max(first, last - DEFAULT_SPAN), last


@dataclass(frozen=True)
class Decision:
    t: float
    action: str  # rollback / pause / promote / promoted / resume / freeze / started
    stage: int  # 1-based, when decided
    weight: int
    reason: str
    by: str = "engine"

    def describe(self) -> str:
        verb = {"rollback": "rollback", "pause": "pause", "promote": "promote", "promoted": "promoted to 100%"}.get(
            self.action, self.action)
        return f"{verb} at {self.weight}% (stage {self.stage}) {format_time(self.t, with_date=False)}"


@dataclass
class RolloutWhatIf:
    rollout_id: int
    service: str
    recorded: list[Decision]
    baseline: list[Decision] | None  # None: the run recorded no canary config to replay
    other: list[Decision] | None  # None: the other config has no canary section
    note: str = ""

    def verdict(self, decisions: list[Decision] | None) -> Decision | None:
        """The outcome that matters: the first rollback or automatic pause, else the last step."""
        if not decisions:
            return None
        for d in decisions:
            if d.action in ("rollback", "pause") and d.by == "engine":
                return d
        return decisions[-1]

    def compare(self) -> str:
        """One line: "other: rollback at 10% (stage 2) 13:58:31, 4m earlier than recorded"."""
        recorded, other = self.verdict(self.recorded), self.verdict(self.other)
        if self.other is None:
            return "the other config has no canary section"
        if other is None:
            return "no decision in the recorded span (no check would have acted)"
        if recorded is None:
            return other.describe()
        if other.action == recorded.action and other.stage == recorded.stage:
            delta = recorded.t - other.t
            if abs(delta) <= SAME_TIME:
                return f"{other.describe()}: the same decision at the same time"
            when = "earlier" if delta > 0 else "later"
            return f"{other.describe()}, {format_duration(abs(delta))} {when}"
        if other.action == "rollback" and recorded.action != "rollback":
            return f"{other.describe()} (recorded: {recorded.describe()})"
        if recorded.action == "rollback" and other.action != "rollback":
            return f"no rollback: {other.describe()} (recorded: {recorded.describe()})"
        return f"{other.describe()} (recorded: {recorded.describe()})"


@dataclass
class RuleWhatIf:
    rule: str
    recorded: list[tuple[float, str]]  # (t, state) transitions into firing / resolved
    baseline: list[tuple[float, str]] | None
    other: list[tuple[float, str]] | None

    def compare(self) -> str:
        first = _first_firing(self.other)
        base = _first_firing(self.recorded)
        if self.other is None:
            return "not in the other config"
        if first is None:
            return "no alert" + (f" (recorded: fired {format_time(base, with_date=False)})" if base else "")
        if base is None:
            return f"fires {format_time(first, with_date=False)} (recorded: no alert)"
        delta = base - first
        if abs(delta) <= SAME_TIME:
            return f"fires {format_time(first, with_date=False)}: the same"
        return f"fires {format_time(first, with_date=False)}, {format_duration(abs(delta))} {'earlier' if delta > 0 else 'later'}"


def _first_firing(transitions: list[tuple[float, str]] | None) -> float | None:
    return next((t for t, state in transitions or () if state == "firing"), None)


@dataclass
class WhatIfReport:
    since: float
    until: float
    rollouts: list[RolloutWhatIf] = field(default_factory=list)
    rules: list[RuleWhatIf] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"what-if over {format_time(self.since)} .. {format_time(self.until)}"]
        out += [f"  note: {n}" for n in self.notes]
        for r in self.rollouts:
            rec = r.verdict(r.recorded)
            base = r.verdict(r.baseline)
            out.append(f"rollout #{r.rollout_id} {r.service}")
            out.append(f"  recorded:          {rec.describe() if rec else 'no decision'}"
                       + (f" — {rec.reason}" if rec else ""))
            if r.baseline is not None:
                out.append(f"  replay (recorded): {base.describe() if base else 'no decision'}")
            out.append(f"  other config:      {r.compare()}")
            if r.note:
                out.append(f"  note: {r.note}")
        for rule in self.rules:
            out.append(f"alert {rule.rule}: {rule.compare()}")
        return out


# -- canary ----------------------------------------------------------------------------------------


def recorded_decisions(events: Sequence[dict[str, Any]]) -> list[Decision]:
    """The decisions of a recorded rollout, from its transitions."""
    out = []
    for e in events:
        d = e.get("data") or {}
        code, before = e["code"], d.get("from")
        by = "engine" if d.get("actor") == "engine" else str(d.get("actor") or "")
        stage, weight = int(d.get("stage") or 1), int(d.get("weight") or 0)
        message = e["message"]
        if code == ev.ROLLOUT_ROLLING_BACK.code and before != Status.ROLLING_BACK:
            out.append(Decision(e["t"], "rollback", stage, weight, message, by))
        elif (code == ev.ROLLOUT_PAUSED.code and before in (Status.RUNNING, Status.WAITING)
              and d.get("cause") != "engine_stopping"):
            out.append(Decision(e["t"], "pause", stage, weight, message, by))
        elif code == ev.ROLLOUT_STAGE_ENTERED.code:
            out.append(Decision(e["t"], "promote", stage, weight, message, by))
        elif code == ev.ROLLOUT_PROMOTED.code:
            out.append(Decision(e["t"], "promoted", stage, 100, message, by))
    return out


def decide(machine: RolloutMachine, analysis: Analysis, config: CanaryConfig, readings: dict, c: float,
           *, down: str | None = None, previous_check: float | None = None) -> Decision | None:
    """One check, as CanaryComponent._check and _maybe_promote act on it (see the module docstring)."""
    r = machine.rollout
    if r is None or r.status not in HOLDING:
        return None
    counted, context = check_context(config, r, c, down=down, previous_check=previous_check)
    result = analysis.evaluate(readings, count=counted, context=context)
    where = (r.stage + 1, r.weight)
    if result.action == NONE:
        if not (result.clean and machine.hold_passed(slack=min(0.5, config.interval / 10))):
            return None
        if machine.at_last_stage:
            machine.begin_promotion("promoting to 100%")
            machine.promoted("promoted to 100%")
            return Decision(c, "promoted", *where, "hold passed with clean checks")
        machine.enter_stage(r.stage + 1, "promoted")
        return Decision(c, "promote", r.stage + 2, machine.stage_weight(r.stage + 1), "hold passed with clean checks")
    if r.status is Status.FROZEN:
        return None
    if result.action == ROLLBACK:
        machine.begin_rollback(result.reason)
        machine.rolled_back(result.reason)
        return Decision(c, "rollback", *where, result.reason)
    assert result.action == PAUSE
    if r.status is Status.PAUSED:  # already held, still guarded
        return None
    machine.pause(result.reason)
    return Decision(c, "pause", *where, result.reason)


def simulate_rollout(db: HistoryDB, runs: Sequence[Run], config: CanaryConfig, events: Sequence[dict[str, Any]],
                     until: float) -> list[Decision]:
    """The rollout's decisions with `config`, from its recorded start to `until`."""
    if not events:
        return []
    clock = Clock(events[0]["t"])
    machine = RolloutMachine(config.service, config.stages, clock)
    apply_transition(machine, events[0])  # the start, as recorded
    analysis = Analysis(config)
    samples = SampleCache(db, analysis.series_keys())
    lifecycle = [e for e in events[1:] if _replayed_as_recorded(e)]
    decisions: list[Decision] = []
    start = events[0]["t"]
    for run in runs:
        end = run.ended if run.ended is not None else run.next_start
        if (end is not None and end < start) or run.started > until:
            continue
        if run.started > start:
            analysis = Analysis(config)  # a new engine: new counters, as live
        previous: float | None = None
        for c in schedule(db, run, config.interval).times(max(start, run.started),
                                                          min(until, end if end is not None else until)):
            while lifecycle and lifecycle[0]["t"] < c:
                e = lifecycle.pop(0)
                clock.t = e["t"]
                _apply_if_allowed(machine, e)
            clock.t = c
            readings = samples.readings(analysis.series_keys(), c - config.analysis_window, c)
            decision = decide(machine, analysis, config, readings, c, down=samples.down_at(c, config.interval),
                              previous_check=previous)
            previous = c
            if decision is not None:
                decisions.append(decision)
            if machine.status in FINISHED:
                return decisions
    return decisions


def _replayed_as_recorded(event: dict[str, Any]) -> bool:
    """Transitions a what-if keeps from the record: a person's verbs and the engine's own
    lifecycle (recovery after a restart, the pause when it stopped) — not its decisions."""
    data = event.get("data") or {}
    if event["code"] not in ev.ROLLOUT_TRANSITIONS:
        return False
    if data.get("actor") != "engine":
        return True
    return event["code"] == ev.ROLLOUT_RECOVERED.code or data.get("cause") == "engine_stopping"


# The person's verb a recorded transition was made by.
_VERB_OF: dict[str, Verb] = {ev.ROLLOUT_STAGE_ENTERED.code: Verb.PROMOTE, ev.ROLLOUT_RESUMED.code: Verb.RESUME,
                             ev.ROLLOUT_PAUSED.code: Verb.PAUSE, ev.ROLLOUT_FROZEN.code: Verb.FREEZE,
                             ev.ROLLOUT_ROLLING_BACK.code: Verb.ROLLBACK, ev.ROLLOUT_PROMOTING.code: Verb.PROMOTE_FULL}


def _apply_if_allowed(machine: RolloutMachine, event: dict[str, Any]) -> None:
    """A recorded person's verb, applied to the simulated rollout if it allows that verb now."""
    if machine.status in FINISHED:
        return
    code, message, r = event["code"], event["message"], machine.rollout
    if code == ev.ROLLOUT_RECOVERED.code or (machine.status is Status.PROMOTING and code == ev.ROLLOUT_PROMOTED.code):
        apply_transition(machine, event)
        return
    verb = _VERB_OF.get(code)
    if verb is None or verb not in machine.verbs():
        return
    if verb is Verb.PROMOTE:  # one stage up from where the simulation is, unless it is there already
        assert r is not None
        if int((event.get("data") or {}).get("stage") or 1) - 1 == r.stage:
            return
        if machine.at_last_stage:
            machine.begin_promotion(message)
            machine.promoted(message)
        else:
            machine.enter_stage(r.stage + 1, message)
        return
    apply_transition(machine, event)
    if machine.status is Status.ROLLING_BACK:
            machine.rolled_back(message)  # in a what-if, actuation succeeds


# -- alerts ----------------------------------------------------------------------------------------


def simulate_alerts(db: HistoryDB, runs: Sequence[Run], rules: Sequence[Any], since: float,
                    until: float) -> dict[str, list[tuple[float, str]]]:
    """Each rule's transitions into firing and resolved over [since, until], evaluated by the
    engine's evaluator every EVALUATE_EVERY seconds while an engine ran."""
    from engine.alerts.config import window_spans
    from engine.alerts.evaluator import EVALUATE_EVERY, AlertEvaluator

    out: dict[str, list[tuple[float, str]]] = {rule.name: [] for rule in rules}
    if not rules:
        return out
    keys = sorted({rule.series for rule in rules})
    samples = SampleCache(db, keys)
    windows = WindowSamples(db, window_spans(list(rules)))
    clock = Clock(since)

    def lookup(source: str, metric: str) -> SeriesView | None:
        found = windows.view(source, metric, clock.t)  # what the live WindowFeed holds
        if found is not None:
            return found
        newest = samples.latest(f"{source}/{metric}", clock.t)  # what the live ring's newest is
        if newest is None:
            return None
        value = math.nan if newest[1] is None else newest[1]
        return SeriesView(source, metric, (newest[0],), (value,), samples.unit(f"{source}/{metric}"))

    for run in runs:
        end = run.ended if run.ended is not None else (run.next_start if run.next_start is not None else until)
        lo, hi = max(since, run.started), min(until, end)
        if hi <= lo:
            continue
        clock.t = lo
        evaluator = AlertEvaluator(list(rules), clock=clock)  # a new engine: rules start inactive

        steps = int((hi - lo) // EVALUATE_EVERY)
        for k in range(steps + 1):
            clock.t = lo + k * EVALUATE_EVERY
            for event in evaluator.evaluate(lookup):
                to = (event.data or {}).get("to")
                if to in ("firing", "resolved"):
                    out[event.data["rule"]].append((clock.t, to))
    return out


class WindowSamples:
    """The recorded samples of the series windowed rules read, (t - span, t] at each evaluation:
    the same window the live engine's WindowFeed holds (ring plus history). Read an hour-long chunk
    at a time per series, so a replay costs one range read per series per hour."""

    CHUNK = 3600.0

    def __init__(self, db: HistoryDB, spans: dict[tuple[str, str], float]) -> None:
        self.db, self.spans = db, spans
        self.units = {(i.source, i.metric): i.unit for i in db.series_info()}
        self._loaded: dict[tuple[str, str], tuple[float, float, list[float], list[float]]] = {}

    def view(self, source: str, metric: str, t: float) -> SeriesView | None:
        """None for a series no windowed rule reads, or without a sample in its window (the caller
        then gives the newest one before, whose age says "no data", as live)."""
        key = (source, metric)
        span = self.spans.get(key)
        if span is None or key not in self.units:
            return None
        start, end, times, values = self._loaded.get(key) or (math.inf, -math.inf, [], [])
        if t - span < start or t > end:
            end = t + self.CHUNK
            rows = self.db.series(source, metric, t - span, end)
            start, times = t - span, [r[0] for r in rows]
            values = [math.nan if r[1] is None else r[1] for r in rows]
            self._loaded[key] = (start, end, times, values)
        lo, hi = bisect.bisect_right(times, t - span), bisect.bisect_right(times, t)
        if lo == hi:
            return None
        return SeriesView(source, metric, tuple(times[lo:hi]), tuple(values[lo:hi]), self.units[key])


def recorded_alerts(db: HistoryDB, since: float, until: float) -> dict[str, list[tuple[float, str]]]:
    out: dict[str, list[tuple[float, str]]] = {}
    for e in db.find_events(since, until, codes_in(ev.ALERT_FIRING, ev.ALERT_RESOLVED), limit=100_000, newest=False):
        out.setdefault(e["data"]["rule"], []).append((e["t"], e["data"]["to"]))
    return out


# -- the report ------------------------------------------------------------------------------------


def what_if(db: HistoryDB, runs: Sequence[Run], other: Any, since: float, until: float) -> WhatIfReport:
    """Compare the record, the replay with each run's recorded config and the replay with `other`
    (a validated Config) over [since, until]."""
    report = WhatIfReport(since, until)
    rollouts = [r for r in db.all_rollouts() if (r["started"] or 0) <= until and (r["ended"] or until) >= since]
    for row in rollouts:
        events = db.rollout_events(int(row["id"]))
        if not events:
            continue
        run = run_at(runs, events[0]["t"])
        recorded_config = run.config.canary if run is not None and run.config is not None else None
        end = min(until, max(e["t"] for e in events) + 1.0)
        item = RolloutWhatIf(int(row["id"]), str(row["service"]), recorded_decisions(events), None, None)
        if recorded_config is not None:
            item.baseline = simulate_rollout(db, runs, recorded_config, events, end)
        elif run is not None:
            item.note = f"no baseline replay: {run.config_problem or 'the run recorded no canary config'}"
        if other.canary is not None:
            if other.canary.service != row["service"]:
                item.note = f"the other config's canary is for {other.canary.service!r}, not {row['service']!r}"
            else:
                item.other = simulate_rollout(db, runs, other.canary, events, end)
        report.rollouts.append(item)
    if not rollouts:
        report.notes.append("no rollout in this span")
    recorded = recorded_alerts(db, since, until)
    baseline_rules = {r.name: r for run in runs if run.config is not None for r in run.config.alerts}
    simulated_base = simulate_alerts(db, runs, list(baseline_rules.values()), since, until)
    simulated_other = simulate_alerts(db, runs, list(other.alerts), since, until)
    for name in sorted(set(recorded) | set(baseline_rules) | {r.name for r in other.alerts}):
        report.rules.append(RuleWhatIf(name, recorded.get(name, []), simulated_base.get(name),
                                       simulated_other.get(name)))
    return report
