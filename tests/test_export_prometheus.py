"""Both directions with a real Prometheus server (Debian's `prometheus` package; .ci/run installs
it): Prometheus scrapes opsconsole's /metrics, and opsconsole's `promql` collector queries the
scraped value back from Prometheus into a series of its own.

Without the binary: a failure in CI (CI is set), a skip with the reason on a developer's machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.canaryfixtures import Feeder
from tests.headlessfixtures import free_port, wait_until

PROMETHEUS = shutil.which("prometheus")
ANSWER = 42.5


@pytest.fixture
def prometheus_binary() -> str:
    if PROMETHEUS is None:
        why = "the prometheus binary is not installed (Debian: apt-get install prometheus; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return PROMETHEUS


@pytest.fixture
def prometheus(prometheus_binary: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Prometheus on 127.0.0.1 scraping `exporter_port` every second: yields (base URL, exporter port)."""
    port, exporter_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - {{job_name: opsconsole, static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]}}\n"
    )
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [prometheus_binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(base, proc, tmp_path / "prometheus.log"), 30, "prometheus ready")
        yield base, exporter_port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def _ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"prometheus exited with {proc.returncode}: {log.read_text()[-2000:]}")
    try:
        return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def query(base: str, promql: str) -> list[dict]:
    answer = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_opsconsole_and_the_promql_collector_reads_it_back(
    start_engine, prometheus: tuple[str, int]
) -> None:
    base, exporter_port = prometheus
    feeder = Feeder(every=0.2)
    feeder.set("t:app/answer", ANSWER)
    engine = start_engine(
        f"export: {{prometheus: {{listen: '127.0.0.1:{exporter_port}'}}}}\n"
        "collect:\n  tracks:\n    - name: fleet\n      interval: 500ms\n      targets:\n"
        f"        - {{name: prom, url: '{base}', format: promql,"
        " fields: {echo: 'opsconsole_series_answer{source=\"t:app\"}', up: 'up{job=\"opsconsole\"}'}}\n",
        components=[feeder],
    )

    # Direction 1: Prometheus scraped opsconsole's exporter, labels intact.
    scraped = wait_until(lambda: query(base, 'opsconsole_series_answer{source="t:app"}'), 20,
                         "opsconsole's series in Prometheus")
    assert scraped[0]["metric"] == {"__name__": "opsconsole_series_answer", "source": "t:app", "metric": "answer",
                                    "job": "opsconsole", "instance": f"127.0.0.1:{exporter_port}"}
    assert float(scraped[0]["value"][1]) == ANSWER
    assert float(query(base, 'opsconsole_engine_info{state="running"}')[0]["value"][1]) == 1.0

    # Direction 2: the promql collector queried it back into a series of the engine's own.
    echo = wait_until(lambda: engine.snapshot().get("collect:prom", "echo"), 15, "the promql collector's echo")
    assert echo.last == ANSWER
    up = wait_until(lambda: engine.snapshot().get("collect:prom", "up"), 10, "the scrape's up series")
    assert up.last == 1.0
