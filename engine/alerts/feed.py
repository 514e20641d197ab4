"""The samples windowed rules read, live.

The engine's ring buffers hold 120 points: two minutes of a 1 s series, while a rule's window may
be up to 1h (`over`, 1s..1h). Refusing windows the ring cannot cover is not possible at config
time (a series' interval is its source's business: 1 s, 2 s, 5 s, ...), so the window is kept
here instead: for each series a windowed rule reads, the points of the longest window over it.

- New points come from the ring at every evaluation: it holds 120 points and we look every
  second, so nothing is missed at any sane recording rate; the ring's view is a tuple already
  built for the snapshot, so a look costs a bisect.
- Older points (those before this component started: a restart, a config reload) are read from
  the history once, in a worker thread, never on the loop every second; again only when the ring
  moved on by more than it holds between two looks (the engine was paused, the loop blocked).

So a window holds every recorded sample in (now - over, now], as what-if reads them from the file.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engine.alerts.rules import Lookup
from engine.series import DEFAULT_CAPACITY
from engine.snapshot import SeriesView

Key = tuple[str, str]
Gap = tuple[float, float]  # (t0, t1): points with t0 < t < t1 are to be read from the history
Points = Sequence[tuple[float, float | None]]


@dataclass
class _Buffer:
    keep: float  # seconds: the longest window over this series
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    unit: str = ""
    synced: bool = False  # the history before the first point seen has been read (or could not be)
    view: SeriesView | None = None  # built on demand, dropped on change


class WindowFeed:
    def __init__(self, spans: Mapping[Key, float], ring_capacity: int = DEFAULT_CAPACITY) -> None:
        self._buffers = {key: _Buffer(keep) for key, keep in spans.items()}
        self._capacity = ring_capacity

    @property
    def keys(self) -> list[Key]:
        return list(self._buffers)

    def take(self, ring: Lookup, now: float) -> dict[Key, Gap]:
        """Take the ring's new points; return the spans that must be read from the history."""
        gaps: dict[Key, Gap] = {}
        for key, buf in self._buffers.items():
            view = ring(*key)
            if view is not None and view.times:
                buf.unit = view.unit
                newest = buf.times[-1] if buf.times else -float("inf")
                start = bisect.bisect_right(view.times, newest)
                if buf.times and start == 0 and len(view.times) >= self._capacity:
                    gaps[key] = (newest, view.times[0])  # the ring dropped points we never saw
                if start < len(view.times):
                    buf.times += view.times[start:]
                    buf.values += view.values[start:]
                    buf.view = None
            if not buf.synced:
                gaps[key] = (now - buf.keep, buf.times[0] if buf.times else now + 1.0)
            self._trim(buf, now)
        return gaps

    def fill(self, key: Key, points: Points, gap: Gap) -> None:
        """Points read from the history for `gap` (those strictly inside it are taken)."""
        buf = self._buffers[key]
        buf.synced = True
        inside = [(t, float("nan") if v is None else v) for t, v in points if gap[0] < t < gap[1]]
        if not inside:
            return
        at = bisect.bisect_left(buf.times, inside[0][0])
        buf.times[at:at] = [t for t, _ in inside]
        buf.values[at:at] = [v for _, v in inside]
        buf.view = None

    def give_up(self, key: Key) -> None:
        """The history could not be read: the window holds what the ring gave (said by the caller)."""
        self._buffers[key].synced = True

    def lookup(self, ring: Lookup) -> Lookup:
        """Our windows for the series windowed rules read, the ring for the rest."""

        def find(source: str, metric: str) -> SeriesView | None:
            buf = self._buffers.get((source, metric))
            if buf is None:
                return ring(source, metric)
            if not buf.times:
                return None
            if buf.view is None:
                buf.view = SeriesView(source, metric, tuple(buf.times), tuple(buf.values), buf.unit)
            return buf.view

        return find

    @staticmethod
    def _trim(buf: _Buffer, now: float) -> None:
        # Points older than the longest window go; the newest always stays (a `last` rule on the
        # same series reads it, and its age is what says "no data").
        cut = min(bisect.bisect_right(buf.times, now - buf.keep), len(buf.times) - 1)
        if cut > 0:
            del buf.times[:cut], buf.values[:cut]
            buf.view = None
