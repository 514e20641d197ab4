"""The engine runtime with a real store on disk: supervision, pause/resume, commands, snapshots."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.commands import Actor, Command
from engine.component import ComponentError, EngineContext
from engine.config.loader import LoadedConfig, load_config
from engine.runtime import Engine
from engine.snapshot import EngineState

ACTOR = Actor(user="alice", address="203.0.113.9", origin="tui")


def write_config(tmp_path: Path, body: str = "") -> LoadedConfig:
    path = tmp_path / "config.yaml"
    path.write_text(
        "store: {path: history.db, flush_interval: 50ms}\n"
        "engine: {snapshot_interval: 50ms, self_metrics_interval: 100ms,"
        " supervisor: {backoff_initial: 50ms, backoff_max: 200ms}}\n"
        "monitor: {host: {interval: 100ms}}\n" + body
    )
    return load_config(path)


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Polls until `predicate()` holds; the timeout is a ceiling for a loaded CI machine, not a bound."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


class Crashy:
    """Fails twice (one bug, one expected failure), then runs quietly."""

    name = "crashy"

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, ctx: EngineContext) -> None:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("boom in crashy")
        if self.runs == 2:
            raise ComponentError("crashy: target 127.0.0.1:9 refused the connection")
        await asyncio.Event().wait()


class Ticker:
    """Records one sample per cycle while the engine is not paused."""

    name = "ticker"

    def __init__(self) -> None:
        self.cycles = 0

    async def run(self, ctx: EngineContext) -> None:
        while True:
            await ctx.wait_running()
            self.cycles += 1
            ctx.record("test", "ticks_per_s", float(self.cycles))
            await asyncio.sleep(0.02)


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    engines: list[Engine] = []

    def make(*components, read_only: bool = False, body: str = "") -> Engine:
        engine = Engine(write_config(tmp_path, body), read_only=read_only, components=list(components))
        engine.start()
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()


def test_host_metrics_and_self_metrics_reach_snapshot_and_store(engine_factory, tmp_path: Path) -> None:
    engine = engine_factory()
    wait_for(lambda: engine.snapshot().get("host", "mem_pct") is not None, what="host/mem_pct")
    wait_for(lambda: engine.snapshot().get("engine", "rss_bytes") is not None, what="engine/rss_bytes")
    snap = engine.snapshot()
    assert snap.state == EngineState.RUNNING
    assert 0 < snap.get("host", "mem_pct").last <= 100
    assert snap.get("engine", "rss_bytes").last > 10_000_000  # a Python process is never under 10 MB
    assert "monitor" in snap.configured and "demo" not in snap.configured
    engine.stop()
    rows = query(tmp_path / "history.db", "SELECT count(*) FROM samples")
    assert rows[0][0] > 0


def test_supervisor_restarts_a_crashing_component_and_records_why(engine_factory, tmp_path: Path) -> None:
    crashy = Crashy()
    engine = engine_factory(crashy)
    wait_for(lambda: crashy.runs >= 3, what="two restarts")
    wait_for(lambda: any(c.name == "crashy" and c.state == "running" for c in engine.snapshot().components))
    view = next(c for c in engine.snapshot().components if c.name == "crashy")
    assert view.restarts == 2
    assert view.last_error == "crashy: target 127.0.0.1:9 refused the connection"
    messages = [e.message for e in engine.snapshot().events if e.source == "crashy"]
    assert any("RuntimeError: boom in crashy" in m for m in messages)
    assert any(g.source == "crashy" for g in engine.snapshot().errors)  # shown in the Errors panel
    engine.stop()
    stored = query(tmp_path / "history.db", "SELECT severity, message FROM events WHERE source = 'crashy'")
    assert len(stored) == 2 and all(sev == "critical" for sev, _ in stored)


def test_pause_stops_collection_and_resume_restarts_it_with_audit(engine_factory, tmp_path: Path) -> None:
    ticker = Ticker()
    engine = engine_factory(ticker)
    wait_for(lambda: ticker.cycles > 3, what="ticks")

    result = engine.submit(Command("pause", actor=ACTOR)).result(timeout=2)
    assert result.ok
    assert engine.snapshot().state == EngineState.PAUSED  # published at once, not on the next tick
    paused_at = ticker.cycles
    time.sleep(0.2)
    assert ticker.cycles <= paused_at + 1  # at most the cycle already past wait_running()

    assert engine.submit(Command("resume", actor=ACTOR)).result(timeout=2).ok
    wait_for(lambda: ticker.cycles > paused_at + 3, what="ticks after resume")
    assert engine.snapshot().state == EngineState.RUNNING
    engine.stop()

    audit = query(tmp_path / "history.db", "SELECT user, address, action, ok FROM audit ORDER BY t")
    assert [(u, a, act, ok) for u, a, act, ok in audit] == [
        ("alice", "203.0.113.9", "pause", 1),
        ("alice", "203.0.113.9", "resume", 1),
    ]
    events = query(tmp_path / "history.db", "SELECT message FROM events WHERE kind = 'action'")
    assert [m for (m,) in events] == ["engine paused by alice@203.0.113.9", "engine resumed by alice@203.0.113.9"]


def test_read_only_engine_refuses_commands_and_audits_the_refusal(engine_factory, tmp_path: Path) -> None:
    engine = engine_factory(read_only=True)
    result = engine.submit(Command("pause", actor=ACTOR)).result(timeout=2)
    assert not result.ok and result.message == "read-only mode: pause is disabled"
    assert engine.snapshot().state == EngineState.RUNNING
    engine.stop()
    assert query(tmp_path / "history.db", "SELECT action, ok FROM audit") == [("pause", 0)]


def test_unknown_command_is_refused_by_name(engine_factory) -> None:
    engine = engine_factory()
    result = engine.submit(Command("launch-missiles", actor=ACTOR)).result(timeout=2)
    assert not result.ok and "unknown command 'launch-missiles'" in result.message


def test_commands_after_stop_are_refused_not_hung(engine_factory) -> None:
    engine = engine_factory()
    engine.stop()
    result = engine.submit(Command("pause", actor=ACTOR)).result(timeout=1)
    assert not result.ok and "not running" in result.message
    assert engine.snapshot().state == EngineState.STOPPED


class Contributor:
    """A component that owns part of the snapshot, like the collector's targets."""

    name = "contributor"

    async def run(self, ctx: EngineContext) -> None:
        await asyncio.Event().wait()

    def snapshot_fields(self) -> dict:
        from engine.snapshot import TargetView

        return {"targets": (TargetView("api", "OPEN", "connection refused"),)}


def test_components_contribute_their_part_of_the_snapshot(engine_factory) -> None:
    engine = engine_factory(Contributor())
    wait_for(lambda: engine.snapshot().targets != (), what="contributed targets")
    assert engine.snapshot().targets[0].state == "OPEN"
