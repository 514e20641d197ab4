"""Analysis: Mann-Whitney against scipy's numbers, decisions on generated samples, the two breach
counters, no data and provider errors, and the explanations an operator reads."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine.canary.analysis import INCONCLUSIVE, NO_DATA, PAUSE, ROLLBACK, Analysis, Reading, compare
from engine.canary.config import CanaryConfig, Comparison
from engine.evidence.mannwhitney import mann_whitney_u, ranks

CANARY, BASELINE = "t:canary/error_rate", "t:baseline/error_rate"
LAT_C, LAT_B = "t:canary/latency_p95_ms", "t:baseline/latency_p95_ms"


def config(**overrides: object) -> CanaryConfig:
    document: dict[str, object] = {
        "service": "checkout",
        "interval": "1s",
        "window": "30s",
        "stages": [{"weight": 5, "hold": "1m"}, {"weight": 100}],
        "rules": [{"series": CANARY, "max": 0.01, "consecutive": 3, "total": 5}],
        "actuator": {"kind": "demo", "url": "http://127.0.0.1:9"},
    }
    document.update(overrides)
    return CanaryConfig.model_validate(document)


# ---------------------------------------------------------------------------- Mann-Whitney U


@pytest.mark.parametrize(
    ("x", "y", "alternative", "u", "p"),
    [  # scipy.stats.mannwhitneyu(x, y, method="asymptotic", alternative=...) — scipy 1.17
        ([19, 22, 16, 29, 24], [20, 11, 17, 12], "two-sided", 17.0, 0.11134688653314041),
        ([1, 2, 2, 3, 3, 3, 4], [2, 3, 4, 4, 5, 5, 6, 6], "two-sided", 8.5, 0.025144761173357368),
        ([1, 2, 2, 3, 3, 3, 4], [2, 3, 4, 4, 5, 5, 6, 6], "less", 8.5, 0.012572380586678684),
        ([1, 2, 2, 3, 3, 3, 4], [2, 3, 4, 4, 5, 5, 6, 6], "greater", 8.5, 0.9907889372729505),
        ([0.01, 0.01, 0.02, 0.0, 0.01, 0.03, 0.01, 0.02], [0.0, 0.0, 0.01, 0.0, 0.0, 0.01, 0.0, 0.0, 0.0],
         "two-sided", 62.5, 0.006749531722035424),
        ([5, 5, 5], [5, 5, 5, 5], "two-sided", 6.0, 1.0),  # all tied: no evidence at all
    ],
)
def test_mann_whitney_matches_scipy(x, y, alternative, u, p) -> None:
    result = mann_whitney_u(x, y, alternative)
    assert result.u == u
    assert result.p_value == pytest.approx(p, rel=1e-9)


def test_ranks_average_ties_and_count_the_tie_term() -> None:
    assert ranks([10, 20, 20, 30]) == ([1.0, 2.5, 2.5, 4.0], 6.0)  # one pair: 2^3 - 2


def test_mann_whitney_needs_both_sides() -> None:
    with pytest.raises(ValueError, match="at least one value on each side"):
        mann_whitney_u([], [1.0])


LATENCY = Comparison(canary=LAT_C, baseline=LAT_B, allowed_increase=1.1, confidence=0.98)


def samples(mean: float, spread: float, n: int, rng: random.Random) -> tuple[float, ...]:
    return tuple(max(0.0, rng.gauss(mean, spread)) for _ in range(n))


def test_clearly_worse_canary_is_high_and_fails() -> None:
    rng = random.Random(1)
    outcome, _ = compare(LATENCY, Reading(samples(180, 20, 30, rng)), Reading(samples(100, 20, 30, rng)))
    assert (outcome.verdict, outcome.failed) == ("high", True)
    assert outcome.p_value is not None and outcome.p_value < 0.001


def test_clearly_same_canary_passes() -> None:
    rng = random.Random(2)
    outcome, _ = compare(LATENCY, Reading(samples(100, 2, 30, rng)), Reading(samples(100, 2, 30, rng)))
    assert (outcome.verdict, outcome.failed) == ("pass", False)


def test_noisy_but_same_never_rolls_back() -> None:
    """Same distribution, lots of noise: over 200 independent windows, rolling back needs the score
    rule's 2 failing checks in a row; with 98% confidence and a 10% allowed increase that must never
    happen. (A single failing window would be a 1-in-50 fluke; two in a row, 1 in 2500.)"""
    cfg = config(rules=[], compare=[LATENCY.model_dump()], score={"consecutive": 2})
    analysis = Analysis(cfg)
    rng = random.Random(3)
    fails = 0
    for _ in range(200):
        result = analysis.evaluate({LAT_C: Reading(samples(100, 40, 30, rng)), LAT_B: Reading(samples(100, 40, 30, rng))})
        fails += result.comparisons[0].failed
        assert result.action != ROLLBACK, result.reason
    assert fails <= 6  # a handful of single-window flukes at most, each forgiven by the next window


def test_lower_latency_is_low_but_not_a_failure_when_only_increases_are_bad() -> None:
    rng = random.Random(4)
    outcome, _ = compare(LATENCY, Reading(samples(50, 5, 30, rng)), Reading(samples(100, 5, 30, rng)))
    assert (outcome.verdict, outcome.failed) == ("low", False)
    either = LATENCY.model_copy(update={"direction": "either", "allowed_decrease": 0.9})
    assert compare(either, Reading(samples(50, 5, 30, rng)), Reading(samples(100, 5, 30, rng)))[0].failed


def test_a_significant_but_allowed_increase_passes() -> None:
    rng = random.Random(5)
    outcome, _ = compare(LATENCY, Reading(samples(105, 1, 40, rng)), Reading(samples(100, 1, 40, rng)))
    assert outcome.p_value is not None and outcome.p_value < 0.001  # a real difference...
    assert outcome.verdict == "pass"  # ...of 5%, within the allowed 10%


def test_too_few_samples_is_inconclusive_and_none_is_no_data() -> None:
    outcome, _ = compare(LATENCY, Reading((100.0, 101.0)), Reading(tuple(range(100, 130))))
    assert outcome.verdict == INCONCLUSIVE and not outcome.failed
    assert outcome.why == "canary 2, baseline 30 samples, need 5 each"
    assert compare(LATENCY, Reading(()), Reading(()))[0].verdict == NO_DATA


# ---------------------------------------------------------------------------- counters


def test_consecutive_and_total_counters_are_kept_apart() -> None:
    analysis = Analysis(config())
    bad, good = {CANARY: Reading((0.032,))}, {CANARY: Reading((0.004,))}
    seen = []
    for readings in (bad, bad, good, bad, good, bad):
        result = analysis.evaluate(readings)
        seen.append((result.rules[0].consecutive, result.rules[0].total, result.action))
    # never 3 in a row, but the 4th breach in total...
    assert seen == [(1, 1, "none"), (2, 2, "none"), (0, 2, "none"), (1, 3, "none"), (0, 3, "none"), (1, 4, "none")]
    result = analysis.evaluate(bad)  # ...and the 5th reaches total: 5
    assert (result.action, result.rules[0].total) == (ROLLBACK, 5)
    assert result.reason == "canary error_rate 3.2% > 1.0% for 2/3 checks (total 5/5)"


def test_consecutive_limit_rolls_back_with_the_explanation() -> None:
    analysis = Analysis(config())
    for _ in range(2):
        assert analysis.evaluate({CANARY: Reading((0.03, 0.034))}).action == "none"
    result = analysis.evaluate({CANARY: Reading((0.03, 0.034))})
    assert result.action == ROLLBACK
    assert result.reason == "canary error_rate 3.2% > 1.0% for 3/3 checks (total 3/5)"
    assert result.evidence()["error_rate"] == {"value": pytest.approx(0.032), "state": "breach", "limit": 0.01,
                                                "consecutive": 3, "total": 3}


def test_min_rules_and_aggregates() -> None:
    cfg = config(rules=[{"series": "t:canary/requests_per_s", "min": 5, "aggregate": "last", "consecutive": 1}])
    result = Analysis(cfg).evaluate({"t:canary/requests_per_s": Reading((9.0, 2.0), "/s")})
    assert result.action == ROLLBACK
    assert result.reason == "canary requests_per_s 2/s < 5/s for 1/1 checks (total 1)"


def test_values_are_shown_but_not_counted_when_not_counting() -> None:
    analysis = Analysis(config())
    for _ in range(5):
        result = analysis.evaluate({CANARY: Reading((0.05,))}, count=False)
    assert (result.rules[0].state, result.rules[0].consecutive, result.action) == ("breach", 0, "none")


# ---------------------------------------------------------------------------- no data, errors


def test_no_data_pauses_by_default_with_a_clear_reason() -> None:
    result = Analysis(config()).evaluate({CANARY: Reading(())})
    assert result.action == PAUSE and not result.clean
    assert result.reason == "no data for canary error_rate (t:canary/error_rate) in the last 30s"


def test_no_data_as_breach_counts_and_rolls_back() -> None:
    analysis = Analysis(config(no_data="breach"))
    results = [analysis.evaluate({}) for _ in range(3)]
    assert [r.action for r in results] == ["none", "none", ROLLBACK]
    assert results[-1].reason == "no data for canary error_rate (t:canary/error_rate) for 3/3 checks (total 3/5)"


def test_provider_errors_are_counted_apart_from_bad_values() -> None:
    analysis = Analysis(config(error_limit=3))
    broken = {CANARY: Reading(error="cannot read t:canary/error_rate from the history: disk I/O error")}
    first, second = analysis.evaluate(broken), analysis.evaluate(broken)
    assert (first.errors, second.errors) == (1, 2)
    assert first.rules[0].consecutive == 0 and first.rules[0].total == 0  # not a breach: nothing was measured
    assert first.action == "none" and not first.clean  # no promotion on a check that measured nothing
    third = analysis.evaluate(broken)
    assert third.action == PAUSE
    assert third.reason.startswith("cannot measure error_rate for 3/3 checks: cannot read")
    assert analysis.evaluate({CANARY: Reading((0.001,))}).errors == 0  # a good read resets the run


# ---------------------------------------------------------------------------- comparison score


def comparing(**score: object) -> Analysis:
    second = LATENCY.model_copy(update={"canary": CANARY, "baseline": BASELINE, "allowed_increase": 1.5})
    return Analysis(config(rules=[], compare=[LATENCY.model_dump(), second.model_dump()],
                           score={"pass_at": 95, "marginal_at": 40, **score}))


def test_marginal_score_pauses_for_a_human() -> None:
    rng = random.Random(6)
    readings = {LAT_C: Reading(samples(200, 10, 30, rng)), LAT_B: Reading(samples(100, 10, 30, rng)),
                CANARY: Reading(samples(0.01, 0.001, 30, rng)), BASELINE: Reading(samples(0.01, 0.001, 30, rng))}
    result = comparing().evaluate(readings)
    assert result.score == 50.0 and result.action == PAUSE
    assert result.reason.startswith("comparison score 50 is marginal (passes at 95, fails below 40): latency_p95_ms high")


def test_failing_score_is_a_breach_counted_like_a_rule() -> None:
    rng = random.Random(7)
    analysis = comparing(consecutive=2)

    def bad() -> dict[str, Reading]:
        return {LAT_C: Reading(samples(200, 10, 30, rng)), LAT_B: Reading(samples(100, 10, 30, rng)),
                CANARY: Reading(samples(0.05, 0.005, 30, rng)), BASELINE: Reading(samples(0.01, 0.001, 30, rng))}

    assert analysis.evaluate(bad()).action == "none"
    result = analysis.evaluate(bad())
    assert result.action == ROLLBACK and result.score == 0.0
    assert result.reason.startswith("comparison score 0 < 40: latency_p95_ms high: canary ")
    assert result.reason.endswith("for 2/2 checks (total 2)")


def test_a_failing_critical_metric_fails_the_comparison_at_once() -> None:
    rng = random.Random(8)
    critical = LATENCY.model_copy(update={"critical": True})
    analysis = Analysis(config(rules=[], compare=[critical.model_dump()], score={"consecutive": 1}))
    result = analysis.evaluate({LAT_C: Reading(samples(300, 10, 30, rng)), LAT_B: Reading(samples(100, 10, 30, rng))})
    assert result.action == ROLLBACK
    assert result.reason.startswith("critical metric latency_p95_ms high: canary 3")
    assert "vs baseline 1" in result.reason and "Mann-Whitney p=" in result.reason


def test_clean_check_when_everything_passes_with_data() -> None:
    rng = random.Random(9)
    readings = {CANARY: Reading((0.001,)), LAT_C: Reading(samples(100, 5, 30, rng)), LAT_B: Reading(samples(100, 5, 30, rng))}
    result = Analysis(config(compare=[LATENCY.model_dump()])).evaluate(readings)
    assert result.clean and result.action == "none" and result.score == 100.0


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    from engine.config.loader import ConfigError, load_config

    path = tmp_path / "config.yaml"
    path.write_text(
        "canary:\n"
        "  service: checkout\n"
        "  stages: [{weight: 10, hold: 1m}, {weight: 5, hold: 1m}]\n"
        "  rules:\n"
        "    - {series: error_rate, max: 0.01}\n"
        "  compare:\n"
        "    - {canary: 'a:c/x', baseline: 'a:b/x', confidence: 2}\n"
        "  actuator: {kind: command, set_weight: ['./set-weight.sh', '{wieght}']}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "config.yaml:5: canary.rules[0].series: expected a series as \"source/metric\"" in text
    assert "config.yaml:7: canary.compare[0].confidence: must be 0.5..0.9999, got 2" in text
    assert "config.yaml:8: canary.actuator.set_weight[1]: unknown placeholder {wieght}" in text


def test_a_gauge_sampled_slower_than_the_checks_waits_after_a_weight_change_instead_of_pausing() -> None:
    """A p95 gauge sampled every 5 s (a PromQL query), checked every 1 s: the first check after a
    weight change has no sample since the settle yet. That is "wait", not "no data: pause" — a
    good canary would otherwise sit paused for a human (examples/prometheus found it)."""
    from engine.canary.analysis import CheckContext

    analysis = Analysis(config(rules=[{"series": LAT_C, "max": 500, "consecutive": 3}]))
    times = (100.0, 105.0)
    fresh = Reading((120.0, 130.0), "ms", times=times, interval=5.0, last_time=105.0)
    result = analysis.evaluate({LAT_C: fresh}, context=CheckContext(now=107.0, settled_at=106.0, weight=10))
    assert result.rules[0].state == INCONCLUSIVE and result.action == "none", result.reason
    assert result.rules[0].why == "no sample since the weight change yet"
    later = Reading((120.0, 130.0, 140.0), "ms", times=(*times, 110.0), interval=5.0, last_time=110.0)
    result = analysis.evaluate({LAT_C: later}, context=CheckContext(now=110.5, settled_at=106.0, weight=10))
    assert result.rules[0].state != INCONCLUSIVE and result.rules[0].value == 140.0
    stale = analysis.evaluate({LAT_C: fresh}, context=CheckContext(now=125.0, settled_at=106.0, weight=10))
    assert stale.rules[0].state == NO_DATA  # 20 s without a sample from a 5 s source: stale, as before


def test_counts_past_their_limit_stop_there_and_say_the_rest() -> None:
    """A frozen rollout keeps counting: its alert reads `3/3 checks, 8 in a row`, never `8/3`."""
    from engine.canary.analysis import RuleOutcome

    base = dict(name="error_rate", series=CANARY, state="breach", value=0.5, limit=0.01, op=">",
                consecutive_limit=3, total_limit=5)
    assert RuleOutcome(**base, consecutive=2, total=2).counts() == "2/3 checks (total 2/5)"
    assert RuleOutcome(**base, consecutive=8, total=8).counts() == "3/3 checks, 8 in a row (total 5/5, 8 in all)"
    unlimited = {**base, "total_limit": None}
    assert RuleOutcome(**unlimited, consecutive=4, total=9).counts() == "3/3 checks, 4 in a row (total 9)"
