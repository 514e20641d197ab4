"""The rollback window through the console (issue 17, item 3): promote to 100% with G, see how long
R still undoes it, press R, confirm, see ROLLED-BACK and the actuator's rollback call; after the
window, R is refused with the sentence that says when it closed. A real engine, a real HTTP
actuator (tests/httpfixtures.py records every actuation), Textual's Pilot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.app import OpsConsoleApp
from console.screens.confirm import ConfirmScreen
from engine.commands import Command
from tests.canaryfixtures import http_actuator, running, status, wait_until, write_config
from tests.httpfixtures import HttpFixture
from tests.test_canary_console import panel_text, settle


def canary(window: str) -> str:
    return f"  interval: 50ms\n  stages: [{{weight: 10, hold: manual}}, {{weight: 100}}]\n  rollback_window: {window}\n"


@pytest.fixture
def server(actuator: HttpFixture) -> HttpFixture:
    """tests/conftest.py's actuator: set-weight, rollback and promote answered 200, calls recorded."""
    return actuator


async def test_promote_full_then_R_rolls_the_promotion_back(tmp_path: Path, server: HttpFixture) -> None:
    config = write_config(tmp_path, http_actuator(server.url("")), canary("10m"))
    with running(config) as engine:
        engine.submit(Command("rollout.start")).result(10)
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, lambda: "WAITING-FOR-PROMOTION" in panel_text(app))
            await pilot.press("G", "enter", "y", "f")
            await settle(app, pilot, lambda: "PROMOTED" in panel_text(app))
            body = panel_text(app)
            assert re.search(r"promoted \d+s ago · R (rolls back|undoes) until \d\d:\d\d", body), body
            assert "R roll back" in body  # the keys line offers it
            await pilot.press("R")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ConfirmScreen)
            assert re.search(r"Undo the promotion of checkout #1 \(100% since \d\d:\d\d:\d\d, rollback window open "
                             r"until \d\d:\d\d:\d\d\): all traffic back to the stable version", screen.question)
            await pilot.press(*"bad at full traffic", "enter", "y")
            await settle(app, pilot, lambda: "ROLLED-BACK" in panel_text(app))
            body = panel_text(app)
            assert "weight 0%" in body and "last: rolled back at 100% by" in body and "bad at full traffic" in body
            assert re.search(r"rolled back \d+s ago after \d+s in stage", body), body
    assert len(server.hits("/canary/promote")) == 1
    assert len(server.hits("/canary/rollback")) == 1


async def test_after_the_window_R_is_refused_with_when_it_closed(tmp_path: Path, server: HttpFixture) -> None:
    config = write_config(tmp_path, http_actuator(server.url("")), canary("200ms"))
    with running(config) as engine:
        engine.submit(Command("rollout.start")).result(10)
        engine.submit(Command("rollout.promote_full")).result(10)
        wait_until(lambda: "rollback" not in engine.snapshot().rollout.verbs, what="the window to close")
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, lambda: "PROMOTED" in panel_text(app))
            assert re.search(r"ago · rollback (window )?closed (at )?\d\d:\d\d", panel_text(app)), panel_text(app)
            assert "R roll back" not in panel_text(app)
            await pilot.press("R")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            (notice,) = [text for _, _, text in app.notices if text.startswith("roll back:")]
            assert re.fullmatch(r"roll back: the rollout was promoted to 100% at \d\d:\d\d:\d\d; its rollback "
                                r"window \(200ms\) closed at \d\d:\d\d:\d\d", notice), notice
        assert status(engine) == "promoted"
    assert not server.hits("/canary/rollback")
