"""What an operator reads about a promoted rollout's rollback window (canary.rollback_window), from
the RolloutView alone: the Rollout panel, the R key's refusal and `rollout status` share these
sentences, and the closed one is the engine's own refusal (engine/canary/statemachine.py).
No Textual here: `rollout status` imports it from a plain shell."""

from __future__ import annotations

import time

from engine.snapshot import RolloutStatus, RolloutView
from engine.units import format_duration


def clock(t: float, seconds: bool = True) -> str:
    return time.strftime("%H:%M:%S" if seconds else "%H:%M", time.localtime(t))


def is_open(r: RolloutView, now: float) -> bool:
    return r.status == RolloutStatus.PROMOTED and r.rollback_until is not None and now < r.rollback_until


def closed_sentence(r: RolloutView) -> str:
    """Why a promoted rollout cannot be rolled back (any more)."""
    if r.rollback_until is None or r.ended is None:
        return "the rollout is promoted, and a promotion is final (canary.rollback_window is 0)"
    window = format_duration(r.rollback_until - r.ended)
    return (f"the rollout was promoted to 100% at {clock(r.ended)}; its rollback window ({window}) "
            f"closed at {clock(r.rollback_until)}")


def status_line(r: RolloutView, now: float) -> str:
    """`rollout status`'s line for a promoted rollout ("" for any other)."""
    if r.status != RolloutStatus.PROMOTED:
        return ""
    if r.rollback_until is not None and is_open(r, now):
        left = format_duration(max(1.0, round(r.rollback_until - now)))
        return (f"rollback window open until {clock(r.rollback_until)} ({left} left): "
                "`opsconsole rollout rollback` sends all traffic back to the stable version")
    return f"no rollback: {closed_sentence(r)}"
