"""`opsconsole rollout ...` and `attach` from a plain shell during an incident, against real
headless engines: no config at all (the engine is discovered), only the history's path, or a
config whose ${SECRET} the shell does not have; several engines are named and one is chosen.

The CLI runs in a private mount namespace whose /tmp/opsconsole-<uid> is an empty tmpfs: other
suites' engines on this machine (their sockets are there) stay invisible, so "the only engine
running for this user" is ours. The engines run outside it, with their sockets under this test's
own $XDG_RUNTIME_DIR, which both sides see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.headlessfixtures import (
    FAST,
    HeadlessProcess,
    canary_section,
    db_rows,
    free_port,
    wait_until,
)
from tests.httpfixtures import HttpFixture
from tests.mountns import fallback_view
from tests.ptyrun import PtyProcess, opsconsole_argv

SECRET = "s3cr3t-token-for-the-pager"
HOLDING = "waiting-for-promotion"


def engine_config(directory: Path, actuator: HttpFixture, service: str = "checkout") -> Path:
    """A headless engine's config holding a ${OPS_SECRET} (an Alertmanager token) it needs to start."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "engine.yaml"
    config.write_text(
        FAST + canary_section(actuator.url("")).replace("service: checkout", f"service: {service}")
        + f"export:\n  alertmanager:\n    urls: ['http://127.0.0.1:{free_port()}']\n"
          "    headers: {Authorization: 'Bearer ${OPS_SECRET}'}\n"
    )
    return config


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The engines' and the CLI's $XDG_RUNTIME_DIR, and the secret in the engines' environment only."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setenv("OPS_SECRET", SECRET)
    return run


@pytest.fixture
def namespace() -> Iterator[list[str]]:
    """The argv prefix that runs a command where /tmp/opsconsole-<uid> is private and empty."""
    with fallback_view() as prefix:
        yield prefix


@pytest.fixture
def shell_dir(tmp_path: Path) -> Path:
    """Where the operator's shell is: nothing of opsconsole's (a foreign config.yaml, even)."""
    where = tmp_path / "elsewhere"
    where.mkdir()
    (where / "config.yaml").write_text("services: {db: {image: postgres}}\n")
    return where


def plain_shell() -> dict[str, str]:
    """The operator's environment: no OPSCONSOLE_* and, above all, not the engine's secret."""
    return {k: v for k, v in os.environ.items() if k != "OPS_SECRET" and not k.startswith("OPSCONSOLE_")}


def shell(prefix: list[str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *opsconsole_argv(*args)], cwd=cwd, env=plain_shell(), check=False,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_rollout_from_a_plain_shell_with_no_config_and_an_unset_secret(
    runtime_dir: Path, namespace: list[str], shell_dir: Path, tmp_path: Path, actuator: HttpFixture
) -> None:
    config = engine_config(tmp_path / "etc", actuator)
    with HeadlessProcess(config) as engine:
        started = shell(namespace, shell_dir, "rollout", "start", "--reason", "release 42")
        assert started.returncode == 0 and started.stdout.startswith("rollout.start: started by"), started
        wait_until(lambda: engine.snapshot().rollout.status == HOLDING, 10, "the rollout holding at 10%")

        status = shell(namespace, shell_dir, "rollout", "status")
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith(f"rollout #1 checkout: {HOLDING} at 10% (stage 1/2, heading to 100%)\n")
        # the same with the history's path alone, and with the engine's config whose secret is unset here
        by_history = shell(namespace, shell_dir, "rollout", "status", "--history", str(engine.db))
        by_config = shell(namespace, shell_dir, "rollout", "status", "--config", str(config))
        heading = status.stdout.splitlines()[0]  # the checks below it move on between two calls
        assert by_history.stdout.splitlines()[0] == by_config.stdout.splitlines()[0] == heading, (by_history, by_config)

        paused = shell(namespace, shell_dir, "rollout", "pause", "--reason", "pager")
        assert paused.returncode == 0, paused.stderr
        wait_until(lambda: engine.snapshot().rollout.status == "paused", 10, "paused from the shell")
        rows = db_rows(engine.db, "SELECT action, origin, ok FROM audit ORDER BY t")
        assert rows == [("rollout.start", "cli", 1), ("rollout.pause", "cli", 1)]
        for done in (started, status, by_history, by_config, paused):
            assert SECRET not in done.stdout + done.stderr
        assert engine.stop() == 0

    gone = shell(namespace, shell_dir, "rollout", "status")
    assert gone.returncode == 1
    assert gone.stderr.startswith("opsconsole: no engine is running for this user"), gone.stderr
    assert "--history PATH" in gone.stderr


def test_several_engines_are_named_and_one_is_chosen(
    runtime_dir: Path, namespace: list[str], shell_dir: Path, tmp_path: Path, actuator: HttpFixture
) -> None:
    one, two = engine_config(tmp_path / "one", actuator), engine_config(tmp_path / "two", actuator, "payments")
    with HeadlessProcess(one) as first, HeadlessProcess(two) as second:
        which = shell(namespace, shell_dir, "rollout", "status")
        assert which.returncode == 2, which
        assert which.stderr.startswith("opsconsole: several engines run for this user; choose one with --history:\n")
        for engine, config in ((first, one), (second, two)):
            assert f"{engine.db} — config {config}, headless, pid {engine.proc.pid}, up " in which.stderr

        chosen = shell(namespace, shell_dir, "rollout", "status", "--history", str(second.db))
        assert chosen.returncode == 0 and chosen.stdout.startswith("rollout payments: idle at 0%"), chosen

        listed = sorted([first.db, second.db], key=lambda db: which.stderr.index(str(db)))
        asked = PtyProcess([*namespace, "env", "-C", str(shell_dir), *opsconsole_argv("rollout", "start")],
                           env=plain_shell())
        try:
            asked.wait_for_text("which one? [1-2, Enter for none]", timeout=30)
            asked.send(b"%d\r" % (listed.index(second.db) + 1))
            assert asked.wait(timeout=30) == 0, asked.text()
        finally:
            asked.kill()
        wait_until(lambda: second.snapshot().rollout.status == HOLDING, 10, "the chosen engine's rollout started")
        assert first.snapshot().rollout.status == "idle", "the other engine was not touched"


def test_a_config_whose_engine_is_not_running_names_the_engines_that_are(
    runtime_dir: Path, namespace: list[str], shell_dir: Path, tmp_path: Path, actuator: HttpFixture
) -> None:
    running = engine_config(tmp_path / "running", actuator)
    idle = tmp_path / "idle.yaml"
    idle.write_text("store: {path: idle/history.db}\n")
    with HeadlessProcess(running) as engine:
        refused = shell(namespace, shell_dir, "rollout", "status", "--config", str(idle))
        assert refused.returncode == 1
        assert f"no engine is running for {tmp_path / 'idle' / 'history.db'}" in refused.stderr
        assert f"engines running for this user (choose one with --history):\n  1. {engine.db} — " in refused.stderr
        both = shell(namespace, shell_dir, "rollout", "status", "--config", str(idle), "--history", str(engine.db))
        assert both.returncode == 2 and "--history and --config both name the engine" in both.stderr


def test_rollout_status_loads_no_config_machinery(runtime_dir: Path, tmp_path: Path, actuator: HttpFixture) -> None:
    """What keeps `rollout status` near 100 ms (bench/cli.py): a socket read, not pydantic, the
    schema, textual or httpx; and no YAML when there is no config file to read."""
    probe = ("import sys; from console.cli import main; code = main(sys.argv[1:]); "
             "print(code, sorted(m for m in ('pydantic', 'textual', 'httpx', 'yaml', 'engine.config.schema') "
             "if m in sys.modules))")
    with HeadlessProcess(engine_config(tmp_path / "etc", actuator)) as engine:
        done = subprocess.run([sys.executable, "-c", probe, "rollout", "status", "--history", str(engine.db)],
                              env=plain_shell(), cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
        assert done.stdout.splitlines()[-1] == "0 []", done
        done = subprocess.run([sys.executable, "-c", probe, "rollout", "status", "--config", str(engine.config)],
                              env=plain_shell(), cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
        assert done.stdout.splitlines()[-1] == "0 ['yaml']", done


def test_attach_with_no_config_takes_the_engines_settings(
    runtime_dir: Path, namespace: list[str], shell_dir: Path, tmp_path: Path, actuator: HttpFixture
) -> None:
    config = engine_config(tmp_path / "etc", actuator)
    with open(config, "a") as f:
        f.write("ui: {refresh: 200ms}\n")
    with HeadlessProcess(config) as engine:
        console = PtyProcess([*namespace, "env", "-C", str(shell_dir), *opsconsole_argv("attach")],
                             env=dict(plain_shell(), TERM="xterm-256color"))
        try:
            console.wait_for_text("engine.yaml · attached", timeout=30)
            console.send(b"q")
            assert console.wait(timeout=20) == 0, console.text()[-2000:]
        finally:
            console.kill()
        hello = engine.client().hello()
        assert hello["ui"]["refresh"] == "200ms" and hello["headless"] is True
        assert SECRET not in str(hello)
        attach_log = Path(hello["logging"]["file"]).with_name("opsconsole-attach.log")
        assert attach_log.exists(), "the attached console logs beside the engine's log, as with a config"
        assert engine.proc.poll() is None, "detaching leaves the engine running"


def test_a_snapshot_of_only_the_rollout(runtime_dir: Path, tmp_path: Path, actuator: HttpFixture) -> None:
    from engine.control.client import ControlRefused

    with HeadlessProcess(engine_config(tmp_path / "etc", actuator)) as engine, engine.client() as client:
        wait_until(lambda: client.snapshot().series, 10, "series in the full snapshot")
        small = client.snapshot(only=("rollout",))
        assert small.rollout is not None and small.rollout.service == "checkout"
        assert small.state.value == "running" and "canary" in small.configured  # the head fields
        assert small.series == () and small.components == () and small.events == ()
        with pytest.raises(ControlRefused, match=r"snapshot: unknown part 'seriess' \(known: alerts, "):
            client.snapshot(only=("seriess",))
