"""The Prometheus exporter (engine/export/) on a real engine: what /metrics says about series, the
rollout, alerts and the engine itself, where it listens, and how its config errors read."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.commands import Command
from engine.config.loader import ConfigError, load_config
from engine.export.metrics import sanitise
from engine.runtime import Engine
from tests.canaryfixtures import Feeder
from tests.headlessfixtures import canary_section, wait_until
from tests.httpfixtures import HttpFixture

ALERT_RULE = ("alerts:\n  - {name: HighErrors, series: 't:app/error_rate', op: '>', value: 0.1, for: 0s,"
              " severity: critical, summary: too many errors}\n")



def metrics_url(engine: Engine) -> str:
    def announced() -> str | None:
        for event in engine.snapshot().events:
            found = re.search(r"metrics (?:exporter listens )?on (http://\S+/metrics)", event.message)
            if found:
                return found.group(1).rstrip(":")
        return None

    return wait_until(announced, 10, "the exporter's address in the events")


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(url, timeout=5).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_metrics_show_series_rollout_alerts_and_the_engine(start_engine, actuator: HttpFixture) -> None:
    feeder = Feeder(every=0.05)
    feeder.set("t:app/requests.total", 42.5)
    feeder.set("t:app/error_rate", 0.5)
    engine = start_engine("export: {prometheus: {listen: '127.0.0.1:0'}}\n" + ALERT_RULE
                          + canary_section(actuator.url("")), components=[feeder])
    engine.submit(Command("rollout.start")).result(10)
    engine.record("t:old", "stale_value", 1.0, t=time.time() - 3600)  # silent for an hour: left out
    url = metrics_url(engine)

    def firing_scrape() -> dict | None:
        samples = scrape(url)
        return samples if value(samples, "opsconsole_alerts", state="firing") == 1 else None

    samples = wait_until(firing_scrape, 10, "the alert firing in /metrics")

    assert value(samples, "opsconsole_series_requests_total", source="t:app", metric="requests.total") == 42.5
    assert value(samples, "opsconsole_series_error_rate", source="t:app", metric="error_rate") == 0.5
    assert not [key for key in samples if key[0] == "opsconsole_series_stale_value"]
    assert value(samples, "opsconsole_alert", alertname="HighErrors", severity="critical", state="firing",
                 silenced="false") == 1
    assert value(samples, "opsconsole_rollout_weight", service="checkout") == 10
    assert value(samples, "opsconsole_rollout_stage", service="checkout") == 1
    assert value(samples, "opsconsole_rollout_info", service="checkout", status="waiting-for-promotion", id="1") == 1
    assert value(samples, "opsconsole_engine_info", version=__import__("engine").__version__,
                 config="history.yaml", state="running") == 1
    assert value(samples, "opsconsole_component_up", component="export", state="running") == 1
    assert value(samples, "opsconsole_component_restarts", component="canary") == 0
    assert value(samples, "process_resident_memory_bytes") > 0
    wait_until(lambda: value(scrape(url), "opsconsole_series_rss_bytes", source="engine", metric="rss_bytes"),
               10, "the engine's self-metrics as series")


def test_a_non_loopback_address_is_allowed_and_said_loudly(start_engine) -> None:
    engine = start_engine("export: {prometheus: {listen: '0.0.0.0:0'}}\n")
    url = metrics_url(engine)
    assert url.startswith("http://0.0.0.0:")
    warning = next(e for e in engine.snapshot().events if "NOT loopback" in e.message)
    assert warning.severity == "warning" and warning.source == "export"
    assert any("NOT loopback" in group.message for group in engine.snapshot().errors)  # the Errors panel
    port = url.split(":")[2].split("/")[0]
    assert "opsconsole_engine_info" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def test_a_port_in_use_is_a_named_component_error(start_engine) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        engine = start_engine(f"export: {{prometheus: {{listen: '127.0.0.1:{port}'}}}}\n")
        view = wait_until(lambda: next((c for c in engine.snapshot().components
                                        if c.name == "export" and c.last_error), None), 10, "the export error")
    assert view.last_error == f"export.prometheus: cannot listen on 127.0.0.1:{port}: Address already in use"


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("9464", "expected host:port, e.g. 127.0.0.1:9464, got '9464'"),
        ("::1:9464", "write an IPv6 address in brackets, e.g. [::1]:9464, got '::1:9464'"),
        ("127.0.0.1:99999", "the port must be 0..65535, got '99999'"),
    ],
)
def test_a_bad_listen_address_names_the_line(tmp_path: Path, listen: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"export:\n  prometheus:\n    listen: '{listen}'\n")
    with pytest.raises(ConfigError) as bad:
        load_config(path)
    assert f"config.yaml:3: export.prometheus.listen: {message}" in str(bad.value)


def test_ipv6_brackets_and_names_are_sanitised(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("export: {prometheus: {listen: '[::1]:9464'}}\n")
    assert load_config(path).config.export.prometheus.address == ("::1", 9464)
    assert sanitise("requests.total") == "requests_total"
    assert sanitise("5xx-rate/s") == "_5xx_rate_s"
