"""Marks across the recorded range — rollouts, alerts, gaps, operator actions — and the one-line
strip the review screen draws from them.

A mark is an event that changes what an operator would look at: a rollout transition, an alert
that fired or resolved, a gap that opened, and anything an operator did (an `action` event or an
audit row). The strip gives each column the span/width of time it covers and shows the most
important mark in it (a rollback over a promotion over an alert over a gap over an action), so a
month still fits on one line and the incident stands out.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine import eventcodes as ev
from engine.history.cursor import Range
from engine.history.db import HistoryDB

# Symbol and rank per mark class; higher rank wins a column.
SYMBOLS = {"rollback": ("R", 6), "alert": ("!", 5), "rollout": ("r", 4), "gap": ("g", 3), "action": ("o", 2),
           "stop": ("|", 1)}
EMPTY = "·"
MAX_MARKS = 20_000


@dataclass(frozen=True)
class Mark:
    t: float
    what: str  # rollback / rollout / alert / gap / action / stop
    text: str

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.what][0]


_ROLLBACKS = {ev.ROLLOUT_ROLLING_BACK.code, ev.ROLLOUT_ROLLED_BACK.code}


def classify(code: str, severity: str, cause: str = "") -> str | None:
    """Which mark an event (by its code) makes, if any."""
    if code in _ROLLBACKS or (code == ev.ROLLOUT_NOTED.code and cause == "rollback_failed"):
        return "rollback"
    kind = ev.CATALOGUE.get(code, ev.LEGACY).kind
    if kind in ("rollout", "action"):
        return kind
    if code == ev.ALERT_FIRING.code:
        return "alert" if severity in ("critical", "warning") else None
    if code == ev.GAP_OPENED.code:
        return "gap"
    return "stop" if code == ev.ENGINE_STOPPED.code else None


def marks(db: HistoryDB, rng: Range) -> list[Mark]:
    """Every mark in the range, oldest first; audit rows count as operator actions."""
    found = [
        Mark(t, what, message)
        for t, code, severity, message, cause in db.marks(("rollout", "alert", "gap", "action", "engine"),
                                                          rng.first, rng.last, MAX_MARKS)
        if (what := classify(code, severity, cause)) is not None
    ]
    action_times = {round(m.t, 1) for m in found if m.what == "action"}
    for row in db.audit_between(rng.first, rng.last, MAX_MARKS):
        if row["origin"] != "engine" and round(row["t"], 1) not in action_times:
            who = row["user"] + (f"@{row['address']}" if row["address"] else "")
            found.append(Mark(row["t"], "action", f"{who}: {row['action']} — {row['result']}"))
    found.sort(key=lambda m: m.t)
    return found


def strip(found: list[Mark], rng: Range, width: int) -> str:
    """One character per column: the highest-ranked mark in its span, or a dot."""
    width = max(1, width)
    cells = [EMPTY] * width
    ranks = [0] * width
    span = rng.span or 1.0
    for m in found:
        column = min(width - 1, max(0, int((m.t - rng.first) / span * width)))
        symbol, rank = SYMBOLS[m.what]
        if rank > ranks[column]:
            cells[column], ranks[column] = symbol, rank
    return "".join(cells)


def column_of(t: float, rng: Range, width: int) -> int:
    return min(width - 1, max(0, int((t - rng.first) / (rng.span or 1.0) * width)))
