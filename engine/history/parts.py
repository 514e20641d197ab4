"""The Snapshot's parts at a moment t of a run, rebuilt from what the engine recorded.

Each function answers "what did the live engine hold at t" from the history alone, with the same
limits the live parts have (ring buffers of 120 points, 200 recent events, 100 error groups, 20
closed gaps), and only from the run that was live at t: a live engine starts empty.

Where the live part has pure code for its state (alerts: the evaluator and its rule state machine),
that code is driven here rather than imitated. What was never recorded is left out rather than
guessed (say, the latest value of a health check whose status has not changed since).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from engine import eventcodes as ev
from engine.errorbook import context_text
from engine.history.db import HistoryDB, SeriesInfo, codes_in, parse_json
from engine.history.runs import Run
from engine.snapshot import (
    ERROR_GROUPS,
    RECENT_CLOSED_GAPS,
    RECENT_EVENTS,
    AlertView,
    ComponentView,
    EngineState,
    ErrorGroup,
    EventView,
    GapView,
    HealthView,
    ProcessView,
    SeriesView,
    SilenceView,
    TargetView,
)

NAN = float("nan")

Lookup = Callable[[str, str], SeriesView | None]


# -- series ------------------------------------------------------------------------------------


def ring_view(db: HistoryDB, info: SeriesInfo, t0: float, t: float, capacity: int) -> SeriesView | None:
    """What the live ring buffer of this series held at t: its newest `capacity` points of the run."""
    _table, points = db.last_points(info.id, t0, t, capacity)
    if not points:
        return None
    # NaN is stored as NULL; the live ring holds the NaN itself.
    values = tuple(NAN if v is None else v for _, v in points)
    return SeriesView(info.source, info.metric, tuple(p[0] for p in points), values, info.unit)


class SlotCache:
    """Complete slots of window views, kept: slots are counted from the epoch, so a slot that
    ended before the cursor never changes, and a step of the cursor reads only the slots it has
    not seen (usually the one it is in)."""

    def __init__(self) -> None:
        self._slots: dict[tuple[int, float], dict[int, tuple[float, float, int]]] = {}

    def points(self, db: HistoryDB, series_id: int, t0: float, t: float, capacity: int) -> list[tuple[float, float]]:
        slot = max(1e-3, (t - t0) / capacity)
        first, current = int(t0 // slot), int(t // slot)
        known = self._slots.setdefault((series_id, slot), {})
        missing = next((b for b in range(first, current) if b not in known), current)
        fresh: dict[int, tuple[float, float, int]] = {}
        for b, newest, total, count in db.slot_sums(series_id, missing * slot, t, slot):
            fresh[b] = (newest, total, count)
            if b < current:  # ended before t: final
                known[b] = fresh[b]
        for b in range(missing, current):
            known.setdefault(b, (0.0, 0.0, 0))  # an empty slot is final too
        out = []
        for b in range(first + 1, current + 1):  # capacity slots: the first, partial one is left out
            newest, total, count = fresh.get(b) or known.get(b, (0.0, 0.0, 0))
            if count:
                out.append((newest, total / count))
        return out


def window_view(db: HistoryDB, info: SeriesInfo, t0: float, t: float, capacity: int,
                cache: SlotCache) -> SeriesView | None:
    """The series over [t0, t] in at most `capacity` points (slot means of raw and rolled-up rows),
    the last point being the last value recorded at or before t (what the panel prints)."""
    points = cache.points(db, info.id, t0, t, capacity)
    if not points:
        return None
    times, values = [p[0] for p in points], [p[1] for p in points]
    _table, last = db.last_points(info.id, t0, t, 1)
    if last and last[0][1] is not None:
        times[-1], values[-1] = last[0][0], last[0][1]
    return SeriesView(info.source, info.metric, tuple(times), tuple(values), info.unit)


class RingLookup:
    """`lookup(source, metric)` over ring views at t, read on demand and kept: what the live
    alert evaluator and canary window read from the engine's ring buffers."""

    def __init__(self, db: HistoryDB, t0: float, t: float, capacity: int, known: Sequence[SeriesView] = ()) -> None:
        self.db, self.t0, self.t, self.capacity = db, t0, t, capacity
        self._ids = {(i.source, i.metric): i for i in db.series_info()}
        self._cache: dict[tuple[str, str], SeriesView | None] = {(s.source, s.metric): s for s in known}

    def __call__(self, source: str, metric: str) -> SeriesView | None:
        key = (source, metric)
        if key not in self._cache:
            info = self._ids.get(key)
            self._cache[key] = ring_view(self.db, info, self.t0, self.t, self.capacity) if info else None
        return self._cache[key]


# -- events and errors -------------------------------------------------------------------------


def event_views(db: HistoryDB, t0: float, t: float) -> tuple[EventView, ...]:
    return tuple(
        EventView(e["t"], e["kind"], e["severity"], e["source"], e["message"])
        for e in db.find_events(t0, t, limit=RECENT_EVENTS)
    )


def error_groups(db: HistoryDB, t0: float, t: float) -> tuple[ErrorGroup, ...]:
    """The live error book: warning and critical events of the run, by (source, message), newest first."""
    return tuple(
        ErrorGroup(source, message, int(count), first, last, context_text(kind, parse_json(data)))
        for source, message, count, first, last, kind, data in db.error_groups(t0, t, ERROR_GROUPS)
    )


def engine_state(db: HistoryDB, run: Run, t: float) -> EngineState:
    if run.stopped_at(t):
        return EngineState.STOPPED
    return EngineState.PAUSED if paused_since(db, run, t) is not None else EngineState.RUNNING


def paused_since(db: HistoryDB, run: Run, t: float) -> float | None:
    """When the engine was paused, if it was at t (its last pause or resume then was a pause)."""
    latest = db.pauses(run.started, t, limit=1, newest=True)
    return latest[-1]["t"] if latest and latest[-1]["code"] == ev.ENGINE_PAUSED.code else None


# -- gaps ----------------------------------------------------------------------------------------


def gap_views(db: HistoryDB, t0: float, t: float) -> tuple[GapView, ...]:
    """Open gaps (oldest first), then the newest 20 closed ones, newest first — as engine/gaps.py."""
    latest = db.latest_per("gap", "json_extract(data, '$.series')", t0, t,
                           "json_extract(data, '$.series') IS NOT NULL")
    opened = sorted(
        (_gap(e["data"]) for e in latest if e["data"].get("end") is None),
        key=lambda g: g.start,
    )
    closed = db.find_events(t0, t, codes_in(ev.GAP_CLOSED),
                            limit=RECENT_CLOSED_GAPS)
    return tuple(opened) + tuple(_gap(e["data"]) for e in reversed(closed))


def _gap(data: dict[str, Any]) -> GapView:
    end = data.get("end")
    return GapView(str(data.get("series", "")), float(data.get("start", 0.0)),
                   float(end) if end is not None else None, str(data.get("cause", "")))


# -- health and components -----------------------------------------------------------------------

def health_views(db: HistoryDB, run: Run, t: float) -> tuple[HealthView, ...]:
    """The Health panel's lines in the live order (contributors in component order): the backup
    line and the configured checks. Lines of watch sources and collect health targets are not
    rebuilt: their state changes are recorded as text only."""
    if not run.recorded:
        return check_views(db, run, t)
    views: list[HealthView] = []
    for name in run.components:
        if name == "backup":
            views += backup_views(db, run, t)
        elif name == "health":
            views += check_views(db, run, t)
    return tuple(views)


def backup_views(db: HistoryDB, run: Run, t: float) -> tuple[HealthView, ...]:
    """The backup component's own line, from its last good backup (any run: the live component
    finds it in the backup directory at start) and its last failure in this run."""
    if run.config is None:
        return ()
    from engine.backup.status import backup_health

    good = db.find_events(None, t, codes_in(ev.BACKUP_DONE), limit=1)
    last_ok = None
    if good:
        data = good[-1]["data"]
        last_ok = (good[-1]["t"], str(data["path"]).rsplit("/", 1)[-1], int(data.get("bytes") or 0))
    failed = db.find_events(run.started, t, "kind = 'backup' AND severity IN ('warning', 'critical')", limit=1)
    last_error = None
    if failed:
        error = (failed[-1]["data"] or {}).get("error") or failed[-1]["message"]
        last_error = (failed[-1]["t"], str(error))
    return (backup_health(run.config.backup, t, last_ok=last_ok, last_error=last_error),)


def check_views(db: HistoryDB, run: Run, t: float) -> tuple[HealthView, ...]:
    """Each configured check's shown status: UNKNOWN until its first result, then as its latest
    status change said (value and limit of that result; later values were not recorded)."""
    latest = {
        e["source"].removeprefix("health:"): e
        for e in db.latest_per("health", "source", run.started, t, codes_in(ev.CHECK_CHANGED))
    }
    names = [c.name for c in run.config.health] if run.config is not None else []
    names += [n for n in latest if n not in names]
    views = []
    for name in names:
        event = latest.get(name)
        if event is None:
            views.append(HealthView(name, "UNKNOWN", run.started, detail="no result yet"))
            continue
        data = event["data"]
        views.append(HealthView(name, str(data.get("status", "UNKNOWN")), event["t"], str(data.get("value") or ""),
                                str(data.get("limit") or ""), str(data.get("reason") or "")))
    return tuple(views)


def component_views(db: HistoryDB, run: Run, t: float) -> tuple[ComponentView, ...]:
    """The supervisor's lines: running since the start, restarting after a crash for its backoff."""
    if run.stopped_at(t):
        return tuple(ComponentView(name, "stopped", 0, None, run.ended or t) for name in run.components)
    crashes = {
        e["source"]: e
        for e in db.latest_per("engine", "source", run.started, t, codes_in(ev.COMPONENT_CRASHED))
    }
    views = []
    for name in run.components:
        crash = crashes.get(name)
        if crash is None:
            views.append(ComponentView(name, "running", 0, None, run.started))
            continue
        data = crash["data"]
        back = crash["t"] + float(data.get("backoff_s") or 0.0)
        error = data.get("error", "")
        state, since = ("restarting", crash["t"]) if t < back else ("running", back)
        views.append(ComponentView(name, state, int(data.get("restarts") or 0), str(error), since))
    return tuple(views)


# -- alerts --------------------------------------------------------------------------------------

RULE_STATES = (ev.ALERT_INACTIVE, ev.ALERT_PENDING, ev.ALERT_FIRING, ev.ALERT_RESOLVED)
ALERT_TRANSITIONS = (*RULE_STATES, ev.ALERT_NO_DATA, ev.ALERT_DATA_AGAIN)


def alert_eval_time(db: HistoryDB, run: Run, t: float) -> float | None:
    """When the live evaluator last ran at or before t: it runs every EVALUATE_EVERY seconds and
    every transition is recorded at an evaluation, so the newest one in the run fixes the phase.
    None before the first (the live list was still empty); while paused, the last one before."""
    from engine.alerts.evaluator import EVALUATE_EVERY

    if run.config is not None and not run.config.alerts:
        return None
    anchor = db.find_events(run.started, t, codes_in(*ALERT_TRANSITIONS), limit=1)
    if not anchor:
        return None
    paused = paused_since(db, run, t)
    if paused is not None:  # no evaluation while paused
        t = min(t, paused)
    a = anchor[-1]["t"]
    return a + ((t - a) // EVALUATE_EVERY) * EVALUATE_EVERY if t >= a else a


def alert_views(db: HistoryDB, run: Run, t: float, lookup: Lookup) -> tuple[tuple[AlertView, ...], tuple[SilenceView, ...]]:
    """The alert list and the active silences at t: each rule's state machine restored from its
    last recorded transition and silences from their events, then one evaluation by the engine's
    own evaluator at t."""
    from engine.alerts.evaluator import AlertEvaluator
    from engine.alerts.rules import RuleState
    from engine.alerts.silences import MAX_DURATION

    transitions = {
        e["data"]["rule"]: e
        for e in db.latest_per("alert", "json_extract(data, '$.rule')", run.started, t, codes_in(*RULE_STATES))
    }
    flags = {
        e["data"]["rule"]: e
        for e in db.latest_per("alert", "json_extract(data, '$.rule')", run.started, t,
                               codes_in(ev.ALERT_NO_DATA, ev.ALERT_DATA_AGAIN))
    }
    rules = list(run.config.alerts) if run.config is not None else _rules_from_events(transitions, flags)
    if not rules:
        return (), ()
    evaluator = AlertEvaluator(rules, clock=lambda: t)
    for rule in rules:
        state = RuleState(since=run.started)
        event = transitions.get(rule.name)
        if event is not None:
            state.state, state.since = event["data"]["to"], event["t"]
            if state.state in ("pending", "firing"):
                state.active_since = event["t"]
        flag = flags.get(rule.name)
        if flag is not None and flag["code"] == ev.ALERT_NO_DATA.code:
            state.no_data_since = flag["t"]
        evaluator.states[rule.name] = state
    silences = db.find_events(max(run.started, t - MAX_DURATION), t,
                              codes_in(ev.SILENCE_ADDED, ev.SILENCE_LIFTED, ev.SILENCE_EXPIRED), limit=100_000)
    evaluator.silences.restore(silences, t, set(evaluator.rules))
    evaluator.evaluate(_with_windows(db, rules, t, lookup))
    return evaluator.views(), evaluator.silence_views()


def _with_windows(db: HistoryDB, rules: Sequence[Any], t: float, lookup: Lookup) -> Lookup:
    """Windowed rules (ratio, rate, ...) read every sample of their window, which may be longer
    than a ring holds: the series they read are taken from the file over (t - window, t]."""
    from engine.alerts.config import window_spans

    spans = window_spans(list(rules))
    known = {(i.source, i.metric): i.unit for i in db.series_info()}
    views: dict[tuple[str, str], SeriesView | None] = {}

    def find(source: str, metric: str) -> SeriesView | None:
        key = (source, metric)
        if key not in spans or key not in known:
            return lookup(source, metric)
        if key not in views:
            rows = [(a, v) for a, v in db.series(source, metric, t - spans[key], t) if a > t - spans[key]]
            views[key] = SeriesView(source, metric, tuple(a for a, _ in rows),
                                    tuple(float("nan") if v is None else v for _, v in rows), known[key]) if rows else None
        return views[key] or lookup(source, metric)

    return find


def _rules_from_events(*latest: dict[str, dict[str, Any]]) -> list[Any]:
    """Without a recorded config: the rules as their events describe them (no summary or `for`)."""
    from engine.alerts.config import AlertRule

    rules: dict[str, Any] = {}
    for events in latest:
        for name, e in events.items():
            data = e["data"]
            if name in rules:
                continue
            try:
                given = {"name": name, "series": data["series"], "op": data["op"], "value": data["threshold"],
                         "severity": data.get("severity", "warning"), "function": data.get("function", "last"),
                         **{k: data.get(k) for k in ("over", "quantile", "numerator", "denominator", "min_requests")}}
                rules[name] = AlertRule.model_validate({k: v for k, v in given.items() if v is not None})
            except (KeyError, ValueError):  # a record from another version: not shown, not guessed
                continue
    return list(rules.values())


# -- collection targets and processes ------------------------------------------------------------

def target_views(db: HistoryDB, run: Run, t: float, lookup_source: Callable[[str], bool]) -> tuple[TargetView, ...]:
    """Each configured target's state from its last state-change event; before any, OK if it has
    delivered samples in this run (the first good scrape is not an event), else PENDING."""
    moves = {e["data"]["target"]: e["data"] for e in db.latest_per("collect", "json_extract(data, '$.target')",
                                                                   run.started, t, codes_in(ev.TARGET_STATE))}
    configured: list[tuple[str, bool]] = []
    collect = run.config.collect if run.config is not None else None
    if collect is not None:
        configured = [(target.name, target.enabled) for track in collect.tracks for target in track.targets]
    configured += [(name, True) for name in moves if name not in {n for n, _ in configured}]
    views = []
    for name, enabled in configured:
        move = moves.get(name)
        if move is not None:
            views.append(TargetView(name, str(move["to"]), move.get("error")))
        elif not enabled:
            views.append(TargetView(name, "DISABLED"))
        else:
            views.append(TargetView(name, "OK" if lookup_source(f"collect:{name}") else "PENDING"))
    return tuple(views)


def process_views(db: HistoryDB, run: Run, t: float, lookup: Lookup) -> tuple[ProcessView, ...]:
    """Each configured process from its proc:<name> series and the pid its last event named."""
    monitor = run.config.monitor if run.config is not None else None
    names = [rule.name for rule in monitor.processes] if monitor is not None else []
    if not names:
        return ()
    last = {e["source"]: e for e in db.latest_per("monitor", "source", run.started, t, "source LIKE 'proc:%'")}

    def last_value(source: str, metric: str) -> float | None:
        view = lookup(source, metric)
        return view.last if view is not None else None

    views = []
    for name in names:
        source = f"proc:{name}"
        value = partial(last_value, source)
        event = last.get(source)
        gone = event is not None and "why" in (event["data"] or {})
        running = value("running")
        if event is None and running is None:
            views.append(ProcessView(name, None, None, None, status="starting"))
            continue
        if gone or running == 0:
            views.append(ProcessView(name, None, None, None, status="not running", restarts=int(value("restarts") or 0)))
            continue
        pid = (event["data"] or {}).get("pid") if event is not None else None
        rss, threads, fds = value("rss_bytes"), value("threads"), value("fds")
        views.append(ProcessView(
            name, int(pid) if pid is not None else None, value("cpu_pct"), int(rss) if rss is not None else None,
            int(threads) if threads is not None else None, int(fds) if fds is not None else None,
            uptime_s=value("uptime_s"), restarts=int(value("restarts") or 0),
        ))
    return tuple(views)
