"""Actuators against real things: an HTTP server on 127.0.0.1, a real script, a real nginx with two
real backends (weights verified by counting responses), and the demo's router."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.canary.actuators.base import Actuation, apply_with_retries
from engine.canary.actuators.command import CommandActuator
from engine.canary.actuators.demo import demo_actuator
from engine.canary.actuators.http import HttpActuator
from engine.canary.actuators.nginx import NginxActuator, upstream_text
from engine.canary.config import (
    CommandActuatorConfig,
    DemoActuatorConfig,
    HttpActuatorConfig,
    NginxActuatorConfig,
)
from engine.collect.http1 import HttpClient
from engine.config.schema import DemoConfig
from tests.httpfixtures import HttpFixture, Reply

SET_10 = Actuation("set_weight", 10, "checkout", 3, 2)


def run(coro):  # noqa: ANN001, ANN201 - a tiny helper for coroutine results in sync tests
    return asyncio.run(coro)


# ---------------------------------------------------------------------------- http


def http_config(server: HttpFixture, **extra: object) -> HttpActuatorConfig:
    return HttpActuatorConfig.model_validate({
        "kind": "http", "base_url": server.url(""), "headers": {"Authorization": "Bearer s3cret"},
        "set_weight": {"url": "/canary/enable", "body": {"traffic_percentage": "{weight}", "service": "{service}"}},
        "rollback": {"url": "/canary/rollback?rollout={rollout_id}"},
        **extra,
    })


async def apply_http(config: HttpActuatorConfig, actuation: Actuation, retries: int = 0):  # noqa: ANN201
    async with HttpClient() as client:
        return await apply_with_retries(HttpActuator(config, client), actuation, retries, 0.01)


def test_http_fills_the_templates_and_sends_json() -> None:
    with HttpFixture() as server:
        server.route("/canary/enable", Reply(200, "ok"))
        server.route("/canary/rollback", Reply(204))
        report = run(apply_http(http_config(server), SET_10))
        assert report.ok and report.attempts == 1
        assert report.detail == f"POST {server.url('/canary/enable')}: HTTP 200"
        (hit,) = server.hits("/canary/enable")
        assert json.loads(hit.body) == {"traffic_percentage": 10, "service": "checkout"}  # a number, not "10"
        assert hit.headers["authorization"] == "Bearer s3cret"
        rollback = run(apply_http(http_config(server), Actuation("rollback", 0, "checkout", 3, 2)))
        assert rollback.ok
        assert server.hits("/canary/rollback")[0].query == {"rollout": ["3"]}


def test_http_promote_defaults_to_set_weight_100() -> None:
    with HttpFixture() as server:
        server.route("/canary/enable", Reply(200))
        assert run(apply_http(http_config(server), Actuation("promote", 100, "checkout"))).ok
        assert json.loads(server.hits("/canary/enable")[0].body)["traffic_percentage"] == 100


def test_http_retries_then_succeeds() -> None:
    with HttpFixture() as server:
        server.route("/canary/enable", Reply(503, "busy"), Reply(503, "busy"), Reply(200))
        report = run(apply_http(http_config(server), SET_10, retries=2))
        assert report.ok and report.attempts == 3


def test_http_failure_says_what_the_other_side_said() -> None:
    with HttpFixture() as server:
        server.route("/canary/enable", Reply(409, "canary already at 50%\n"))
        report = run(apply_http(http_config(server), SET_10, retries=1))
        assert not report.ok and report.attempts == 2
        assert report.detail == (f"POST {server.url('/canary/enable')} answered HTTP 409: canary already at 50%")


def test_http_unreachable_is_a_sentence() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = HttpActuatorConfig.model_validate({"kind": "http", "base_url": f"http://127.0.0.1:{port}",
                                                "set_weight": {"url": "/w"}})
    report = run(apply_http(config, SET_10))
    assert not report.ok and report.detail.startswith(f"POST http://127.0.0.1:{port}/w: cannot connect")


def test_http_timeout_is_reported() -> None:
    with HttpFixture() as server:
        server.route("/canary/enable", Reply(hang=True))
        report = run(apply_http(http_config(server, timeout="200ms"), SET_10))
        assert not report.ok and "timed out" in report.detail


# ---------------------------------------------------------------------------- command


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "set-weight.sh"
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o700)
    return path


def command_config(tmp_path: Path, **extra: object) -> CommandActuatorConfig:
    return CommandActuatorConfig.model_validate(
        {"kind": "command", "set_weight": ["./set-weight.sh", "{weight}", "{service}; rm -rf /"], "cwd": tmp_path,
         **extra})


def test_command_runs_without_a_shell_and_records_output(tmp_path: Path) -> None:
    script(tmp_path, 'echo "weight=$1 service=$2"\necho "$1" > weight.txt\n')
    report = run(apply_with_retries(CommandActuator(command_config(tmp_path)), SET_10, 0, 0.01))
    assert report.ok, report.detail
    assert (tmp_path / "weight.txt").read_text() == "10\n"
    # the argument reached the script whole: no shell ever saw "; rm -rf /"
    assert report.data["output"] == "weight=10 service=checkout; rm -rf /"
    assert report.data["exit_code"] == 0
    assert report.detail == "./set-weight.sh 10 'checkout; rm -rf /': exit 0: weight=10 service=checkout; rm -rf /"


def test_command_failure_records_exit_code_and_output(tmp_path: Path) -> None:
    script(tmp_path, 'echo "lb api: 502 from 10.0.0.5" >&2\nexit 3\n')
    report = run(apply_with_retries(CommandActuator(command_config(tmp_path)), SET_10, 1, 0.01))
    assert not report.ok and report.attempts == 2
    assert report.detail.endswith("exited with 3: lb api: 502 from 10.0.0.5")
    assert report.data["exit_code"] == 3


def test_command_timeout_kills_the_script_and_its_children(tmp_path: Path) -> None:
    script(tmp_path, "sleep 30 &\necho $! > child.pid\nsleep 30\n")
    started = time.monotonic()
    report = run(apply_with_retries(CommandActuator(command_config(tmp_path, timeout="300ms")), SET_10, 0, 0.01))
    assert time.monotonic() - started < 5
    assert not report.ok and "did not finish within 0.3s and was killed" in report.detail
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the script's child survived the timeout")


def test_command_missing_program_names_the_directory(tmp_path: Path) -> None:
    report = run(apply_with_retries(CommandActuator(command_config(tmp_path)), SET_10, 0, 0.01))
    assert not report.ok
    assert report.detail == f"cannot run ./set-weight.sh 10 'checkout; rm -rf /': No such file or directory (in {tmp_path})"


# ---------------------------------------------------------------------------- nginx

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
needs_nginx = pytest.mark.skipif(
    NGINX is None and not os.environ.get("CI"),
    reason="nginx is not installed (apt-get install nginx-light); in CI (CI set) this fails instead",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A real nginx (as this user) in front of two real backends, everything under tmp_path."""
    assert NGINX is not None, "nginx is required in CI: .ci/run installs nginx-light"
    with HttpFixture() as stable, HttpFixture() as canary:
        stable.route("/", Reply(200, "stable"))
        canary.route("/", Reply(200, "canary"))
        root = tmp_path / "nginx"
        root.mkdir()
        port = free_port()
        upstream = root / "upstream.conf"
        config = NginxActuatorConfig.model_validate({
            "kind": "nginx", "upstream_file": upstream, "upstream": "checkout",
            "stable": [f"127.0.0.1:{stable.port}"], "canary": [f"127.0.0.1:{canary.port}"],
            "nginx": NGINX, "args": ["-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")],
        })
        upstream.write_text(upstream_text(config, 0))
        user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would drop to nobody
        (root / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
            "events { worker_connections 64; }\n"
            f"http {{ access_log off; client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;"
            f" fastcgi_temp_path {root}/fcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;\n"
            f"  include {upstream};\n"
            f"  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://checkout; }} }}\n}}\n"
        )
        subprocess.run([NGINX, *config.args], check=True, capture_output=True, timeout=10)
        wait_for_split(f"http://127.0.0.1:{port}/", {"stable": 100})  # up and settled before any reload
        try:
            yield {"config": config, "url": f"http://127.0.0.1:{port}/", "upstream": upstream, "root": root}
        finally:
            pid = (root / "nginx.pid").read_text().strip() if (root / "nginx.pid").exists() else ""
            subprocess.run([NGINX, *config.args, "-s", "stop"], capture_output=True, timeout=10)
            if pid:
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                    time.sleep(0.02)


def count(url: str, n: int = 100) -> Counter[str]:
    with httpx.Client() as client:
        return Counter(client.get(url).text for _ in range(n))


def wait_for_split(url: str, expected: dict[str, int], timeout: float = 10.0) -> Counter[str]:
    """nginx reloads asynchronously: poll until 100 requests split exactly as weighted."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            seen = count(url)
        except httpx.TransportError:  # not listening yet
            seen = Counter()
        if dict(seen) == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


@needs_nginx
def test_nginx_weights_are_what_the_servers_see(nginx: dict[str, object]) -> None:
    config, url = nginx["config"], str(nginx["url"])
    assert isinstance(config, NginxActuatorConfig)
    assert dict(count(url)) == {"stable": 100}  # weight 0: the canary is down
    actuator = NginxActuator(config)
    for weight, expected in ((10, {"stable": 90, "canary": 10}), (50, {"stable": 50, "canary": 50}),
                             (100, {"canary": 100})):
        report = run(apply_with_retries(actuator, Actuation("set_weight", weight, "checkout"), 0, 0.01))
        assert report.ok, report.detail
        assert dict(wait_for_split(url, expected)) == expected
    upstream = Path(str(nginx["upstream"]))
    assert stat.S_IMODE(upstream.stat().st_mode) == 0o644 or stat.S_IMODE(upstream.stat().st_mode) == 0o600
    assert not list(upstream.parent.glob(".upstream.conf.*.tmp"))  # no temporary file left behind


@needs_nginx
def test_nginx_failed_test_leaves_the_old_file_and_traffic(nginx: dict[str, object]) -> None:
    config, url = nginx["config"], str(nginx["url"])
    assert isinstance(config, NginxActuatorConfig)
    good = run(apply_with_retries(NginxActuator(config), Actuation("set_weight", 10, "checkout"), 0, 0.01))
    assert good.ok
    assert dict(wait_for_split(url, {"stable": 90, "canary": 10})) == {"stable": 90, "canary": 10}
    upstream = Path(str(nginx["upstream"]))
    before = upstream.read_bytes()
    # A server nginx cannot resolve makes `nginx -t` fail, like a typo in a real config would.
    broken = config.model_copy(update={"canary": ["no-such-host.invalid:80"]})
    report = run(apply_with_retries(NginxActuator(broken), Actuation("set_weight", 50, "checkout"), 0, 0.01))
    assert not report.ok
    assert report.detail.startswith("nginx -t rejected the new upstream.conf:")
    assert report.detail.endswith("; the previous upstream.conf is back in place")
    assert "no-such-host.invalid" in report.detail
    assert upstream.read_bytes() == before
    assert dict(wait_for_split(url, {"stable": 90, "canary": 10})) == {"stable": 90, "canary": 10}


def test_nginx_upstream_text_scales_weights_by_server_count() -> None:
    config = NginxActuatorConfig.model_validate({
        "kind": "nginx", "upstream_file": "/tmp/x.conf", "upstream": "checkout",
        "stable": ["10.0.0.1:80", "10.0.0.2:80"], "canary": ["10.0.0.3:80"]})
    text = upstream_text(config, 10, "checkout")
    # 2 stable servers at 90 each against 1 canary at 20: the canary still gets 20/200 = 10%
    assert "server 10.0.0.1:80 weight=9;" in text and "server 10.0.0.3:80 weight=2;" in text
    assert "server 10.0.0.3:80 down;" in upstream_text(config, 0)
    with pytest.raises(ValueError, match="server address"):
        NginxActuatorConfig.model_validate({**config.model_dump(), "canary": ["10.0.0.3:80; include /etc/passwd"]})


# ---------------------------------------------------------------------------- demo


def test_demo_actuator_moves_the_demo_router(tmp_path: Path) -> None:
    from engine.demo.service import DemoService

    with DemoService(DemoConfig(enabled=True, port=0, rps=0, dir=tmp_path / "demo")) as demo:

        async def move() -> list[bool]:
            async with HttpClient() as client:
                actuator = demo_actuator(DemoActuatorConfig(kind="demo"), demo.router_url, client)
                results = []
                for actuation in (SET_10, Actuation("promote", 100), Actuation("rollback", 0)):
                    report = await apply_with_retries(actuator, actuation, 0, 0.01)
                    results.append(report.ok)
                    if actuation.kind == "set_weight":
                        assert demo.canary_weight == 10
                    if actuation.kind == "promote":
                        assert demo.canary_weight == 100
                return results

        assert run(move()) == [True, True, True]
        assert demo.canary_weight == 0


def test_demo_scenario_fails_the_canary_from_its_weight(tmp_path: Path) -> None:
    """demo.scenario: the weight the actuator sets is what makes the demo's canary fail, or not."""
    from engine.config.schema import DemoFaults, DemoScenario, FaultConfig
    from engine.demo.service import DemoService

    config = DemoConfig(enabled=True, port=0, rps=0, dir=tmp_path / "demo",
                        faults=DemoFaults(canary=FaultConfig(error_rate=0.001)),
                        scenario=DemoScenario(canary_fails_at_weight=10, error_rate=0.05))
    with DemoService(config) as demo:

        async def move(weight: int) -> float:
            async with HttpClient() as client:
                actuator = demo_actuator(DemoActuatorConfig(kind="demo"), demo.router_url, client)
                assert (await apply_with_retries(actuator, Actuation("set_weight", weight), 0, 0.01)).ok
            return demo.faults("canary").error_rate

        assert demo.faults("canary").error_rate == 0.001
        assert run(move(5)) == 0.001
        assert run(move(10)) == 0.05
        assert run(move(50)) == 0.05
        assert run(move(0)) == 0.001  # rolled back: the canary is its old self again
