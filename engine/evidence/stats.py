"""The statistics that judge counted evidence, each chosen for small, lumpy samples:

- `wilson_bounds`: a confidence interval for a proportion (k errors of n requests). Unlike the
  normal approximation it behaves at k = 0 and small n: 1 error in 85 requests is 1.2%, and its
  95% interval 0.2%-6.4% gives no evidence of "more than 1%".
- `fisher_greater`: Fisher's exact test, one-sided, on the 2x2 table of errors and successes of
  canary and baseline. Exact at any count: at a 5% canary weight the canary's cells are often
  below 5, where a two-proportion z-test's approximation does not hold.
- `mann_whitney_buckets`: Mann-Whitney U over two latency histograms, each bucket a group of ties,
  one-sided (is the canary slower?): per-request latencies, not a handful of per-interval p95s.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from engine.evidence.counts import Histogram, common_bounds
from engine.evidence.mannwhitney import UTest, normal_sf


def z_for(confidence: float) -> float:
    """The one-sided normal quantile: 1.645 for 0.95."""
    return NormalDist().inv_cdf(confidence)


def wilson_bounds(k: float, n: float, confidence: float) -> tuple[float, float]:
    """One-sided Wilson score bounds (lower, upper) of k/n, each at `confidence`."""
    if n <= 0:
        return 0.0, 1.0
    z = z_for(confidence)
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(errors_a: int, n_a: int, errors_b: int, n_b: int) -> float:
    """P(a has at least `errors_a` of the errors | the margins): small when a fails more than b.

    The hypergeometric tail, summed in log space so that tens of thousands of requests neither
    overflow nor lose the small terms."""
    if n_a <= 0 or n_b <= 0:
        return 1.0
    total, errors = n_a + n_b, errors_a + errors_b
    top = min(n_a, errors)
    if errors_a <= max(0, errors - n_b):
        return 1.0
    log_denominator = _log_choose(total, n_a)
    terms = [_log_choose(errors, x) + _log_choose(total - errors, n_a - x) - log_denominator
             for x in range(errors_a, top + 1)]
    peak = max(terms)
    return min(1.0, math.exp(peak) * sum(math.exp(t - peak) for t in terms))


def mann_whitney_buckets(a: Histogram, b: Histogram) -> UTest:
    """U of a against b (ties within a bucket count a half) and the one-sided p that a is
    stochastically greater (slower), normal approximation with tie and continuity correction.
    Histograms on different bounds are compared on the bounds they share."""
    bounds = common_bounds(a, b)
    a, b = a.on_bounds(bounds), b.on_bounds(bounds)
    n1, n2 = a.total, b.total
    if n1 <= 0 or n2 <= 0:
        raise ValueError("mann_whitney_buckets needs observations on each side")
    u = 0.0
    b_below = 0.0
    tie_term = 0.0
    for ca, cb in zip(a.counts, b.counts, strict=True):
        u += ca * (b_below + cb / 2)
        b_below += cb
        t = ca + cb
        tie_term += t**3 - t
    n = n1 + n2
    mean = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        return UTest(u, 1.0)
    return UTest(u, normal_sf((u - mean - 0.5) / math.sqrt(variance)))
