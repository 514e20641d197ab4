"""The samples of a series in the analysis window: from the engine's ring buffers (what the panels
draw) when they reach back far enough, completed from the history when they do not (a long window,
or right after a restart, when the buffers are empty). History reads run in a worker thread.

A series whose source counts requests comes with its source's count and latency-bucket series
(engine/evidence/counts.py), which is what counted rules judge."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING

from engine.canary.analysis import Reading
from engine.canary.readings import Points, build_reading, evidence_metrics
from engine.series import DEFAULT_CAPACITY
from engine.snapshot import split_series
from engine.store.errors import StoreError
from engine.store.reader import Reader, open_reader

if TYPE_CHECKING:
    from engine.component import EngineContext


class HistoryUnreadable(Exception):
    pass


class SeriesWindow:
    def __init__(self, ctx: EngineContext, capacity: int = DEFAULT_CAPACITY) -> None:
        self._ctx = ctx
        self._capacity = capacity
        self._reader: Reader | None = None

    async def read(self, key: str, t0: float, t1: float,
                   cache: dict[tuple[str, str], Points] | None = None) -> Reading:
        """`cache` is shared by the reads of one check: the rules and comparisons of one source
        (its error_rate and latency_p95_ms) read its count series once, not once each."""
        source, metric = split_series(key)
        view = self._ctx.series(source, metric)
        unit = view.unit if view is not None else ""
        metrics = self._ctx.metrics_of(source)
        cache = {} if cache is None else cache
        fetched: dict[str, Points] = {}
        try:
            for m in dict.fromkeys([metric, *evidence_metrics(metrics)]):
                if (source, m) not in cache:
                    cache[(source, m)] = await self._points(source, m, t0, t1)
                fetched[m] = cache[(source, m)]
        except HistoryUnreadable as exc:  # cannot measure: a provider error
            return Reading(unit=unit, error=f"cannot read {key} from the history: {exc}")
        last = view.times[-1] if view is not None and view.times else None
        return build_reading(key, lambda _s, m: fetched.get(m, []), metrics, unit, last_time=last)

    async def _points(self, source: str, metric: str, t0: float, t1: float) -> Points:
        view = self._ctx.series(source, metric)
        points = [(t, v) for t, v in zip(view.times, view.values, strict=True) if t0 <= t <= t1] if view is not None else []
        # A ring that is not full holds everything recorded since this engine started.
        reaches_back = view is not None and (len(view.times) < self._capacity or view.times[0] <= t0)
        if view is None or not reaches_back:
            until = view.times[0] if view is not None and view.times else t1
            try:
                older = await asyncio.to_thread(self._history, source, metric, t0, until)
            except (StoreError, sqlite3.Error, OSError) as exc:
                raise HistoryUnreadable(str(exc)) from exc
            points = [(t, v) for t, v in older if t < until] + points
        return points

    def _history(self, source: str, metric: str, t0: float, t1: float) -> list[tuple[float, float]]:
        if self._reader is None:
            self._reader = open_reader(self._ctx.store.path)
        return self._reader.series(source, metric, t0, t1)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
