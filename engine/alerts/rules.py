"""One rule's state machine, with Prometheus semantics:

    inactive/resolved --true--> pending --true for `for`--> firing --false--> resolved
                      (`for: 0` goes straight to firing)  pending --false--> inactive

- `for`: the condition must hold at every evaluation from the first true one until `for` has
  passed; one false evaluation sends a pending rule back to inactive.
- `keep_firing_for`: a firing rule whose condition turned false keeps firing until it has been
  false for that long (measured from the first false evaluation); true again resets it.
- "no data" (no sample newer than `no_data_after`; for a window, nothing to compute it from) is
  its own outcome, never 0: by `no_data` it counts as false (`ok`), as true (`alert`), or changes
  nothing (`keep`).
- the value compared is the rule's function of its series (windows.py); `last` by default.

Pure: time comes in as an argument, so tests drive it with a fake clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from engine.alerts import windows
from engine.alerts.config import COUNTERS, AlertRule
from engine.alerts.ops import OPERATORS
from engine.alerts.windows import window
from engine.snapshot import SeriesView, split_series
from engine.units import format_duration

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"
Lookup = Callable[[str, str], SeriesView | None]


class Outcome(Enum):
    TRUE = "true"
    FALSE = "false"
    NO_DATA = "no data"


@dataclass(frozen=True)
class Evaluation:
    outcome: Outcome
    value: float | None = None  # what was compared with the rule's value (the function's result)
    reason: str = ""  # for NO_DATA from a window: why there is none ("3 requests in the last 1m, ...")


def outcome(rule: AlertRule, lookup: Lookup, now: float) -> Evaluation:
    """The rule's condition at `now`: its function over the series `lookup` gives, compared with
    the rule's value. `lookup(source, metric)` must hold the samples of the rule's window."""
    if rule.function == "absent":
        times, values = window(lookup(rule.source, rule.metric), now, rule.over or 0.0)
        return Evaluation(Outcome.FALSE, values[-1]) if times else Evaluation(Outcome.TRUE)
    views = {key: lookup(*split_series(key)) for key in rule.inputs}
    for key, view in views.items():
        if view is None or view.last_time is None or now - view.last_time > rule.no_data_after:
            # The rule's own series is named by the event already; a ratio's counts are not.
            why = "" if key == rule.series else f"no {key} sample in the last {format_duration(rule.no_data_after)}"
            return Evaluation(Outcome.NO_DATA, None, why)
    value, reason = _value(rule, views, now)
    if value is None or math.isnan(value):
        return Evaluation(Outcome.NO_DATA, None, reason)
    return Evaluation(Outcome.TRUE if OPERATORS[rule.op or ">"](value, rule.threshold) else Outcome.FALSE, value)


def _value(rule: AlertRule, views: dict[str, SeriesView | None], now: float) -> tuple[float | None, str]:
    over = rule.over or 0.0
    if rule.function == "last":
        view = views[rule.series]
        assert view is not None  # the caller answers a missing series before asking for its value
        return view.last, ""
    if rule.function == "ratio":
        keys = (rule.numerator_key, rule.denominator_key)
        return windows.ratio(views[keys[0]], views[keys[1]], keys, now, over, rule.min_requests or 1)
    if rule.function in COUNTERS:
        return windows.increase(views[rule.series], rule.series, now, over, per_second=rule.function == "rate")
    return windows.over_time(rule.function, views[rule.series], rule.series, now, over, rule.quantile)


@dataclass(frozen=True)
class Transition:
    rule: str
    before: str  # a state, or "data" / "no data" for the no-data flag
    after: str
    at: float


@dataclass
class RuleState:
    state: str = INACTIVE
    since: float = 0.0  # when the current state began
    active_since: float | None = None  # first true evaluation of the current streak
    keep_firing_since: float | None = None  # first false evaluation while firing
    value: float | None = None
    no_data_since: float | None = None  # set while the series has no recent sample

    def step(self, rule: AlertRule, result: Outcome, value: float | None, now: float) -> list[Transition]:
        transitions = self._note_data(rule, result, now)
        self.value = value
        if result is Outcome.NO_DATA:
            if rule.no_data == "keep":
                return transitions
            result = Outcome.TRUE if rule.no_data == "alert" else Outcome.FALSE
        if result is Outcome.TRUE:
            transitions += self._true(rule, now)
        else:
            transitions += self._false(rule, now)
        return transitions

    def _note_data(self, rule: AlertRule, result: Outcome, now: float) -> list[Transition]:
        if result is Outcome.NO_DATA and self.no_data_since is None:
            self.no_data_since = now
            return [Transition(rule.name, "data", "no data", now)]
        if result is not Outcome.NO_DATA and self.no_data_since is not None:
            self.no_data_since = None
            return [Transition(rule.name, "no data", "data", now)]
        return []

    def _true(self, rule: AlertRule, now: float) -> list[Transition]:
        self.keep_firing_since = None
        if self.state in (INACTIVE, RESOLVED):
            self.active_since = now
            return self._go(rule, FIRING if rule.for_ <= 0 else PENDING, now)
        if self.state == PENDING and self.active_since is not None and now - self.active_since >= rule.for_:
            return self._go(rule, FIRING, now)
        return []

    def _false(self, rule: AlertRule, now: float) -> list[Transition]:
        if self.state == PENDING:
            self.active_since = None
            return self._go(rule, INACTIVE, now)
        if self.state == FIRING:
            if self.keep_firing_since is None:
                self.keep_firing_since = now
            if now - self.keep_firing_since < rule.keep_firing_for:
                return []
            self.active_since = self.keep_firing_since = None
            return self._go(rule, RESOLVED, now)
        return []

    def _go(self, rule: AlertRule, state: str, now: float) -> list[Transition]:
        before, self.state, self.since = self.state, state, now
        return [Transition(rule.name, before, state, now)]
