"""A tiny Prometheus text-format writer: labelled counters and histograms, thread-safe.

Why not prometheus_client: it is not a dependency, and the demo needs three metric families. The
output follows the text exposition format 0.0.4 so the engine's Prometheus collector reads it
exactly as it would read a real service.
"""

from __future__ import annotations

import bisect
import math
import threading

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Request durations: from a fast in-process answer (~1 ms) to an injected multi-second latency.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)) + "}"


def header(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


class Counter:
    """A counter family, e.g. demo_http_requests_total{version, code}."""

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...]) -> None:
        self.name, self.help_text, self.label_names = name, help_text, label_names
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        lines = header(self.name, "counter", self.help_text)
        lines += [f"{self.name}{format_labels(self.label_names, labels)} {format_value(v)}" for labels, v in items]
        return lines


class Histogram:
    """A histogram family with cumulative `_bucket{le=...}`, `_sum` and `_count` series."""

    def __init__(
        self,
        name: str,
        help_text: str,
        label_names: tuple[str, ...],
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    ) -> None:
        self.name, self.help_text, self.label_names = name, help_text, label_names
        self.buckets = tuple(sorted(buckets))
        # Per label set: [count per bucket (non-cumulative, last = +Inf)], sum.
        self._counts: dict[tuple[str, ...], list[int]] = {}
        self._sums: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, *label_values: str) -> None:
        index = bisect.bisect_left(self.buckets, value)  # le is inclusive: value == bound counts in it
        with self._lock:
            counts = self._counts.get(label_values)
            if counts is None:
                counts = self._counts[label_values] = [0] * (len(self.buckets) + 1)
                self._sums[label_values] = 0.0
            counts[index] += 1
            self._sums[label_values] += value

    def render(self) -> list[str]:
        with self._lock:
            items = sorted((labels, list(counts), self._sums[labels]) for labels, counts in self._counts.items())
        lines = header(self.name, "histogram", self.help_text)
        names = self.label_names + ("le",)
        for labels, counts, total in items:
            cumulative = 0
            for bound, count in zip(self.buckets + (math.inf,), counts, strict=True):
                cumulative += count
                le = "+Inf" if math.isinf(bound) else repr(bound)
                lines.append(f"{self.name}_bucket{format_labels(names, labels + (le,))} {cumulative}")
            plain = format_labels(self.label_names, labels)
            lines.append(f"{self.name}_sum{plain} {format_value(total)}")
            lines.append(f"{self.name}_count{plain} {cumulative}")
        return lines


def gauge(name: str, help_text: str, value: float, labels: str = "") -> list[str]:
    return header(name, "gauge", help_text) + [f"{name}{labels} {format_value(value)}"]


def exposition(*groups: list[str]) -> bytes:
    return ("\n".join(line for group in groups for line in group) + "\n").encode()
