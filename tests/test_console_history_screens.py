"""The live console's history screens (issue 17 item 1), driven through the real app with a real
engine writing a real history: the event log (`l`: events and audit rows, newest first, filtered as
you type, following new rows) and the rollout timeline (`o`)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot

from console.app import OpsConsoleApp
from console.screens.event_log import EventLogScreen
from console.screens.rollout_timeline import RolloutTimelineScreen
from engine.commands import Command
from engine.runtime import Engine
from tests.canaryfixtures import BASELINE, CANARY, Feeder, http_actuator, running, status, wait_until, write_config
from tests.console.console_fakes import FakeSource
from tests.httpfixtures import HttpFixture
from tests.test_console_defects import screen_text


async def until(pilot, predicate, timeout: float = 10.0, what: str = "condition") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if predicate():
            return
    raise AssertionError(f"{what}: not reached in {timeout}s")


def status_line(screen: EventLogScreen) -> str:
    return str(screen.query_one("#events-status").render())


@asynccontextmanager
async def event_log_after_pause_and_resume(tmp_path: Path, actuator: HttpFixture
                                           ) -> AsyncIterator[tuple[Engine, OpsConsoleApp, Pilot, EventLogScreen]]:
    """A running engine an operator paused and resumed, its console with the event log (`l`) open."""
    with running(write_config(tmp_path, http_actuator(actuator.url("")))) as engine:
        engine.submit(Command("pause")).result(10)
        engine.submit(Command("resume")).result(10)
        app = OpsConsoleApp(engine, refresh=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            await until(pilot, lambda: isinstance(app.screen, EventLogScreen), what="the event log")
            screen = app.screen
            assert isinstance(screen, EventLogScreen)
            yield engine, app, pilot, screen


async def test_live_event_log_shows_events_and_audit_newest_first_and_follows(tmp_path: Path,
                                                                            actuator: HttpFixture) -> None:
    async with event_log_after_pause_and_resume(tmp_path, actuator) as (engine, app, pilot, screen):
        await until(pilot, lambda: any(r.kind == "audit" and r.message.startswith("resume") for r in screen.rows),
                    what="the resume audit row")
        times = [r.t for r in screen.rows]
        assert times == sorted(times, reverse=True)  # newest first
        assert any(r.kind == "action" and "engine paused" in r.message for r in screen.rows)
        audit = next(r for r in screen.rows if r.kind == "audit" and r.message.startswith("pause"))
        assert audit.source.endswith("@tui") and audit.severity == "info"
        assert "following" in status_line(screen)

        # Filtered as typed: no enter needed.
        await pilot.press("slash", *"kind:audit")
        await until(pilot, lambda: screen.rows and all(r.kind == "audit" for r in screen.rows), what="audit only")
        assert [r.message.split(":")[0] for r in screen.rows][:2] == ["resume", "pause"]
        text = screen_text(app)
        assert "audit" in text and "· info" in text  # the severity is a word and a symbol, not a colour

        # Following: a command sent now appears at the top without a key.
        await pilot.press("enter")  # back to the rows
        engine.submit(Command("pause")).result(10)
        await until(pilot, lambda: screen.rows[0].message.startswith("pause")
                    and screen.rows[0].t > audit.t, what="the new pause at the top")
        assert screen.query_one("DataTable").cursor_row == 0

        # Reading older rows holds the list still, as less +F does.
        await pilot.press("down")
        await until(pilot, lambda: "f: follow" in status_line(screen), what="following stopped")
        engine.submit(Command("resume")).result(10)
        await pilot.pause(0.6)
        assert screen.rows[0].message.startswith("pause")
        await pilot.press("f")
        await until(pilot, lambda: screen.rows[0].message.startswith("resume"), what="following again")

        # The highlighted row's whole text and data below the table.
        detail = str(screen.query_one("#events-detail").render())
        assert "resume" in detail and "audit" in detail
        await pilot.press("q")
        await until(pilot, lambda: not isinstance(app.screen, EventLogScreen), what="closed")


async def test_the_event_log_filters_by_event_code_and_shows_it(tmp_path: Path, actuator: HttpFixture) -> None:
    async with event_log_after_pause_and_resume(tmp_path, actuator) as (engine, app, pilot, screen):
        await pilot.press("slash", *"code:engine.")
        await until(pilot, lambda: {r.code for r in screen.rows} == {"engine.started", "engine.paused",
                                                                      "engine.resumed"}, what="engine.* rows only")
        await pilot.press("enter")
        detail = str(screen.query_one("#events-detail").render())
        assert "engine.resumed" in detail and "engine resumed by" in detail
        assert "code engine." in status_line(screen)


async def test_live_rollout_timeline_tells_the_running_rollout(tmp_path: Path, actuator: HttpFixture) -> None:
    feeder = Feeder()
    feeder.set(CANARY, 0.002)
    feeder.set(BASELINE, 0.002)
    with running(write_config(tmp_path, http_actuator(actuator.url(""))), feeder) as engine:
        engine.submit(Command("rollout.start")).result(10)
        wait_until(lambda: status(engine) == "promoted", 15, "promotion", engine)
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("o")
            await until(pilot, lambda: isinstance(app.screen, RolloutTimelineScreen), what="the timeline")
            screen = app.screen
            await until(pilot, lambda: screen.story is not None, what="the story")
            assert screen.story.decisions[-1].to_status == "promoted"
            assert "promoted" in screen_text(app)
            await pilot.press("tab", "enter")  # live: enter shows the decision; there is no cursor to move
            await pilot.pause(0.2)
            assert app.screen is screen
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is not screen, what="closed")


async def test_a_source_without_a_history_file_says_why() -> None:
    app = OpsConsoleApp(FakeSource(), refresh=60.0)  # an in-memory source: nothing recorded
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        assert any("keeps no history file" in text for _, _, text in app.notices)
        assert not isinstance(app.screen, EventLogScreen)


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


# -- silences: the list, and lifting one early ------------------------------------------------------

ALERTS = (
    "store: {path: history.db, flush_interval: 20ms}\n"
    "engine: {snapshot_interval: 50ms}\n"
    "monitor: {host: {enabled: false}}\n"
    "alerts:\n"
    "  - {name: EngineAlive, series: engine/uptime_s, op: '>', value: 0, severity: critical}\n"
    "  - {name: AlsoAlive, series: engine/uptime_s, op: '>', value: 0, severity: warning}\n"
)


async def test_silences_screen_lists_who_why_until_and_lifts_one_early(tmp_path: Path) -> None:
    from engine.config.loader import load_config

    path = tmp_path / "config.yaml"
    path.write_text(ALERTS)
    with running(load_config(path)) as engine:
        wait_until(lambda: any(a.state == "firing" for a in engine.snapshot().alerts), what="an alert firing")
        for rule, why in (("EngineAlive", "known: deploying the fix"), ("AlsoAlive", "noise while we migrate")):
            assert engine.submit(Command("alerts.silence", {"rule": rule, "comment": why, "duration": "2h"})).result(10).ok
        wait_until(lambda: len(engine.snapshot().silences) == 2, what="two silences in the snapshot")
        app = OpsConsoleApp(engine, refresh=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("m")
            await until(pilot, lambda: type(app.screen).__name__ == "SilencesScreen", what="the silences screen")
            text = screen_text(app)
            assert "EngineAlive" in text and "known: deploying the fix" in text and "AlsoAlive" in text
            assert "1h59m left" in text, text  # silenced for 2h, a moment ago
            assert "2 active" in text
            await pilot.press("x")  # the first row: EngineAlive
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="the confirmation")
            assert "lift the silence on EngineAlive" in screen_text(app)
            await pilot.press("y")
            await app.workers.wait_for_complete()
            wait_until(lambda: [s.rule for s in engine.snapshot().silences] == ["AlsoAlive"], what="one lifted")
            await pilot.press("m")
            await until(pilot, lambda: type(app.screen).__name__ == "SilencesScreen", what="the screen again")
            assert [s.rule for s in app.screen.silences] == ["AlsoAlive"] and "1 active" in screen_text(app)
    rows = query_audit(tmp_path / "history.db")
    assert ("alerts.unsilence", '{"rule":"EngineAlive"}') in rows


def query_audit(db: Path) -> list[tuple[str, str]]:
    from tests.canaryfixtures import query

    return [(a, args) for a, args in query(db, "SELECT action, args FROM audit ORDER BY id")]


# -- the running config -------------------------------------------------------------------------

SECRET = "s3cr3t-token-value"


async def test_running_config_shows_file_defaults_env_overrides_and_masks_secrets(tmp_path: Path, monkeypatch) -> None:
    from console.screens.config_view import ConfigScreen
    from engine import secrets
    from engine.config.loader import load_config

    secrets.clear()  # the registry is process-wide: a short secret of an earlier test ('t') masks names
    path = tmp_path / "config.yaml"
    path.write_text(ALERTS + "collect:\n  tracks:\n    - {name: scrape, interval: 1s, targets: "
                    "[{name: api, url: 'http://127.0.0.1:9/metrics', format: prometheus, "
                    "auth: {kind: bearer, token: '${API_TOKEN}'}}]}\n")
    monkeypatch.setenv("API_TOKEN", SECRET)
    monkeypatch.setenv("OPSCONSOLE_ENGINE__SNAPSHOT_INTERVAL", "100ms")
    with running(load_config(path)) as engine:
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfigScreen), what="the config screen")
            screen = app.screen
            text = screen.shown.text
            assert SECRET not in text and SECRET not in screen_text(app) and "***" in text
            assert "retention:" in text  # defaults filled in: the file does not say it
            assert str(path) in screen_text(app)
            assert screen.shown.overrides == ("engine.snapshot_interval ← env OPSCONSOLE_ENGINE__SNAPSHOT_INTERVAL",)
            assert "set by the environment: engine.snapshot_interval" in screen_text(app)
            await pilot.press("slash", *"flush_interval", "enter")
            await pilot.pause()
            row, _ = screen.query_one("TextArea").cursor_location
            assert "flush_interval" in text.splitlines()[row]
            await pilot.press("escape", "q")
            await until(pilot, lambda: not isinstance(app.screen, ConfigScreen), what="closed")


async def test_attached_console_shows_the_config_its_engine_recorded(tmp_path: Path, monkeypatch) -> None:
    from console.attach import AttachSource
    from console.screens.config_view import ConfigScreen
    from engine import secrets
    from engine.config.loader import load_config
    from tests.enginefixtures import control_answers

    secrets.clear()  # the registry is process-wide: a short secret of an earlier test ('t') masks names
    path = tmp_path / "config.yaml"
    path.write_text(ALERTS + "collect:\n  tracks:\n    - {name: scrape, interval: 1s, targets: "
                    "[{name: api, url: 'http://127.0.0.1:9/metrics', format: prometheus, "
                    "auth: {kind: bearer, token: '${API_TOKEN}'}}]}\n")
    monkeypatch.setenv("API_TOKEN", SECRET)
    with running(load_config(path), headless=True) as engine:
        db = engine.history_path
        control_answers(db)
        source = AttachSource(db)
        source.start()
        try:
            app = OpsConsoleApp(source, refresh=60.0)
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.press("c")
                await until(pilot, lambda: isinstance(app.screen, ConfigScreen), what="the config screen")
                text = app.screen.shown.text
                assert SECRET not in text and "token: '***'" in text and "EngineAlive" in text
                assert "as recorded by the engine's current run" in screen_text(app)
        finally:
            source.close()
