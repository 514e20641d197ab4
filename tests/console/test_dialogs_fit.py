"""Every dialog fits at 80x24 with its keys on screen (issue 17 item 4): the box lies within the
screen and the line that says which keys work is visible, not scrolled away or cut."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from console_fakes import FakeSource
from test_compact_layout import incident, screen_text

from console.app import OpsConsoleApp
from console.screens.chart import ChartScreen
from console.screens.config_view import ConfigScreen, from_loaded
from console.screens.confirm import ConfirmScreen
from console.screens.error_detail import ErrorDetailScreen
from console.screens.event_log import EventLogScreen
from console.screens.help import HelpScreen
from console.screens.rollout_timeline import RolloutTimelineScreen
from console.screens.silence import SilenceScreen
from console.screens.silences import SilencesScreen
from console.screens.whatif import WhatIfScreen
from engine.config.loader import load_config
from engine.history.opener import open_history
from engine.history.runs import find_runs
from engine.history.source import HistorySource
from tests.reviewfixtures import synthetic_history


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_history(tmp_path_factory.mktemp("dialogs") / "h")


def timeline(history: Path) -> RolloutTimelineScreen:
    opened = open_history(history)
    first = opened.db.time_range()
    assert first is not None
    return RolloutTimelineScreen(opened.db, find_runs(opened.db, first[0]), first[1], jumps=False)


def what_if(history: Path) -> WhatIfScreen:
    config = history.parent / "config.yaml"
    return WhatIfScreen(HistorySource(open_history(history)), config, load_config(config).config)


SNAPSHOT = incident()
# dialog -> (how to build it, what its keys line says)
DIALOGS: dict[str, tuple[Callable[[Path], object], str]] = {
    "confirm": (lambda h: ConfirmScreen("disable target 'api'? Collection stops and its series show a gap until "
                                        "enabled."), "y: yes    n / q / escape: no"),
    "rollout confirm": (lambda h: ConfirmScreen("Roll back demo #1 from 10% to 0%? Traffic goes back to the stable "
                                                "version.", title="Roll back", verb="roll back", reason=True),
                        "enter: next · escape: cancel"),
    "silence": (lambda h: SilenceScreen(SNAPSHOT.alerts, SNAPSHOT), "enter: silence · escape: cancel"),
    "silences": (lambda h: SilencesScreen(SNAPSHOT), "q: close"),
    "help": (lambda h: HelpScreen(False), "q / escape / ?: close"),
    "what-if": (what_if, "q / escape: close"),
    "chart": (lambda h: ChartScreen("collect:baseline/requests_per_s"), "q/escape: close"),
    "event log": (lambda h: EventLogScreen(h), "q: close"),
    "rollout timeline": (timeline, "q / escape: close"),
    "config": (lambda h: ConfigScreen(from_loaded(load_config(h.parent / "config.yaml"))), "q / escape: close"),
    "error detail": (lambda h: ErrorDetailScreen(SNAPSHOT.errors[0], now=SNAPSHOT.taken_at), "q / escape / enter: close"),
}


@pytest.mark.parametrize("name", list(DIALOGS))
async def test_dialog_fits_at_80x24_with_its_keys_visible(name: str, history: Path) -> None:
    make, keys = DIALOGS[name]
    app = OpsConsoleApp(FakeSource(SNAPSHOT), refresh=60.0)  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(make(history))  # type: ignore[arg-type]
        for _ in range(50):  # screens that read the history do it in a worker
            await pilot.pause(0.05)
            if keys in screen_text(app):
                break
        boxes = [w for w in app.screen.children if w.region.area and w.id not in ("textual-toastrack", "textual-tooltip")]
        assert boxes, name
        for box in boxes:
            assert app.screen.region.contains_region(box.region), (name, box.region)
        assert keys in screen_text(app), screen_text(app)
