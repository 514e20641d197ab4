"""Short in-memory ring buffers of recent samples, one per (source, metric): what panels draw.

The full history goes to SQLite; these hold only the last `capacity` points so a snapshot is cheap
to build. Components may record from their own threads (the demo's servers), hence the lock.
"""

from __future__ import annotations

import threading
from collections import deque

from engine.snapshot import SeriesView

DEFAULT_CAPACITY = 120


class _Ring:
    __slots__ = ("times", "values", "unit", "_view")

    def __init__(self, capacity: int, unit: str) -> None:
        self.times: deque[float] = deque(maxlen=capacity)
        self.values: deque[float] = deque(maxlen=capacity)
        self.unit = unit
        self._view: SeriesView | None = None  # built on demand, dropped on the next append

    def append(self, t: float, value: float) -> None:
        self.times.append(t)
        self.values.append(value)
        self._view = None

    def view(self, source: str, metric: str) -> SeriesView:
        # Snapshots are built every 0.5 s; most series get a point every 1-2 s or less often.
        if self._view is None:
            self._view = SeriesView(source, metric, tuple(self.times), tuple(self.values), self.unit)
        return self._view


class SeriesBuffers:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._rings: dict[tuple[str, str], _Ring] = {}
        self._lock = threading.Lock()
        self._version = 0  # bumped on every append: lets the snapshot builder skip unchanged work
        self._order: list[tuple[tuple[str, str], _Ring]] | None = None  # rings by key; None: a ring was added
        self._views: tuple[int, tuple[SeriesView, ...]] | None = None  # (version, views()) last returned

    def append(self, source: str, metric: str, t: float, value: float, unit: str = "") -> None:
        with self._lock:
            ring = self._rings.get((source, metric))
            if ring is None:
                ring = self._rings[(source, metric)] = _Ring(self._capacity, unit)
                self._order = None
            ring.append(t, value)
            self._version += 1

    @property
    def version(self) -> int:
        return self._version

    def view(self, source: str, metric: str) -> SeriesView | None:
        with self._lock:
            ring = self._rings.get((source, metric))
            return None if ring is None else ring.view(source, metric)

    def metrics(self, source: str) -> tuple[str, ...]:
        """The metrics recorded for `source` so far."""
        with self._lock:
            return tuple(metric for (s, metric) in self._rings if s == source)

    def views(self) -> tuple[SeriesView, ...]:
        """Every series by (source, metric). Built every 0.5 s: the order is sorted only when a
        series is added, and nothing is rebuilt when no point came in since the last call."""
        with self._lock:
            if self._views is not None and self._views[0] == self._version:
                return self._views[1]
            if self._order is None:
                self._order = sorted(self._rings.items())
            views = tuple(ring.view(source, metric) for (source, metric), ring in self._order)
            self._views = (self._version, views)
            return views
