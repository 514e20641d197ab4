"""opsconsole in a real pseudo-terminal: it starts with live panels, and a hang-up ends it in < 2 s."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ptyrun import PtyProcess, opsconsole_argv

PANEL_TITLES = ("Throughput", "Memory", "Errors", "Gaps", "Health", "Rollout")


@pytest.fixture
def console(demo_config: Path) -> Iterator[PtyProcess]:
    env = dict(os.environ, TERM="xterm-256color")
    proc = PtyProcess(opsconsole_argv("--config", str(demo_config)), cols=120, rows=40, env=env)
    yield proc
    proc.kill()


def engine_stopped_recorded(db: Path) -> bool:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT count(*) FROM events WHERE message = 'engine stopped'").fetchone()
    return rows[0] == 1


def test_starts_with_all_six_panels_and_live_memory(console: PtyProcess) -> None:
    console.wait_for_text("Rollout", timeout=20)
    for title in PANEL_TITLES:
        assert title in console.text()
    console.wait_for_text("mem", timeout=10)


@pytest.mark.parametrize("how", ["sighup", "terminal-closed"])
def test_hangup_exits_within_two_seconds_and_stops_the_engine(
    console: PtyProcess, demo_config: Path, how: str
) -> None:
    console.wait_for_text("Rollout", timeout=20)
    console.read_for(1.0)  # let the engine settle into its loops
    started = time.monotonic()
    if how == "sighup":
        console.signal(signal.SIGHUP)
    else:
        console.close_terminal()
    code = console.wait(timeout=5)
    elapsed = time.monotonic() - started
    assert code is not None, "opsconsole kept running after the hang-up"
    assert elapsed < 2.0, f"took {elapsed:.2f}s to exit"
    assert engine_stopped_recorded(demo_config.parent / "history.db")


def test_bad_config_exits_2_before_opening_the_terminal_ui(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("ui:\n  refresh: fast\n")
    proc = PtyProcess(opsconsole_argv("--config", str(bad)))
    try:
        assert proc.wait(timeout=20) == 2
        assert "config.yaml:2: ui.refresh:" in proc.text()
        assert not (tmp_path / "history.db").exists()
    finally:
        proc.kill()
