"""Periodic work on one shared grid of the monotonic clock.

A part that sleeps `interval` after its work runs at its own phase, so every periodic part of the
engine cost the loop its own wake-up: the snapshot publisher (0.5 s), the collect ticker's rounds
and its cadence report (1 s), self metrics, the host monitor. Each wake-up in this process costs
~200-400 µs of CPU (taking the GIL from busy threads: docs/performance.md, fifth pass), far more
than the work of some of them. `next_tick(period)` is the next multiple of `period` on the monotonic
clock, so parts whose periods divide each other land on the same instants and the loop wakes once
for all of them (the selector rounds its timeout up to the millisecond, so timers microseconds
apart run in one iteration).
"""

from __future__ import annotations

import asyncio
import math
import time


def next_tick(period: float, after: float | None = None) -> float:
    """The first multiple of `period` (seconds, > 0) on the monotonic clock later than `after` (now)."""
    now = time.monotonic() if after is None else after
    return (math.floor(now / period) + 1) * period


def seconds_to_tick(period: float) -> float:
    """Seconds from now to the next multiple of `period` on the monotonic clock."""
    now = time.monotonic()
    return next_tick(period, now) - now


async def sleep_to_tick(period: float) -> None:
    """Sleep until the next multiple of `period` on the monotonic clock."""
    await asyncio.sleep(seconds_to_tick(period))
