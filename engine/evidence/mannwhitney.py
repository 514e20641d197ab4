"""The Mann-Whitney U test, normal approximation with tie and continuity correction.

The same numbers as scipy.stats.mannwhitneyu(x, y, method="asymptotic") (tests pin them), in
~40 lines instead of a scipy dependency. Rank-based, so it makes no assumption about the shape of
the distributions: what canary analysis needs for latency and error rates, which are skewed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Alternative = Literal["two-sided", "less", "greater"]


@dataclass(frozen=True)
class UTest:
    u: float  # U of the first sample: how often an x beats a y (ties count a half)
    p_value: float


def ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Average ranks (1-based; ties share the mean of their positions) and the tie term sum(t^3 - t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    tie_term = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        average = (i + j) / 2 + 1
        for k in range(i, j + 1):
            out[order[k]] = average
        t = j - i + 1
        tie_term += t**3 - t
        i = j + 1
    return out, tie_term


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney_u(x: Sequence[float], y: Sequence[float], alternative: Alternative = "two-sided") -> UTest:
    """Test x against y. `greater`: is x stochastically greater than y? Needs both non-empty."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_u needs at least one value on each side")
    all_ranks, tie_term = ranks([*x, *y])
    n = n1 + n2
    u1 = sum(all_ranks[:n1]) - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:  # every value equal: no evidence of any difference
        return UTest(u1, 1.0)
    sd = math.sqrt(variance)
    if alternative == "greater":
        p = normal_sf((u1 - mean - 0.5) / sd)
    elif alternative == "less":
        p = normal_sf((mean - u1 - 0.5) / sd)
    else:
        u = max(u1, n1 * n2 - u1)  # the larger U: its upper tail, doubled
        p = min(1.0, 2 * normal_sf((u - mean - 0.5) / sd))
    return UTest(u1, p)
