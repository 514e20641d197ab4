"""A seeded request source for alert rules, with a fake clock: per-second request counts (fixed,
or Poisson) and binomial errors, recorded the way request sources do (`<source>/requests`,
`<source>/errors` every second, 0 included, and the per-second `error_rate` when there were
requests), evaluated by the real AlertEvaluator every second. Shared by tests/test_alerts_windows.py
and bench/alerts.py."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.alerts.config import AlertRule
from engine.alerts.evaluator import AlertEvaluator
from engine.snapshot import SeriesView, split_series

SOURCE = "demo:loadgen"


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Recorder:
    """Every point of each series (the test keeps it short), looked up like the engine's rings."""

    def __init__(self, keep: float = 3600.0) -> None:
        self.keep = keep
        self.points: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        self.units: dict[tuple[str, str], str] = {}

    def record(self, key: str, t: float, value: float, unit: str = "") -> None:
        times, values = self.points.setdefault(split_series(key), ([], []))
        times.append(t)
        values.append(value)
        self.units[split_series(key)] = unit
        if len(times) > 2 * self.keep:  # bounded; a window never reaches that far back
            del times[: len(times) // 2], values[: len(values) // 2]

    def __call__(self, source: str, metric: str) -> SeriesView | None:
        found = self.points.get((source, metric))
        if found is None:
            return None
        times, values = found
        start = max(0, len(times) - int(self.keep))
        return SeriesView(source, metric, tuple(times[start:]), tuple(values[start:]), self.units[(source, metric)])


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of a per-second count."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class Phase:
    seconds: int
    error_rate: float


@dataclass
class Outcome:
    onset: float | None  # when the first phase with the highest error rate began
    fired: dict[str, list[float]] = field(default_factory=dict)  # rule -> firing times
    pending: dict[str, int] = field(default_factory=dict)  # rule -> transitions into pending
    at_onset: dict[str, str] = field(default_factory=dict)  # rule -> its state when the onset began

    def first_fire(self, rule: str) -> float | None:
        return self.fired[rule][0] if self.fired.get(rule) else None

    def time_to_fire(self, rule: str) -> float | None:
        """Seconds from the onset to the first firing after it; None if it did not fire, or was
        already firing (a false fire of the warm-up) when the onset began."""
        if self.onset is None or self.at_onset.get(rule) == "firing":
            return None
        return next((t - self.onset for t in self.fired.get(rule, ()) if t >= self.onset), None)


def simulate(rules: Sequence[AlertRule], phases: Sequence[Phase], *, seed: int, rps: float = 10.0,
             poisson_requests: bool = False, noise: bool = True, source: str = SOURCE) -> Outcome:
    """Record the phases second by second and evaluate the rules after each second. Without
    `noise`, every second has exactly `rps` requests and `rps * error_rate` errors (a fraction):
    the floor a window and `for` allow."""
    rng = random.Random(seed)
    clock = Clock()
    feed = Recorder(keep=max([r.over or 0.0 for r in rules] + [120.0]) + 5)
    evaluator = AlertEvaluator(list(rules), clock=clock)
    worst = max(p.error_rate for p in phases)
    out = Outcome(None, {r.name: [] for r in rules}, {r.name: 0 for r in rules})
    for phase in phases:
        if phase.error_rate == worst and out.onset is None and worst > min(p.error_rate for p in phases):
            out.onset = clock.t
            out.at_onset = {name: st.state for name, st in evaluator.states.items()}
        for _ in range(phase.seconds):
            clock.t += 1.0
            if noise:
                requests: float = poisson(rng, rps) if poisson_requests else int(rps)
                errors: float = sum(rng.random() < phase.error_rate for _ in range(int(requests)))
            else:
                requests, errors = rps, rps * phase.error_rate
            feed.record(f"{source}/requests", clock.t, requests)
            feed.record(f"{source}/errors", clock.t, errors)
            if requests:
                feed.record(f"{source}/error_rate", clock.t, errors / requests, "ratio")
            for event in evaluator.evaluate(feed):
                to = event.data.get("to")
                if to == "firing":
                    out.fired[event.data["rule"]].append(clock.t)
                elif to == "pending":
                    out.pending[event.data["rule"]] += 1
    return out


def rule(**fields: object) -> AlertRule:
    base: dict[str, object] = {"name": "HighErrorRate", "series": f"{SOURCE}/error_rate", "op": ">",
                               "value": 0.01, "for": "30s", "severity": "critical"}
    return AlertRule.model_validate({**base, **fields})
