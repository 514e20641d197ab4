"""Evaluates every rule against the latest samples, applies silences and inhibition, and says what
changed as events. The clock is injected, so tests drive time by hand.

Inhibition: while a critical rule fires, warnings whose series has the same source are muted
("inhibited by <rule>"): one root cause, one page. Muted rules are still evaluated and recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine import eventcodes as ev
from engine.alerts.config import AlertRule
from engine.alerts.rules import FIRING, INACTIVE, PENDING, RESOLVED, Lookup, Outcome, RuleState, Transition, outcome
from engine.alerts.silences import Silence, SilenceBook
from engine.eventcodes import EventCode
from engine.snapshot import AlertView, SilenceView, split_series
from engine.units import format_duration, format_value

__all__ = ["EVALUATE_EVERY", "AlertEvaluator", "AlertEvent", "Lookup", "clock_text", "condition_text", "function_text", "value_unit"]
EVALUATE_EVERY = 1.0  # seconds between evaluations; review and what-if replay the same cadence
RESOLVED_SHOWN = 300.0  # seconds a resolved alert stays in the list, so a flap is noticed
_STATE_ORDER = {FIRING: 0, PENDING: 1, "nodata": 2, RESOLVED: 3}
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_NO_DATA_MEANS = {"ok": "counted as not firing", "alert": "counted as firing", "keep": "state kept"}


@dataclass(frozen=True)
class AlertEvent:
    code: EventCode
    severity: str
    source: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def condition_text(rule: AlertRule, unit: str = "") -> str:
    """"errors/requests over 1m > 1.0% for 30s", "> 1.0% for 30s" (function last): the function,
    then the threshold in the unit of the function's value, as the panels show values."""
    if rule.function == "absent":
        text = function_text(rule)
    else:
        text = f"{rule.op} {format_value(rule.metric, rule.threshold, unit)}"
        if rule.windowed:
            text = f"{function_text(rule)} {text}"
    return f"{text} for {format_duration(rule.for_)}" if rule.for_ > 0 else text


def function_text(rule: AlertRule) -> str:
    """"errors/requests over 1m", "p95 over 5m", "rate over 5m", "no sample in 2m"; "" for last."""
    if not rule.windowed or rule.over is None:
        return ""
    over = format_duration(rule.over)
    if rule.function == "absent":
        return f"no sample in {over}"
    if rule.function == "ratio":
        keys = (rule.numerator_key, rule.denominator_key)
        shown = [split_series(k)[1] if split_series(k)[0] == rule.source else k for k in keys]
        return f"{shown[0]}/{shown[1]} over {over}"
    if rule.function == "quantile_over_time":
        return f"p{(rule.quantile or 0.0) * 100:g} over {over}"
    return f"{rule.function.removesuffix('_over_time')} over {over}"


def value_unit(rule: AlertRule, series_unit: str) -> str:
    """The unit of what the rule compares: a ratio is a fraction whatever its series' unit, a rate
    is per second; the other functions keep the series' unit."""
    if rule.function == "ratio":
        return "ratio"
    if rule.function == "rate":
        return "/s"
    return series_unit


def clock_text(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


class AlertEvaluator:
    def __init__(self, rules: list[AlertRule], *, clock: Callable[[], float] = time.time) -> None:
        self.rules = {rule.name: rule for rule in rules}
        self.clock = clock
        self.started = now = clock()
        self.states = {name: RuleState(since=now) for name in self.rules}
        self.silences = SilenceBook()
        self.units: dict[str, str] = {}  # rule -> the unit of its value, once its series is seen
        self.reasons: dict[str, str] = {}  # rule -> why its last evaluation had no data ("" if it had)
        self._views: tuple[AlertView, ...] = ()

    # ----------------------------------------------------------------------------- evaluation
    def evaluate(self, lookup: Lookup) -> list[AlertEvent]:
        now = self.clock()
        events = [self._expired(s) for s in self.silences.expire(now)]
        transitions: list[Transition] = []
        for name, rule in self.rules.items():
            series = lookup(rule.source, rule.metric)
            if series is not None or rule.function in ("ratio", "rate"):
                self.units[name] = value_unit(rule, series.unit if series is not None else "")
            if rule.function == "absent" and now - self.started < (rule.over or 0.0):
                continue  # just started: a source not seen yet is not absent before a whole window
            result = outcome(rule, lookup, now)
            if result.outcome is Outcome.NO_DATA and now - self.started < rule.no_data_after:
                continue  # just started: a series not seen yet is not "no data" before no_data_after
            self.reasons[name] = result.reason
            transitions += self.states[name].step(rule, result.outcome, result.value, now)
        events += [self._describe(t, now) for t in transitions]
        self._views = self._build_views(now)
        return events

    def views(self) -> tuple[AlertView, ...]:
        return self._views

    def silence_views(self) -> tuple[SilenceView, ...]:
        """The active silences, soonest to expire first (the console's silences screen)."""
        return tuple(SilenceView(s.id, s.rule, s.author, s.comment, s.created, s.expires)
                     for s in self.silences.active())

    def muted_by(self, name: str, now: float) -> str:
        """Why a rule is muted ("alice until 14:30: ..." / "inhibited by DiskFull"), or ""."""
        silence = self.silences.covering(name, now)
        if silence is not None:
            return silence.describe(clock_text(silence.expires))
        rule = self.rules[name]
        if rule.severity == "warning":
            for other in self.rules.values():
                if (other.severity == "critical" and other.source == rule.source
                        and self.states[other.name].state == FIRING):
                    return f"inhibited by {other.name}"
        return ""

    # ----------------------------------------------------------------------------- silences
    def silence(self, rule: str, author: str, comment: str, seconds: float) -> tuple[Silence, AlertEvent]:
        now = self.clock()
        s = self.silences.add(rule, author, comment, now, seconds)
        self._views = self._build_views(now)
        message = f"{rule} silenced by {author} for {format_duration(seconds)} (until {clock_text(s.expires)}): {comment}"
        return s, AlertEvent(ev.SILENCE_ADDED, "info", f"alert:{rule}", message, {"silence": s.as_data()})

    def unsilence(self, rule: str, author: str) -> list[AlertEvent]:
        removed = self.silences.remove_rule(rule)
        self._views = self._build_views(self.clock())
        return [AlertEvent(ev.SILENCE_LIFTED, "info", f"alert:{rule}", f"silence on {rule} by {s.author} lifted by {author}",
                           {"silence_removed": s.id}) for s in removed]

    def _expired(self, s: Silence) -> AlertEvent:
        return AlertEvent(ev.SILENCE_EXPIRED, "info", f"alert:{s.rule}", f"silence on {s.rule} by {s.author} expired ({s.comment})",
                          {"silence_expired": s.id})

    # ----------------------------------------------------------------------------- events
    def _describe(self, t: Transition, now: float) -> AlertEvent:
        rule = self.rules[t.rule]
        state = self.states[t.rule]
        source = f"alert:{rule.name}"
        data: dict[str, Any] = {"rule": rule.name, "from": t.before, "to": t.after, "series": rule.series,
                                "value": state.value, "op": rule.op, "threshold": rule.value,
                                "severity": rule.severity}
        if rule.windowed:  # enough to rebuild the rule from its events (review without a run record)
            data.update(function=rule.function, over=rule.over)
            if rule.quantile is not None:
                data["quantile"] = rule.quantile
            if rule.function == "ratio":
                data.update(numerator=rule.numerator_key, denominator=rule.denominator_key,
                            min_requests=rule.min_requests or 1)
        unit = self.units.get(rule.name, "")
        seen = (f"{rule.series} = {format_value(rule.metric, state.value, unit)}" if state.value is not None
                else f"{rule.series}: no data")
        if t.after == "no data":
            reason = self.reasons.get(rule.name, "")
            if reason:
                data["reason"] = reason
            because = f": {reason}" if reason else ""
            return AlertEvent(ev.ALERT_NO_DATA, "info", source, f"{rule.name}: no data from {rule.series}{because} "
                              f"({_NO_DATA_MEANS[rule.no_data]})", data)
        if t.after == "data":
            return AlertEvent(ev.ALERT_DATA_AGAIN, "info", source, f"{rule.name}: data again from {rule.series}", data)
        if t.after == PENDING:
            return AlertEvent(ev.ALERT_PENDING, "info", source, f"{rule.name} pending: {seen}, {condition_text(rule, unit)}", data)
        if t.after == FIRING:
            muted = self.muted_by(rule.name, now)
            data["muted_by"] = muted
            what = rule.summary or f"{seen}, {condition_text(rule, unit)}"
            if muted:
                return AlertEvent(ev.ALERT_FIRING, "info", source, f"{rule.name} firing (muted: {muted}): {what}", data)
            return AlertEvent(ev.ALERT_FIRING, rule.severity, source, f"{rule.name} firing: {what}", data)
        if t.after == RESOLVED:
            return AlertEvent(ev.ALERT_RESOLVED, "info", source, f"{rule.name} resolved: {seen}", data)
        assert t.before == PENDING and t.after == INACTIVE
        return AlertEvent(ev.ALERT_INACTIVE, "info", source, f"{rule.name} no longer pending: {seen}", data)

    # ----------------------------------------------------------------------------- views
    def _build_views(self, now: float) -> tuple[AlertView, ...]:
        views: list[AlertView] = []
        for name, rule in self.rules.items():
            st = self.states[name]
            if st.state in (FIRING, PENDING):
                shown, since = st.state, st.since
            elif st.no_data_since is not None:
                shown, since = "nodata", st.no_data_since
            elif st.state == RESOLVED and now - st.since < RESOLVED_SHOWN:
                shown, since = RESOLVED, st.since
            else:
                continue
            muted = self.muted_by(name, now)
            views.append(AlertView(
                name, shown, rule.severity, since, rule.series, st.value, rule.summary,
                silenced=bool(muted), silenced_by=muted, runbook=rule.runbook,
                condition=condition_text(rule, self.units.get(name, "")),
            ))
        views.sort(key=lambda v: (_STATE_ORDER[v.state], v.silenced, _SEVERITY_ORDER[v.severity], v.name))
        return tuple(views)
