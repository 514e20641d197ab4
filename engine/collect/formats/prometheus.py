"""`format: prometheus`: the text exposition format (formats/promtext.py: plain pages on a fast
path, anything else by prometheus-client's parser, imported only then).

From two consecutive scrapes (their monotonic times, not the nominal interval):
- the requests counter -> `requests_per_s`, and `error_rate` (5xx share, 0..1) when it has a
  code/status label. No requests in the interval: requests_per_s is a measured 0, error_rate is
  undefined (0/0), so it records nothing;
- the latency histogram -> `latency_p50_ms`, `latency_p95_ms`, `latency_p99_ms` over the interval
  (the buckets' increase, interpolated like PromQL's histogram_quantile); nothing without requests;
- `fields`: gauges as they are, counters as per-second rates;
- the evidence (engine/evidence/counts.py): the interval's increases as counts, `requests`,
  `errors`, `unavailable` (with a code label) and per-bucket `latency_le_<bound>ms`.
A counter that went down (the process restarted) gives no rate for that interval, rather than a
negative or a made-up one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.collect.client import Answer
from engine.collect.config import PrometheusTarget
from engine.collect.errors import DecodeError
from engine.collect.formats.base import Decoded, Request, Sample
from engine.collect.formats.promtext import Family, metric_families, reference_families
from engine.evidence.counts import COUNT_METRICS, UNAVAILABLE_STATUSES, bucket_metric
from engine.evidence.counts import histogram_quantile as quantile

CODE_LABELS = ("code", "status", "status_code")
UNAVAILABLE_CODES = frozenset(str(code) for code in UNAVAILABLE_STATUSES)
QUANTILES = ((0.5, "latency_p50_ms"), (0.95, "latency_p95_ms"), (0.99, "latency_p99_ms"))


@dataclass
class _Reading:
    mono: float
    counters: dict[str, float] = field(default_factory=dict)  # "requests", "errors", "field:<metric>"
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count, label sets summed


def parse(text: str) -> dict[str, Family]:
    """Families by name; DecodeError `prometheus: line N: ...` for a body that is not the format."""
    try:
        return {family.name: family for family in metric_families(text)}
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise DecodeError(f"prometheus: {_locate(text)}{exc}") from None


def _locate(text: str) -> str:
    """The first line the parser refuses on its own ("line 3: "), found only on the error path."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            reference_families(line + "\n")
        except (ValueError, IndexError, KeyError, TypeError):
            return f"line {number}: "
    return ""


def line_names(family: Family) -> set[str]:
    """The names a family's TYPE line and samples may carry in the text."""
    base = {family.name, f"{family.name}_total", f"{family.name}_created"}
    if family.type in ("histogram", "summary"):
        base |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
    return base


def only_lines_of(text: str, names: frozenset[str]) -> str:
    """The TYPE lines and samples of these names only: what parsing costs is per line, and an
    exporter's page is mostly families we do not read (go_*, process_*, python_gc_*)."""
    kept = []
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] == "TYPE" and parts[2] in names:
                kept.append(line)
            continue
        cut = len(line)
        for separator in ("{", " ", "\t"):
            index = line.find(separator)
            if 0 <= index < cut:
                cut = index
        if line[:cut] in names:
            kept.append(line)
    return "\n".join(kept) + "\n"


def _family(families: dict[str, Family], name: str) -> Family | None:
    """A family by the name as written in the exposition, with or without a counter's _total."""
    return families.get(name) or families.get(name.removesuffix("_total"))


def _values(family: Family, suffix: str = "") -> list[tuple[dict[str, str], float]]:
    wanted = {family.name + suffix} if suffix else {family.name, family.name + "_total"}
    return [(s.labels, float(s.value)) for s in family.samples if s.name in wanted]


def _find_requests(families: dict[str, Family]) -> Family | None:
    counters = [f for f in families.values() if f.type == "counter" and f.name.endswith("requests")]
    with_code = [f for f in counters if any(label in s.labels for s in f.samples for label in CODE_LABELS)]
    found = with_code or counters
    return found[0] if found else None


def _find_latency(families: dict[str, Family]) -> Family | None:
    histograms = [f for f in families.values() if f.type == "histogram" and f.name.endswith("duration_seconds")]
    preferred = [f for f in histograms if f.name.endswith("request_duration_seconds")]
    found = preferred or histograms
    return found[0] if found else None


class PrometheusFormat:
    accepts_error_status = False

    def __init__(self, target: PrometheusTarget) -> None:
        self.target = target
        self._previous: _Reading | None = None
        # The line names of the families the last full read used: later reads parse only those.
        self._used: frozenset[str] | None = None
        self._found: list[Family] = []
        self._missing = False
        self._bucketed = False  # every latency bucket recorded once (the first interval)

    def requests(self, url: str) -> list[Request]:
        return [Request(url)]

    def error_detail(self, answer: Answer) -> str:
        return ""

    def decode(self, answer: Answer, request: Request) -> Decoded:
        try:
            text = answer.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"prometheus: the body is not UTF-8 text (byte {exc.start})") from None
        out, now, has_code, latency_scale = self._read(text, answer.mono, self._used)
        if self._missing and self._used is not None:  # a family we read went away: look at everything
            out, now, has_code, latency_scale = self._read(text, answer.mono, None)
        if not self._missing and self._found:
            self._used = frozenset(name for family in self._found for name in line_names(family))
        else:
            self._used = None
        previous, self._previous = self._previous, now
        if previous is not None and now.mono > previous.mono:
            self._rates(previous, now, has_code, latency_scale, out)
        if not now.counters and not now.buckets and not out.samples and not self.target.fields:
            out.warnings.append("prometheus: no requests counter or latency histogram found; set requests:, latency: or fields:")
        return out

    def _read(self, text: str, mono: float, used: frozenset[str] | None) -> tuple[Decoded, _Reading, bool, float]:
        families = parse(only_lines_of(text, used) if used else text)
        self._found, self._missing = [], False
        out, now = Decoded(), _Reading(mono)
        has_code = self._read_requests(families, now, out)
        latency_scale = self._read_latency(families, now, out)
        self._read_fields(families, now, out)
        return out, now, has_code, latency_scale

    def _lookup(
        self, families: dict[str, Family], name: str | None, find: Callable[[dict[str, Family]], Family | None],
        what: str, out: Decoded,
    ) -> Family | None:
        """The family named in config, else the one found by convention; a miss is remembered (the
        next scrape reads everything again) and, when it was named, said as a warning."""
        family = _family(families, name) if name else find(families)
        if family is None:
            self._missing = True
            if name:
                out.warnings.append(f"prometheus: {what} {name!r} not in the answer")
            return None
        self._found.append(family)
        return family

    def _read_requests(self, families: dict[str, Family], now: _Reading, out: Decoded) -> bool:
        family = self._lookup(families, self.target.requests, _find_requests, "requests counter", out)
        if family is None:
            return False
        values = _values(family)
        now.counters["requests"] = sum(v for _, v in values)
        codes = [(labels, v) for labels, v in values if any(label in labels for label in CODE_LABELS)]
        if codes:
            now.counters["errors"] = sum(v for labels, v in codes if _code(labels).startswith("5"))
            now.counters["unavailable"] = sum(v for labels, v in codes if _code(labels) in UNAVAILABLE_CODES)
        return bool(codes)

    def _read_latency(self, families: dict[str, Family], now: _Reading, out: Decoded) -> float:
        family = self._lookup(families, self.target.latency, _find_latency, "latency histogram", out)
        if family is None:
            return 1000.0
        if family.type != "histogram":
            out.warnings.append(f"prometheus: latency {family.name!r} is a {family.type}, not a histogram")
            return 1000.0
        for labels, value in _values(family, "_bucket"):
            le = float(labels.get("le", "nan"))
            if not math.isnan(le):
                now.buckets[le] = now.buckets.get(le, 0.0) + value
        # Prometheus convention: base units (seconds); a *_milliseconds histogram is already ms.
        return 1.0 if family.name.endswith(("_milliseconds", "_ms")) else 1000.0

    def _read_fields(self, families: dict[str, Family], now: _Reading, out: Decoded) -> None:
        for metric, name in self.target.fields.items():
            family = _family(families, name)
            if family is not None:
                self._found.append(family)
            if family is None:
                self._missing = True
                out.warnings.append(f"field {metric}: {name!r} not in the answer")
            elif family.type == "counter":
                now.counters[f"field:{metric}"] = sum(v for _, v in _values(family))
            elif family.type in ("gauge", "unknown", "untyped"):
                out.samples.append(Sample(metric, sum(v for _, v in _values(family))))
            else:
                out.warnings.append(f"field {metric}: {name!r} is a {family.type}; use latency: for a histogram")

    def _rates(self, previous: _Reading, now: _Reading, has_code: bool, scale: float, out: Decoded) -> None:
        dt = now.mono - previous.mono
        deltas = {k: v - previous.counters[k] for k, v in now.counters.items() if k in previous.counters}
        reset = [k for k, d in deltas.items() if d < 0]
        if reset:
            out.warnings.append("prometheus: a counter went down (target restarted?): no rate for this interval")
        if "requests" in deltas and "requests" not in reset:
            out.samples.append(Sample("requests_per_s", deltas["requests"] / dt, "/s"))
            if has_code and "errors" in deltas and "errors" not in reset and deltas["requests"] > 0:
                out.samples.append(Sample("error_rate", min(1.0, deltas["errors"] / deltas["requests"]), "ratio"))
            if has_code and not reset:  # the evidence: what happened in this interval, counted
                for metric in COUNT_METRICS:
                    out.samples.append(Sample(metric, deltas.get(metric, 0.0), "req"))
        for key, delta in deltas.items():
            if key.startswith("field:") and key not in reset:
                out.samples.append(Sample(key.removeprefix("field:"), delta / dt, "/s"))
        self._latency(previous, now, scale, out, every_bucket=not self._bucketed)
        self._bucketed = True

    @staticmethod
    def _latency(previous: _Reading, now: _Reading, scale: float, out: Decoded, every_bucket: bool) -> None:
        if not now.buckets or set(now.buckets) != set(previous.buckets):
            return
        increase = sorted((le, now.buckets[le] - previous.buckets[le]) for le in now.buckets)
        if any(count < 0 for _, count in increase):
            return  # reset: already said above when the counters went down too
        below = 0.0
        for le, cumulative in increase:  # per-bucket counts of the interval, for the evidence
            if cumulative - below > 0 or every_bucket:  # empty ones once: every bound is known
                out.samples.append(Sample(bucket_metric(le * scale), cumulative - below, "req"))
            below = cumulative
        for q, metric in QUANTILES:
            value = quantile(q, increase)
            if value is not None:
                out.samples.append(Sample(metric, value * scale, "ms"))


def _code(labels: dict[str, str]) -> str:
    for label in CODE_LABELS:
        if label in labels:
            return labels[label]
    return ""
