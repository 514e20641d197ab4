"""Collection through the real engine, store and snapshot: formats end to end, gaps opened and closed
with their cause (target down, circuit open, paused by operator, disabled, engine not running
across a restart), enable/disable from the console's verbs, cadence under a slow neighbour, and
the built-in demo's versions scraped as the root config.yaml does."""

from __future__ import annotations

import json
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from engine.commands import Actor, Command
from engine.config.loader import load_config
from engine.demo.state import DemoState, Faults
from engine.demo.versions import VersionServer
from engine.runtime import Engine
from engine.snapshot import GapView, Snapshot
from tests.httpfixtures import HttpFixture, Reply, json_reply
from tests.test_engine import query, wait_for, write_config

ACTOR = Actor(user="alice", address="203.0.113.9", origin="tui")
FAST = "interval: 200ms, timeout: 1s, retry: {attempts: 1}"  # a gap after 500 ms: margin for a loaded CI box


def collect_yaml(*targets: str, track: str = FAST) -> str:
    """A `collect:` section with one track ("fast") holding these flow-style targets."""
    listed = ",\n".join(f"        {t}" for t in targets)
    return f"collect:\n  tracks:\n    - {{name: fast, {track},\n       targets: [\n{listed}]}}\n"


@pytest.fixture
def server() -> Iterator[HttpFixture]:
    with HttpFixture() as fixture:
        yield fixture


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[str], Engine]]:
    engines: list[Engine] = []

    def make(body: str) -> Engine:
        engine = Engine(write_config(tmp_path, body))
        engine.start()
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()


def open_gap(snapshot: Snapshot, series: str) -> GapView | None:
    return next((g for g in snapshot.gaps if g.series == series and g.end is None), None)


def closed_gap(snapshot: Snapshot, series: str) -> GapView | None:
    return next((g for g in snapshot.gaps if g.series == series and g.end is not None), None)


def gap_events(db: Path, series: str) -> list[dict]:
    rows = query(db, "SELECT message, data FROM events WHERE kind = 'gap' ORDER BY t, id")
    return [{"message": m, **json.loads(d)} for m, d in rows if json.loads(d)["series"] == series]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_config_errors_name_the_target_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "collect:\n"
        "  tracks:\n"
        "    - name: fast\n"
        "      targets:\n"
        "        - {name: api, url: ftp://x/metrics, format: prometheus}\n"
        "        - {name: h, url: http://x/health, format: health, fields: {a: b}}\n"
        "        - {name: j, url: http://x/j, format: json, fields: {rps: 'data..rps'}}\n"
        "        - {name: api, url: http://x/m, format: xml}\n"
    )
    with pytest.raises(Exception) as raised:
        load_config(path)
    problems = str(raised.value).splitlines()
    assert f"{path}:5: collect.tracks[0].targets[0].url: must be an http:// or https:// URL, got 'ftp://x/metrics'" in problems
    assert any(p.startswith(f"{path}:6: collect.tracks[0].targets[1].fields: unknown key") for p in problems)
    assert any(p.startswith(f"{path}:7: collect.tracks[0].targets[2].fields: field rps: cannot read the path 'data..rps'") for p in problems)
    assert any(p.startswith(f"{path}:8: collect.tracks[0].targets[3].format:") and "prometheus" in p for p in problems)


def test_every_format_end_to_end(start: Callable[[str], Engine], server: HttpFixture, tmp_path: Path) -> None:
    counts = {"n": 0}

    def metrics(_request):
        counts["n"] += 1
        n = counts["n"]
        return Reply(body=(
            "# TYPE app_http_requests_total counter\n"
            f'app_http_requests_total{{code="200"}} {n * 9}\napp_http_requests_total{{code="503"}} {n}\n'
            "# TYPE app_request_duration_seconds histogram\n"
            f'app_request_duration_seconds_bucket{{le="0.1"}} {n * 10}\n'
            f'app_request_duration_seconds_bucket{{le="+Inf"}} {n * 10}\n'
            f"app_request_duration_seconds_sum {n}\napp_request_duration_seconds_count {n * 10}\n"
            "# TYPE app_queue_depth gauge\napp_queue_depth 7\n"
        ))

    def prom_api(request):
        query_text = request.query["query"][0]
        if query_text == "sum(rate(x[1m]))":
            return json_reply({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "12.5"]}]}})
        return json_reply({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"instance": "a"}, "value": [1, "1"]}, {"metric": {"instance": "b"}, "value": [1, "0"]}]}})

    server.route("/metrics", metrics)
    server.route("/stats", json_reply({"data": {"queue": [{"depth": 3}], "ok": True}}))
    server.route("/health", json_reply({"status": "healthy", "components": {"db": "healthy", "cache": {"status": "degraded"}}}))
    server.route("/api/v1/query", prom_api)
    engine = start(collect_yaml(
        f'{{name: api, url: "{server.url("/metrics")}", format: prometheus, fields: {{queue: app_queue_depth}}}}',
        f'{{name: stats, url: "{server.url("/stats")}", format: json, fields: {{depth: "data.queue[0].depth", ok: data.ok}}}}',
        f'{{name: api-health, url: "{server.url("/health")}", format: health}}',
        f'{{name: fleet, url: "{server.url("")}", format: promql, split_by: instance, fields: {{up: "up"}}}}',
        f'{{name: prom, url: "{server.url("")}", format: promql, fields: {{rps: "sum(rate(x[1m]))"}}}}',
    ))
    wait_for(lambda: engine.snapshot().get("collect:api", "latency_p99_ms") is not None, what="api latency")
    wait_for(lambda: engine.snapshot().get("collect:fleet:b", "up") is not None, what="fleet split")
    snap = engine.snapshot()
    assert snap.get("collect:api", "requests_per_s").unit == "/s"
    assert snap.get("collect:api", "error_rate").last == pytest.approx(0.1)
    assert snap.get("collect:api", "latency_p50_ms").last == pytest.approx(50.0)  # mid-bucket 0..100 ms
    assert snap.get("collect:api", "queue").last == 7
    assert snap.get("collect:stats", "depth").last == 3 and snap.get("collect:stats", "ok").last == 1
    assert snap.get("collect:api-health", "healthy").last == 1
    assert (snap.get("collect:fleet:a", "up").last, snap.get("collect:fleet:b", "up").last) == (1, 0)
    assert snap.get("collect:prom", "rps").last == 12.5
    assert {t.name: t.state for t in snap.targets} == dict.fromkeys(["api", "stats", "api-health", "fleet", "prom"], "OK")
    assert not any(h.name.startswith("collect:") for h in snap.health)  # the Health panel is health:'s
    # Rates come from the measured time between answers: 10 requests per 200 ms.
    rates = snap.get("collect:api", "requests_per_s").values
    assert 30 < statistics.median(rates) < 70
    engine.store.flush()
    rows = query(tmp_path / "history.db", "SELECT count(*) FROM samples JOIN series ON series.id = series_id "
                 "WHERE source = 'collect:api' AND metric = 'requests_per_s'")
    assert rows[0][0] >= 1


def test_gap_opens_with_target_down_and_closes_when_back(start: Callable[[str], Engine], server: HttpFixture,
                                                         tmp_path: Path) -> None:
    down = {"on": False}
    server.route("/m", lambda _r: Reply(500) if down["on"] else json_reply({"v": 1}))
    engine = start(collect_yaml(f'{{name: api, url: "{server.url("/m")}", format: json, fields: {{v: v}}}}',
                                track=FAST + ", breaker: {failures: 1000}"))
    wait_for(lambda: engine.snapshot().get("collect:api", "v") is not None, what="first sample")
    down["on"] = True
    wait_for(lambda: open_gap(engine.snapshot(), "collect:api") is not None, what="gap to open")
    gap = open_gap(engine.snapshot(), "collect:api")
    assert gap is not None and gap.cause == "target down: HTTP 500 Internal Server Error"
    last_good = engine.snapshot().get("collect:api", "v").last_time
    assert gap.start == last_good  # the gap starts at the last sample, not when it was noticed
    down["on"] = False
    wait_for(lambda: closed_gap(engine.snapshot(), "collect:api") is not None, what="gap to close")
    closed = closed_gap(engine.snapshot(), "collect:api")
    assert closed is not None and closed.end is not None and closed.end - closed.start > 0.5
    engine.store.flush()
    opened, ended = gap_events(tmp_path / "history.db", "collect:api")
    assert opened["message"] == "gap opened: no data from collect:api (target down: HTTP 500 Internal Server Error)"
    assert ended["cause"] == "target down: HTTP 500 Internal Server Error"
    assert ended["duration_s"] == pytest.approx(closed.end - closed.start, abs=0.01)
    # "No data" is never 0: nothing was recorded for the series while the target was down.
    view = engine.snapshot().get("collect:api", "v")
    assert 0.0 not in view.values


def test_circuit_open_is_the_cause_when_the_breaker_opened_first(start: Callable[[str], Engine]) -> None:
    engine = start(collect_yaml(
        f'{{name: gone, url: "http://127.0.0.1:{free_port()}/m", format: json, fields: {{v: v}}}}',
        track=FAST + ", breaker: {failures: 1, open_for: 1m}",
    ))
    wait_for(lambda: open_gap(engine.snapshot(), "collect:gone") is not None, what="gap")
    assert open_gap(engine.snapshot(), "collect:gone").cause == "circuit open: connection refused"
    target = engine.snapshot().targets[0]
    assert target.state == "OPEN" and target.last_error.startswith("circuit open (connection refused); next probe in")


def test_pause_opens_gaps_paused_by_operator(start: Callable[[str], Engine], server: HttpFixture) -> None:
    server.route("/m", json_reply({"v": 1}))
    engine = start(collect_yaml(f'{{name: api, url: "{server.url("/m")}", format: json, fields: {{v: v}}}}'))
    wait_for(lambda: engine.snapshot().get("collect:api", "v") is not None, what="first sample")
    # On a loaded box the host monitor's first sample can come late enough to open a "no data" gap
    # first; a gap keeps the cause it opened with, so the pause is only judged on flowing data.
    wait_for(lambda: engine.snapshot().get("host", "cpu_pct") is not None and open_gap(engine.snapshot(), "host") is None,
             what="host samples flowing")
    assert engine.submit(Command("pause", actor=ACTOR)).result(5).ok
    wait_for(lambda: open_gap(engine.snapshot(), "collect:api") is not None and open_gap(engine.snapshot(), "host") is not None,
             what="gaps while paused")
    assert open_gap(engine.snapshot(), "collect:api").cause == "paused by operator"
    assert open_gap(engine.snapshot(), "host").cause == "paused by operator"  # the host monitor's cadence too
    assert engine.submit(Command("resume", actor=ACTOR)).result(5).ok
    wait_for(lambda: closed_gap(engine.snapshot(), "collect:api") is not None, what="gap to close on resume")


def test_disable_and_enable_a_target_from_the_console(start: Callable[[str], Engine], server: HttpFixture,
                                                      tmp_path: Path) -> None:
    server.route("/m", json_reply({"v": 1}))
    engine = start(collect_yaml(f'{{name: api, url: "{server.url("/m")}", format: json, fields: {{v: v}}}}'))
    wait_for(lambda: engine.snapshot().get("collect:api", "v") is not None, what="first sample")
    result = engine.submit(Command("collect.disable", {"target": "api"}, actor=ACTOR)).result(5)
    assert result.ok and result.message == "api: collection disabled — its series show a gap until it is enabled"
    assert engine.snapshot().targets[0].state == "DISABLED"
    wait_for(lambda: open_gap(engine.snapshot(), "collect:api") is not None, what="gap while disabled")
    assert open_gap(engine.snapshot(), "collect:api").cause == "disabled by operator"
    hits = len(server.hits("/m"))
    time.sleep(0.3)
    assert len(server.hits("/m")) <= hits + 1  # at most one scrape that was already in flight
    refused = engine.submit(Command("collect.enable", {"target": "nope"}, actor=ACTOR)).result(5)
    assert not refused.ok and refused.message == "collect.enable: no target named 'nope' (targets: api)"
    assert engine.submit(Command("collect.enable", {"target": "api"}, actor=ACTOR)).result(5).ok
    wait_for(lambda: engine.snapshot().targets[0].state == "OK", what="target back")
    wait_for(lambda: closed_gap(engine.snapshot(), "collect:api") is not None, what="gap closed")
    engine.store.flush()
    audit = query(tmp_path / "history.db", "SELECT user, address, action, args, ok FROM audit ORDER BY id")
    assert ("alice", "203.0.113.9", "collect.disable", '{"target":"api"}', 1) in audit
    assert ("alice", "203.0.113.9", "collect.enable", '{"target":"nope"}', 0) in audit


def test_gap_across_an_engine_restart_is_engine_not_running(server: HttpFixture, tmp_path: Path) -> None:
    broken = {"on": False}
    server.route("/m", json_reply({"v": 1}))
    server.route("/flaky", lambda _r: Reply(500) if broken["on"] else json_reply({"v": 1}))
    body = collect_yaml(f'{{name: api, url: "{server.url("/m")}", format: json, fields: {{v: v}}}}',
                        f'{{name: flaky, url: "{server.url("/flaky")}", format: json, fields: {{v: v}}}}')
    first = Engine(write_config(tmp_path, body))
    first.start()
    try:
        # Both targets: the ticker spreads them across the interval, so either may be scraped first.
        wait_for(lambda: all(first.snapshot().get(f"collect:{name}", "v") is not None for name in ("api", "flaky")),
                 what="first run's samples")
    finally:
        first.stop()
    last_before = query(tmp_path / "history.db", "SELECT max(t) FROM samples JOIN series ON series.id = series_id "
                        "WHERE source = 'collect:api'")[0][0]
    assert last_before is not None, "the first run stored no sample of collect:api"
    time.sleep(0.8)  # down for longer than 2.5 x 200 ms
    broken["on"] = True  # and one target breaks while no engine runs
    second = Engine(write_config(tmp_path, body))
    second.start()
    try:
        wait_for(lambda: closed_gap(second.snapshot(), "collect:api") is not None, what="restart gap")
        gap = closed_gap(second.snapshot(), "collect:api")
        assert gap.cause == "engine not running"
        assert gap.start == last_before  # from the history: the first run's last sample
        assert gap.end == second.started_at
        assert open_gap(second.snapshot(), "collect:api") is None
        # The target that is down now gets its own gap, from this start, with its own cause.
        wait_for(lambda: open_gap(second.snapshot(), "collect:flaky") is not None, what="flaky's own gap")
        now_gap = open_gap(second.snapshot(), "collect:flaky")
        assert (now_gap.start, now_gap.cause) == (second.started_at, "target down: HTTP 500 Internal Server Error")
        assert closed_gap(second.snapshot(), "collect:flaky").cause == "engine not running"
    finally:
        second.stop()


def test_a_slow_target_does_not_delay_the_others(start: Callable[[str], Engine], server: HttpFixture) -> None:
    server.route("/hole", Reply(hang=True))
    server.route("/m", json_reply({"v": 1}))
    engine = start(collect_yaml(
        f'{{name: hole, url: "{server.url("/hole")}", format: json, fields: {{v: v}}, timeout: 5s}}',
        f'{{name: api, url: "{server.url("/m")}", format: json, fields: {{v: v}}}}',
        track="interval: 100ms, timeout: 300ms, retry: {attempts: 1}",
    ))
    wait_for(lambda: len(server.hits("/m")) >= 15, what="fast target scrapes")
    times = [h.t for h in server.hits("/m")]
    gaps = [b - a for a, b in pairwise(times)]
    assert statistics.median(gaps) == pytest.approx(0.1, abs=0.03)
    assert len(server.hits("/hole")) == 1  # still waiting on its first answer: later ticks skipped
    hole = next(t for t in engine.snapshot().targets if t.name == "hole")
    assert hole.state == "PENDING"


def test_demo_versions_are_scraped_like_the_root_config(start: Callable[[str], Engine]) -> None:
    """The real demo version servers: Prometheus text and /health, as config.yaml wires them."""
    state = DemoState(canary_weight=50, faults={"canary": Faults(error_rate=0.5, latency=0.0)})
    canary = VersionServer("canary", state, "127.0.0.1", 0)
    canary.start()
    try:
        engine = start(collect_yaml(
            f'{{name: canary, url: "http://127.0.0.1:{canary.port}/metrics", format: prometheus}}',
            f'{{name: canary-health, url: "http://127.0.0.1:{canary.port}/health", format: health}}',
        ))
        for _ in range(200):  # traffic: the work, half of it failing
            canary.work()
            time.sleep(0.002)
        wait_for(lambda: engine.snapshot().get("collect:canary", "error_rate") is not None, what="error rate")
        snap = engine.snapshot()
        assert 0.2 < snap.get("collect:canary", "error_rate").last < 0.8
        assert snap.get("collect:canary", "latency_p95_ms") is not None
        # Unhealthy from a 50 % error rate: the demo answers 503 with its document — data, not a failure.
        assert snap.get("collect:canary-health", "healthy").last == 0
        assert {t.name: (t.state, t.last_error) for t in snap.targets} == {
            "canary": ("OK", None),
            "canary-health": ("OK", "health: unhealthy (database: unhealthy)"),  # answered, and not well
        }
    finally:
        canary.stop()


def test_root_config_points_at_the_demo_versions() -> None:
    loaded = load_config(Path(__file__).resolve().parent.parent / "config.yaml")
    demo, collect = loaded.config.demo, loaded.config.collect
    assert collect is not None
    urls = {t.url for track in collect.tracks for t in track.targets}
    for port in (demo.baseline_port, demo.canary_port):
        assert f"http://127.0.0.1:{port}/metrics" in urls and f"http://127.0.0.1:{port}/health" in urls


def test_a_literal_token_in_the_file_is_masked_by_config_show(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "collect:\n  tracks:\n    - name: t\n      targets:\n"
        "        - {name: api, url: http://x/m, format: prometheus, auth: {kind: bearer, token: literal-token-42}}\n"
    )
    shown = load_config(path).show()
    assert "literal-token-42" not in shown and "token: ***" in shown
