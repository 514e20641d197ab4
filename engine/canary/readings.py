"""A Reading from points, however they were fetched: the live ring buffers and history
(engine/canary/window.py) and review's sample cache (engine/history/checks.py) build the same
Reading for the same samples, so a replayed check judges exactly what the live one did."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from engine.canary.analysis import CountWindow, Reading, measured_interval
from engine.evidence.counts import COUNT_METRICS, REQUESTS, bucket_bound
from engine.snapshot import split_series

Points = Sequence[tuple[float, float | None]]


def evidence_metrics(metrics: Iterable[str]) -> list[str]:
    """The count and bucket metrics among a source's metrics; empty when it counts no requests."""
    names = list(metrics)
    if REQUESTS not in names:
        return []
    return [m for m in names if m in COUNT_METRICS or bucket_bound(m) is not None]


def build_reading(
    key: str,
    fetch: Callable[[str, str], Points],
    metrics: Iterable[str],
    unit: str,
    last_time: float | None = None,
) -> Reading:
    """`fetch(source, metric)` answers the window's points of one series; `metrics` are the
    series' source's metrics; `last_time` is the newest sample before the window, if known."""
    source, metric = split_series(key)
    points = [(t, v) for t, v in fetch(source, metric) if v is not None and math.isfinite(v)]
    counts: CountWindow | None = None
    counted = evidence_metrics(metrics)
    if counted:
        series = {m: tuple((t, v) for t, v in fetch(source, m) if v is not None) for m in counted}
        times = tuple(t for t, _ in series.get(REQUESTS, ()))
        counts = CountWindow(times, series)
        newest = [t for t in (times[-1] if times else None, points[-1][0] if points else None, last_time)
                  if t is not None]
        cadence = measured_interval(times)
    else:
        newest = [t for t in (points[-1][0] if points else None, last_time) if t is not None]
        cadence = measured_interval([t for t, _ in points])
    return Reading(
        values=tuple(v for _, v in points), unit=unit, times=tuple(t for t, _ in points), counts=counts,
        last_time=max(newest) if newest else None, interval=cadence,
    )
