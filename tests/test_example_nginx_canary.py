"""examples/nginx-canary/ as a user runs it: the example directory copied, its three addresses
edited (the only edit: the two versions' and nginx's ports, which tests must choose free), nginx
started on the example's own nginx.conf, the config checked, the engine started on the example's
opsconsole.yaml, the rollout started with `opsconsole rollout start` as the README says — and
two real backends behind a real Debian nginx promoted to 100%.

Two environment overrides make the stages short enough for a test (the loader's
OPSCONSOLE_<SECTION>__<KEY>, as a user would shorten them to try it): they change timing only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.headlessfixtures import HeadlessProcess, free_port
from tests.nginxrig import (
    FINISHED,
    NGINX,
    Backend,
    backend,
    check_config,
    load,
    needs_nginx,
    opsconsole,
    query,
    wait_for_answer,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nginx-canary"
STABLE, CANARY, NGINX_LISTEN = "127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8080"
FAST = {
    "OPSCONSOLE_CANARY__INTERVAL": "5s",
    "OPSCONSOLE_CANARY__STAGES": "[{weight: 10, hold: 15s}, {weight: 50, hold: 15s}, {weight: 100}]",
}


def edit(directory: Path, edits: dict[str, str]) -> None:
    """Replace each address in every file of the example, as a user would edit them; each one
    must occur, so the example and this test cannot drift apart."""
    seen = dict.fromkeys(edits, 0)
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix != ".md"):
        text = path.read_text()
        for old, new in edits.items():
            seen[old] += text.count(old)
            text = text.replace(old, new)
        path.write_text(text)
    assert all(seen.values()), f"addresses the example no longer has: {[a for a, n in seen.items() if not n]}"


@dataclass
class Running:
    port: int  # nginx's
    engine: HeadlessProcess
    stable: Backend
    canary: Backend


def run_example(example: Path, stack: ExitStack, tmp_path: Path) -> Running:
    """The copied example as a user runs it: two real backends, its three addresses edited, its
    own nginx on its own prefix, `config check`, then the headless engine."""
    assert NGINX is not None
    stable = stack.enter_context(backend("stable", 1, 0.002, 5.0, tmp_path))
    canary = stack.enter_context(backend("canary", 2, 0.002, 5.0, tmp_path))
    port = free_port()
    edit(example, {STABLE: stable.address, CANARY: canary.address, NGINX_LISTEN: f"127.0.0.1:{port}"})
    prefix = example / "nginx"
    # As root, nginx's workers would run as nobody, who cannot enter pytest's 0700 tmp dir.
    user = ["-g", "user root;"] if os.geteuid() == 0 else []
    started = subprocess.run([NGINX, "-p", str(prefix), "-c", "nginx.conf", *user],
                             capture_output=True, text=True, timeout=10, check=False)
    assert started.returncode == 0, started.stderr
    stack.callback(subprocess.run, [NGINX, "-p", str(prefix), "-c", "nginx.conf", "-s", "stop"],
                   capture_output=True, timeout=10, check=False)
    wait_for_answer(port)
    config = example / "opsconsole.yaml"
    check_config(config)
    return Running(port, stack.enter_context(HeadlessProcess(config, stderr_dir=tmp_path)), stable, canary)


def test_the_example_passes_config_check_as_shipped() -> None:
    check_config(EXAMPLE / "opsconsole.yaml")


@needs_nginx
def test_the_example_promotes_a_good_canary_through_nginx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert NGINX is not None
    example = tmp_path / "nginx-canary"
    shutil.copytree(EXAMPLE, example)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)  # the engine and `opsconsole rollout` both read them
    with ExitStack() as stack:
        running = run_example(example, stack, tmp_path)
        port, engine, stable, canary = running.port, running.engine, running.stable, running.canary
        config, prefix = example / "opsconsole.yaml", example / "nginx"
        traffic = stack.enter_context(load(port, 100.0, 3))
        started_rollout = opsconsole("rollout", "start", "--config", str(config), "--reason", "example test")
        assert started_rollout.returncode == 0, started_rollout.stdout + started_rollout.stderr
        deadline = time.monotonic() + 150
        row: tuple[str, int, str] | None = None
        while time.monotonic() < deadline:
            assert engine.proc.poll() is None, engine.stderr()[-3000:]
            rows = query(engine.db, "SELECT status, weight, reason FROM rollouts ORDER BY id DESC LIMIT 1")
            row = rows[0] if rows else None
            if row is not None and row[0] in FINISHED:
                break
            time.sleep(0.5)
        decisions = query(engine.db, "SELECT to_status, weight, reason FROM rollout_decisions ORDER BY t")
        time.sleep(0.5)  # requests in flight during the last reload are answered
        log = prefix / "checkout.access.json"
        offset = log.stat().st_size
        time.sleep(2)  # traffic after the promotion
        served = [json.loads(line) for line in log.read_bytes()[offset:].splitlines(keepends=True)
                  if line.endswith(b"\n")]
        upstream = (prefix / "checkout.upstream").read_text()
        why = "\n".join(f"  {d}" for d in decisions) + f"\nload: {dict(traffic.statuses)}"
    assert row is not None and row[:2] == ("promoted", 100), f"{row}\n{why}"
    assert [weight for to, weight, _ in decisions if to == "running"][:2] == [10, 50], why
    assert f"server {canary.address} weight=1;" in upstream and f"server {stable.address} down;" in upstream
    assert served and {line["upstream_addr"] for line in served} == {canary.address}, served[:5]
