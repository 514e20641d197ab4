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

    def append(self, source: str, metric: str, t: float, value: float, unit: str = "") -> None:
        with self._lock:
            ring = self._rings.get((source, metric))
            if ring is None:
                ring = self._rings[(source, metric)] = _Ring(self._capacity, unit)
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
        with self._lock:
            return tuple(ring.view(source, metric) for (source, metric), ring in sorted(self._rings.items()))
