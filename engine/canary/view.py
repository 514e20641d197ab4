"""The rollout as the Snapshot carries it (RolloutView): built once per change, never per frame."""

from __future__ import annotations

from engine.canary.analysis import CheckResult, RuleOutcome
from engine.canary.config import MANUAL, CanaryConfig
from engine.canary.statemachine import FINISHED, RolloutMachine, Status
from engine.snapshot import ComparisonView, RolloutView, RuleView
from engine.units import format_duration


def stage_ladder(config: CanaryConfig) -> tuple[tuple[int, str], ...]:
    return tuple(
        (stage.weight, "" if stage.hold is None else MANUAL if isinstance(stage.hold, str) else format_duration(stage.hold))
        for stage in config.stages
    )


def rule_view(outcome: RuleOutcome) -> RuleView:
    return RuleView(
        metric=outcome.name, value=outcome.value, limit=outcome.limit, consecutive=outcome.consecutive,
        consecutive_limit=outcome.consecutive_limit, total=outcome.total, total_limit=outcome.total_limit,
        unit=outcome.unit, op=outcome.op, state=outcome.state, canary=outcome.series, baseline=outcome.baseline,
        n=outcome.n, bad=outcome.bad, why=outcome.why, test=outcome.test, window=outcome.window,
    )


def idle_rules(config: CanaryConfig) -> tuple[RuleView, ...]:
    """Before the first check: the rules with their limits and no values yet."""
    return tuple(
        RuleView(metric=rule.label, value=None, limit=rule.max if rule.max is not None else rule.min or 0.0,
                 consecutive=0, consecutive_limit=rule.consecutive, total=0, total_limit=rule.total,
                 op=">" if rule.max is not None else "<", canary=rule.series, baseline=rule.baseline or "")
        for rule in config.rules
    )


def build_view(
    config: CanaryConfig, machine: RolloutMachine, check: CheckResult | None, last_decision: str, alert: str
) -> RolloutView:
    r = machine.rollout
    if check is not None:
        rules = tuple(rule_view(o) for o in check.all_rules())
        comparisons = tuple(
            ComparisonView(metric=c.name, verdict=c.verdict, failed=c.failed, critical=c.critical,
                           canary_mean=c.canary_mean, baseline_mean=c.baseline_mean, p_value=c.p_value,
                           unit=c.unit, canary=c.canary, baseline=c.baseline, test=c.test,
                           canary_n=c.canary_n, baseline_n=c.baseline_n, why=c.why)
            for c in check.comparisons
        )
    else:
        rules, comparisons = idle_rules(config), ()
    running = r is not None and r.status is Status.RUNNING
    return RolloutView(
        id=r.id if r is not None else None,
        service=config.service,
        status=machine.status,
        stage_index=r.stage if r is not None and r.status is not Status.ABORTED else -1,
        stages=stage_ladder(config),
        weight=r.weight if r is not None else 0,
        target_weight=machine.target_weight() if r is not None else config.stages[0].weight,
        stage_started=r.stage_entered if r is not None and r.status not in (Status.ABORTED,) else None,
        next_promotion_at=r.hold_deadline if running and r is not None else None,
        rules=rules,
        score=check.score if check is not None else None,
        last_decision=last_decision,
        verbs=machine.verbs(),
        comparisons=comparisons,
        alert=alert,
        hold_left=r.hold_left if r is not None and r.status in (Status.PAUSED, Status.FROZEN) else None,
        measure_errors=check.errors if check is not None else 0,
        measure_error_limit=config.error_limit,
        guarded=machine.status is not Status.FROZEN,
        inconclusive=check.inconclusive if check is not None else 0,
        inconclusive_limit=config.inconclusive_limit,
        ended=r.ended if r is not None and r.status in FINISHED else None,
        rollback_until=machine.rollback_until,
    )
