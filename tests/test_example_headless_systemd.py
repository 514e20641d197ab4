"""examples/headless-systemd/ installed the way its README says, into the test's own HOME: the
unit passes `systemd-analyze --user verify`, and the exact ExecStart argv of the unit (only %h
substituted, as systemd does) runs a real headless engine, which its ExecReload line reloads, an
`opsconsole attach` from an "SSH session" drives, and KillSignal stops cleanly."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.control.client import ControlClient, ControlRefused, ControlUnavailable
from tests.examplekit import EXAMPLES
from tests.headlessfixtures import db_rows, events, wait_until
from tests.nginxrig import opsconsole
from tests.ptyrun import PtyProcess

EXAMPLE = EXAMPLES / "headless-systemd"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit_service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(EXAMPLE / "opsconsole.service")
    return parser["Service"]


def installed_home(home: Path) -> Path:
    """The README's install steps in `home`: the unit, the config, and opsconsole in
    ~/.local/opsconsole/venv (here a link to the opsconsole this test runs). Returns the unit."""
    unit = home / ".config" / "systemd" / "user" / "opsconsole.service"
    unit.parent.mkdir(parents=True)
    shutil.copy(EXAMPLE / "opsconsole.service", unit)
    config = home / ".config" / "opsconsole" / "config.yaml"
    config.parent.mkdir(parents=True)
    shutil.copy(EXAMPLE / "opsconsole.yaml", config)
    venv_bin = home / ".local" / "opsconsole" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = Path(sys.executable).with_name("opsconsole")
    assert script.exists(), f"{script}: the console script of this venv (pip install -e .)"
    (venv_bin / "opsconsole").symlink_to(script)
    return unit


def exec_start(home: Path) -> list[str]:
    """ExecStart as systemd runs it: split like a shell, %h replaced by the home directory."""
    return [word.replace("%h", str(home)) for word in shlex.split(unit_service()["ExecStart"])]


@pytest.fixture
def home(isolated_home: Path) -> Path:
    installed_home(isolated_home)
    # What logind makes for a logged-in (or lingering) user: /run/user/<uid>, 0700.
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
    return isolated_home


@pytest.fixture
def service(home: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(tmp_path / "service.stderr", "wb") as stderr:  # what the journal would get
        proc = subprocess.Popen(exec_start(home), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=stderr, env=dict(os.environ))
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_the_unit_passes_systemd_analyze_verify(home: Path) -> None:
    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze is not installed (Debian: the systemd package); the unit is not verified")
    unit = home / ".config" / "systemd" / "user" / "opsconsole.service"
    done = subprocess.run([SYSTEMD_ANALYZE, "--user", "verify", str(unit)], check=False, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    service = unit_service()
    assert service["KillSignal"] == "SIGTERM" and service["RestartPreventExitStatus"] == "2"


def test_the_installed_config_passes_config_check(home: Path) -> None:
    config = exec_start(home)[exec_start(home).index("--config") + 1]
    done = opsconsole("config", "check", config)
    assert done.returncode == 0 and done.stdout.strip().endswith(": OK"), done.stdout + done.stderr


def test_the_units_execstart_runs_headless_and_an_ssh_session_attaches(
    home: Path, service: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    db = home / ".local" / "state" / "opsconsole" / "history.db"  # the README's default place
    wait_until(lambda: _answering(db, service, tmp_path), 30, "the unit's engine answering on its control socket")
    with ControlClient(db) as client:
        wait_until(lambda: client.snapshot().get("host", "cpu_pct"), 20, "host samples")
        assert "host-monitor" in {c.name for c in client.snapshot().components}

    # systemctl --user reload opsconsole: ExecReload, $MAINPID being the engine's pid.
    reload = [w.replace("$MAINPID", str(service.pid)) for w in shlex.split(unit_service()["ExecReload"])]
    subprocess.run(reload, check=True, timeout=10)
    wait_until(lambda: events(db, "config reloaded%"), 20, "the reload event")

    # Later, from an SSH session of the same user: attach, pause and resume, quit.
    ssh = dict(os.environ, TERM="xterm-256color", SSH_CLIENT="203.0.113.7 50022 22")
    binary = exec_start(home)[0]  # the installed opsconsole, as in the README
    console = PtyProcess([binary, "attach", "--config", str(home / ".config" / "opsconsole" / "config.yaml")], env=ssh)
    try:
        console.wait_for_text("config.yaml · attached", timeout=30)
        console.wait_for_text("host cpu", timeout=15)
        console.send(b"p")
        console.wait_for_text("PAUSED", timeout=10)
        console.send(b"p")
        wait_until(lambda: db_rows(db, "SELECT 1 FROM audit WHERE action = 'resume'"), 10, "the resume audited")
        console.send(b"q")
        assert console.wait(timeout=15) == 0
    finally:
        console.kill()
    assert service.poll() is None, "quitting the attached console leaves the engine running"
    audit = db_rows(db, "SELECT action, origin, address FROM audit ORDER BY t")
    assert audit == [("pause", "attach", "203.0.113.7"), ("resume", "attach", "203.0.113.7")], audit

    # systemctl --user stop opsconsole: KillSignal, then a clean exit 0 (no restart by Restart=on-failure).
    service.send_signal(getattr(signal, unit_service()["KillSignal"]))
    assert service.wait(20) == 0
    assert events(db, "engine stopped") == ["engine stopped"]


def _answering(db: Path, service: subprocess.Popen[bytes], tmp_path: Path) -> bool:
    if service.poll() is not None:
        raise AssertionError(f"the engine exited with {service.returncode}: "
                             f"{(tmp_path / 'service.stderr').read_text()[-3000:]}")
    try:
        with ControlClient(db) as client:
            return client.snapshot().state.value == "running"
    except (ControlUnavailable, ControlRefused):
        return False
