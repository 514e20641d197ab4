"""The engine's own health as ordinary series (the seed's "PerformanceMonitor").

Source "engine": samples_per_s (measured over the real elapsed time), samples_total, errors_total,
success_rate, flush_ms (the store writer's last batch), rss_bytes, peak_rss_bytes, uptime_s,
dropped_samples. They are recorded like any other series, so they are in the history and in review.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from engine.cadence import sleep_to_tick
from engine.component import EngineContext


@dataclass(frozen=True)
class EngineCounters:
    samples_total: int
    errors_total: int
    flush_ms: float | None
    dropped_samples: int


class SelfMetrics:
    name = "self-metrics"

    def __init__(self, interval: float, counters: Callable[[], EngineCounters], started: float) -> None:
        self._interval = interval
        self._counters = counters
        self._started = started
        self._process = psutil.Process()

    async def run(self, ctx: EngineContext) -> None:
        last = self._counters()
        last_at = time.monotonic()
        while True:
            await sleep_to_tick(self._interval)  # with the engine's other timers (engine/cadence.py)
            now_mono = time.monotonic()
            current = self._counters()
            # Rates from the measured time between two real readings, not the nominal interval.
            elapsed = now_mono - last_at
            rate = (current.samples_total - last.samples_total) / elapsed if elapsed > 0 else 0.0
            self._record(ctx, current, rate)
            last, last_at = current, now_mono

    def _record(self, ctx: EngineContext, c: EngineCounters, rate: float) -> None:
        now = time.time()
        rss = self._process.memory_info().rss
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
        attempts = c.samples_total + c.errors_total
        ctx.record("engine", "samples_per_s", rate, t=now, unit="/s")
        ctx.record("engine", "samples_total", float(c.samples_total), t=now)
        ctx.record("engine", "errors_total", float(c.errors_total), t=now)
        ctx.record("engine", "success_rate", c.samples_total / attempts if attempts else 1.0, t=now)
        ctx.record("engine", "rss_bytes", float(rss), t=now, unit="B")
        ctx.record("engine", "peak_rss_bytes", float(max(peak, rss)), t=now, unit="B")
        ctx.record("engine", "uptime_s", now - self._started, t=now, unit="s")
        ctx.record("engine", "dropped_samples", float(c.dropped_samples), t=now)
        if c.flush_ms is not None:
            ctx.record("engine", "flush_ms", c.flush_ms, t=now, unit="ms")
