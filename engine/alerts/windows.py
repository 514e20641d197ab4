"""Windowed functions of alert rules, as PromQL computes them, over the samples of one window.

A window is left-open, (now - over, now], as in Prometheus 3: a 1m window of a 1 s series holds
60 samples, so the per-interval counts in it add up to exactly one minute of requests. Non-finite
values (a NaN recorded for "unknown") are not samples.

Each function returns the value, or None with the reason there is none (said in the no-data event).
Pure: the samples and `now` come in as arguments.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from itertools import pairwise

from engine.snapshot import SeriesView
from engine.units import format_duration

Answer = tuple[float | None, str]  # (value, why there is none)


def window(view: SeriesView | None, now: float, over: float) -> tuple[Sequence[float], Sequence[float]]:
    """The finite samples of `view` in (now - over, now]: (times, values), oldest first."""
    if view is None or not view.times:
        return (), ()
    lo = bisect.bisect_right(view.times, now - over)
    hi = bisect.bisect_right(view.times, now)
    times, values = view.times[lo:hi], view.values[lo:hi]
    if all(math.isfinite(v) for v in values):
        return times, values
    kept = [(t, v) for t, v in zip(times, values, strict=True) if math.isfinite(v)]
    return tuple(t for t, _ in kept), tuple(v for _, v in kept)


def _none_in(key: str, over: float) -> str:
    return f"no {key} sample in the last {format_duration(over)}"


def over_time(function: str, view: SeriesView | None, key: str, now: float, over: float,
              quantile: float | None = None) -> Answer:
    """avg/max/min/sum/quantile _over_time: one sample is enough."""
    _, values = window(view, now, over)
    if not values:
        return None, _none_in(key, over)
    if function == "avg_over_time":
        return math.fsum(values) / len(values), ""
    if function == "max_over_time":
        return max(values), ""
    if function == "min_over_time":
        return min(values), ""
    if function == "sum_over_time":
        return math.fsum(values), ""
    assert function == "quantile_over_time" and quantile is not None
    return quantile_of(values, quantile), ""


def quantile_of(values: Sequence[float], q: float) -> float:
    """PromQL's quantile: linear interpolation between the closest ranks (q=0.5 of 1,2,3,4 is 2.5)."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    lower = math.floor(rank)
    upper = min(lower + 1, len(ordered) - 1)
    weight = rank - lower
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def increase(view: SeriesView | None, key: str, now: float, over: float, *, per_second: bool = False) -> Answer:
    """The increase of a cumulative counter over the window, as PromQL's increase()/rate():

    - a value lower than the one before is a counter reset (the process restarted from 0): the
      increase continues from the previous value, it never goes negative;
    - the increase between the first and last sample is extrapolated to the window's edges when
      the samples reach within 1.1 average intervals of them (else by half an interval), and not
      below the counter's zero point (Prometheus' extrapolatedRate).
    """
    times, values = window(view, now, over)
    if len(times) < 2:
        return None, (f"{len(times)} {key} sample in the last {format_duration(over)}; "
                      f"{'a rate' if per_second else 'an increase'} needs 2")
    result = values[-1] - values[0]
    for before, after in pairwise(values):
        if after < before:  # a reset: everything counted up to `before` was an increase too
            result += before
    sampled = times[-1] - times[0]
    if sampled <= 0:
        return None, f"the {key} samples in the window share one time"
    average = sampled / (len(times) - 1)
    threshold = average * 1.1
    to_start, to_end = times[0] - (now - over), now - times[-1]
    if to_start >= threshold:
        to_start = average / 2
    if result > 0 and values[0] >= 0:
        to_zero = sampled * (values[0] / result)  # the counter cannot have been below 0
        to_start = min(to_start, to_zero)
    if to_end >= threshold:
        to_end = average / 2
    result *= (sampled + to_start + to_end) / sampled
    return (result / over if per_second else result), ""


def ratio(numerator: SeriesView | None, denominator: SeriesView | None, keys: tuple[str, str], now: float,
          over: float, min_count: int) -> Answer:
    """sum(numerator counts) / sum(denominator counts) over the window: the share of failed
    requests among the requests completed in it — from counts, never a mean of per-interval ratios
    (a second with 1 request would weigh as much as one with 100)."""
    num_key, den_key = keys
    _, den = window(denominator, now, over)
    if not den:
        return None, _none_in(den_key, over)
    _, num = window(numerator, now, over)
    if not num:
        return None, _none_in(num_key, over)
    total = math.fsum(den)
    if total < min_count:
        count = f"{total:g} {split_metric(den_key)}"
        return None, (f"{count} in the last {format_duration(over)}, fewer than min_requests {min_count}"
                      if min_count > 1 else f"{count} in the last {format_duration(over)}")
    return math.fsum(num) / total, ""


def split_metric(key: str) -> str:
    return key.rpartition("/")[2]
