"""Body formats on real bodies (the demo's own Prometheus writer, JSON as services write it), and the
GapTracker's bookkeeping: which keys cover which sources, and where a gap across a restart starts."""

from __future__ import annotations

import time

import httpx
import pytest

from engine.collect.client import Answer
from engine.collect.config import HealthTarget, JsonTarget, PrometheusTarget, PromqlTarget
from engine.collect.errors import DecodeError
from engine.collect.formats import Request, format_for
from engine.collect.formats.prometheus import quantile
from engine.demo import metrics
from engine.gaps import GapTracker


def answer(body: bytes | str, mono: float = 100.0, status: int = 200) -> Answer:
    data = body.encode() if isinstance(body, str) else body
    return Answer(status, httpx.Headers(), data, time.time(), mono, 0.001)


def decode(target, body: bytes | str, mono: float = 100.0):  # noqa: ANN001, ANN201
    fmt = format_for(target)
    return fmt.decode(answer(body, mono), fmt.requests(target.url)[0])


def prom(**extra: object) -> PrometheusTarget:
    return PrometheusTarget(name="api", url="http://x/metrics", format="prometheus", **extra)


class DemoExporter:
    """The demo's own Prometheus text writer: what the collector reads in the real product."""

    def __init__(self) -> None:
        self.requests = metrics.Counter("demo_http_requests_total", "h", ("version", "code"))
        self.duration = metrics.Histogram("demo_http_request_duration_seconds", "h", ("version",))

    def serve(self, ok: int, failed: int, seconds: float) -> None:
        for _ in range(ok):
            self.requests.inc("canary", "200")
            self.duration.observe(seconds, "canary")
        for _ in range(failed):
            self.requests.inc("canary", "500")
            self.duration.observe(seconds, "canary")

    def body(self) -> bytes:
        return metrics.exposition(self.requests.render(), self.duration.render(), metrics.gauge("demo_up", "h", 1))


def test_prometheus_rates_use_the_measured_time_between_answers() -> None:
    exporter, fmt = DemoExporter(), format_for(prom(fields={"up": "demo_up"}))
    exporter.serve(10, 0, 0.003)
    first = fmt.decode(answer(exporter.body(), mono=100.0), Request(""))
    assert [s.metric for s in first.samples] == ["up"]  # a rate needs two readings
    exporter.serve(95, 5, 0.02)
    second = fmt.decode(answer(exporter.body(), mono=102.5), Request(""))  # 2.5 s later, whatever the interval
    got = {s.metric: (s.value, s.unit) for s in second.samples}
    assert got["requests_per_s"] == (pytest.approx(40.0), "/s")  # 100 requests / 2.5 s
    assert got["error_rate"] == (pytest.approx(0.05), "ratio")
    assert got["latency_p50_ms"] == (pytest.approx(17.5), "ms")  # inside the 10..25 ms bucket
    assert got["latency_p99_ms"][0] == pytest.approx(24.85)
    assert got["up"] == (1.0, "")


def test_prometheus_no_requests_is_zero_rate_but_no_error_rate_or_latency() -> None:
    exporter, fmt = DemoExporter(), format_for(prom())
    exporter.serve(3, 1, 0.003)
    fmt.decode(answer(exporter.body(), mono=1.0), Request(""))
    quiet = fmt.decode(answer(exporter.body(), mono=2.0), Request(""))
    # 0/0 is no error rate, not 0; the counted evidence says "0 requests" as it is
    # (the first interval also names every latency bucket, empty, so later windows know the bounds)
    buckets = [s for s in quiet.samples if s.metric.startswith("latency_le_")]
    assert buckets and all(s.value == 0.0 for s in buckets)
    assert [(s.metric, s.value) for s in quiet.samples if s not in buckets] == [
        ("requests_per_s", 0.0), ("requests", 0.0), ("errors", 0.0), ("unavailable", 0.0)]


def test_prometheus_counter_reset_gives_no_rate() -> None:
    fmt = format_for(prom(requests="http_requests_total"))
    fmt.decode(answer('# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 500\n', 1.0), Request(""))
    after = fmt.decode(answer('# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 3\n', 2.0), Request(""))
    assert after.samples == []
    assert after.warnings == ["prometheus: a counter went down (target restarted?): no rate for this interval"]


def test_prometheus_malformed_names_the_line() -> None:
    with pytest.raises(DecodeError, match=r"^prometheus: line 3: could not convert string to float: 'abc'$"):
        decode(prom(), "# TYPE x counter\nx_total 1\ny_total abc\n")


def test_prometheus_says_when_nothing_matched() -> None:
    out = decode(prom(), "# TYPE temperature gauge\ntemperature 21\n")
    assert out.warnings == ["prometheus: no requests counter or latency histogram found; set requests:, latency: or fields:"]


def test_quantile_interpolates_like_histogram_quantile() -> None:
    buckets = [(0.1, 50.0), (0.2, 100.0), (float("inf"), 100.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.75, buckets) == pytest.approx(0.15)
    assert quantile(0.99, [(0.1, 10.0), (float("inf"), 20.0)]) == 0.1  # in +Inf: the highest known bound
    assert quantile(0.5, [(0.1, 0.0), (float("inf"), 0.0)]) is None


def test_json_fields_and_their_warnings() -> None:
    target = JsonTarget(name="j", url="http://x/j", format="json",
                        fields={"depth": "queue.items[1].depth", "up": "ok", "gone": "missing.path", "text": "name"})
    out = decode(target, '{"queue": {"items": [{"depth": 1}, {"depth": 4.5}]}, "ok": true, "name": "svc"}')
    assert [(s.metric, s.value) for s in out.samples] == [("depth", 4.5), ("up", 1.0)]
    assert out.warnings == [
        "field gone: missing.path not found (no 'missing.path' under the document)",
        "field text: name is not a number (str)",
    ]


@pytest.mark.parametrize(("body", "message"), [
    ('{"a": nope}', "json: line 1 column 7: Expecting value"),
    ('{"a": 1,\n "b": }', "json: line 2 column 7: Expecting value"),
    (b"\xff\xfe", "json: the body is not UTF-8 text (byte 0)"),
])
def test_malformed_json_is_named(body: str | bytes, message: str) -> None:
    with pytest.raises(DecodeError) as raised:
        decode(JsonTarget(name="j", url="http://x/j", format="json", fields={"a": "a"}), body)
    assert str(raised.value) == message


def test_health_document_both_component_styles() -> None:
    target = HealthTarget(name="h", url="http://x/health", format="health")
    out = decode(target, '{"status": "UP", "components": {"db": {"status": "DOWN"}, "cache": "healthy", "odd": 3}}')
    assert [(s.metric, s.value) for s in out.samples] == [("healthy", 1.0)]
    assert out.components == (("db", "DOWN"), ("cache", "healthy"))
    assert out.warnings == ["health: component 'odd' has no status"]
    degraded = decode(target, '{"status": "degraded", "components": {"db": "degraded", "cache": "ok"}}')
    assert [(s.metric, s.value) for s in degraded.samples] == [("healthy", 0.0)]
    assert degraded.warnings == ["health: degraded (db: degraded)"]
    with pytest.raises(DecodeError, match="has no \"status\""):
        decode(target, '{"components": {}}')


def test_promql_values_nan_and_many_series() -> None:
    target = PromqlTarget(name="p", url="http://prom:9090/", format="promql", fields={"rps": "sum(rate(x[1m]))"})
    fmt = format_for(target)
    request = fmt.requests(target.url)[0]
    assert request.url == "http://prom:9090/api/v1/query?query=sum%28rate%28x%5B1m%5D%29%29"
    scalar = fmt.decode(answer('{"status": "success", "data": {"resultType": "scalar", "result": [1, "2.5"]}}'), request)
    assert [(s.metric, s.value) for s in scalar.samples] == [("rps", 2.5)]
    nan = fmt.decode(answer('{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "NaN"]}]}}'), request)
    assert nan.samples == [] and nan.warnings == ["promql rps: no value (NaN or missing)"]
    many = fmt.decode(answer('{"status": "success", "data": {"resultType": "vector", "result": ['
                             '{"metric": {"i": "a"}, "value": [1, "1"]}, {"metric": {"i": "b"}, "value": [1, "2"]}]}}'), request)
    assert many.samples == [] and "returned 2 series; aggregate it (sum(...)) or set split_by" in many.warnings[0]
    with pytest.raises(DecodeError, match="bad_data: parse error"):
        fmt.decode(answer('{"status": "error", "errorType": "bad_data", "error": "parse error"}'), request)


def test_gap_keys_cover_sub_sources_and_exact_series() -> None:
    tracker = GapTracker(started_at=time.time() - 10)
    tracker.expect("collect:fleet", 2.0)  # a gap after 5 s
    tracker.expect("watch:inbox/files_per_s", 1.0)  # a gap after 2.5 s
    now = time.time()
    tracker.observe("collect:fleet:host1", "up", now)  # a sub-source keeps its parent alive
    tracker.expect("collect:fleetwood", 2.0)
    tracker.observe("collect:fleetwood:x", "up", now)  # the longest covering key wins
    tracker.observe("watch:inbox", "bytes_per_s", now)  # another metric of an exactly-expected series
    tracker.check(now + 3.0)
    assert [g.series for g in tracker.snapshot_fields()["gaps"]] == ["watch:inbox/files_per_s"]
    assert tracker.open_gap("watch:inbox", "files_per_s") is not None
    assert tracker.open_gap("collect:fleet:host1", "up") is None
    tracker.check(now + 5.5)
    assert {g.series for g in tracker.snapshot_fields()["gaps"]} == {"watch:inbox/files_per_s", "collect:fleet", "collect:fleetwood"}
    assert tracker.open_gap("collect:fleet:host1", "up").series == "collect:fleet"  # downstream sees "no data"
    tracker.observe("watch:inbox", "files_per_s", now + 5.6)
    tracker.observe("watch:inbox", "files_per_s", now + 5.7)
    tracker.check(now + 5.8)
    closed = [g for g in tracker.snapshot_fields()["gaps"] if g.end is not None]
    assert [(g.series, g.start, g.end, g.cause) for g in closed] == [("watch:inbox/files_per_s", tracker._expected["watch:inbox/files_per_s"].since, now + 5.6, "no data")]


def test_prometheus_reads_only_the_families_it_uses_and_notices_new_ones() -> None:
    exporter = DemoExporter()
    noise = "".join(f"# HELP go_thing_{i} noise\n# TYPE go_thing_{i} gauge\ngo_thing_{i}{{x=\"{i}\"}} {i}\n" for i in range(100))
    fast, full = format_for(prom(fields={"up": "demo_up"})), format_for(prom(fields={"up": "demo_up"}))
    exporter.requests.inc("canary", "200")  # requests so far, but no latency histogram yet (no observation)
    for step in range(4):
        if step == 2:
            exporter.serve(40, 10, 0.02)  # the histogram appears now: it must be noticed
        body = exporter.body() + noise.encode()
        got = fast.decode(answer(body, mono=float(step)), Request(""))
        full._used = None  # type: ignore[attr-defined]  (the reference: always the whole page)
        expected = full.decode(answer(body, mono=float(step)), Request(""))
        assert got == expected
    assert {s.metric for s in got.samples} >= {"requests_per_s", "up"}
    assert fast._used is not None and not any(name.startswith("go_") for name in fast._used)  # type: ignore[attr-defined]
    exporter.serve(10, 0, 0.02)
    third = fast.decode(answer(exporter.body() + noise.encode(), mono=4.0), Request(""))
    assert {s.metric for s in third.samples} == {"up", "requests_per_s", "error_rate", "latency_p50_ms",
                                                 "latency_p95_ms", "latency_p99_ms", "requests", "errors",
                                                 "unavailable", "latency_le_25ms"}
