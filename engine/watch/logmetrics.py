"""Log lines into metrics: per-label counts in ticks (one tick per `interval`, with its measured
duration), and a sliding window of ticks for rates, error_rate and latency percentiles.

Each tick's counts are also recorded as they are, per label (engine/evidence/counts.py: requests,
errors, unavailable, latency buckets): the evidence the canary and alert rules judge, where the
windowed rates below are for reading.

`consume()` is the hot loop (run in a worker thread, a read's worth of lines at a time): it
parses each line and adds it to the current tick. The source closes the tick on its event loop
every `interval` and asks the window for each label's numbers:

    requests_per_s, status_4xx_per_s, status_5xx_per_s   counts in the window / its measured span
    error_rate                                          5xx / requests in the window (0..1)
    latency_p50_ms, latency_p95_ms, latency_p99_ms      nearest-rank over the window's latencies

A label with no request in the window has no error_rate or latency (a gap, not a made-up zero).
Labels are capped (MAX_LABELS, then "other"), and latencies per tick and label are a uniform
sample of at most `latency_cap` (WINDOW_LATENCIES spread over the ticks of a window), so a log
storm or a high-cardinality field bounds memory, and the percentiles of a report sort at most
~WINDOW_LATENCIES values per label however many lines the window saw. Below the cap they are
exact; above it, each tick weighs at most its cap.
"""

from __future__ import annotations

import math
import random
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from engine.evidence.counts import STANDARD_BOUNDS_MS, UNAVAILABLE_STATUSES, bin_index
from engine.watch.parsers import Parsed, ParseError

MAX_LABELS = 50
OTHER_LABEL = "other"
WINDOW_LATENCIES = 20_000  # per label and window, roughly: what one report sorts
MIN_LATENCIES = 50  # per tick and label, however short the interval


def latency_cap(window: float, interval: float) -> int:
    """Latencies kept per tick and label, so a window holds about WINDOW_LATENCIES."""
    return max(MIN_LATENCIES, WINDOW_LATENCIES // max(1, round(window / interval)))
MAX_SAMPLES = 20  # sample lines kept per tick for parse errors and error-pattern matches

# [requests, status 4xx, status 5xx, latencies (ms), latencies seen, unavailable (502/503/504),
#  latency bucket counts on STANDARD_BOUNDS_MS (every latency, not the sample)]
LabelCounts = list


def new_counts() -> LabelCounts:
    return [0, 0, 0, [], 0, 0, [0] * len(STANDARD_BOUNDS_MS)]


@dataclass
class Tick:
    """What was read since the last report."""

    latency_cap: int = MIN_LATENCIES
    lines: int = 0
    parse_errors: int = 0
    matches: int = 0  # lines matching the error pattern
    labels: dict[str, LabelCounts] = field(default_factory=dict)
    error_samples: list[tuple[bytes, str]] = field(default_factory=list)  # (line, why it did not parse)
    match_samples: list[bytes] = field(default_factory=list)


class Labels:
    """The labels seen so far, capped: the 51st distinct value is counted as "other"."""

    def __init__(self, limit: int = MAX_LABELS) -> None:
        self.limit = limit
        self.seen: dict[str, None] = {}  # insertion-ordered

    def admit(self, label: str) -> str:
        if label in self.seen:
            return label
        if len(self.seen) >= self.limit:
            label = OTHER_LABEL
        self.seen.setdefault(label)
        return label


def consume(
    lines: list[bytes],
    parse: Callable[[bytes], Parsed],
    tick: Tick,
    labels: Labels,
    error_search: Callable[[bytes], re.Match[bytes] | None] | None,
) -> None:
    """Parse `lines` into `tick`. Every line is either counted under a label or a parse error."""
    stats = tick.labels
    cap = tick.latency_cap
    tick.lines += len(lines)
    for line in lines:
        if error_search is not None and error_search(line) is not None:
            tick.matches += 1
            if len(tick.match_samples) < MAX_SAMPLES:
                tick.match_samples.append(line)
        try:
            label, status, latency = parse(line)
        except ParseError as exc:
            tick.parse_errors += 1
            if len(tick.error_samples) < MAX_SAMPLES:
                tick.error_samples.append((line, str(exc) if line.strip() else "empty line"))
            continue
        counts = stats.get(label)
        if counts is None:
            label = labels.admit(label)
            counts = stats.get(label)
            if counts is None:
                counts = stats[label] = new_counts()
        counts[0] += 1
        if status is not None and status >= 400:
            counts[2 if status >= 500 else 1] += 1
            if status in UNAVAILABLE_STATUSES:
                counts[5] += 1
        if latency is not None:
            counts[6][bin_index(latency)] += 1
            seen = counts[4] = counts[4] + 1
            latencies = counts[3]
            if len(latencies) < cap:
                latencies.append(latency)
            else:  # reservoir sampling: every latency of the tick had the same chance to be kept
                slot = random.randrange(seen)
                if slot < cap:
                    latencies[slot] = latency


@dataclass(frozen=True)
class LabelSummary:
    label: str
    requests_per_s: float
    status_4xx_per_s: float
    status_5xx_per_s: float
    error_rate: float | None
    p50: float | None
    p95: float | None
    p99: float | None


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Window:
    """The last `span` seconds of ticks (measured durations, not nominal intervals)."""

    def __init__(self, span: float) -> None:
        self.span = span
        self._ticks: deque[tuple[float, dict[str, LabelCounts]]] = deque()
        self._seconds = 0.0

    def push(self, seconds: float, labels: dict[str, LabelCounts]) -> None:
        self._ticks.append((seconds, labels))
        self._seconds += seconds
        while len(self._ticks) > 1 and self._seconds - self._ticks[0][0] >= self.span:
            self._seconds -= self._ticks.popleft()[0]

    def summaries(self, known: list[str]) -> Iterator[LabelSummary]:
        """Every known label (a quiet one has zero rates), from the ticks in the window."""
        seconds = self._seconds or 1.0
        for label in known:
            requests = c4xx = c5xx = 0
            latencies: list[float] = []
            for _, labels in self._ticks:
                counts = labels.get(label)
                if counts is not None:
                    requests += counts[0]
                    c4xx += counts[1]
                    c5xx += counts[2]
                    latencies.extend(counts[3])
            latencies.sort()
            yield LabelSummary(
                label,
                requests / seconds,
                c4xx / seconds,
                c5xx / seconds,
                c5xx / requests if requests else None,
                percentile(latencies, 0.50) if latencies else None,
                percentile(latencies, 0.95) if latencies else None,
                percentile(latencies, 0.99) if latencies else None,
            )
