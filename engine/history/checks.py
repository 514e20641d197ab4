"""When the canary analysed, and what it read: the inputs to re-running `engine.canary.analysis`
over recorded samples (review's rollout panel and what-if).

Check times. The live loop (engine/canary/component.py `_loop`) checks every `interval` from the
moment the component started, skips while the engine is paused, checks at once on resume and
counts from there. Its phase is recovered from the history: `canary/score` samples are recorded
right after each counted check, and an automatic pause or rollback is recorded right after the
check that decided it; without either, the run's start is the phase (the component starts within
milliseconds of it). The grid can be late by the actuation time at worst, never early of a
decision, so a replayed check sees the state the live check saw.

Readings. What `engine/canary/window.py` hands the analysis, built by the same
`engine/canary/readings.build_reading`: the series' points with start <= t <= end, its unit, and its
source's count and latency-bucket series. Samples are read in chunks per series and sliced
in memory, so replaying a long rollout costs one range read per series per chunk.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from engine import eventcodes as ev
from engine.canary.analysis import Reading
from engine.canary.checking import UP_SERIES
from engine.canary.readings import build_reading
from engine.history.db import HistoryDB, codes_in
from engine.history.runs import Run
from engine.snapshot import split_series

CHUNK = 3600.0  # seconds of samples read per series at a time
PHASE_SLACK = 1e-4  # a check's trace is recorded at least this long after the check began
MAX_LATE = 0.25  # seconds a live check may start after its due time and still be matched to its trace


@dataclass
class _Loaded:
    start: float = math.inf
    end: float = -math.inf
    times: list[float] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)


class SampleCache:
    """Raw samples of a few series, read a chunk at a time, answered as Readings."""

    def __init__(self, db: HistoryDB, keys: Sequence[str]) -> None:
        self.db = db
        self.units = {(i.source, i.metric): i.unit for i in db.series_info()}
        self._metrics: dict[str, list[str]] = {}
        for source, metric in self.units:
            self._metrics.setdefault(source, []).append(metric)
        self._loaded: dict[str, _Loaded] = {key: _Loaded() for key in keys}

    def reading(self, key: str, t0: float, t1: float) -> Reading:
        source, metric = split_series(key)
        metrics = self._metrics.get(source, ())
        if (source, metric) not in self.units and not metrics:
            return Reading()
        latest = self.latest(key, t1) if (source, metric) in self.units else None
        return build_reading(key, lambda s, m: self._slice(f"{s}/{m}", t0, t1), metrics,
                             self.units.get((source, metric), ""), last_time=latest[0] if latest else None)

    def _slice(self, key: str, t0: float, t1: float) -> list[tuple[float, float | None]]:
        if split_series(key) not in self.units:
            return []
        loaded = self._loaded.setdefault(key, _Loaded())
        if t0 < loaded.start or t1 > loaded.end:
            self._load(key, loaded, t0, t1)
        lo = bisect.bisect_left(loaded.times, t0)
        hi = bisect.bisect_right(loaded.times, t1)
        return list(zip(loaded.times[lo:hi], loaded.values[lo:hi], strict=True))

    def _load(self, key: str, loaded: _Loaded, t0: float, t1: float) -> None:
        source, metric = split_series(key)
        if loaded.times and loaded.start <= t0 <= loaded.end:  # extend forward only
            start = loaded.end
            rows = self.db.series(source, metric, start, max(t1, start + CHUNK))
            rows = [(t, v) for t, v in rows if t > start]
            loaded.times += [t for t, _ in rows]
            loaded.values += [v for _, v in rows]
            loaded.end = max(t1, start + CHUNK)
            return
        end = max(t1, t0 + CHUNK)
        rows = self.db.series(source, metric, t0, end)
        loaded.start, loaded.end = t0, end
        loaded.times = [t for t, _ in rows]
        loaded.values = [v for _, v in rows]

    def latest(self, key: str, t: float) -> tuple[float, float | None] | None:
        """The newest sample at or before t: (time, value; None for a NaN)."""
        source, metric = split_series(key)
        if (source, metric) not in self.units:
            return None
        loaded = self._loaded.setdefault(key, _Loaded())
        if not (loaded.start <= t <= loaded.end):
            self._load(key, loaded, t - CHUNK, t)
        index = bisect.bisect_right(loaded.times, t) - 1
        if index < 0:  # nothing loaded that far back: one seek answers it
            return self.db.value_at(source, metric, t)
        return loaded.times[index], loaded.values[index]

    def unit(self, key: str) -> str:
        return self.units.get(split_series(key), "")

    def down_at(self, t: float, interval: float) -> str | None:
        """The live check's "canary up" verdict at t, as it recorded it (canary/up = 0)."""
        latest = self.latest("/".join(UP_SERIES), t)
        if latest is None or latest[1] != 0.0 or t - latest[0] > interval:
            return None
        return "down, as the live check found it (a refused target or a FAIL health check)"

    def readings(self, keys: Sequence[str], t0: float, t1: float) -> dict[str, Reading]:
        return {key: self.reading(key, t0, t1) for key in keys}


@dataclass(frozen=True)
class Segment:
    """Checks at anchor + k*interval for anchor <= t < end."""

    anchor: float
    end: float | None


@dataclass
class Schedule:
    """The check times of one run: a grid per segment, each point moved to the recorded trace of
    its check when there is one (a score sample or a decision, just after the check began) — the
    live loop wakes a little late on a busy machine, and the trace says how late."""

    segments: list[Segment]
    interval: float
    traces: list[float] = field(default_factory=list)  # sorted

    def times(self, t0: float, t1: float) -> Iterator[float]:
        tolerance = min(self.interval / 2, MAX_LATE)
        for i, seg in enumerate(self.segments):
            first = seg.anchor if i > 0 else seg.anchor + self.interval
            k = max(0, math.ceil((t0 - tolerance - first) / self.interval))
            while True:
                grid = first + k * self.interval
                if grid > t1 or (seg.end is not None and grid >= seg.end):
                    break
                j = bisect.bisect_left(self.traces, grid)
                t = self.traces[j] - PHASE_SLACK if j < len(self.traces) and self.traces[j] <= grid + tolerance else grid
                if t0 <= t <= t1:
                    yield t
                k += 1


def schedule(db: HistoryDB, run: Run, interval: float) -> Schedule:
    """The check schedule of one run: re-anchored where the engine resumed after a pause that
    held back a due check."""
    end = run.ended if run.ended is not None else run.next_start
    pauses = db.pauses(run.started, end)
    traces = _traces(db, run.started, end)
    first_pause = pauses[0]["t"] if pauses else None
    early = [t for t in traces if first_pause is None or t < first_pause][:50]
    phase = max(0.0, min((t - run.started) % interval for t in early) - PHASE_SLACK) if early else 0.0
    anchor = run.started + phase
    out: list[Segment] = []
    paused_at: float | None = None
    for e in pauses:
        if e["code"] == ev.ENGINE_PAUSED.code:
            paused_at = e["t"] if paused_at is None else paused_at
            continue
        if paused_at is None:
            continue
        if _next_due(anchor, interval, paused_at) < e["t"]:  # a check fell due while paused: it runs at the resume
            out.append(Segment(anchor, paused_at))
            anchor = e["t"]
        paused_at = None
    out.append(Segment(anchor, paused_at if paused_at is not None else end))
    return Schedule(out, interval, traces)


def _next_due(anchor: float, interval: float, t: float) -> float:
    k = max(1, math.ceil((t - anchor) / interval))
    return anchor + k * interval


def _traces(db: HistoryDB, start: float, end: float | None) -> list[float]:
    """Times recorded just after a check began: score samples and automatic pauses/rollbacks."""
    found = [t for t, _ in db.series("canary", "score", start, end if end is not None else math.inf)]
    decided = db.find_events(
        start, end,
        f"{codes_in(ev.ROLLOUT_PAUSED, ev.ROLLOUT_ROLLING_BACK)} AND json_extract(data, '$.actor') = 'engine'"
        " AND json_extract(data, '$.from') IN ('running', 'waiting-for-promotion')"
        " AND coalesce(json_extract(data, '$.cause'), '') != 'engine_stopping'",
        limit=100_000, newest=False,
    )
    return sorted(found + [e["t"] for e in decided])
