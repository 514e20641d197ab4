"""examples/prometheus/ as shipped, end to end on 127.0.0.1: two real backends (tests/nginxbackend.py)
behind a weighted router (the load balancer the example's http actuator drives), a real Prometheus
with the example's prometheus.yml (only the targets' addresses changed) scraping their /metrics, a
real Alertmanager with the example's alertmanager.yml, and a headless opsconsole on the example's
opsconsole.yaml (addresses and the first stage's hold given as OPSCONSOLE_ overrides).

The rollout is judged from PromQL evidence only: the engine never scrapes the backends itself.
A good canary passes its first stage on those counts; a fault then rolls it back on them, and
the alert it raises arrives in Alertmanager.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.examplekit import EXAMPLES, example_engine
from tests.headlessfixtures import db_rows, wait_until
from tests.nginxrig import LoadGenerator, backend, opsconsole
from tests.promstack import alertmanager_server, prometheus_server
from tests.weightrouter import WeightRouter

EXAMPLE = EXAMPLES / "prometheus"
RATE = 60.0  # requests per second through the router: ~6/s to the canary at 10%


def prometheus_config(tmp_path: Path, ports: dict[str, int]) -> Path:
    """The example's prometheus.yml with each version's target on this test's port."""
    config = yaml.safe_load((EXAMPLE / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            group["targets"] = [f"127.0.0.1:{ports[group['labels']['version']]}"]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def series(engine, source: str, metric: str):
    return engine.snapshot().get(source, metric)


def test_prometheus_example_judges_the_rollout_on_promql_counts_and_alerts_reach_alertmanager(
    tmp_path: Path,
) -> None:
    shutil.copy(EXAMPLE / "alertmanager.yml", tmp_path / "alertmanager.yml")
    with (backend("stable", seed=1, error_rate=0.002, latency_ms=5, log_dir=tmp_path) as stable,
          backend("canary", seed=2, error_rate=0.002, latency_ms=5, log_dir=tmp_path) as canary,
          WeightRouter(stable.port, canary.port) as router,
          prometheus_server(prometheus_config(tmp_path, {"stable": stable.port, "canary": canary.port}),
                            tmp_path) as prom,
          alertmanager_server(tmp_path / "alertmanager.yml", tmp_path) as am):
        overrides = {
            "COLLECT__TRACKS__0__TARGETS__0__URL": prom.url,
            "COLLECT__TRACKS__0__TARGETS__1__URL": prom.url,
            "HEALTH__0__URL": f"http://127.0.0.1:{stable.port}/health",
            "HEALTH__1__URL": f"http://127.0.0.1:{canary.port}/health",
            "EXPORT__ALERTMANAGER__URLS": f"[{am.url}]",
            "CANARY__ACTUATOR__BASE_URL": router.url(),
            "CANARY__STAGES__0__HOLD": "20s",  # shipped: 10m
        }
        load = LoadGenerator(router.port, RATE, seed=3, max_seconds=300).start()
        try:
            with example_engine("prometheus", tmp_path, overrides) as engine:
                # Prometheus scrapes both versions; the PromQL series carry data into opsconsole.
                wait_until(lambda: prom.query('up{job="checkout"} == 1') and len(prom.query('up{job="checkout"} == 1')) == 2,
                           30, "Prometheus scraping both versions")
                per_s = wait_until(lambda: (s := series(engine, "collect:stable", "requests_per_s")) and s.last > RATE / 2 and s,
                                   60, "the stable version's request rate through PromQL")
                assert per_s.last < RATE * 1.5, per_s.last
                counts = wait_until(lambda: (s := series(engine, "collect:stable", "requests")) and sum(s.values) > 0 and s,
                                    30, "per-interval request counts through PromQL")
                assert all(v == int(v) for v in counts.values), f"counter deltas are whole requests: {counts.values}"
                assert series(engine, "collect:canary", "requests").last == 0, "no canary traffic before the rollout"

                started = opsconsole("rollout", "start", "--config", str(engine.config), "--reason", "checkout 2.4.1")
                assert started.returncode == 0, started.stdout + started.stderr
                wait_until(lambda: router.weights[:1] == [10], 20, "the actuator setting 10% on the router")

                # A good canary: the first stage passes on PromQL counts and the rollout moves on.
                wait_until(lambda: (r := engine.snapshot().rollout) and r.weight == 25, 120, "promotion to 25%")
                assert router.weights[:2] == [10, 25]
                promoted = wait_until(lambda: [d for d in _decisions(engine.db) if d[1] == 25], 10,
                                      "the promotion in the history")
                assert promoted[0][2] == "engine", _decisions(engine.db)
                canary_counts = series(engine, "collect:canary", "requests")
                assert canary_counts and sum(canary_counts.values) > 0, "the canary's requests counted through PromQL"

                # A fault on the canary: rolled back on the same counts, and the alert reaches Alertmanager.
                canary.admin(error_rate=0.3)
                final = wait_until(lambda: (r := engine.snapshot().rollout) and r.status == "rolled-back" and r, 120,
                                   "the automatic rollback")
                assert router.weights[-1] == 0, router.weights
                rollback = wait_until(lambda: [d for d in _decisions(engine.db) if d[0] == "rolling-back"], 10,
                                      "the rollback in the history")
                assert rollback[0][2] == "engine", _decisions(engine.db)
                reason = rollback[0][3]
                assert "error_rate" in reason and "errors/requests" in reason, reason
                fired = wait_until(lambda: [a for a in am.alerts() if a["labels"]["alertname"] == "CanaryHighErrorRate"],
                                   90, "CanaryHighErrorRate in Alertmanager's /api/v2/alerts")
                alert = fired[0]
                assert alert["labels"]["severity"] == "critical" and alert["labels"]["service"] == "checkout", alert
                assert alert["status"]["state"] == "active", alert
                assert "5%" in alert["annotations"]["condition"] or "5.0%" in alert["annotations"]["condition"], alert
                assert not [a for a in am.alerts() if a["labels"]["alertname"] == "StableHighErrorRate"]
                assert final.weight == 0
                latency = next(r for r in final.rules if r.metric == "latency_p95_ms")
                assert latency.test.startswith("share") and latency.state == "pass", latency  # on the bucket counts
                assert "paused" not in [d[0] for d in _decisions(engine.db)], _decisions(engine.db)
                assert engine.stop() == 0
        finally:
            load.stop()
    status = opsconsole("rollout", "status", "--json", "--config", str(EXAMPLE / "opsconsole.yaml"))
    assert status.returncode == 1, "no engine after the stop"


def _decisions(db: Path) -> list[tuple[str, int, str, str]]:
    """(to_status, weight, actor, reason) of every rollout decision, oldest first."""
    return [tuple(row) for row in db_rows(db, "SELECT to_status, weight, actor, reason FROM rollout_decisions ORDER BY t")]
