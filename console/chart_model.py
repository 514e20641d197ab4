"""What a chart shows, worked out from a Snapshot (and the history), without plotext or Textual:
the lines (one series, or a canary and its baseline), the thresholds that name the series, the
rollout's stage changes, the window, and the axes' ticks with clock times and units.

Kept apart from the drawing (console/chart_render.py, which imports plotext) so the palette and
the panels can ask "which series are there, which pair does this one belong to" at no cost, and
so the figures a test checks are plain data.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from engine.snapshot import RolloutView, SeriesView, Snapshot, split_series
from engine.units import format_duration, format_size, format_value, is_fraction

# (key label, seconds) in zoom order: keys 1/2/3, `z` cycles.
WINDOWS: tuple[tuple[str, float], ...] = (("5m", 300.0), ("1h", 3600.0), ("24h", 86400.0))
TIME_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200)
LIVE_CAP = 600  # points drawn from a ring: more than the plot has columns of braille dots


@dataclass(frozen=True)
class ChartLine:
    role: str  # "series" / "canary" / "baseline"
    key: str
    times: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Threshold:
    label: str  # "rule error_rate > 1.0%", "alert HighLatency > 250ms"
    value: float


@dataclass(frozen=True)
class Mark:
    t: float
    label: str  # "25%", "rolled-back"


@dataclass(frozen=True)
class ChartData:
    """Everything drawn; equal data means nothing to redraw."""

    key: str
    unit: str
    t0: float
    t1: float
    lines: tuple[ChartLine, ...]
    thresholds: tuple[Threshold, ...] = ()
    marks: tuple[Mark, ...] = ()
    origin: str = ""  # where the points came from: "engine memory (last 120 points)", "history"

    @property
    def metric(self) -> str:
        return split_series(self.key)[1]

    @property
    def empty(self) -> bool:
        return not any(line.values for line in self.lines)


# ------------------------------------------------------------------ which lines, which limits
def pair_of(rollout: RolloutView | None, key: str) -> tuple[str, str] | None:
    """(canary, baseline) keys when `key` is either side of a rollout rule or comparison."""
    if rollout is None:
        return None
    for item in (*rollout.rules, *rollout.comparisons):
        if item.canary and item.baseline and key in (item.canary, item.baseline):
            return item.canary, item.baseline
    return None


def keys_drawn(snapshot: Snapshot | None, key: str) -> tuple[tuple[str, str], ...]:
    """(role, key) of every line the chart of `key` draws."""
    pair = pair_of(snapshot.rollout if snapshot else None, key)
    if pair is None:
        return (("series", key),)
    return (("canary", pair[0]), ("baseline", pair[1]))


def thresholds_of(snapshot: Snapshot | None, key: str) -> tuple[Threshold, ...]:
    """Rollout rule limits whose canary/baseline is a drawn line, and alert thresholds of rules
    on a drawn line that compare the value itself (a windowed function's is not on this scale)."""
    if snapshot is None:
        return ()
    drawn = {k for _role, k in keys_drawn(snapshot, key)}
    metric = split_series(key)[1]
    series = snapshot.get(*split_series(key))
    unit = series.unit if series is not None else ""
    found: dict[float, Threshold] = {}
    if snapshot.rollout is not None:
        for rule in snapshot.rollout.rules:
            if drawn & {rule.canary, rule.baseline}:
                shown = format_value(metric, rule.limit, rule.unit or unit)
                found.setdefault(rule.limit, Threshold(f"rule {rule.metric} {rule.op} {shown}", rule.limit))
    for alert in snapshot.alerts:
        if alert.series not in drawn:
            continue
        parsed = condition_threshold(alert.condition, metric, unit)
        if parsed is not None:
            op, value, text = parsed
            found.setdefault(value, Threshold(f"alert {alert.name} {op} {text}", value))
    return tuple(found.values())


_CONDITION = re.compile(r"^(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z%/]*)")
_SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "B": 1.0, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def condition_threshold(condition: str, metric: str, unit: str) -> tuple[str, float, str] | None:
    """`> 1.0% for 30s` on error_rate -> (">", 0.01, "1.0%"): the alert's threshold read back from
    the words the alert panel shows (AlertView carries no number). None when the condition is
    on a function over a window or is written in a way this does not read."""
    m = _CONDITION.match(condition.strip())
    if m is None:
        return None
    op, number, suffix = m.group(1), float(m.group(2)), m.group(3)
    text = f"{m.group(2)}{suffix}"
    if suffix == "%":
        return op, number / 100 if is_fraction(metric, unit) else number, text
    if suffix in ("ms",):
        return op, number / 1000 if unit == "s" else number, text
    if suffix in ("s",) and unit == "s":
        return op, number, text
    base = suffix.removesuffix("/s")
    if base in _SCALE:
        return op, number * _SCALE[base], text
    return None


# ------------------------------------------------------------------ data from the snapshot
def window_bounds(snapshot: Snapshot, window: float) -> tuple[float, float]:
    return snapshot.taken_at - window, snapshot.taken_at


def from_snapshot(snapshot: Snapshot, key: str, window: float, marks: tuple[Mark, ...] = ()) -> ChartData:
    """The chart from the snapshot's own points (the engine's ring buffers)."""
    t0, t1 = window_bounds(snapshot, window)
    lines = []
    unit = ""
    for role, k in keys_drawn(snapshot, key):
        s = snapshot.get(*split_series(k))
        lines.append(clip(role, k, s, t0, t1))
        unit = unit or (s.unit if s is not None else "")
    shown = max((len(line.values) for line in lines), default=0)
    return ChartData(key, unit, t0, t1, tuple(lines), thresholds_of(snapshot, key),
                     marks or live_marks(snapshot, t0, t1),
                     f"engine memory: the newest {shown} points")


def clip(role: str, key: str, s: SeriesView | None, t0: float, t1: float) -> ChartLine:
    """The points of `s` inside [t0, t1] (NaN left out: plotext draws no gap, so a NaN is a hole
    we leave rather than a value it would invent)."""
    if s is None:
        return ChartLine(role, key, (), ())
    kept = [(t, v) for t, v in zip(s.times, s.values, strict=True) if t0 <= t <= t1 and not math.isnan(v)][-LIVE_CAP:]
    return ChartLine(role, key, tuple(t for t, _ in kept), tuple(v for _, v in kept))


def live_marks(snapshot: Snapshot, t0: float, t1: float) -> tuple[Mark, ...]:
    """Rollout events in the window from the snapshot's recent events (used when the history
    cannot be read): their time, and the weight the message names, else "rollout"."""
    marks = []
    for e in snapshot.events:
        if e.kind == "rollout" and t0 <= e.time <= t1:
            weight = re.search(r"(\d+)%", e.message)
            marks.append(Mark(e.time, f"{weight.group(1)}%" if weight else "rollout"))
    return tuple(sorted(marks, key=lambda m: m.t))


# ------------------------------------------------------------------ axes
def time_ticks(t0: float, t1: float, columns: int) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Clock-time ticks for [t0, t1] at a round step (local time, as review shows times),
    spaced so their labels fit in `columns`."""
    span = max(1.0, t1 - t0)
    room = max(2, columns // 11)
    step = next((s for s in TIME_STEPS if span / s <= room), TIME_STEPS[-1])
    fmt = "%H:%M:%S" if step < 60 else "%H:%M"
    offset = time.localtime(t1).tm_gmtoff
    first = math.ceil((t0 + offset) / step) * step - offset
    ticks = []
    t = first
    while t <= t1:
        ticks.append(t)
        t += step
    return tuple(ticks), tuple(time.strftime(fmt, time.localtime(t)) for t in ticks)


def value_range(data: ChartData) -> tuple[float, float]:
    """The y range: every point and every threshold in view, a little room above and below."""
    values = [v for line in data.lines for v in line.values] + [t.value for t in data.thresholds]
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    if lo >= 0 and lo < (hi - lo):  # a rate or a size near zero: start the axis at 0
        lo = 0.0
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    pad = (hi - lo) * 0.05
    return lo - (pad if lo != 0 else 0.0), hi + pad


def value_ticks(data: ChartData, rows: int) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Round ticks across the y range, about one per 4 rows, each with its unit."""
    lo, hi = value_range(data)
    count = max(2, rows // 4)
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return tuple(ticks), tuple(axis_label(data.metric, data.unit, v, step) for v in ticks)


def axis_label(metric: str, unit: str, value: float, step: float) -> str:
    """A tick as the panels write values (engine/units.py), with as many decimals as the step
    needs so neighbouring ticks never read the same."""
    if is_fraction(metric, unit):
        return f"{value * 100:.{_decimals(step * 100)}f}%"
    if unit == "%":
        return f"{value:.{_decimals(step)}f}%"
    if unit == "B" or metric.endswith("_bytes"):
        return format_size(value) if step >= 100 else f"{value:.0f}B"
    if unit == "s":
        return format_duration(value) if step >= 1 else f"{value * 1000:.0f}ms"
    if unit == "ms" or (unit == "" and metric.endswith("_ms")):
        return f"{value:.{_decimals(step)}f}ms"
    per_s = "/s" if unit == "/s" or metric.endswith("_per_s") else ""
    if abs(value) >= 1e4 and step >= 100:
        return format_value("", value, "") + per_s
    return f"{value:.{_decimals(step)}f}{per_s}"


def _decimals(step: float) -> int:
    return 0 if step >= 1 else min(6, -math.floor(math.log10(step) + 1e-9))


def unit_name(data: ChartData) -> str:
    """The value axis' unit in words, for the chart's title line."""
    if is_fraction(data.metric, data.unit):
        return "percent"
    if data.unit == "B" or data.metric.endswith("_bytes"):
        return "bytes"
    if data.unit == "ms" or data.metric.endswith("_ms"):
        return "milliseconds"
    if data.unit == "s":
        return "seconds"
    if data.unit == "/s" or data.metric.endswith("_per_s"):
        return "per second"
    return data.unit or "value"
