"""A recorded rollout told from start to end: its stages, each decision with its explanation, the
audit rows (who, when, from where, why) and the metrics around each decision — what review's
rollout timeline screen shows.

The decisions are the `rollout_decisions` view (engine/history/views.py); the audit rows are those
whose context names the rollout (every rollout verb, manual or automatic, records its stage,
weight and the metrics the analysis judged); "around" is the mean of each rule's series in the
minute before and the minute after the decision, from the samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from engine.history import views
from engine.history.db import HistoryDB
from engine.history.runs import Run, run_at
from engine.snapshot import split_series

AROUND = 60.0  # seconds before and after a decision
AUDIT_MATCH = 2.0  # seconds: an audit row this close to a decision belongs to it


@dataclass(frozen=True)
class Around:
    series: str
    before: float | None
    after: float | None


@dataclass
class Decision:
    t: float
    from_status: str
    to_status: str
    stage: int
    weight: int
    actor: str
    reason: str
    severity: str
    audit: dict[str, Any] | None = None
    around: list[Around] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics the analysis judged at that moment, as the audit row kept them."""
        context = ((self.audit or {}).get("args") or {}).get("context") or {}
        return context.get("metrics") or {}


@dataclass
class Story:
    rollout: dict[str, Any]  # the rollouts row
    decisions: list[Decision]
    audit: list[dict[str, Any]]
    stages: list[tuple[int, int, float]]  # (stage, weight, entered at)


def rollouts(db: HistoryDB) -> list[dict[str, Any]]:
    return db.all_rollouts()


def story(db: HistoryDB, runs: Sequence[Run], rollout_id: int) -> Story:
    row = next((r for r in db.all_rollouts() if int(r["id"]) == rollout_id), {"id": rollout_id})
    rows = views.query(db, "rollout_decisions", "rollout_id = ?", [rollout_id], order="t")
    audit = [a for a in db.audit_between(float(row.get("started") or 0) - 1, math.inf, 100_000)
             if ((a.get("args") or {}).get("context") or {}).get("rollout_id") == rollout_id]
    decisions: list[Decision] = []
    stages: list[tuple[int, int, float]] = []
    for r in rows:
        d = Decision(r["t"], str(r["from_status"]), str(r["to_status"]), int(r["stage"] or 0), int(r["weight"] or 0),
                     str(r["actor"] or ""), str(r["reason"]), str(r["severity"]))
        d.audit = min((a for a in audit if abs(a["t"] - d.t) <= AUDIT_MATCH), key=lambda a: abs(a["t"] - d.t),
                      default=None)
        d.around = around(db, runs, d.t)
        if not stages or stages[-1][0] != d.stage:
            stages.append((d.stage, d.weight, d.t))
        decisions.append(d)
    return Story(row, decisions, audit, stages)


def around(db: HistoryDB, runs: Sequence[Run], t: float) -> list[Around]:
    """Each canary rule's series (from the config of the run at t): mean before and after t."""
    run = run_at(runs, t)
    canary = run.config.canary if run is not None and run.config is not None else None
    if canary is None:
        return []
    keys = list(dict.fromkeys([r.series for r in canary.rules] + [r.baseline for r in canary.rules if r.baseline]))
    out = []
    for key in keys:
        source, metric = split_series(key)
        before = [v for _, v in db.series(source, metric, t - AROUND, t) if v is not None]
        after = [v for _, v in db.series(source, metric, t, t + AROUND) if v is not None]
        out.append(Around(key, fmean(before) if before else None, fmean(after) if after else None))
    return out
