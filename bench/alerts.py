"""Do the demo's SLA error-rate rules page on a real outage, and stay quiet on a healthy baseline?

Through the real AlertEvaluator with a fake clock, over a seeded traffic model: Poisson request
counts at 10 req/s, each request failing with the phase's probability (binomial errors), recorded
as request sources do (`<source>/requests`, `errors` every second, the per-second `error_rate`).

  time to fire   0.5% errors for a warm-up, then a sustained 4.5% outage; seconds from the onset
                 to the first firing, median and max over --runs seeds. Floor, measured in the same
                 run: the same rule over noise-free traffic (exactly 10 req/s, 0.45 errors a second),
                 the fastest its window and `for` allow; figures are also printed as a ratio to it.
  false fires    firing transitions per hour over --hours of a steady 0.5% baseline (the brief's
                 "healthy"), and of the demo's own 0.2%.
  cost           CPU per evaluation of the rules against 2 minutes of series, against the floor of
                 the same number of `last` rules (wall clock, perf_counter; the machine is shared).

Each configured ratio rule is printed beside the same rule as it was before windows (`last`: the
newest per-second sample, same `for`), plus one 3m-window variant for comparison. Ends with one
JSON line of the figures of HighErrorRate.

    python bench/alerts.py [--runs 200] [--hours 50] [--config config.yaml]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.alerts.config import AlertRule  # noqa: E402
from engine.alerts.evaluator import AlertEvaluator, condition_text  # noqa: E402
from engine.config.loader import load_config  # noqa: E402
from tests.alertsim import SOURCE, Clock, Phase, Recorder, poisson, simulate  # noqa: E402

OUTAGE, BASELINE, DEMO_BASELINE = 0.045, 0.005, 0.002
OUTAGE_SECONDS = 300  # sustained: long enough that a rule that fires at all has fired


def retarget(rule: AlertRule, **changes: object) -> AlertRule:
    """The rule over the simulated source (its window, `for`, threshold and min_requests kept)."""
    data = {**rule.model_dump(by_alias=True, exclude_none=True), "series": f"{SOURCE}/error_rate", **changes}
    return AlertRule.model_validate({k: v for k, v in data.items() if v is not None})


def as_before(rule: AlertRule) -> AlertRule:
    return retarget(rule, name=f"{rule.name} (last)", function="last", over=None, min_requests=None)


def demo_rules(config: Path) -> list[AlertRule]:
    rules = [r for r in load_config(config).config.alerts if r.function == "ratio"]
    if not rules:
        raise SystemExit(f"{config} has no ratio rules")
    return rules


def time_to_fire(rules: list[AlertRule], runs: int) -> tuple[dict[str, list[float]], dict[str, int], dict[str, float]]:
    warm = int(max(r.over or 0 for r in rules)) + 60
    phases = [Phase(warm, BASELINE), Phase(OUTAGE_SECONDS, OUTAGE)]
    times: dict[str, list[float]] = {r.name: [] for r in rules}
    already: dict[str, int] = {r.name: 0 for r in rules}
    for seed in range(runs):
        result = simulate(rules, phases, seed=10_000 + seed, poisson_requests=True)
        for r in rules:
            took = result.time_to_fire(r.name)
            if result.at_onset.get(r.name) == "firing":
                already[r.name] += 1
            elif took is not None:
                times[r.name].append(took)
    floor = simulate(rules, phases, seed=0, noise=False)
    floors = {r.name: floor.time_to_fire(r.name) for r in rules}
    return times, already, {k: v for k, v in floors.items() if v is not None}


def false_fires(rules: list[AlertRule], hours: float, error_rate: float) -> dict[str, float]:
    chunks = max(1, round(hours))  # one seeded hour at a time
    fired = {r.name: 0 for r in rules}
    for seed in range(chunks):
        result = simulate(rules, [Phase(int(3600 * hours / chunks), error_rate)], seed=20_000 + seed,
                          poisson_requests=True)
        for r in rules:
            fired[r.name] += len(result.fired[r.name])
    return {name: n / hours for name, n in fired.items()}


def evaluation_us(rules: list[AlertRule], repeat: int = 5000) -> float:
    """Median µs of one evaluate() over 2 minutes of series, looked up as live: views already built
    (the ring's and the window feed's are cached tuples), so this is the rules' own cost."""
    import random

    rng = random.Random(1)
    feed = Recorder(keep=3600)
    t = 1_000_000.0
    for _ in range(120):
        t += 1
        requests = poisson(rng, 10)
        feed.record(f"{SOURCE}/requests", t, requests)
        feed.record(f"{SOURCE}/errors", t, sum(rng.random() < BASELINE for _ in range(requests)))
        feed.record(f"{SOURCE}/error_rate", t, 0.0, "ratio")
    views = {key: feed(*key) for key in feed.points}
    evaluator = AlertEvaluator(rules, clock=Clock(t))
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        evaluator.evaluate(lambda source, metric: views.get((source, metric)))
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--hours", type=float, default=50.0)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    opts = parser.parse_args()
    configured = demo_rules(opts.config)
    new = [retarget(r) for r in configured]
    old = [as_before(r) for r in configured]
    wider = [retarget(configured[0], name=f"{configured[0].name} (3m)", over="3m")]
    rules = new + old + wider
    ttf, already, floors = time_to_fire(rules, opts.runs)
    fp = false_fires(rules, opts.hours, BASELINE)
    fp_demo = false_fires(rules, opts.hours, DEMO_BASELINE)
    cost_new, cost_old = evaluation_us(new), evaluation_us(old)

    print(f"{opts.runs} seeded runs: {BASELINE:.1%} errors, then a sustained {OUTAGE:.1%} outage; "
          f"10 req/s (Poisson); false fires over {opts.hours:g} h at {BASELINE:.1%} and {DEMO_BASELINE:.1%}")
    print(f"{'rule':<34} {'condition':<42} {'fired':>7} {'median':>7} {'max':>6} {'noise-free':>10} "
          f"{'median/floor':>12} {'false/h':>8} {'@0.2%':>6}")
    for r in rules:
        got = sorted(ttf[r.name])
        floor = floors.get(r.name)
        median = statistics.median(got) if got else None
        cells = (f"{len(got):>4}/{opts.runs - already[r.name]:<3}",
                 f"{median:6.0f}s" if median is not None else f"{'-':>7}",
                 f"{got[-1]:5.0f}s" if got else f"{'-':>6}",
                 f"{floor:9.0f}s" if floor is not None else f"{'never':>10}",
                 f"{median / floor:11.2f}x" if median is not None and floor else f"{'-':>12}")
        print(f"{r.name:<34} {condition_text(r, 'ratio'):<42} {' '.join(cells)} "
              f"{fp[r.name]:8.2f} {fp_demo[r.name]:6.2f}")
        if already[r.name]:
            print(f"{'':<34} ({already[r.name]} run(s) already firing, falsely, when the outage began: not timed)")
    print(f"evaluation of the {len(new)} rules: {cost_new:.1f} µs  ({cost_new / cost_old:.1f}x the floor: "
          f"the same rules as `last`, {cost_old:.1f} µs)")
    head, before = new[0], old[0]
    got = sorted(ttf[head.name])
    print(json.dumps({
        "rule": head.name,
        "time_to_fire_median_s": statistics.median(got) if got else None,
        "time_to_fire_max_s": got[-1] if got else None,
        "time_to_fire_floor_s": floors.get(head.name),
        "fired_runs": len(got),
        "runs": opts.runs,
        "false_fires_per_h": round(fp[head.name], 3),
        "false_fires_per_h_at_0_2pct": round(fp_demo[head.name], 3),
        "old_fired_runs": len(ttf[before.name]),
        "old_false_fires_per_h": round(fp[before.name], 3),
        "eval_us": round(cost_new, 1),
        "eval_vs_last_floor": round(cost_new / cost_old, 2),
    }))


if __name__ == "__main__":
    main()
