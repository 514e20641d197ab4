"""One analysis check: absolute rules, the canary-vs-baseline comparison and the "canary is up"
check, their counters, and the verdict in words an operator reads at 3 a.m.

Pure: readings in, outcome out; the component reads the series and acts on the verdict.

Evidence, not derived rates (docs/decisions.md):
- A rule over a source that counts requests (`<source>/requests`, `errors`, latency buckets:
  engine/evidence/counts.py) is judged on the counts: an error rate is errors/requests summed over
  the window, a latency quantile rule asks whether more than (1 - q) of the requests were slower
  than the limit. Gauges (host/mem_pct, ...) are judged on their samples.
- Each rule and comparison gathers evidence from where its last conclusive check stopped, so
  consecutive checks never judge the same request twice. A check with fewer than `min_requests`
  requests, or a breach with fewer than `min_bad` bad ones (or not significant at `confidence`),
  is INCONCLUSIVE: it neither breaches nor passes, and its evidence stays for the next check.
  A rule inconclusive for `inconclusive_limit` checks in a row pauses for a human.
- A reading older than twice its source's interval is NO DATA ("stale"), never a value.
- "Down" (a refused target, a FAIL health check, 502s, no canary traffic while the baseline is
  served) is a breach of the "canary up" check; no requests at all on both sides is quiet.
- No data is never a pass: by `no_data` it pauses the rollout (default) or counts as a breach.
- A provider error (the series could not be read at all) is counted apart; `error_limit` of them
  in a row apply the no_data policy (Argo's consecutiveErrorLimit).
- Each rule keeps two counters: breaches in a row (`consecutive`) and in the rollout (`total`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from statistics import fmean, median
from typing import Required, TypedDict

from engine.canary.config import CanaryConfig, Comparison, Rule
from engine.evidence.counts import Counts, Histogram, sum_counts
from engine.evidence.mannwhitney import mann_whitney_u
from engine.evidence.stats import fisher_greater, mann_whitney_buckets, wilson_bounds
from engine.snapshot import Verdict, split_series
from engine.units import format_duration, format_value

V = Verdict  # its values, as plain text (outcomes are TypedDicts of str)
PASS, BREACH, NO_DATA, ERROR, INCONCLUSIVE, HIGH, LOW = (
    v.value for v in (V.PASS, V.BREACH, V.NO_DATA, V.ERROR, V.INCONCLUSIVE, V.HIGH, V.LOW))
ROLLBACK, PAUSE, NONE = "rollback", "pause", "none"
UP = "canary up"  # the name of the down check
MIN_STALE = 2.0  # seconds: a reading is never stale sooner than this
NO_TRAFFIC_P = 0.001  # "the canary gets no traffic" when P(0 of n requests at its weight) is below this
_QUANTILE = re.compile(r"^latency_p(\d{1,2}(?:\.\d+)?)_ms$")


@dataclass(frozen=True)
class CountWindow:
    """A source's count series in the window: `times` of its `requests` samples and the points
    of every count and bucket metric."""

    times: tuple[float, ...]
    series: Mapping[str, tuple[tuple[float, float], ...]]

    def counts(self, since: float, until: float) -> Counts:
        return sum_counts(self.times, self.series, since, until)


@dataclass(frozen=True)
class Reading:
    """The samples of one series in the analysis window, or why it could not be read.

    `times` align with `values`; a reading without times (a test's) is taken whole and fresh.
    `counts` is the series' source's request evidence when it records counts. `last_time` is
    the newest sample of the series (or of its counts), even older than the window: freshness.
    """

    values: tuple[float, ...] = ()
    unit: str = ""
    error: str | None = None
    times: tuple[float, ...] = ()
    counts: CountWindow | None = None
    last_time: float | None = None
    interval: float | None = None  # the source's sampling interval, as measured from its samples


@dataclass(frozen=True)
class RuleOutcome:
    name: str
    series: str
    state: str  # pass / breach / inconclusive / no-data / error
    value: float | None
    limit: float
    op: str  # ">" (max) or "<" (min)
    consecutive: int
    consecutive_limit: int
    total: int
    total_limit: int | None
    unit: str = ""
    baseline: str = ""  # series drawn beside it
    error: str | None = None
    n: int | None = None  # requests judged (counted rules)
    bad: int | None = None  # of which errors, or slower than the limit
    why: str = ""  # inconclusive / no data / down: the cause, e.g. "12 requests, need 50"
    test: str = ""  # how it was judged: "errors/requests", "Wilson 95%", "share > 500ms"
    window: float | None = None  # seconds of evidence judged

    def counts(self) -> str:
        """`3/3 checks (total 3/10)`; a count past its limit (a frozen rollout keeps counting)
        stops at the limit and says the rest: `3/3 checks, 8 in a row (total 5/5, 8 in all)`."""
        streak = f"{min(self.consecutive, self.consecutive_limit)}/{self.consecutive_limit} checks"
        if self.consecutive > self.consecutive_limit:
            streak += f", {self.consecutive} in a row"
        if self.total_limit is None:
            total = str(self.total)
        else:
            total = f"{min(self.total, self.total_limit)}/{self.total_limit}"
            total += f", {self.total} in all" if self.total > self.total_limit else ""
        return f"{streak} (total {total})"

    def limit_reached(self) -> bool:
        return self.consecutive >= self.consecutive_limit or (
            self.total_limit is not None and self.total >= self.total_limit
        )

    def show(self, value: float | None) -> str:
        return format_value(split_series(self.series)[1], value, self.unit)

    def evidence_text(self) -> str:
        """"3.2% (16/500 in 25s)": the value with its n, the window and the test."""
        if self.n is None:
            return self.show(self.value)
        window = f" in {format_duration(self.window)}" if self.window else ""
        counted = f"{self.bad}/{self.n}" if self.bad is not None else f"n={self.n}"
        test = f", {self.test}" if self.test else ""
        return f"{self.show(self.value)} ({counted}{window}{test})"


@dataclass(frozen=True)
class ComparisonOutcome:
    name: str
    canary: str
    baseline: str
    verdict: str  # pass / high / low / inconclusive / no-data / error
    failed: bool
    critical: bool
    canary_mean: float | None = None
    baseline_mean: float | None = None
    p_value: float | None = None
    unit: str = ""
    error: str | None = None
    test: str = ""  # "Fisher", "Mann-Whitney (buckets)", "Mann-Whitney"
    canary_n: str = ""  # "27/1000" for counts, "n=30" for samples
    baseline_n: str = ""
    why: str = ""

    def evidence(self) -> str:
        metric = split_series(self.canary)[1]
        if self.verdict in (NO_DATA, INCONCLUSIVE):
            return f"{self.name}: {self.why or 'not enough samples'}"
        if self.verdict == ERROR:
            return f"{self.name}: cannot measure ({self.error})"
        c = format_value(metric, self.canary_mean, self.unit)
        b = format_value(metric, self.baseline_mean, self.unit)
        c_n = f" ({self.canary_n})" if self.canary_n else ""
        b_n = f" ({self.baseline_n})" if self.baseline_n else ""
        effect = ""
        if metric == "error_rate" and self.canary_mean is not None and self.baseline_mean is not None:
            effect = f", {100 * (self.canary_mean - self.baseline_mean):+.1f} pts"
        test = f"{self.test} " if self.test else ""
        return (f"{self.name} {self.verdict}: canary {c}{c_n} vs baseline {b}{b_n}, "
                f"{test}p={self.p_value:.2g}{effect}")


@dataclass(frozen=True)
class CheckResult:
    rules: tuple[RuleOutcome, ...]
    comparisons: tuple[ComparisonOutcome, ...] = ()
    score: float | None = None
    score_rule: RuleOutcome | None = None  # the comparison judged like a rule (limit = marginal_at)
    errors: int = 0  # provider errors in a row
    error_limit: int = 0
    action: str = NONE  # rollback / pause / none
    reason: str = ""  # the evidence for the action, e.g. "canary error_rate 3.2% (16/500 in 25s) > 1.0% for 3/3 checks"
    clean: bool = False  # every rule passed on fresh evidence of this stage: a stage may be promoted
    counted: bool = True
    up: RuleOutcome | None = None  # the "canary up" check
    inconclusive: int = 0  # the longest run of inconclusive checks of any rule
    inconclusive_limit: int = 0

    def all_rules(self) -> tuple[RuleOutcome, ...]:
        extra = tuple(o for o in (self.up, self.score_rule) if o is not None)
        return self.rules + extra

    def evidence(self) -> dict[str, object]:
        """The metrics at this moment, for the audit row and the event's data."""
        data: dict[str, object] = {}
        for r in (*self.rules, *([self.up] if self.up else [])):
            entry: dict[str, object] = {"value": r.value, "state": r.state, "limit": r.limit,
                                        "consecutive": r.consecutive, "total": r.total}
            if r.n is not None:
                entry.update(n=r.n, bad=r.bad, window=r.window)
            if r.why:
                entry["why"] = r.why
            data[r.name] = entry
        if self.comparisons:
            data["score"] = self.score
            data["compare"] = {
                c.name: {"verdict": c.verdict, "canary": c.canary_mean, "baseline": c.baseline_mean, "p": c.p_value,
                         "test": c.test, "canary_n": c.canary_n, "baseline_n": c.baseline_n}
                for c in self.comparisons
            }
        if self.errors:
            data["provider_errors"] = self.errors
        return data


@dataclass
class _Counter:
    """A rule's breach counters and where its evidence starts."""

    consecutive: int = 0
    total: int = 0
    since: float = -math.inf  # evidence after this time is not judged yet
    inconclusive: int = 0  # checks in a row without a conclusion
    standing: str = ""  # the last conclusive verdict in this stage, and when
    standing_at: float = -math.inf

    def count(self, breached: bool) -> None:
        if breached:
            self.consecutive += 1
            self.total += 1
        else:
            self.consecutive = 0


@dataclass(frozen=True)
class CheckContext:
    """What a check knows besides the readings."""

    now: float
    settled_at: float = -math.inf  # the stage's weight took effect and its settle delay passed
    weight: int = 0  # the canary's share of traffic, %
    down: str | None = None  # why the canary is down (a refused target, a FAIL check), if it is
    previous_check: float | None = None  # when the last check ran: "traffic since then"


def aggregate(values: Sequence[float], how: str) -> float:
    if how == "max":
        return max(values)
    if how == "last":
        return values[-1]
    return fmean(values)


def quantile_of(metric: str) -> float | None:
    """0.95 for latency_p95_ms; None for any other metric."""
    match = _QUANTILE.match(metric)
    return float(match.group(1)) / 100 if match else None


def stale_cause(reading: Reading, now: float, fallback_interval: float) -> str | None:
    """Why the reading is NO DATA by age, or None when it is fresh."""
    if reading.last_time is None:  # nothing at all (judged as no data), or a test's bare values
        return None
    interval = reading.interval or fallback_interval
    bound = max(2 * interval, MIN_STALE)
    age = now - reading.last_time
    if age > bound:
        return f"stale: last sample {format_duration(age)} ago (limit {format_duration(bound)})"
    return None


def measured_interval(times: Sequence[float]) -> float | None:
    """The median spacing of the newest samples: a source's own cadence."""
    recent = times[-8:]
    if len(recent) < 2:
        return None
    return median(b - a for a, b in pairwise(recent))


class Analysis:
    """The counters of one rollout; `reset()` when a new one starts. A new stage (a new
    `settled_at` in the check's context) forgets what spoke for promotion at the old weight."""

    def __init__(self, config: CanaryConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._rules = [_Counter() for _ in self.config.rules]
        self._compare = [_Counter() for _ in self.config.compare]
        self._score = _Counter()
        self._up = _Counter()
        self._errors = 0
        self._settled_at = -math.inf

    def new_stage(self) -> None:
        """A new weight: evidence of the old one no longer says anything about promotion."""
        for counter in (*self._rules, *self._compare, self._score, self._up):
            counter.standing, counter.standing_at, counter.inconclusive = "", -math.inf, 0

    def series_keys(self) -> list[str]:
        keys = [rule.series for rule in self.config.rules]
        keys += [k for c in self.config.compare for k in (c.canary, c.baseline)]
        keys += [rule.baseline for rule in self.config.rules if rule.baseline]
        return list(dict.fromkeys(keys))

    def state(self) -> dict[str, object]:
        """The counters, to persist with the rollout (a restart continues the same analysis)."""
        def one(c: _Counter) -> list[float]:
            return [c.consecutive, c.total, c.since if math.isfinite(c.since) else 0.0]
        return {"rules": [one(c) for c in self._rules], "compare": [one(c) for c in self._compare],
                "score": one(self._score), "up": one(self._up)}

    def restore(self, state: Mapping[str, object]) -> None:
        """The counters saved by `state()`; a mismatched shape (the config changed) is ignored."""
        def put(counter: _Counter, saved: object) -> None:
            if isinstance(saved, list) and len(saved) == 3:
                counter.consecutive, counter.total = int(saved[0]), int(saved[1])
                counter.since = float(saved[2]) or -math.inf
        rules, compare = state.get("rules"), state.get("compare")
        if isinstance(rules, list) and len(rules) == len(self._rules):
            for counter, saved in zip(self._rules, rules, strict=True):
                put(counter, saved)
        if isinstance(compare, list) and len(compare) == len(self._compare):
            for counter, saved in zip(self._compare, compare, strict=True):
                put(counter, saved)
        put(self._score, state.get("score"))
        put(self._up, state.get("up"))

    def evaluate(self, readings: Mapping[str, Reading], *, count: bool = True,
                 context: CheckContext | None = None) -> CheckResult:
        """Judge one check. With `count=False` (warming up) values are shown, not counted."""
        config = self.config
        ctx = context or CheckContext(now=_latest(readings))
        if count and ctx.settled_at != self._settled_at:  # a new weight: judge it afresh
            self._settled_at = ctx.settled_at
            self.new_stage()
        breach_on_no_data = config.no_data == "breach"
        rules = tuple(self._rule(rule, counter, readings, ctx, count, breach_on_no_data)
                      for rule, counter in zip(config.rules, self._rules, strict=True))
        comparisons = tuple(self._compare_one(spec, counter, readings, ctx, count)
                            for spec, counter in zip(config.compare, self._compare, strict=True))
        score, score_rule, score_state = self._judge_comparisons(comparisons, ctx, count, breach_on_no_data)
        up = self._up_check(readings, ctx, count)

        had_error = any(r.state == ERROR for r in rules) or any(c.verdict == ERROR for c in comparisons)
        if count:
            self._errors = self._errors + 1 if had_error else 0
        no_data = [r for r in rules if r.state == NO_DATA] + [c for c in comparisons if c.verdict == NO_DATA]
        # At 100% the baseline serves nothing: there is nothing to compare with, only rules judge.
        compared = self._compare if ctx.weight < 100 else []
        longest = max((c.inconclusive for c in (*self._rules, *compared)), default=0)
        result = CheckResult(rules=rules, comparisons=comparisons, score=score, score_rule=score_rule,
                             errors=self._errors, error_limit=config.error_limit, counted=count, up=up,
                             inconclusive=longest, inconclusive_limit=config.inconclusive_limit)
        if not count:
            return result

        for outcome in (*([up] if up else []), *rules, *([score_rule] if score_rule else [])):
            if outcome.limit_reached():
                return replace(result, action=ROLLBACK, reason=self._explain_limit(outcome, comparisons))
        if self._errors >= config.error_limit:
            measured: tuple[RuleOutcome | ComparisonOutcome, ...] = (*rules, *comparisons)
            failing = next(r for r in measured if r.error)
            reason = f"cannot measure {failing.name} for {self._errors}/{config.error_limit} checks: {failing.error}"
            return replace(result, action=ROLLBACK if breach_on_no_data else PAUSE, reason=reason)
        if no_data and not breach_on_no_data:
            return replace(result, action=PAUSE, reason=self._explain_no_data(no_data[0]))
        if longest >= config.inconclusive_limit:
            return replace(result, action=PAUSE, reason=self._explain_inconclusive(rules, comparisons))
        if score_state == "marginal":
            reason = (f"comparison score {score:.0f} is marginal (passes at {config.score.pass_at:g}, "
                      f"fails below {config.score.marginal_at:g}): "
                      + "; ".join(c.evidence() for c in comparisons if c.verdict != PASS))
            return replace(result, action=PAUSE, reason=reason)
        return replace(result, clean=self._clean(rules, comparisons, up, readings, ctx))

    # -- rules ---------------------------------------------------------------------------------

    def _since(self, counter: _Counter, ctx: CheckContext) -> float:
        """Evidence starts after the last conclusive check, within the window, after the settle."""
        return max(counter.since, ctx.now - self.config.analysis_window, ctx.settled_at)

    def _rule(self, rule: Rule, counter: _Counter, readings: Mapping[str, Reading], ctx: CheckContext,
              count: bool, breach_on_no_data: bool) -> RuleOutcome:
        reading = readings.get(rule.series, Reading())
        op, limit = (">", rule.max) if rule.max is not None else ("<", rule.min)
        assert limit is not None  # the config validator requires one of max/min
        base = _RuleBase(name=rule.label, series=rule.series, limit=limit, op=op, unit=reading.unit,
                         baseline=rule.baseline or "", error=reading.error)
        since = self._since(counter, ctx)
        judged = self._judge_rule(rule, op, limit, reading, since, ctx)
        state = judged["state"]
        # No data, like an inconclusive check, neither breaches nor passes (unless no_data: breach):
        # a stale minute between two breaches does not reset the streak.
        if count and (state in (PASS, BREACH) or (state == NO_DATA and breach_on_no_data)):
            counter.count(state != PASS)
        if count:
            self._conclude(counter, state, judged.get("until"), ctx)
        return RuleOutcome(**base, state=state, value=judged.get("value"), n=judged.get("n"), bad=judged.get("bad"),
                           why=judged.get("why", ""), test=judged.get("test", ""), window=judged.get("window"),
                           consecutive=counter.consecutive, consecutive_limit=rule.consecutive,
                           total=counter.total, total_limit=rule.total)

    def _conclude(self, counter: _Counter, state: str, until: float | None, ctx: CheckContext) -> None:
        if state in (PASS, BREACH):
            counter.since = until if until is not None else ctx.now
            counter.inconclusive = 0
            counter.standing, counter.standing_at = state, ctx.now
        elif state == INCONCLUSIVE:
            counter.inconclusive += 1
        else:  # no data or error: nothing judged, nothing to promote on
            counter.standing, counter.inconclusive = "", 0

    def _judge_rule(self, rule: Rule, op: str, limit: float, reading: Reading, since: float,
                    ctx: CheckContext) -> _Judged:
        if reading.error:
            return {"state": ERROR, "value": None}
        stale = stale_cause(reading, ctx.now, self.config.interval)
        if stale:
            return {"state": NO_DATA, "value": None, "why": stale}
        metric = split_series(rule.series)[1]
        counts = reading.counts.counts(since, ctx.now) if reading.counts is not None else None
        if counts is not None and metric == "error_rate":
            return self._judge_proportion(rule, op, limit, counts.errors, counts.requests, counts, since, ctx,
                                          counts.error_rate, "errors/requests")
        q = quantile_of(metric)
        if counts is not None and q is not None and (counts.latency is not None or counts.requests == 0):
            hist = counts.latency or Histogram((math.inf,), (0.0,))
            slow = hist.count_above(limit)
            share = f"share > {format_value(metric, limit, reading.unit)} vs {1 - q:.0%}"
            return self._judge_proportion(rule, op, 1 - q, slow, hist.total, counts, since, ctx,
                                          hist.quantile(q), share)
        return self._judge_gauge(rule, op, limit, reading, since, ctx)

    def _judge_proportion(self, rule: Rule, op: str, limit: float, bad: float, n: float, counts: Counts,
                          since: float, ctx: CheckContext, value: float | None, test: str) -> _Judged:
        """bad of n against a limit on their share (errors/requests, or slower than the limit)."""
        min_requests = rule.min_requests if rule.min_requests is not None else self.config.min_requests
        window = ctx.now - since if counts.first is not None and math.isfinite(since) else None
        out: _Judged = {"state": PASS, "value": value, "n": int(n), "bad": int(round(bad)), "window": window,
                                  "until": counts.last}
        if rule.confidence is not None:
            test = f"{test}, Wilson {rule.confidence:.0%}"
        out["test"] = test
        if n < min_requests:
            why = "no requests" if n == 0 else f"{int(n)} requests, need {min_requests}"
            return {**out, "state": INCONCLUSIVE, "why": why}
        share = bad / n
        if op == ">":
            beyond = share > limit
            if rule.confidence is not None:
                beyond = wilson_bounds(bad, n, rule.confidence)[0] > limit
            if beyond and bad >= rule.min_bad:
                return {**out, "state": BREACH}
            if share > limit:  # over the limit on too little evidence: wait for more
                why = (f"{int(round(bad))} bad, need {rule.min_bad}" if bad < rule.min_bad
                       else f"not significant at {rule.confidence:.0%}")
                return {**out, "state": INCONCLUSIVE, "why": why}
            return {**out, "state": PASS}
        below = share < limit
        if rule.confidence is not None:
            below = wilson_bounds(bad, n, rule.confidence)[1] < limit
        if below:
            return {**out, "state": BREACH}
        if share < limit:
            return {**out, "state": INCONCLUSIVE, "why": f"not significant at {rule.confidence:.0%}"}
        return {**out, "state": PASS}

    def _judge_gauge(self, rule: Rule, op: str, limit: float, reading: Reading, since: float,
                     ctx: CheckContext) -> _Judged:
        if reading.times:
            points = [(t, v) for t, v in zip(reading.times, reading.values, strict=True) if since < t <= ctx.now]
        else:
            points = [(ctx.now, v) for v in reading.values]
        if not points and reading.last_time is not None and reading.times and reading.times[-1] <= since:
            # Fresh (not stale: checked before) but nothing since the evidence began, e.g. the
            # first check after a weight change on a series sampled every 5 s: wait, not pause.
            return {"state": INCONCLUSIVE, "value": None, "why": "no sample since the weight change yet"
                    if since == ctx.settled_at else "no new sample since the last check"}
        if not points:
            return {"state": NO_DATA, "value": None}
        value = aggregate([v for _, v in points], rule.aggregate)
        breached = value > limit if op == ">" else value < limit
        return {"state": BREACH if breached else PASS, "value": value, "until": points[-1][0]}

    # -- the canary is up ----------------------------------------------------------------------

    def _up_check(self, readings: Mapping[str, Reading], ctx: CheckContext, count: bool) -> RuleOutcome | None:
        down = self.config.down
        if not down.enabled:
            return None
        cause = ctx.down or self._down_from_counts(readings, ctx)
        answering = self._answering(readings, ctx) if ctx.down else None
        if answering:  # its own traffic outranks a breaker's or a health check's memory of it
            cause = None
        if count:
            self._up.count(cause is not None)
        return RuleOutcome(
            name=UP, series="", state=BREACH if cause else PASS, value=None, limit=0.0, op="",
            consecutive=self._up.consecutive, consecutive_limit=down.consecutive, total=self._up.total,
            total_limit=None, why=cause or (f"{answering}, though {ctx.down}" if answering else ""),
        )

    def _answering(self, readings: Mapping[str, Reading], ctx: CheckContext) -> str | None:
        """The canary answered real requests in this check, mostly not as unavailable: it is up,
        whatever a circuit opened before it came back (the breaker probes only every `open_for`)
        or a health check's hysteresis still says. None when its traffic says nothing."""
        for rule, c, _ in self._canary_counts(readings, ctx):
            if c.requests - c.unavailable >= self.config.down.min_unavailable and c.unavailable < c.requests / 2:
                return (f"answering: {c.requests - c.unavailable:.0f} of {c.requests:.0f} canary requests "
                        f"in {split_series(rule.series)[0]}")
        return None

    def _canary_counts(self, readings: Mapping[str, Reading], ctx: CheckContext) -> Iterator[tuple[Rule, Counts, float]]:
        """(rule, the canary's counts in this check, since) for each rule whose series has counts."""
        since = max(ctx.previous_check or -math.inf, ctx.now - self.config.analysis_window, ctx.settled_at)
        for rule in self.config.rules:
            canary = readings.get(rule.series)
            if canary is not None and canary.counts is not None:
                yield rule, canary.counts.counts(since, ctx.now), since

    def _down_from_counts(self, readings: Mapping[str, Reading], ctx: CheckContext) -> str | None:
        """The access log or the metrics say the canary is not answering: mostly 502/503/504, or
        no traffic at all while the baseline is served at a weight that should give it some."""
        for rule, c, since in self._canary_counts(readings, ctx):
            if c.unavailable >= self.config.down.min_unavailable and c.unavailable >= c.requests / 2:
                return (f"{c.unavailable:.0f} of {c.requests:.0f} canary requests failed as unavailable "
                        f"(502/503/504 or no connection) in {split_series(rule.series)[0]}")
            baseline = readings.get(rule.baseline) if rule.baseline else None
            if c.requests == 0 and baseline is not None and baseline.counts is not None and 0 < ctx.weight < 100:
                b = baseline.counts.counts(since, ctx.now)
                if b.requests > 0 and (1 - ctx.weight / 100) ** b.requests < NO_TRAFFIC_P:
                    expected = b.requests * ctx.weight / (100 - ctx.weight)
                    return (f"the canary got no requests while the baseline got {b.requests:.0f} "
                            f"(expected ~{expected:.0f} at {ctx.weight}%) in {split_series(rule.series)[0]}")
        return None

    # -- comparisons ---------------------------------------------------------------------------

    def _compare_one(self, spec: Comparison, counter: _Counter, readings: Mapping[str, Reading],
                     ctx: CheckContext, count: bool) -> ComparisonOutcome:
        canary, baseline = readings.get(spec.canary, Reading()), readings.get(spec.baseline, Reading())
        since = self._since(counter, ctx)
        outcome, until = compare(spec, canary, baseline, since=since, now=ctx.now,
                                 min_requests=spec.min_requests or self.config.min_requests,
                                 interval=self.config.interval)
        if count:
            state = PASS if outcome.verdict in (PASS, HIGH, LOW) else outcome.verdict
            self._conclude(counter, state, until, ctx)
            if state == PASS:
                counter.standing = BREACH if outcome.failed else PASS
        return outcome

    def _judge_comparisons(
        self, comparisons: tuple[ComparisonOutcome, ...], ctx: CheckContext, count: bool, breach_on_no_data: bool
    ) -> tuple[float | None, RuleOutcome | None, str | None]:
        if not comparisons:
            return None, None, None
        judged = [c for c in comparisons if c.verdict not in (NO_DATA, ERROR, INCONCLUSIVE)]
        score = 100 * sum(not c.failed for c in judged) / len(judged) if judged else None
        settings = self.config.score
        if any(c.failed and c.critical for c in judged):
            state = BREACH
        elif score is None:
            if any(c.verdict == ERROR for c in comparisons):
                state = ERROR
            elif any(c.verdict == NO_DATA for c in comparisons):
                state = NO_DATA
            else:
                state = INCONCLUSIVE
        elif score < settings.marginal_at:
            state = BREACH
        elif score < settings.pass_at:
            state = "marginal"
        else:
            state = PASS
        if count and state not in (ERROR, INCONCLUSIVE):
            self._score.count(state == BREACH or (state == NO_DATA and breach_on_no_data))
        rule = RuleOutcome(
            name="score", series="", state=state if state != "marginal" else PASS, value=score,
            limit=settings.marginal_at, op="<", consecutive=self._score.consecutive,
            consecutive_limit=settings.consecutive, total=self._score.total, total_limit=settings.total,
        )
        return score, rule, state

    # -- promotion -----------------------------------------------------------------------------

    def _clean(self, rules: tuple[RuleOutcome, ...], comparisons: tuple[ComparisonOutcome, ...],
               up: RuleOutcome | None, readings: Mapping[str, Reading], ctx: CheckContext) -> bool:
        """May the stage be promoted now? Every rule and comparison concluded PASS on evidence of
        this stage within the last window, nothing breached or stale now, the canary is up, and
        traffic is still flowing (requests since the last check): never on stale or absent data."""
        if any(r.state in (BREACH, NO_DATA, ERROR) for r in rules) or self._errors:
            return False
        if up is not None and up.state == BREACH:
            return False
        recent = ctx.now - self.config.analysis_window
        for counter in (*self._rules, *(self._compare if ctx.weight < 100 else ())):
            if counter.standing != PASS or counter.standing_at < max(recent, ctx.settled_at):
                return False
        if any(c.failed for c in comparisons):
            return False
        since = ctx.previous_check if ctx.previous_check is not None else recent
        for rule in self.config.rules:
            reading = readings.get(rule.series)
            if reading is not None and reading.counts is not None:
                if reading.counts.counts(since, ctx.now).requests <= 0:
                    return False  # quiet since the last check: the evidence is not current
        return True

    # -- words ---------------------------------------------------------------------------------

    def _explain_limit(self, outcome: RuleOutcome, comparisons: tuple[ComparisonOutcome, ...]) -> str:
        if outcome.name == UP:
            return f"the canary is down: {outcome.why} for {outcome.counts()}"
        if outcome.name == "score" and not outcome.series:
            critical = [c for c in comparisons if c.failed and c.critical]
            failing = "; ".join(c.evidence() for c in (critical or [c for c in comparisons if c.failed]))
            head = (f"critical metric {failing}" if critical
                    else f"comparison score {outcome.value:.0f} < {outcome.limit:g}: {failing}")
            return f"{head} for {outcome.counts()}"
        if outcome.state == NO_DATA:
            why = f": {outcome.why}" if outcome.why else ""
            return f"no data for canary {outcome.name} ({outcome.series}){why} for {outcome.counts()}"
        limit = outcome.show(outcome.limit)
        if outcome.test.startswith("share"):  # a latency quantile judged as a share of slow requests
            limit = outcome.test.split(",")[0].removeprefix("share > ")
            return (f"canary {outcome.name} {outcome.show(outcome.value)}: {outcome.bad}/{outcome.n} requests "
                    f"slower than {limit} ({outcome.test}) for {outcome.counts()}")
        return f"canary {outcome.name} {outcome.evidence_text()} {outcome.op} {limit} for {outcome.counts()}"

    def _explain_no_data(self, missing: RuleOutcome | ComparisonOutcome) -> str:
        window = format_duration(self.config.analysis_window)
        if isinstance(missing, RuleOutcome):
            why = f": {missing.why}" if missing.why else f" in the last {window}"
            return f"no data for canary {missing.name} ({missing.series}){why}"
        if missing.why:
            return f"no data to compare {missing.name} ({missing.canary} vs {missing.baseline}): {missing.why}"
        return (f"not enough samples to compare {missing.name} ({missing.canary} vs {missing.baseline}: "
                f"need {self._min_samples(missing.name)} each) in the last {window}")

    def _explain_inconclusive(self, rules: tuple[RuleOutcome, ...], comparisons: tuple[ComparisonOutcome, ...]) -> str:
        limit = self.config.inconclusive_limit
        parts = [f"{r.name}: {r.why}" for r in rules if r.state == INCONCLUSIVE]
        parts += [c.evidence() for c in comparisons if c.verdict == INCONCLUSIVE]
        return (f"inconclusive for {limit} checks in a row (not enough evidence to judge the canary): "
                + "; ".join(parts))

    def _min_samples(self, name: str) -> int:
        return next((c.min_samples for c in self.config.compare if c.label == name), 0)


class _RuleBase(TypedDict):
    """A rule outcome's fields known before it is judged."""
    name: str
    series: str
    limit: float
    op: str
    unit: str
    baseline: str
    error: str | None


class _Judged(TypedDict, total=False):
    """What judging a rule found; `until` is where its evidence ends (not part of the outcome)."""
    state: Required[str]
    value: float | None
    n: int
    bad: int
    window: float | None
    test: str
    why: str
    until: float | None


class _ComparisonBase(TypedDict):
    name: str
    canary: str
    baseline: str
    critical: bool
    unit: str


def compare(spec: Comparison, canary: Reading, baseline: Reading, *, since: float = -math.inf,
            now: float | None = None, min_requests: int = 1, interval: float = 1.0
            ) -> tuple[ComparisonOutcome, float | None]:
    """One metric, canary against baseline, by the test that fits it: Fisher's exact test on
    error counts, Mann-Whitney on latency buckets, Mann-Whitney on samples for anything else.
    Returns the outcome and the time its evidence ends (where the next comparison starts)."""
    base = _ComparisonBase(name=spec.label, canary=spec.canary, baseline=spec.baseline, critical=spec.critical,
                           unit=canary.unit or baseline.unit)
    if canary.error or baseline.error:
        return ComparisonOutcome(verdict=ERROR, failed=False, error=canary.error or baseline.error, **base), None
    t = now if now is not None else _latest({"c": canary, "b": baseline})
    stale = stale_cause(canary, t, interval) or stale_cause(baseline, t, interval)
    if stale:
        return ComparisonOutcome(verdict=NO_DATA, failed=False, why=stale, **base), None
    metric = split_series(spec.canary)[1]
    if canary.counts is not None and baseline.counts is not None:
        c, b = canary.counts.counts(since, t), baseline.counts.counts(since, t)
        until = max(x for x in (c.last, b.last, since) if x is not None)
        if c.requests < min_requests or b.requests < min_requests:
            why = f"canary {c.requests:.0f}, baseline {b.requests:.0f} requests, need {min_requests} each"
            return ComparisonOutcome(verdict=INCONCLUSIVE, failed=False, why=why, **base), None
        if metric == "error_rate":
            return _compare_counts(spec, c, b, base), until
        q = quantile_of(metric)
        if q is not None and c.latency is not None and b.latency is not None:
            return _compare_buckets(spec, c.latency, b.latency, q, base), until
    c_values, b_values = _in_window(canary, since, t), _in_window(baseline, since, t)
    if len(c_values) < spec.min_samples or len(b_values) < spec.min_samples:
        why = f"canary {len(c_values)}, baseline {len(b_values)} samples, need {spec.min_samples} each"
        if not canary.values and not baseline.values:  # nothing at all in the window: no data
            return ComparisonOutcome(verdict=NO_DATA, failed=False, why=why, **base), None
        return ComparisonOutcome(verdict=INCONCLUSIVE, failed=False, why=why, **base), None
    test = mann_whitney_u(c_values, b_values)
    c_mean, b_mean = fmean(c_values), fmean(b_values)
    higher = test.u > len(c_values) * len(b_values) / 2
    outcome = _verdict(spec, test.p_value, higher, _ratio(c_mean, b_mean), c_mean, b_mean, base,
                       test="Mann-Whitney", canary_n=f"n={len(c_values)}", baseline_n=f"n={len(b_values)}")
    times = [x for x in (*canary.times, *baseline.times) if since < x <= t]
    return outcome, max(times) if times else t


def _compare_counts(spec: Comparison, c: Counts, b: Counts, base: _ComparisonBase) -> ComparisonOutcome:
    c_rate, b_rate = c.errors / c.requests, b.errors / b.requests
    higher = c_rate > b_rate
    p = (fisher_greater(int(c.errors), int(c.requests), int(b.errors), int(b.requests)) if higher
         else fisher_greater(int(b.errors), int(b.requests), int(c.errors), int(c.requests)))
    return _verdict(spec, p, higher, _ratio(c_rate, b_rate), c_rate, b_rate, base, test="Fisher",
                    canary_n=c.text(), baseline_n=b.text())


def _compare_buckets(spec: Comparison, c: Histogram, b: Histogram, q: float, base: _ComparisonBase) -> ComparisonOutcome:
    greater = mann_whitney_buckets(c, b)
    higher = greater.p_value <= 0.5
    p = greater.p_value if higher else mann_whitney_buckets(b, c).p_value
    c_q, b_q = c.quantile(q), b.quantile(q)
    ratio = _ratio(c_q or 0.0, b_q or 0.0)
    return _verdict(spec, p, higher, ratio, c_q, b_q, base, test="Mann-Whitney (buckets)",
                    canary_n=f"n={c.total:.0f}", baseline_n=f"n={b.total:.0f}")


def _verdict(spec: Comparison, p: float, higher: bool, ratio: float, c_value: float | None,
             b_value: float | None, base: _ComparisonBase, *, test: str, canary_n: str,
             baseline_n: str) -> ComparisonOutcome:
    significant = p < 1 - spec.confidence
    if significant and higher and ratio > spec.allowed_increase:
        verdict = HIGH
    elif significant and not higher and ratio < spec.allowed_decrease:
        verdict = LOW
    else:
        verdict = PASS
    failed = (verdict == HIGH and spec.direction in ("increase", "either")) or (
        verdict == LOW and spec.direction in ("decrease", "either")
    )
    return ComparisonOutcome(verdict=verdict, failed=failed, canary_mean=c_value, baseline_mean=b_value,
                             p_value=p, test=test, canary_n=canary_n, baseline_n=baseline_n, **base)


def _ratio(canary: float, baseline: float) -> float:
    if baseline != 0:
        return canary / baseline
    return 1.0 if canary == 0 else math.inf


def _in_window(reading: Reading, since: float, now: float) -> tuple[float, ...]:
    if not reading.times:
        return reading.values
    return tuple(v for t, v in zip(reading.times, reading.values, strict=True) if since < t <= now)


def _latest(readings: Mapping[str, Reading]) -> float:
    """A check's time when none is given (pure tests): the newest sample, or 0."""
    times = [r.last_time for r in readings.values() if r.last_time is not None]
    return max(times, default=0.0)


__all__ = ["Analysis", "CheckContext", "CheckResult", "ComparisonOutcome", "CountWindow", "Reading",
           "RuleOutcome", "compare"]
