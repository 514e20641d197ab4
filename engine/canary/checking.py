"""When a check counts and what it knows: one definition for the live component and the history's
replays (review's rollout panel, what-if), so they judge the same checks the same way."""

from __future__ import annotations

from engine.canary.analysis import CheckContext
from engine.canary.config import CanaryConfig
from engine.canary.statemachine import HOLDING, Rollout

UP_SERIES = ("canary", "up")  # recorded at each counted check: 1 up, 0 down (replays read it)


def check_context(config: CanaryConfig, rollout: Rollout, now: float, *, down: str | None,
                  previous_check: float | None) -> tuple[bool, CheckContext]:
    """(counted, context). The safety net never sleeps: a paused or frozen rollout is analysed
    and counted like a running one; only the settle delay after a weight change is not."""
    settled_at = rollout.stage_entered + config.initial_delay
    counted = rollout.status in HOLDING and now >= settled_at
    return counted, CheckContext(now=now, settled_at=settled_at, weight=rollout.weight, down=down,
                                 previous_check=previous_check)
