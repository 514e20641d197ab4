"""What the tool creates is private to its user whatever the umask, and a refused start creates
nothing (issue 18, drills 5 and 7). A real `opsconsole --headless` process each time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.ptyrun import opsconsole_argv

CONFIG = """\
monitor:
  host: {interval: 1s}
backup: {every: 0s}
"""


def start(config: Path, state: Path, umask: int) -> subprocess.Popen[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(state), "XDG_RUNTIME_DIR": str(state.parent / "run")}
    return subprocess.Popen([*opsconsole_argv(), "--headless", "--config", str(config)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=lambda: os.umask(umask))


def test_under_umask_000_every_directory_and_file_created_is_private(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    config = tmp_path / "opsconsole.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    state = tmp_path / "fresh" / "state"  # neither exists: both are created by the engine
    engine = start(config, state, 0o000)
    history = state / "opsconsole" / "history.db"
    deadline = time.monotonic() + 60
    while not history.exists() and engine.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # a flush or two: the -wal/-shm files and the log exist too
    engine.send_signal(signal.SIGTERM)
    _, stderr = engine.communicate(timeout=30)
    assert history.exists(), stderr
    created = [tmp_path / "fresh", *sorted((tmp_path / "fresh").rglob("*"))]
    modes = {str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777) for p in created}
    wide = {p: m for p, m in modes.items() if int(m, 8) & 0o077}
    assert not wide, f"created readable or writable by others under umask 000: {wide}"
    assert modes["fresh"] == modes["fresh/state"] == "0o700"


def test_a_refused_start_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    (tmp_path / "history-dir").mkdir()
    config = tmp_path / "opsconsole.yaml"
    config.write_text(CONFIG + f"store:\n  path: {tmp_path / 'history-dir'}\n"
                      f"logging:\n  file: {tmp_path / 'logs' / 'opsconsole.log'}\n", encoding="utf-8")
    engine = start(config, tmp_path / "state", 0o022)
    _, stderr = engine.communicate(timeout=60)
    assert engine.returncode == 1, stderr  # as when the history cannot be opened
    assert (f"opsconsole: the engine could not start: {config}:5: store.path: {tmp_path / 'history-dir'} is a "
            "directory: set store.path to a file") in stderr
    assert not (tmp_path / "logs").exists()  # not even an empty log file
    assert not (tmp_path / "state").exists()
    assert list((tmp_path / "history-dir").iterdir()) == []
