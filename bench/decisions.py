"""How often the canary analysis decides wrongly on noisy, sparse traffic: seeded rollouts through
the real analysis code (engine/canary/analysis.py), and the old policy (the file's version before
counted evidence, read from git) beside it.

    python bench/decisions.py                    # 200 rollouts per cell (a few minutes)
    python bench/decisions.py --rollouts 50      # quicker, coarser

Traffic model, per second: total requests ~ Poisson(rate), the canary's share ~ Binomial(weight);
errors ~ Binomial(p) per version; latencies lognormal (median 40 ms, sigma 0.6) counted into the
standard buckets, the canary's times `latency_factor`. Rates 5, 20, 100 and 200 req/s in total.
A rollout: stages 5% -> 10% -> 50% -> 100%, 60 s holds, a check every 5 s, 15 s settle after each
weight change, rules `error_rate max 1%` and `latency_p95_ms max 500ms` (3 consecutive, 10 in
total), comparisons on both (98%, critical), the demo's policy. The sources record their counts
every 5 s here (the analysis only sums them; 1 s would give the same sums at 5x the cost), and the
old policy reads per-second error_rate and p95 samples, as the old sources recorded them.

Scenarios: equal (both 0.5% errors, same latency: any rollback is false); +2 pts (canary 2.5%);
spike (canary 3%); slow (canary latency x2); quiet (all traffic stops 20 s into the 10% stage);
stale (the sources stop reporting 20 s into the 10% stage). Figures per policy: false rollback rate
(equal), detection rate and median checks from onset to the rollback (+2 pts, spike, slow; a
detection counts within the run's 300 s), promotions after the traffic stopped (quiet, stale).

Ends with one JSON line for the new policy: false_rollback_rate, detection_rate (spike at 100 req/s
to the canary, within 3 checks), median_detection_checks, promotions_on_no_data.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.canary.analysis import NONE, PAUSE, ROLLBACK, Analysis, CheckContext, CountWindow, Reading  # noqa: E402
from engine.canary.config import CanaryConfig  # noqa: E402
from engine.evidence.counts import STANDARD_BOUNDS_MS, Histogram, bucket_metric  # noqa: E402

OLD_COMMIT = "3cc1a23"  # the analysis before counted evidence
INTERVAL, HOLD, SETTLE, WINDOW, RUN_FOR = 5.0, 60.0, 15.0, 60.0, 300.0
STAGES = (5, 10, 50, 100)
C, B = "log:canary", "log:baseline"
BUCKETS = [bucket_metric(b) for b in STANDARD_BOUNDS_MS]


def policy_config(**rule_extra: Any) -> CanaryConfig:
    rules = [
        {"series": f"{C}/error_rate", "baseline": f"{B}/error_rate", "max": 0.01, "consecutive": 3, "total": 10,
         **rule_extra},
        {"series": f"{C}/latency_p95_ms", "baseline": f"{B}/latency_p95_ms", "max": 500, "consecutive": 3,
         "total": 10, **rule_extra},
    ]
    compare = [
        {"canary": f"{C}/error_rate", "baseline": f"{B}/error_rate", "allowed_increase": 1.5,
         "confidence": 0.98, "critical": True, "min_samples": 3},
        {"canary": f"{C}/latency_p95_ms", "baseline": f"{B}/latency_p95_ms", "allowed_increase": 1.5,
         "confidence": 0.98, "critical": True, "min_samples": 3},
    ]
    return CanaryConfig.model_validate({
        "service": "bench", "interval": INTERVAL, "window": WINDOW, "initial_delay": SETTLE,
        "stages": [{"weight": w, "hold": HOLD} for w in STAGES[:-1]] + [{"weight": 100}],
        "rules": rules, "compare": compare, "score": {"consecutive": 2}, "actuator": {"kind": "demo"},
    })


def old_module() -> Any:
    """engine/canary/analysis.py as it was before counted evidence, imported under another name."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:engine/canary/analysis.py"],
                          check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_analysis.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("old_analysis", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_analysis"] = module  # dataclasses look their module up while they are built
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- traffic


@dataclass(frozen=True)
class Scenario:
    name: str
    canary_error: float = 0.005
    baseline_error: float = 0.005
    latency_factor: float = 1.0
    stop_at: float | None = None  # traffic (quiet) or reporting (stale) stops at this time
    stale: bool = False
    onset_stage: int = 0  # the canary's fault starts in this stage...
    onset_delay: float = 0.0  # ...this long after its weight was set (0: with the weight)


def bucket_probabilities(median_ms: float, sigma: float) -> np.ndarray:
    edges = [0.0, *STANDARD_BOUNDS_MS]
    cdf = [0.0 if e <= 0 else 1.0 if math.isinf(e) else
           0.5 * (1 + math.erf((math.log(e) - math.log(median_ms)) / (sigma * math.sqrt(2)))) for e in edges]
    return np.diff(cdf)


class Traffic:
    """One second at a time: (canary, baseline) requests, errors and latency bucket counts."""

    def __init__(self, scenario: Scenario, rate: float, rng: np.random.Generator) -> None:
        self.s, self.rate, self.rng = scenario, rate, rng
        self.p_base = bucket_probabilities(40.0, 0.6)
        self.p_canary = bucket_probabilities(40.0 * scenario.latency_factor, 0.6)

    def second(self, weight: int, t: float, faulty: bool
               ) -> tuple[tuple[int, int, np.ndarray], tuple[int, int, np.ndarray]]:
        total = 0 if self.s.stop_at is not None and not self.s.stale and t >= self.s.stop_at else \
            int(self.rng.poisson(self.rate))
        n_c = int(self.rng.binomial(total, weight / 100))
        n_b = total - n_c
        e_c = int(self.rng.binomial(n_c, self.s.canary_error if faulty else self.s.baseline_error))
        e_b = int(self.rng.binomial(n_b, self.s.baseline_error))
        return ((n_c, e_c, self.rng.multinomial(n_c, self.p_canary if faulty else self.p_base)),
                (n_b, e_b, self.rng.multinomial(n_b, self.p_base)))


class Recorder:
    """What the sources would have recorded: count samples every INTERVAL (new policy) and
    per-second error_rate / p95 samples (old policy)."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, list[tuple[float, float]]]] = {C: {}, B: {}}
        self.per_second: dict[str, list[tuple[float, float]]] = {}
        self._acc = {C: [0, 0, np.zeros(len(BUCKETS))], B: [0, 0, np.zeros(len(BUCKETS))]}

    def second(self, t: float, canary: tuple[int, int, np.ndarray], baseline: tuple[int, int, np.ndarray]) -> None:
        for source, (n, e, buckets) in ((C, canary), (B, baseline)):
            acc = self._acc[source]
            acc[0] += n
            acc[1] += e
            acc[2] += buckets
            if n:
                self.per_second.setdefault(f"{source}/error_rate", []).append((t, e / n))
                p95 = Histogram(STANDARD_BOUNDS_MS, tuple(float(x) for x in buckets)).quantile(0.95)
                self.per_second.setdefault(f"{source}/latency_p95_ms", []).append((t, p95 or 0.0))

    def flush(self, t: float) -> None:
        for source, acc in self._acc.items():
            series = self.counts[source]
            series.setdefault("requests", []).append((t, float(acc[0])))
            series.setdefault("errors", []).append((t, float(acc[1])))
            series.setdefault("unavailable", []).append((t, 0.0))
            for metric, count in zip(BUCKETS, acc[2], strict=True):
                if count:
                    series.setdefault(metric, []).append((t, float(count)))
            self._acc[source] = [0, 0, np.zeros(len(BUCKETS))]

    def new_readings(self, keys: list[str], now: float) -> dict[str, Reading]:
        out = {}
        for key in keys:
            source = key.rpartition("/")[0]
            series = {m: tuple(p for p in pts if now - WINDOW - INTERVAL < p[0] <= now)
                      for m, pts in self.counts[source].items()}
            times = tuple(t for t, _ in series["requests"])
            out[key] = Reading(counts=CountWindow(times, series), last_time=times[-1] if times else None,
                               interval=INTERVAL, unit="ms" if "latency" in key else "")
        return out

    def old_readings(self, keys: list[str], now: float, old: Any) -> dict[str, Any]:
        return {key: old.Reading(tuple(v for t, v in self.per_second.get(key, ()) if now - WINDOW <= t <= now))
                for key in keys}


# ---------------------------------------------------------------------------- rollouts


@dataclass
class Outcome:
    result: str  # promoted / rolled-back / paused / running
    at: float | None = None  # when it ended
    checks_after_onset: int | None = None
    promoted_after_stop: bool = False
    reason: str = ""


def run(policy: str, config: CanaryConfig, old: Any, scenario: Scenario, rate: float, seed: int) -> Outcome:
    rng = np.random.default_rng(seed)
    traffic, rec = Traffic(scenario, rate, rng), Recorder()
    analysis = old.Analysis(config) if policy == "old" else Analysis(config)
    stage, entered, paused = 0, 0.0, False
    hold_deadline = HOLD
    previous: float | None = None
    checks_after_onset = 0
    promoted_after_stop = False
    keys = analysis.series_keys()
    t = 0.0
    onset: float | None = None
    while t < RUN_FOR:
        for _ in range(int(INTERVAL)):
            t += 1.0
            if onset is None and stage >= scenario.onset_stage and t > entered + scenario.onset_delay:
                onset = t - 1.0
            if not (scenario.stale and scenario.stop_at is not None and t >= scenario.stop_at):
                rec.second(t, *traffic.second(STAGES[stage], t, onset is not None))
        if not (scenario.stale and scenario.stop_at is not None and t >= scenario.stop_at):
            rec.flush(t)
        settled = entered + SETTLE
        if policy == "old":
            if paused:
                break  # the old policy stopped counting while paused: nothing guards it
            result = analysis.evaluate(rec.old_readings(keys, t, old), count=t >= settled)
        else:
            ctx = CheckContext(now=t, settled_at=settled, weight=STAGES[stage], previous_check=previous)
            result = analysis.evaluate(rec.new_readings(keys, t), count=t >= settled, context=ctx)
        previous = t
        if onset is not None:
            checks_after_onset += 1
        if result.action == ROLLBACK:
            return Outcome("rolled-back", t, checks_after_onset, reason=f"{STAGES[stage]}%: {result.reason}")
        if result.action == PAUSE:
            paused = True
            continue
        if result.action == NONE and result.clean and not paused and t >= hold_deadline:
            if scenario.stop_at is not None and t >= scenario.stop_at:
                promoted_after_stop = True
            stage += 1
            if STAGES[stage] == 100:
                return Outcome("promoted", t, None, promoted_after_stop)
            entered, hold_deadline = t, t + HOLD
    return Outcome("paused" if paused else "running", None, None, promoted_after_stop)


def cell(policy: str, config: CanaryConfig, old: Any, scenario: Scenario, rate: float, rollouts: int) -> list[Outcome]:
    return [run(policy, config, old, scenario, rate, seed) for seed in range(rollouts)]


def share(outcomes: list[Outcome], result: str) -> float:
    return sum(o.result == result for o in outcomes) / len(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rollouts", type=int, default=200)
    opts = parser.parse_args()
    old = old_module()
    policies = {"old": policy_config(), "new": policy_config(), "new+min_bad3": policy_config(min_bad=3),
                "new+wilson95": policy_config(confidence=0.95)}
    rates = (5.0, 20.0, 100.0, 200.0)
    started = time.process_time()
    figures: dict[str, dict[str, Any]] = {}
    for name, config in policies.items():
        f: dict[str, Any] = {}
        equal = [o for rate in rates for o in cell(name, config, old, Scenario("equal"), rate, opts.rollouts)]
        f["false_rollback_rate"] = share(equal, "rolled-back")
        f["false_reasons"] = [o.reason for o in equal if o.result == "rolled-back"][:5]
        f["promoted_rate"] = share(equal, "promoted")
        f["stuck_rate"] = 1 - f["false_rollback_rate"] - f["promoted_rate"]
        # Faults start 20 s into the 50% stage (after its settle): at 200 req/s in total the canary
        # then takes 100 req/s; at the lower rates the same stage shows what scarcity costs.
        for label, scenario in (("plus2pts", Scenario("+2 pts", canary_error=0.025, onset_stage=2, onset_delay=20)),
                                ("spike3pct", Scenario("spike", canary_error=0.03, onset_stage=2, onset_delay=20)),
                                ("slow2x", Scenario("slow", latency_factor=2.0, onset_stage=2, onset_delay=20))):
            for rate in rates:
                outs = cell(name, config, old, scenario, rate, max(20, opts.rollouts // 4))
                detected = [o for o in outs if o.result == "rolled-back"]
                checks = [o.checks_after_onset for o in detected if o.checks_after_onset is not None]
                f[f"{label}@{rate:g}"] = {
                    "detected": len(detected) / len(outs),
                    "within3": sum(c <= 3 for c in checks) / len(outs),
                    "median_checks": statistics.median(checks) if checks else None,
                }
        no_data = 0
        for scenario in (Scenario("quiet", stop_at=HOLD + 20), Scenario("stale", stop_at=HOLD + 20, stale=True)):
            for rate in rates:
                no_data += sum(o.promoted_after_stop for o in
                               cell(name, config, old, scenario, rate, max(20, opts.rollouts // 4)))
        f["promotions_on_no_data"] = no_data
        figures[name] = f
    cpu = time.process_time() - started

    print(f"{opts.rollouts} rollouts per equal-quality cell, {max(20, opts.rollouts // 4)} per fault cell, "
          f"rates {', '.join(f'{r:g}' for r in rates)} req/s; {cpu:.0f} CPU-s")
    for name, f in figures.items():
        print(f"\n== {name}")
        print(f"equal quality: false rollbacks {f['false_rollback_rate']:.1%}, promoted {f['promoted_rate']:.1%}, "
              f"stuck (paused or still running at {RUN_FOR:g}s) {f['stuck_rate']:.1%}")
        for reason in f["false_reasons"]:
            print(f"  false rollback: {reason[:160]}")
        for label in ("plus2pts", "spike3pct", "slow2x"):
            parts = []
            for rate in rates:
                d = f[f"{label}@{rate:g}"]
                median = f"{d['median_checks']:g}" if d["median_checks"] is not None else "-"
                parts.append(f"{rate:g}/s: {d['detected']:.0%}, {d['within3']:.0%} in 3 (median {median})")
            print(f"{label:10s} " + " · ".join(parts))
        print(f"promotions after the traffic stopped or the sources went stale: {f['promotions_on_no_data']}")
    # The headline: the spike at 200 req/s total reaches the canary at 100 req/s in the 50% stage;
    # measured from the rollout's start (onset at t=0), checks include the settle of each stage.
    new = figures["new"]
    headline = {
        "false_rollback_rate": round(new["false_rollback_rate"], 4),
        "detection_rate": round(new["spike3pct@200"]["within3"], 4),
        "median_detection_checks": new["spike3pct@200"]["median_checks"],
        "promotions_on_no_data": new["promotions_on_no_data"],
        "old_false_rollback_rate": round(figures["old"]["false_rollback_rate"], 4),
        "old_detection_rate": round(figures["old"]["spike3pct@200"]["within3"], 4),
        "old_promotions_on_no_data": figures["old"]["promotions_on_no_data"],
    }
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
