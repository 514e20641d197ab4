"""The count series every request source records, and latency histograms built from them.

Each interval, a source that sees requests (an access log label, a Prometheus target, the demo's
load generator) records, all at the same time t (the end of the interval):

    <source>/requests      requests completed in the interval (always, 0 included)
    <source>/errors        of which failed: 5xx, or no answer (always, 0 included)
    <source>/unavailable   of which 502/503/504 or no connection: the upstream is not there
    <source>/latency_le_<bound>ms   requests with latency in (previous bound, bound]; only
                                    non-zero buckets are recorded ("inf" is the last bucket)

These are evidence, not derived rates: an error rate over a window is sum(errors)/sum(requests)
of the samples in it, and one error is one sample that a window either contains or not, so
disjoint windows never count it twice. Latency buckets are per-interval (not cumulative) counts,
so a window's histogram is the sum of its samples.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

REQUESTS, ERRORS, UNAVAILABLE = "requests", "errors", "unavailable"
COUNT_METRICS = (REQUESTS, ERRORS, UNAVAILABLE)
BUCKET_PREFIX = "latency_le_"
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})
# Prometheus' default buckets in ms: what raw latencies (access logs, the demo) are binned into.
STANDARD_BOUNDS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, math.inf)


def bucket_metric(bound_ms: float) -> str:
    """latency_le_500ms, latency_le_2.5ms, latency_le_inf."""
    if math.isinf(bound_ms):
        return BUCKET_PREFIX + "inf"
    return f"{BUCKET_PREFIX}{bound_ms:g}ms"


def bucket_bound(metric: str) -> float | None:
    """The inverse of bucket_metric, or None for any other metric."""
    if not metric.startswith(BUCKET_PREFIX):
        return None
    text = metric[len(BUCKET_PREFIX):]
    if text == "inf":
        return math.inf
    try:
        return float(text.removesuffix("ms"))
    except ValueError:
        return None


def bin_index(latency_ms: float, bounds: Sequence[float] = STANDARD_BOUNDS_MS) -> int:
    """The bucket of one latency: the first bound >= it (le semantics)."""
    return min(bisect.bisect_left(bounds, latency_ms), len(bounds) - 1)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """PromQL's histogram_quantile over (le, cumulative count) sorted by le, +Inf last: linear
    within the bucket holding the rank, from 0 in the lowest one."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower_bound  # in the open-ended bucket: the highest finite bound is all we know
            if count == lower_count:
                return upper
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = upper, count
    return None


class RecordFn(Protocol):
    """The shape of EngineContext.record."""

    def __call__(self, source: str, metric: str, value: float, *, t: float | None = None, unit: str = "") -> None: ...


@dataclass(frozen=True)
class Histogram:
    """Latency observations counted into buckets: counts[i] in (bounds[i-1], bounds[i]]."""

    bounds: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def total(self) -> float:
        return sum(self.counts)

    @classmethod
    def of(cls, buckets: Mapping[float, float]) -> Histogram:
        bounds = tuple(sorted(buckets))
        return cls(bounds, tuple(buckets[b] for b in bounds))

    def quantile(self, q: float) -> float | None:
        cumulative, total = [], 0.0
        for bound, count in zip(self.bounds, self.counts, strict=True):
            total += count
            cumulative.append((bound, total))
        return histogram_quantile(q, cumulative)

    def count_above(self, limit: float) -> float:
        """Observations above `limit`, interpolating linearly inside the bucket that holds it."""
        above, lower = 0.0, 0.0
        for bound, count in zip(self.bounds, self.counts, strict=True):
            if lower >= limit:
                above += count
            elif bound > limit:
                share = 1.0 if math.isinf(bound) else (bound - limit) / (bound - lower)
                above += count * share
            if not math.isinf(bound):
                lower = bound
        return above

    def on_bounds(self, bounds: Sequence[float]) -> Histogram:
        """The same observations on coarser bounds (each of ours that is not in `bounds` folds
        into the next one that is); used to compare two histograms on their common bounds."""
        keep = sorted(bounds)
        out = [0.0] * len(keep)
        for bound, count in zip(self.bounds, self.counts, strict=True):
            out[min(bisect.bisect_left(keep, bound), len(keep) - 1)] += count
        return Histogram(tuple(keep), tuple(out))


def common_bounds(a: Histogram, b: Histogram) -> tuple[float, ...]:
    shared = sorted(set(a.bounds) & set(b.bounds) | {math.inf})
    return tuple(shared)


@dataclass(frozen=True)
class Counts:
    """The request evidence of one source over a window: sums of its count series."""

    requests: float = 0.0
    errors: float = 0.0
    unavailable: float = 0.0
    intervals: int = 0  # samples of `requests` summed
    first: float | None = None  # time of the first and last sample summed
    last: float | None = None
    latency: Histogram | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    def text(self) -> str:
        """"3/85 failed"."""
        return f"{self.errors:.0f}/{self.requests:.0f}"


def sum_counts(
    times: Sequence[float],
    series: Mapping[str, Sequence[tuple[float, float]]],
    since: float,
    until: float,
) -> Counts:
    """Counts of the samples with since < t <= until. `times` are the `requests` samples' times;
    `series` maps each count/bucket metric to its (t, value) points."""
    ts = [t for t in times if since < t <= until]
    if not ts:
        return Counts()

    def total(metric: str) -> float:
        return sum(v for t, v in series.get(metric, ()) if since < t <= until and math.isfinite(v))

    # Every bucket the source ever reported counts, with 0 when it has no sample in the window:
    # the empty buckets are what place an observation between its bounds.
    buckets = {}
    for metric, points in series.items():
        bound = bucket_bound(metric)
        if bound is not None:
            buckets[bound] = sum(v for t, v in points if since < t <= until and math.isfinite(v))
    latency = Histogram.of(buckets) if buckets and any(buckets.values()) else None
    return Counts(total(REQUESTS), total(ERRORS), total(UNAVAILABLE), len(ts), ts[0], ts[-1], latency)


def record_counts(
    record: RecordFn,
    source: str,
    requests: int,
    errors: int,
    unavailable: int,
    buckets: Iterable[tuple[float, int]] = (),
    *,
    t: float | None = None,
    every_bucket: bool = False,
) -> None:
    """Record one interval's evidence for `source` through the engine's `record`. Empty buckets
    are left out, except with `every_bucket` (a source's first report): then every bound is a
    known series, and a window's histogram has all of its bounds."""
    record(source, REQUESTS, float(requests), t=t, unit="req")
    record(source, ERRORS, float(errors), t=t, unit="req")
    record(source, UNAVAILABLE, float(unavailable), t=t, unit="req")
    for bound, count in buckets:
        if count or every_bucket:
            record(source, bucket_metric(bound), float(count), t=t, unit="req")


