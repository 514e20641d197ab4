"""The nginx actuator is atomic: when `nginx -t` or the reload fails — including a reload that
`nginx -s reload` reports as sent but the master refuses — the upstream file is back byte for byte,
nginx serves the old weights, and the rollout's recorded weight does not move. Real nginx, real
backends (tests/nginxrig.py), a real headless engine for the last test.

Also `main_config`: checked at config time (exists, includes upstream_file).
"""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from engine.canary.actuators.base import Actuation, Report, apply_with_retries
from engine.canary.actuators.nginx import NginxActuator
from engine.canary.config import NginxActuatorConfig
from engine.canary.nginxconf import read_tree
from engine.config.loader import ConfigError, load_config
from tests.nginxrig import (
    UPSTREAM,
    Nginx,
    Plan,
    Versions,
    backend,
    get,
    needs_nginx,
    nginx,
    nginx_rig,
)


def run_actuation(actuator: NginxActuator, weight: int) -> Report:
    import asyncio

    return asyncio.run(apply_with_retries(actuator, Actuation("set_weight", weight, UPSTREAM), 0, 0.01))


def served(server: Nginx, n: int = 100) -> Counter[str]:
    """Who answered n requests through nginx (smooth weighted round robin: exact shares)."""
    return Counter(get(server.port)[1].split(":", 1)[0] for _ in range(n))


def wait_served(server: Nginx, expected: dict[str, int], timeout: float = 10.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        seen = dict(served(server))
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def actuator_for(server: Nginx, **extra: object) -> NginxActuator:
    config = NginxActuatorConfig.model_validate({
        "kind": "nginx", "upstream_file": server.upstream_file, "upstream": UPSTREAM,
        "stable": [server.stable.address], "canary": [server.canary.address], "nginx": server.binary,
        "args": server.args, "main_config": server.main_config, "timeout": "10s", **extra})
    return NginxActuator(config)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Nginx]:
    with ExitStack() as stack:
        stable = stack.enter_context(backend("stable", 1, 0.0, 1.0, tmp_path))
        canary = stack.enter_context(backend("canary", 2, 0.0, 1.0, tmp_path))
        yield stack.enter_context(nginx(tmp_path / "nginx", stable, canary))


@contextmanager
def taken_port() -> Iterator[int]:
    """A port another process listens on, so nginx cannot bind it (SO_REUSEADDR does not help)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------------------- the actuator alone


@needs_nginx
def test_a_reload_the_master_refuses_puts_the_old_file_back(rig: Nginx) -> None:
    """`nginx -t` passes (it does not bind), `nginx -s reload` exits 0, the master cannot bind a
    port a colleague's pending change added and keeps the old configuration."""
    actuator = actuator_for(rig)
    first = run_actuation(actuator, 10)
    assert first.ok and first.detail.endswith("canary 10%, nginx reloaded"), first.detail
    assert wait_served(rig, {"stable": 90, "canary": 10}) == {"stable": 90, "canary": 10}
    rig.upstream_file.chmod(0o640)
    before = snapshot(rig.upstream_file)
    with taken_port() as port:
        rig.extra_file.write_text(f"server {{ listen 127.0.0.1:{port}; return 204; }}\n")
        assert subprocess.run(rig.command("-t"), capture_output=True, check=False).returncode == 0  # -t cannot see it
        report = run_actuation(actuator, 50)
        assert not report.ok
        assert f"bind() to 127.0.0.1:{port} failed (98: Address already in use)" in report.detail, report.detail
        assert report.detail.startswith("nginx -s reload was not taken: the nginx master (pid "), report.detail
        assert report.detail.endswith("; the previous upstream.conf is back in place"), report.detail
        assert snapshot(rig.upstream_file) == before
        assert dict(served(rig)) == {"stable": 90, "canary": 10}  # what nginx serves is what is on disk
    rig.extra_file.write_text("")
    assert run_actuation(actuator, 50).ok  # the port is free again: the same actuation works
    assert wait_served(rig, {"stable": 50, "canary": 50}) == {"stable": 50, "canary": 50}


@needs_nginx
def test_nginx_not_running_leaves_the_file_as_it_was(rig: Nginx) -> None:
    before = snapshot(rig.upstream_file)
    rig.stop()
    report = run_actuation(actuator_for(rig), 10)
    assert not report.ok
    # The actuator's own `nginx -t` leaves an empty pid file behind when no nginx runs.
    assert report.detail.startswith("nginx -s reload failed: nginx: [error] invalid PID number"), report.detail
    assert f"(the pid file {rig.root / 'nginx.pid'} is empty: is nginx running?)" in report.detail
    assert report.detail.endswith("; the previous upstream.conf is back in place")
    assert snapshot(rig.upstream_file) == before


@needs_nginx
def test_a_new_upstream_file_is_removed_when_the_reload_fails(rig: Nginx) -> None:
    """No previous file: a failure leaves none (a glob include picks the new file up)."""
    (rig.root / "conf.d").mkdir()
    # A server that passes to `other`, so the config check knows the upstream is used.
    rig.extra_file.write_text(f"include {rig.root}/conf.d/*.conf;\n"
                              f"server {{ listen unix:{rig.root}/other.sock; location / {{ proxy_pass http://other; }} }}\n")
    new = rig.root / "conf.d" / "other.conf"
    rig.stop()
    report = run_actuation(actuator_for(rig, upstream_file=new, upstream="other"), 10)
    assert not report.ok and "nginx -s reload failed" in report.detail, report.detail
    assert not new.exists() and not list(new.parent.iterdir())


@needs_nginx
def test_a_stale_pid_file_naming_another_process_is_not_signalled(rig: Nginx) -> None:
    """nginx -s reload would SIGHUP whatever process holds the pid now; the actuator refuses."""
    pid_file = rig.root / "nginx.pid"
    real = pid_file.read_text()
    before = snapshot(rig.upstream_file)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # SIGHUP would end it
    try:
        pid_file.write_text(f"{other.pid}\n")
        report = run_actuation(actuator_for(rig), 10)
        time.sleep(0.2)
        alive = other.poll() is None
    finally:
        pid_file.write_text(real)
        other.kill()
        other.wait()
    assert not report.ok
    assert f"names pid {other.pid}, which is not nginx" in report.detail and "not signalling it" in report.detail
    assert alive, "the other process got the reload signal"
    assert snapshot(rig.upstream_file) == before
    assert dict(served(rig)) == {"stable": 100}


# ---------------------------------------------------------------------------- main_config at config time


def write_config(tmp_path: Path, main: str, upstream_file: str = "nginx/upstream.conf", args: str = "[]") -> Path:
    path = tmp_path / "opsconsole.yaml"
    path.write_text(
        "canary:\n  service: checkout\n  stages: [{weight: 10, hold: 1m}, {weight: 100}]\n"
        f"  actuator: {{kind: nginx, upstream_file: {upstream_file}, upstream: checkout,"
        f" stable: ['127.0.0.1:1'], canary: ['127.0.0.1:2'], main_config: {main}, args: {args}}}\n")
    return path


def nginx_conf(root: Path, http_body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    main = root / "nginx.conf"
    main.write_text(f"events {{}}\nhttp {{\n{http_body}\n}}\n")
    return main


def test_main_config_relative_to_the_config_file_and_including_the_upstream_file(tmp_path: Path) -> None:
    nginx_conf(tmp_path / "nginx", "  include upstream.conf;")  # relative to nginx.conf's directory
    loaded = load_config(write_config(tmp_path, "nginx/nginx.conf"), env={})
    assert loaded.config.canary.actuator.main_config == tmp_path / "nginx" / "nginx.conf"


def test_main_config_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "nginx/missing.conf")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == (
        f"{path}:4: canary.actuator.main_config: {tmp_path}/nginx/missing.conf does not exist; "
        "the nginx main config this upstream file is included from")


def test_main_config_that_never_includes_the_upstream_file_is_a_config_error(tmp_path: Path) -> None:
    main = nginx_conf(tmp_path / "nginx", "  # include upstream.conf;\n  include conf.d/*.conf;\n"
                                          "  log_format x 'include upstream.conf;';")
    (tmp_path / "nginx" / "conf.d").mkdir()
    (tmp_path / "nginx" / "conf.d" / "app.conf").write_text("upstream checkout { server 127.0.0.1:1; }\n")
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, "nginx/nginx.conf"), env={})
    assert (f"canary.actuator.main_config: nginx main config {main} never includes upstream_file "
            f"{tmp_path}/nginx/upstream.conf: nginx would not serve these weights (upstream checkout is defined "
            f"in {tmp_path}/nginx/conf.d/app.conf instead)") in str(err.value)


def test_main_config_and_c_in_args_is_a_config_error(tmp_path: Path) -> None:
    nginx_conf(tmp_path / "nginx", "  include upstream.conf;")
    with pytest.raises(ConfigError, match="give the main config either here or as -c in args, not both"):
        load_config(write_config(tmp_path, "nginx/nginx.conf", args="['-c', '/etc/nginx/nginx.conf']"), env={})


def test_includes_follow_nginx_globs_and_skip_dot_files(tmp_path: Path) -> None:
    main = nginx_conf(tmp_path, "  include sites/*;\n  include 'quoted dir/x.conf';")
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "b.conf").write_text("server { include snippets/up.conf; }\n")
    (tmp_path / "sites" / "a.conf").write_text("# nothing\n")
    (tmp_path / "sites" / ".upstream.conf.123.tmp").write_text("upstream broken {}\n")
    (tmp_path / "quoted dir").mkdir()
    (tmp_path / "quoted dir" / "x.conf").write_text("")
    tree = read_tree(main)
    # Relative includes are relative to the main config's directory, wherever they are written.
    assert [p.relative_to(tmp_path).as_posix() for p in tree.files] == [
        "nginx.conf", "sites/a.conf", "sites/b.conf", "quoted dir/x.conf"]
    assert tree.unreadable == [(tmp_path / "snippets" / "up.conf", "No such file or directory")]


# ---------------------------------------------------------------------------- through the engine


@needs_nginx
def test_a_refused_reload_holds_the_rollout_at_its_recorded_weight(tmp_path: Path) -> None:
    """A rollout at 10% whose promotion to 50% nginx refuses: it pauses at 10%, says why, the
    file on disk is the 10% file and nginx still sends 10% of the traffic to the canary."""
    plan = Plan(stages=((10, 10.0), (50, 20.0), (100, 0.0)))
    with nginx_rig(tmp_path, Versions(stable_error=0.0, canary_error=0.0, seed=7), plan) as rig, taken_port() as port:
        rig.wait_for(lambda r: r.weight == 10, "the 10% stage", 30)
        at_10 = rig.nginx.upstream_file.read_bytes()
        rig.nginx.extra_file.write_text(f"server {{ listen 127.0.0.1:{port}; return 204; }}\n")
        row = rig.wait_for(lambda r: r.status != "running", "the promotion attempt", plan.hold(10) + 60)
        refused = time.time()
        time.sleep(3)  # traffic after the refusal
        status = rig.status()
        lines = [line for line in rig.nginx.access_lines(since=refused) if line["msec"] >= refused]
        on_disk = rig.nginx.upstream_file.read_bytes()
        why = rig.explain()
    assert (row.status, row.weight) == ("paused", 10), why
    assert row.reason.startswith("could not promote to 50%, held at 10% and paused:"), row.reason
    assert f"bind() to 127.0.0.1:{port} failed" in row.reason and "back in place" in row.reason, row.reason
    assert (status["status"], status["weight"]) == ("paused", 10), status
    assert on_disk == at_10
    canary = sum(line["upstream"] == rig.canary.address for line in lines)
    assert len(lines) > 100 and abs(canary / len(lines) - 0.10) < 0.03, (canary, len(lines))
