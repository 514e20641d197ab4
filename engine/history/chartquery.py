"""What the chart screen reads from a history file: one series over a window in at most N points,
and the rollout's stage changes in that window.

Both are bounded reads on the indexes review already uses: a series is one `slot_sums` query
(raw and rolled-up rows averaged into slots counted from the epoch, so a 24 h window costs one
aggregate over its rows, not 86,400 points to the UI), and stage changes are rollout events in
the window. No Textual here: engine/ stays importable headless.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.history.db import HistoryDB
from engine.snapshot import SeriesView, split_series

MARK_LIMIT = 200  # rollout transitions in one window: more would be unreadable marks anyway
RUNNING = frozenset({"running", "waiting", "waiting-for-promotion", "promoting"})


@dataclass(frozen=True)
class StageMark:
    """A rollout transition: when, and a short label ("25%", "rolled-back")."""

    t: float
    label: str


def window_series(db: HistoryDB, key: str, t0: float, t1: float, points: int) -> SeriesView | None:
    """`key` ("source/metric") over [t0, t1] as at most `points` slot means; None if the file
    has no such series or no sample of it in the window."""
    info = next((i for i in db.series_info() if i.key == key), None)
    if info is None:
        return None
    slot = max(1.0, (t1 - t0) / max(1, points))
    rows = db.slot_sums(info.id, t0, t1, slot)
    kept = [(newest, total / count) for _b, newest, total, count in rows if count and total is not None]
    if not kept:
        return None
    source, metric = split_series(key)
    return SeriesView(source, metric, tuple(t for t, _ in kept), tuple(v for _, v in kept), info.unit)


def stage_marks(db: HistoryDB, t0: float, t1: float) -> tuple[StageMark, ...]:
    """Rollout transitions in [t0, t1] that change the stage or the status, oldest first."""
    marks: list[StageMark] = []
    for event in db.find_events(t0, t1, "kind = 'rollout'", limit=MARK_LIMIT):
        data = event.get("data") or {}
        to, before = data.get("to"), data.get("from")
        if to is None or "rollout_id" not in data:
            continue  # a held promotion, a re-applied weight: not a transition
        weight = data.get("weight")
        label = f"{weight}%" if to in RUNNING and weight is not None else str(to)
        if marks and marks[-1].label == label and before == to:
            continue  # the same state recorded again (a restart's recovery)
        marks.append(StageMark(float(event["t"]), label))
    return tuple(marks)
