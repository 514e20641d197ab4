"""Is the canary down? Its collection targets and health checks, read from the Snapshot (the
engine's one contract: collect and health publish there, the canary does not reach into them).

Down is not "no data": a refused or timed-out target, an open circuit or a FAIL health check is
the canary failing, and the analysis counts it as a breach. A target that is rate limiting us is
up; one that is disabled by the operator or has never been scraped says nothing."""

from __future__ import annotations

from engine.canary.config import CanaryConfig
from engine.snapshot import Snapshot, TargetState, split_series

DOWN_STATES = frozenset({TargetState.OPEN, TargetState.RETRYING})
COLLECT_PREFIX = "collect:"


def canary_targets(config: CanaryConfig) -> list[str]:
    """The configured targets, else the collect targets the canary side of the rules reads."""
    if config.down.targets is not None:
        return list(config.down.targets)
    sources = [split_series(rule.series)[0] for rule in config.rules]
    sources += [split_series(c.canary)[0] for c in config.compare]
    names = [s.removeprefix(COLLECT_PREFIX).split(":")[0] for s in sources if s.startswith(COLLECT_PREFIX)]
    return list(dict.fromkeys(names))


def down_cause(config: CanaryConfig, snapshot: Snapshot) -> str | None:
    """Why the canary is down, in words, or None."""
    targets = set(canary_targets(config))
    for target in snapshot.targets:
        if target.name in targets and target.state in DOWN_STATES:
            error = target.last_error or ""
            if error.startswith("rate limited"):
                continue
            state = "circuit open" if target.state == TargetState.OPEN else "not answering"
            # "circuit open (connection refused); next probe in 51s" -> "connection refused"
            error = error.split("; next probe")[0].removeprefix("circuit open").strip(" :()")
            return f"target {target.name} {state}: {error}" if error else f"target {target.name} {state}"
    checks = set(config.down.health)
    for health in snapshot.health:
        if health.name in checks and health.status == "FAIL":
            detail = health.detail or health.value
            return f"health check {health.name} is FAIL" + (f": {detail}" if detail else "")
    return None
