"""Alert rules inside a real engine with a real history: transitions as events, the audited
`alerts.silence` command, and silences that survive a restart."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from engine.commands import Actor, Command
from engine.runtime import Engine
from tests.monitorkit import engine_config, events, running_engine, wait_for

ACTOR = Actor(user="alice", address="203.0.113.9", origin="tui")
RULES = (
    "alerts:\n"
    "  - {name: EngineAlive, series: engine/uptime_s, op: '>', value: 0, severity: critical,"
    " summary: the engine is up, runbook: nothing to do}\n"
    "  - {name: NeverThere, series: 'log:access:canary/error_rate', op: '>', value: 0.01, no_data_after: 1s}\n"
)


def alert(engine: Engine, name: str):
    return next((a for a in engine.snapshot().alerts if a.name == name), None)


def audit(db: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT user, address, action, result, ok FROM audit ORDER BY id").fetchall()


def test_rules_fire_and_no_data_shows_without_alarm(tmp_path: Path) -> None:
    with running_engine(tmp_path, RULES) as engine:
        wait_for(lambda: (a := alert(engine, "EngineAlive")) is not None and a.state == "firing", what="firing")
        firing = alert(engine, "EngineAlive")
        assert (firing.severity, firing.summary, firing.runbook) == ("critical", "the engine is up", "nothing to do")
        assert "EngineAlive firing: the engine is up" in events(engine, "alert", "alert:EngineAlive")
        assert any(g.message == "EngineAlive firing: the engine is up" for g in engine.snapshot().errors)
        wait_for(lambda: alert(engine, "NeverThere") is not None, what="the no-data rule")
        quiet = alert(engine, "NeverThere")
        assert (quiet.state, quiet.value) == ("nodata", None)
        assert not any(g.source == "alert:NeverThere" for g in engine.snapshot().errors)  # not alarming


def test_silence_is_audited_refusals_too_and_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with running_engine(tmp_path, RULES) as engine:
        wait_for(lambda: alert(engine, "EngineAlive") is not None, what="the alert")
        refused = engine.submit(Command("alerts.silence", {"rule": "Nope", "comment": "x"}, ACTOR)).result(5)
        assert not refused.ok and refused.message.startswith("not silenced: no alert rule named 'Nope'")
        no_comment = engine.submit(Command("alerts.silence", {"rule": "EngineAlive", "comment": ""}, ACTOR)).result(5)
        assert not no_comment.ok and "needs a comment" in no_comment.message
        done = engine.submit(Command("alerts.silence", {"rule": "EngineAlive", "comment": "known, on it",
                                                        "duration": "2h"}, ACTOR)).result(5)
        assert done.ok and done.message.startswith("EngineAlive silenced for 2h, until ")
        muted = alert(engine, "EngineAlive")
        assert muted.silenced and muted.silenced_by.startswith("alice@203.0.113.9 until ")
        assert muted.silenced_by.endswith(": known, on it")
    rows = audit(db)
    assert [(r[2], r[4]) for r in rows] == [("alerts.silence", 0), ("alerts.silence", 0), ("alerts.silence", 1)]
    assert rows[-1][:2] == ("alice", "203.0.113.9")

    engine = Engine(engine_config(tmp_path, RULES))
    engine.start()
    try:
        wait_for(lambda: any(m.startswith("restored 1 silence(s) from the history: EngineAlive (until ")
                             for m in events(engine, "alert", "alerts")), what="restored silence")
        wait_for(lambda: alert(engine, "EngineAlive") is not None, what="the alert after restart")
        assert alert(engine, "EngineAlive").silenced
        lifted = engine.submit(Command("alerts.unsilence", {"rule": "EngineAlive"}, ACTOR)).result(5)
        assert lifted.ok and lifted.message == "EngineAlive: 1 silence(s) lifted"
        assert not alert(engine, "EngineAlive").silenced
    finally:
        engine.stop()
    assert audit(db)[-1][2:] == ("alerts.unsilence", "EngineAlive: 1 silence(s) lifted", 1)


def test_a_silence_set_just_before_a_config_reload_is_kept(tmp_path: Path) -> None:
    """Reload rebuilds the alerts part; the silence comes back from the history, even one that was
    still in the writer's buffer when the reload began."""
    with running_engine(tmp_path, RULES) as engine:
        wait_for(lambda: alert(engine, "EngineAlive") is not None, what="the alert")
        done = engine.submit(Command("alerts.silence", {"rule": "EngineAlive", "comment": "deploying"}, ACTOR))
        assert done.result(5).ok
        reload = asyncio.run_coroutine_threadsafe(engine.reload(engine_config(tmp_path, RULES)), engine._loop)
        reload.result(10)
        wait_for(lambda: any(m.startswith("restored 1 silence(s)") for m in events(engine, "alert", "alerts")),
                 what="the silence restored after the reload")
        wait_for(lambda: alert(engine, "EngineAlive") is not None, what="the alert after the reload")
        assert alert(engine, "EngineAlive").silenced_by.endswith(": deploying")


WINDOWED = (
    "alerts:\n"
    "  - {name: UptimeWindow, series: engine/uptime_s, function: max_over_time, over: 5s, op: '>', value: 1,"
    " severity: warning}\n"
    "  - {name: NothingHere, series: 'nothing:here/requests', function: absent, over: 2s, severity: warning}\n"
)


def test_windowed_rules_run_in_the_engine_and_say_their_function(tmp_path: Path) -> None:
    """The component feeds windows from the rings (and, at start, the history): a max over 5s
    fires, an absent series fires once a whole window has passed."""
    with running_engine(tmp_path, WINDOWED) as engine:
        wait_for(lambda: (a := alert(engine, "UptimeWindow")) is not None and a.state == "firing", what="firing")
        assert alert(engine, "UptimeWindow").condition == "max over 5s > 1s"
        wait_for(lambda: (a := alert(engine, "NothingHere")) is not None and a.state == "firing", what="absent")
        absent = alert(engine, "NothingHere")
        assert (absent.condition, absent.value) == ("no sample in 2s", None)
        assert "NothingHere firing: nothing:here/requests: no data, no sample in 2s" in events(
            engine, "alert", "alert:NothingHere")
