"""A real Prometheus and a real Alertmanager (Debian's `prometheus` and `prometheus-alertmanager`;
.ci/run installs both) on free 127.0.0.1 ports, for tests/test_example_prometheus.py.

    with prometheus_server(config_file, tmp_path) as prom:       # prom.url, prom.query("up")
    with alertmanager_server(config_file, tmp_path) as am:       # am.url, am.alerts()

Without a binary: a failure in CI (CI is set), a skip with the reason on a developer's machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.headlessfixtures import free_port, wait_until

START_TIMEOUT = 30.0


def binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        why = f"{name} is not installed (Debian: apt-get install {package}; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return found


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.url}{path}", params=params, timeout=5)
        answer.raise_for_status()
        return answer.json()

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Prometheus: an instant query's result list."""
        answer = self.get("/api/v1/query", query=promql)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager: the alerts it holds (GET /api/v2/alerts)."""
        return self.get("/api/v2/alerts")


@contextmanager
def _run(argv: list[str], url: str, ready_path: str, log: Path) -> Iterator[Server]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(url, proc, log)
    try:
        wait_until(lambda: _ready(server, ready_path), START_TIMEOUT, f"{Path(argv[0]).name} ready at {url}")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _ready(server: Server, path: str) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"{server.url}: exited with {server.proc.returncode}: {server.log.read_text()[-2000:]}")
    try:
        return httpx.get(f"{server.url}{path}", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def prometheus_server(config: Path, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    argv = [binary("prometheus", "prometheus"), f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    with _run(argv, f"http://127.0.0.1:{port}", "/-/ready", tmp_path / "prometheus.log") as server:
        yield server


@contextmanager
def alertmanager_server(config: Path, tmp_path: Path) -> Iterator[Server]:
    """Clustering off (`--cluster.listen-address=`): no gossip port on 0.0.0.0."""
    port = free_port()
    argv = [binary("prometheus-alertmanager", "prometheus-alertmanager"), f"--config.file={config}",
            f"--storage.path={tmp_path / 'alertmanager'}", f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=", "--log.level=warn"]
    with _run(argv, f"http://127.0.0.1:{port}", "/-/ready", tmp_path / "alertmanager.log") as server:
        yield server
