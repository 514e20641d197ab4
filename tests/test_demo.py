"""The built-in demo, over real HTTP on 127.0.0.1: versions, router, admin API, files, load, component."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine import eventcodes as ev
from engine.component import ComponentError
from engine.config.schema import Config, DemoConfig
from engine.demo import DemoComponent, DemoService
from engine.demo.accesslog import AccessLog
from engine.demo.inbox import InboxWriter

REPO = Path(__file__).resolve().parent.parent


# -- helpers ---------------------------------------------------------------------------------


def demo_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("demo")]


def demo_config(tmp_path: Path, **fields: Any) -> DemoConfig:
    values: dict[str, Any] = {"enabled": True, "port": 0, "rps": 0, "dir": tmp_path / "demo", "inbox_every": 60}
    values.update(fields)
    return DemoConfig.model_validate(values)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoService]:
    """A started demo without load (rps 0): the tests make the traffic they count."""
    service = DemoService(demo_config(tmp_path))
    service.start()
    try:
        yield service
    finally:
        service.stop()
    assert demo_threads() == []


_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
_SAMPLE = re.compile(
    rf"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{{(?P<labels>{_LABEL}(?:,{_LABEL})*)?\}})?"
    r" (?P<value>[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf)|NaN)$"
)
_TYPE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$")


def parse_prometheus(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of a text exposition; fails on any line that is not valid, or an undeclared family."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            match = _TYPE.match(line)
            assert match, f"bad TYPE line {line!r}"
            types[match.group(1)] = match.group(2)
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a valid sample line: {line!r}"
        name = match.group("name")
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no # TYPE line before it"
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group("labels") or ""))
        key = (name, labels)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(match.group("value").replace("Inf", "inf"))
    return samples


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


class FakeCtx:
    """The EngineContext protocol, recording what the component reports."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.records: list[tuple[str, str, float, str]] = []
        self.events: list[tuple[str, str, str, str]] = []

    def record(self, source: str, metric: str, value: float, *, t: float | None = None, unit: str = "") -> None:
        self.records.append((source, metric, value, unit))

    def event(self, code: ev.EventCode, severity: str, source: str, message: str,
              data: dict[str, Any] | None = None) -> None:
        self.events.append((code, severity, source, message))

    @property
    def paused(self) -> bool:
        return False

    async def wait_running(self) -> None:
        return None

    def values(self, metric: str) -> list[float]:
        return [value for source, name, value, _ in self.records if source == "demo:loadgen" and name == metric]


# -- versions --------------------------------------------------------------------------------


def test_version_metrics_are_valid_prometheus_text(demo: DemoService) -> None:
    with httpx.Client(base_url=demo.canary_url) as client:
        for _ in range(5):
            assert client.get("/").json() == {"version": "canary"}
        demo.set_faults("canary", error_rate=1.0)
        for _ in range(2):
            assert client.get("/api/orders").status_code == 500
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse_prometheus(response.text)

    assert sample(samples, "demo_http_requests_total", version="canary", code="200") == 5
    assert sample(samples, "demo_http_requests_total", version="canary", code="500") == 2
    buckets = sorted(
        (float(dict(labels)["le"].replace("+Inf", "inf")), value)
        for (name, labels), value in samples.items()
        if name == "demo_http_request_duration_seconds_bucket"
    )
    counts = [count for _, count in buckets]
    assert counts == sorted(counts), "histogram buckets must be cumulative"
    assert buckets[-1] == (math.inf, 7)
    assert sample(samples, "demo_http_request_duration_seconds_count", version="canary") == 7
    assert sample(samples, "demo_http_request_duration_seconds_sum", version="canary") > 0
    assert sample(samples, "demo_up") == 1
    assert 0 < time.time() - sample(samples, "process_start_time_seconds") < 86400


def test_health_document_degrades_under_faults(demo: DemoService) -> None:
    with httpx.Client() as client:
        healthy = client.get(f"{demo.canary_url}/health")
        assert healthy.status_code == 200
        assert healthy.json() == {
            "status": "healthy",
            "version": "canary",
            "components": {"database": "healthy", "cache": "healthy", "queue": "healthy"},
        }

        demo.set_faults("canary", error_rate=0.1)
        degraded = client.get(f"{demo.canary_url}/health").json()
        assert degraded["status"] == "degraded"
        assert sorted(degraded["components"].values()) == ["degraded", "healthy", "healthy"]

        demo.set_faults("canary", error_rate=0.5)
        unhealthy = client.get(f"{demo.canary_url}/health")
        assert unhealthy.status_code == 503
        assert unhealthy.json()["status"] == "unhealthy"
        assert client.get(f"{demo.baseline_url}/health").json()["status"] == "healthy"


def test_faults_produce_the_configured_error_rate_and_latency(demo: DemoService) -> None:
    demo.set_faults("canary", error_rate=0.25)
    with httpx.Client(base_url=demo.canary_url) as client:
        statuses = [client.get("/").status_code for _ in range(400)]
        assert set(statuses) <= {200, 500}
        assert abs(statuses.count(500) / 400 - 0.25) < 0.08

        demo.set_faults("canary", error_rate=0, latency="80ms")
        started = time.monotonic()
        assert client.get("/").status_code == 200
        assert time.monotonic() - started >= 0.08
    assert demo.faults("baseline").error_rate == 0


# -- router ----------------------------------------------------------------------------------


def test_router_split_follows_the_weight(demo: DemoService, capfd: pytest.CaptureFixture[str]) -> None:
    demo.set_canary_weight(30)
    with httpx.Client(base_url=demo.router_url) as client:
        answers = [client.get("/") for _ in range(400)]
        assert all(a.json()["version"] == a.headers["x-upstream"] for a in answers)
        canary = sum(a.headers["x-upstream"] == "canary" for a in answers)
        assert abs(canary / 400 - 0.30) < 0.09

        demo.set_canary_weight(0)
        assert {client.get("/").headers["x-upstream"] for _ in range(100)} == {"baseline"}
        demo.set_canary_weight(100)
        assert {client.get("/").headers["x-upstream"] for _ in range(50)} == {"canary"}

        routed = parse_prometheus(client.get("/metrics").text)
    assert sample(routed, "demo_router_requests_total", upstream="canary", code="200") == canary + 50
    assert sample(routed, "demo_router_requests_total", upstream="baseline", code="200") == 400 - canary + 100
    assert sample(routed, "demo_router_canary_weight") == 100
    # Quiet: nothing on stdout or stderr (it would corrupt the TUI).
    assert capfd.readouterr() == ("", "")


def test_router_reuses_pooled_keep_alive_connections(demo: DemoService) -> None:
    with httpx.Client(base_url=demo.router_url) as client:
        for _ in range(50):
            client.get("/")
        # 50 sequential requests: one client connection into the router, one pooled one to
        # baseline (each connection has its thread; counted while the client is still connected).
        names = demo_threads()
    assert names.count("demo-router-conn") == 1
    assert names.count("demo-baseline-conn") == 1


def test_router_passes_upstream_errors_through(demo: DemoService) -> None:
    demo.set_canary_weight(100)
    demo.set_faults("canary", error_rate=1.0)
    with httpx.Client(base_url=demo.router_url) as client:
        response = client.post("/api/orders", json={"item": 1})
    assert response.status_code == 500
    assert response.json() == {"error": "injected fault", "version": "canary"}
    demo.set_faults("canary", error_rate=0)
    head = httpx.head(f"{demo.router_url}/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(b'{"version": "canary"}'))


def test_admin_api_validates_and_applies(demo: DemoService) -> None:
    bad = [
        ("/admin/weight", {"canary_weight": 150}, "canary_weight must be an integer 0..100, got 150"),
        ("/admin/weight", {"canary_weight": "10"}, "canary_weight must be an integer 0..100"),
        ("/admin/weight", {"canary_weight": 10.5}, "canary_weight must be an integer 0..100"),
        ("/admin/weight", {"weight": 10}, "unknown key 'weight'"),
        ("/admin/weight", {}, 'missing key "canary_weight"'),
        ("/admin/weight", [10], "the body must be a JSON object"),
        ("/admin/faults", {"version": "prod", "error_rate": 0.1}, "version must be one of baseline, canary"),
        ("/admin/faults", {"version": "canary", "error_rate": 1.5}, "error_rate must be a number 0..1"),
        ("/admin/faults", {"version": "canary", "error_rate": True}, "error_rate must be a number 0..1"),
        ("/admin/faults", {"version": "canary", "latency": "soon"}, "latency: expected a duration"),
        ("/admin/faults", {"version": "canary", "error_rate": 0.2, "latency": -1}, "latency: a duration cannot"),
        ("/admin/faults", {"version": "canary"}, "nothing to change"),
        ("/admin/faults", {"error_rate": 0.1}, 'missing key "version"'),
    ]
    with httpx.Client(base_url=demo.router_url) as client:
        for path, body, message in bad:
            response = client.post(path, json=body)
            assert response.status_code == 400, (path, body)
            assert message in response.json()["error"], (path, body, response.json())
        garbled = client.post("/admin/weight", content=b"{not json", headers={"Content-Type": "application/json"})
        assert garbled.status_code == 400 and "JSON object" in garbled.json()["error"]
        # A rejected request changes nothing (the valid error_rate above was not applied).
        assert demo.faults("canary").error_rate == 0 and demo.canary_weight == 0

        assert client.get("/admin/weight").status_code == 405
        assert client.get("/admin/nope").status_code == 404

        state = client.post("/admin/weight", json={"canary_weight": 10}).json()
        assert state["canary_weight"] == 10 and state["weights"] == {"baseline": 90, "canary": 10}
        state = client.post("/admin/faults", json={"version": "canary", "error_rate": 0.03, "latency": "200ms"}).json()
        assert state["faults"]["canary"] == {"error_rate": 0.03, "latency": 0.2}
        client.post("/admin/faults", json={"version": "canary", "latency": 0.05})
        state = client.get("/admin/state").json()
    assert state["faults"]["canary"] == {"error_rate": 0.03, "latency": 0.05}  # error_rate kept
    assert state["ports"] == demo.ports
    assert demo.canary_weight == 10


def test_python_knobs_validate(demo: DemoService) -> None:
    with pytest.raises(ValueError, match="error_rate must be a number 0..1"):
        demo.set_faults("canary", error_rate=1.5)
    with pytest.raises(ValueError, match="version must be one of"):
        demo.set_faults("prod", error_rate=0.1)
    with pytest.raises(ValueError, match="canary_weight must be an integer 0..100"):
        demo.set_canary_weight(101)
    with pytest.raises(ValueError, match="latency must be at most 5m"):
        demo.set_faults("canary", latency="1h")
    assert demo.set_faults("baseline", latency="200ms").latency == 0.2


def test_malformed_http_gets_a_400_not_a_traceback(demo: DemoService, capfd: pytest.CaptureFixture[str]) -> None:
    with socket.create_connection(("127.0.0.1", demo.ports["router"]), timeout=2) as raw:
        raw.sendall(b"HELLO\r\n\r\n")
        answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert capfd.readouterr() == ("", "")


# -- files -----------------------------------------------------------------------------------


def test_access_log_lines_are_json_with_the_fields(demo: DemoService) -> None:
    demo.set_canary_weight(50)
    before = time.time()
    with httpx.Client(base_url=demo.router_url) as client:
        for _ in range(20):
            client.get("/api/items?page=2")
        client.post("/api/orders", json={"item": 1})
    lines = demo.access_log_path.read_text().splitlines()
    assert len(lines) == 21
    for line in lines:
        entry = json.loads(line)
        assert set(entry) == {"time", "ts", "upstream", "method", "path", "status", "request_time", "bytes"}
        assert entry["upstream"] in ("baseline", "canary")
        assert entry["status"] == 200
        assert before - 1 < entry["ts"] < time.time() + 1
        assert abs(datetime.fromisoformat(entry["time"]).timestamp() - entry["ts"]) < 0.01
        assert 0 <= entry["request_time"] < 1
        assert entry["bytes"] == len(json.dumps({"version": entry["upstream"]}))
    assert json.loads(lines[0])["path"] == "/api/items?page=2"
    assert json.loads(lines[-1])["method"] == "POST"
    assert stat.S_IMODE(demo.access_log_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(demo.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(demo.inbox_dir.stat().st_mode) == 0o700


def test_access_log_rotates_when_over_its_limit(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "access.json", max_bytes=2000)
    for i in range(60):
        log.write(
            ts=time.time(), upstream="baseline", method="GET", path=f"/{i}", status=200, request_time=0.001, nbytes=23
        )
    log.close()
    rotated = tmp_path / "access.json.1"
    assert log.rotations >= 1 and rotated.exists()
    assert (tmp_path / "access.json").stat().st_size <= 2000
    assert stat.S_IMODE((tmp_path / "access.json").stat().st_mode) == 0o600
    for path in (rotated, tmp_path / "access.json"):
        for line in path.read_text().splitlines():
            json.loads(line)
    last = json.loads((tmp_path / "access.json").read_text().splitlines()[-1])
    assert last["path"] == "/59"


def test_inbox_files_appear_atomically_and_stay_bounded(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    writer = InboxWriter(inbox, every=0.005, keep=1000)
    seen: dict[str, bytes] = {}
    done = threading.Event()

    def watch() -> None:  # what a watcher matching *.json reads while files keep arriving
        while not done.is_set():
            for path in inbox.glob("*.json") if inbox.exists() else ():
                if path.name not in seen:
                    seen[path.name] = path.read_bytes()

    reader = threading.Thread(target=watch)
    reader.start()
    writer.start()
    time.sleep(0.4)
    writer.stop()
    done.set()
    reader.join()

    assert writer.written >= 20 and writer.invalid >= 1
    assert len(seen) >= 10
    for name, content in seen.items():
        assert content == (inbox / name).read_bytes(), f"{name} was read half-written"
    assert not list(inbox.glob(".*")), "temporary files left behind"
    assert stat.S_IMODE(inbox.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in inbox.iterdir())
    files = sorted(inbox.glob("*.json"))
    invalid = []
    for path in files:
        try:
            json.loads(path.read_bytes())
        except ValueError:
            invalid.append(path)
    assert len(invalid) == writer.invalid  # exactly the 1-in-20 we meant, nothing else

    bounded = InboxWriter(inbox, every=60, keep=5)
    bounded.start()  # adopts the earlier files and trims them to 5
    for _ in range(12):
        bounded.write_one()
    bounded.stop()
    remaining = sorted(p.name for p in inbox.glob("*.json"))
    assert len(remaining) == 5
    assert remaining[-1].endswith("-000013.json")  # the newest are kept (1 at start + 12)


# -- load generator and component ------------------------------------------------------------


def test_loadgen_measures_rate_errors_and_latency(tmp_path: Path) -> None:
    config = demo_config(tmp_path, rps=50, canary_weight=100, faults={"canary": {"error_rate": 1.0}})
    with DemoService(config) as service:
        assert service.loadgen is not None
        time.sleep(0.6)
        failing = service.take_sample()
        service.set_faults("canary", error_rate=0, latency="20ms")
        time.sleep(0.2)
        service.take_sample()  # drop the window that straddles the change
        time.sleep(0.6)
        slow = service.take_sample()
    assert failing is not None and slow is not None
    assert failing.error_rate == 1.0 and failing.requests >= 20
    assert slow.error_rate == 0.0
    assert abs(slow.requests_per_s - 50) < 10
    assert slow.latency_p95_ms is not None and 20 <= slow.latency_p95_ms < 500
    assert demo_threads() == []


async def test_component_records_samples_and_stops_cleanly_on_cancel(tmp_path: Path) -> None:
    config = Config(demo=demo_config(tmp_path, rps=20, canary_weight=50, inbox_every=0.2))
    ctx = FakeCtx(config)
    component = DemoComponent(report_every=0.5)
    assert component.name == "demo"
    task = asyncio.create_task(component.run(ctx))
    await asyncio.sleep(2.3)

    service = component.service
    assert service is not None
    code, severity, source, message = ctx.events[0]
    assert (code, severity, source) == (ev.DEMO_LISTENING, "info", "demo")
    listening = r"demo service listening on http://127\.0\.0\.1:(\d+) \(baseline :(\d+), canary :(\d+)\)"
    match = re.fullmatch(listening, message)
    assert match and [int(p) for p in match.groups()] == [service.ports[n] for n in ("router", "baseline", "canary")]

    rates = ctx.values("requests_per_s")
    assert len(rates) >= 3
    assert all(abs(rate - 20) < 3 for rate in rates), rates
    assert ctx.values("error_rate") and set(ctx.values("error_rate")) == {0.0}
    assert ctx.values("latency_p95_ms") and all(v > 0 for v in ctx.values("latency_p95_ms"))
    assert any(list(service.inbox_dir.glob("*.json")))

    # A knob turned through the admin API reaches the operator as an event, via the loop.
    async with httpx.AsyncClient() as client:
        await client.post(f"{service.router_url}/admin/weight", json={"canary_weight": 60})
    await asyncio.sleep(0.05)
    assert (ev.DEMO_CHANGED, "info", "demo", "demo: canary weight 50% -> 60%") in ctx.events

    # Requests stuck in a 5 s injected latency must not hold up the stop.
    service.set_faults("baseline", latency="5s")
    service.set_faults("canary", latency="5s")
    await asyncio.sleep(0.2)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.5
    assert component.service is None
    assert demo_threads() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(service.router_url, timeout=1)


def test_stop_closes_idle_keep_alive_connections_of_outside_clients(tmp_path: Path) -> None:
    service = DemoService(demo_config(tmp_path))
    service.start()
    clients = [httpx.Client(base_url=url) for url in (service.router_url, service.baseline_url, service.canary_url)]
    for client in clients:
        assert client.get("/").status_code == 200  # each now holds an idle keep-alive connection
    started = time.monotonic()
    service.stop()
    assert time.monotonic() - started < 1.0
    assert demo_threads() == []
    for client in clients:
        client.close()


async def test_component_records_nothing_while_paused(tmp_path: Path) -> None:
    class PausableCtx(FakeCtx):
        def __init__(self, config: Config) -> None:
            super().__init__(config)
            self.running = asyncio.Event()
            self.running.set()

        @property
        def paused(self) -> bool:
            return not self.running.is_set()

        async def wait_running(self) -> None:
            await self.running.wait()

    ctx = PausableCtx(Config(demo=demo_config(tmp_path, rps=40)))
    task = asyncio.create_task(DemoComponent(report_every=0.2).run(ctx))
    try:
        await asyncio.sleep(0.5)
        ctx.running.clear()
        await asyncio.sleep(0.1)
        count = len(ctx.records)
        reports = len(ctx.values("requests_per_s"))
        await asyncio.sleep(0.6)
        assert len(ctx.records) == count  # paused: nothing recorded
        ctx.running.set()
        await asyncio.sleep(0.5)
        after = ctx.values("requests_per_s")[reports:]
        assert after and all(abs(rate - 40) < 8 for rate in after), after  # recording resumed
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert demo_threads() == []


async def test_port_in_use_is_a_component_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ctx = FakeCtx(Config(demo=demo_config(tmp_path, port=port, rps=10)))
        with pytest.raises(ComponentError) as caught:
            await DemoComponent().run(ctx)
    assert str(caught.value) == (
        f"demo: cannot listen on 127.0.0.1:{port}: address already in use — "
        "set demo.port to a free port, or 0 to pick one"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert ctx.events == []
    assert demo_threads() == []


async def test_unusable_demo_dir_is_a_component_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a directory")
    ctx = FakeCtx(Config(demo=demo_config(tmp_path, dir=tmp_path / "afile" / "demo")))
    with pytest.raises(ComponentError, match=r"^demo: cannot create .*afile/demo: Not a directory$"):
        await DemoComponent().run(ctx)
    assert demo_threads() == []


def test_standalone_entry_runs_and_stops(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "engine.demo", "--dir", str(tmp_path / "demo")]
    done = subprocess.run(
        command + ["--port", "0", "--rps", "10", "--duration", "1.5"],
        capture_output=True, text=True, timeout=20, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^demo service listening on http://127\.0\.0\.1:\d+ \(baseline :\d+, canary :\d+\)$",
                     done.stdout, re.M)
    assert "req/s" in done.stdout
    assert done.stderr == ""

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = subprocess.run(command + ["--port", str(port)], capture_output=True, text=True, timeout=20, env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith("address already in use — set demo.port to a free port, or 0 to pick one")
