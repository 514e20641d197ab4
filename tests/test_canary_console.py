"""The operator's side: keys in the Rollout panel, the keyboard-only confirmation, and a real
engine behind the console: press R, give a reason, confirm, see the rollback and its audit row."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from console.app import OpsConsoleApp
from console.screens.confirm import ConfirmScreen
from engine.commands import Command
from tests.canaryfixtures import CANARY, Feeder, http_actuator, query, running, write_config
from tests.httpfixtures import HttpFixture
from tests.ptyrun import PtyProcess, opsconsole_argv


@pytest.fixture
def server(actuator: HttpFixture) -> HttpFixture:
    """tests/conftest.py's actuator: set-weight, rollback and promote answered 200, calls recorded."""
    return actuator


def panel_text(app: OpsConsoleApp) -> str:
    return " ".join(app.query_one("#rollout").body.plain.split())  # type: ignore[attr-defined]


async def settle(app: OpsConsoleApp, pilot, predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await app.workers.wait_for_complete()
        app.refresh_now()
        await pilot.pause()
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"not reached in {timeout}s; panel: {panel_text(app)}")


async def test_rollback_key_confirm_and_audit(tmp_path: Path, server: HttpFixture, monkeypatch) -> None:
    monkeypatch.setenv("SSH_CLIENT", "198.51.100.7 52311 22")
    feeder = Feeder()
    feeder.set(CANARY, 0.001)
    canary = ("  interval: 50ms\n  window: 200ms\n  stages: [{weight: 5, hold: 1h}, {weight: 100}]\n"
              f"  rules: [{{series: '{CANARY}', max: 0.01, consecutive: 3, total: 10}}]\n")
    with running(write_config(tmp_path, http_actuator(server.url("")), canary), feeder) as engine:
        engine.submit(Command("rollout.start")).result(10)
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            # RUNNING shows at once; the rule's value only after the first analysis check.
            await settle(app, pilot, lambda: "RUNNING" in panel_text(app) and "error_rate 0.1%" in panel_text(app))
            body = panel_text(app)
            assert "[5] → 100" in body and "error_rate 0.1% / 1.0% PASS 0/3 consecutive · 0/10 total" in body
            assert "keys: P promote · G promote to 100% · H hold · F freeze · R roll back" in body
            await pilot.press("R")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press(*"canary 500s on checkout")
            await pilot.press("y")  # typed into the reason: not an answer yet
            assert isinstance(app.screen, ConfirmScreen) and not server.hits("/canary/rollback")
            await pilot.press("backspace", "enter")
            await pilot.press("y")
            await settle(app, pilot, lambda: "ROLLED-BACK" in panel_text(app))
            body = panel_text(app)
            assert "last: rolled back at 5% by" in body and "@198.51.100.7: canary 500s on checkout at" in body
            assert "keys: S start" in body
    assert len(server.hits("/canary/rollback")) == 1
    (row,) = query(tmp_path / "history.db", "SELECT address, origin, args, result, ok FROM audit "
                                            "WHERE action = 'rollout.rollback'")
    address, origin, args, result, ok = row
    assert (address, origin, ok) == ("198.51.100.7", "tui", 1)
    assert json.loads(args)["reason"] == "canary 500s on checkout"
    assert json.loads(args)["context"]["weight"] == 5
    assert result.startswith("rolled back at 5% by ")


async def test_counted_evidence_from_a_real_engine_reads_inconclusive_with_its_n(tmp_path: Path,
                                                                               server: HttpFixture) -> None:
    """Request counts too few for min_requests: the real analysis calls it INCONCLUSIVE, and the
    panel reads out the requests judged and what it needs, beside "canary up OK"."""
    feeder = Feeder()
    source = CANARY.rsplit("/", 1)[0]
    for metric, value in (("requests", 2.0), ("errors", 0.0), ("unavailable", 0.0), ("error_rate", 0.0)):
        feeder.set(f"{source}/{metric}", value)
    canary = ("  interval: 100ms\n  window: 2s\n  min_requests: 100000\n  inconclusive_limit: 10000\n"
              "  stages: [{weight: 5, hold: 1h}, {weight: 100}]\n"
              f"  rules: [{{series: '{CANARY}', max: 0.01, consecutive: 3, total: 10}}]\n")
    with running(write_config(tmp_path, http_actuator(server.url("")), canary), feeder) as engine:
        engine.submit(Command("rollout.start")).result(10)
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, lambda: "INCONCLUSIVE" in panel_text(app))
            body = panel_text(app)
            assert re.search(r"error_rate 0\.0% \(0/\d+ in [\d.]+m?s\) / 1\.0% INCONCLUSIVE \d+ req(uests)?, "
                             r"need 100000", body), body
            assert "canary up OK 0/3 consecutive" in body
            assert re.search(r"inconclusive \d+/10000 checks in a row", body), body


async def test_promote_full_needs_a_second_distinct_confirmation(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")))) as engine:
        engine.submit(Command("rollout.start")).result(10)
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, lambda: "RUNNING" in panel_text(app) or "PAUSED" in panel_text(app))
            await pilot.press("G")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ConfirmScreen) and "skipping 10 → 50 → 100" in screen.question
            await pilot.press("enter", "y", "y")  # a second y is not the second confirmation
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen) and not server.hits("/canary/promote")
            await pilot.press("n")  # and n cancels at any step
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen) and not server.hits("/canary/promote")
            await pilot.press("G", "enter", "y", "f")
            await settle(app, pilot, lambda: "PROMOTED" in panel_text(app))
    assert len(server.hits("/canary/promote")) == 1


async def test_read_only_console_refuses_rollout_keys_visibly(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url(""))), read_only=True) as engine:
        app = OpsConsoleApp(engine, refresh=60.0, read_only=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, lambda: "IDLE" in panel_text(app))
            assert "keys: read-only — rollout verbs are disabled" in panel_text(app)
            await pilot.press("S", "R")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            notices = [text for _, _, text in app.notices]
            assert "read-only: starting a rollout is disabled (started with --read-only)" in notices
            assert "read-only: rolling back is disabled (started with --read-only)" in notices
    assert not server.requests


def test_hangup_pauses_a_running_rollout_before_exit(tmp_path: Path, server: HttpFixture) -> None:
    """A dropped SSH session: SIGHUP to a real opsconsole in a pty; the rollout is paused, recorded."""
    feeder_free = ("  interval: 100ms\n  window: 1s\n  stages: [{weight: 5, hold: 1h}, {weight: 100}]\n"
                   "  no_data: breach\n"  # nothing feeds the series; keep it from pausing by itself
                   f"  rules: [{{series: '{CANARY}', max: 0.01, consecutive: 1000}}]\n"
                   "  auto_start: true\n")
    loaded = write_config(tmp_path, http_actuator(server.url("")), feeder_free,
                          top="logging: {file: opsconsole.log}\n")
    assert loaded.path is not None
    proc = PtyProcess(opsconsole_argv("--config", str(loaded.path)), env=dict(os.environ, TERM="xterm-256color"))
    try:
        proc.wait_for_text("RUNNING", timeout=20)
        server.wait_for_hits("/canary/enable", 1, 10)
        proc.signal(signal.SIGHUP)
        assert proc.wait(timeout=5) is not None
    finally:
        proc.kill()
    db = tmp_path / "history.db"
    assert query(db, "SELECT status, weight FROM rollouts") == [("paused", 5)]
    (message,) = query(db, "SELECT message FROM events WHERE kind = 'rollout' ORDER BY id DESC LIMIT 1")[0]
    assert message.startswith("paused at 5% (stage 1/2): the engine is stopping")
    assert not server.hits("/canary/rollback")
