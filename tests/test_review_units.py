"""The review's small parts on their own: typed times, the cursor (steps, clamping, play), the
timeline strip, event filters, the run record's config round trip, and the views of schema v4."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from engine.config.loader import load_config
from engine.config.schema import Config
from engine.history import views
from engine.history.cursor import Range, TimeCursor, TimeParseError, parse_time
from engine.history.db import EventFilter
from engine.history.opener import open_history
from engine.history.runs import plain
from engine.history.timeline import Mark, classify, strip
from engine.store.records import to_json
from tests.reviewfixtures import SYNTHETIC_T0, synthetic_history

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 14, 30, 0).timestamp()
RNG = Range(NOW - 86400, NOW)


@pytest.mark.parametrize(("text", "expected"), [
    ("14:02", datetime(2026, 11, 22, 14, 2).timestamp()),
    ("14:02:07.5", datetime(2026, 11, 22, 14, 2, 7, 500000).timestamp()),
    ("2026-11-21 09:15", datetime(2026, 11, 21, 9, 15).timestamp()),
    ("2026-11-21T09:15:00Z", datetime.fromisoformat("2026-11-21T09:15:00+00:00").timestamp()),
    ("-5m", NOW - 300), ("5m ago", NOW - 300), ("+1h", NOW + 3600),
    ("start", RNG.first), ("end", RNG.last), ("1790000000", 1790000000.0),
])
def test_typed_times(text: str, expected: float) -> None:
    assert parse_time(text, now=NOW, bounds=RNG) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "25:00", "14:61", "yesterday", "42", "-5 parsecs"])
def test_typed_times_that_are_not_say_what_is_accepted(text: str) -> None:
    with pytest.raises(TimeParseError, match=r"14:02|time|epoch|duration"):
        parse_time(text, now=NOW, bounds=RNG)


def test_the_cursor_steps_clamps_and_plays() -> None:
    cursor = TimeCursor(Range(1000.0, 2000.0), 1500.0, interval=2.0)
    assert cursor.step_intervals(-1) == 1498.0
    assert cursor.step(-3600) == 1000.0 and cursor.step(10_000) == 2000.0
    assert not cursor.toggle_play()  # at the end: nothing to play
    cursor.jump(1900.0)
    assert cursor.toggle_play() and cursor.speed == 1.0
    assert cursor.advance(2.0) == 1902.0
    assert cursor.cycle_speed() == 10.0 and cursor.cycle_speed() == 60.0
    assert cursor.advance(1.0) == 1962.0
    assert cursor.advance(1.0) == 2000.0 and not cursor.playing  # stops by itself at the end
    assert cursor.cycle_speed() == 1.0
    kinds = [cursor.cycle_kind() for _ in range(3)]
    assert kinds == ["rollout", "alert", "gap"]


def test_the_strip_puts_the_most_important_mark_in_each_column() -> None:
    rng = Range(0.0, 100.0)
    found = [Mark(10.0, "gap", ""), Mark(11.0, "rollback", ""), Mark(12.0, "action", ""),
             Mark(55.0, "alert", ""), Mark(99.9, "rollout", "")]
    assert strip(found, rng, 10) == "·R···!···r"
    assert strip([], rng, 5) == "·····"
    assert classify("rollout.rolled_back", "critical") == "rollback"
    assert classify("rollout.noted", "critical", cause="rollback_failed") == "rollback"
    assert classify("rollout.started", "info") == "rollout"
    assert classify("alert.firing", "critical") == "alert"
    assert classify("alert.firing", "info") is None  # muted
    assert classify("gap.opened", "warning") == "gap"
    assert classify("gap.closed", "info") is None
    assert classify("engine.paused", "info") == "action"
    assert classify("engine.stopped", "info") == "stop"


def test_event_filters_parse_and_match(tmp_path: Path) -> None:
    flt = EventFilter.parse("kind:alert,gap sev:critical src:Canary rolled back")
    assert flt == EventFilter(("alert", "gap"), ("critical",), "Canary", "rolled back")
    opened = open_history(synthetic_history(tmp_path / "h"))
    try:
        rows = opened.db.filtered_events(EventFilter.parse("kind:rollout ROLLED back"))
        assert [r["message"] for r in rows] == ["rolled back at 25%: canary error_rate 5.0% > 1.0% for 3/3 checks (total 3)"]
        assert {r["kind"] for r in opened.db.filtered_events(EventFilter.parse("sev:warning"))} == {"gap"}
        # by code, or the beginning of one: what an operator types after reading docs/schema.md
        assert EventFilter.parse("code:rollout.,gap.opened").codes == ("rollout.", "gap.opened")
        codes = [r["code"] for r in opened.db.filtered_events(EventFilter.parse("code:rollout."), limit=50)]
        assert codes == ["rollout.started", "rollout.stage_entered", "rollout.rolling_back", "rollout.rolled_back"]
        both = opened.db.filtered_events(EventFilter.parse("code:rollout.rolled_back,gap.opened"), limit=50)
        assert [r["code"] for r in both] == ["rollout.rolled_back", "gap.opened"]
    finally:
        opened.close()


@pytest.mark.parametrize("config", ["config.yaml", "tests/reviewfixtures.py"])
def test_the_run_record_keeps_the_config_exactly(tmp_path: Path, config: str) -> None:
    if config.endswith(".py"):  # a canary with a hold that format_duration would round ("1m40s")
        from tests.reviewfixtures import CANARY_ONLY

        path = tmp_path / "config.yaml"
        path.write_text(CANARY_ONLY)
    else:
        path = REPO / config
    loaded = load_config(path).config
    assert Config.model_validate(json.loads(to_json(plain(loaded)))) == loaded


def test_the_views_answer_from_the_file_and_in_review(tmp_path: Path) -> None:
    path = synthetic_history(tmp_path / "h")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
        assert names == set(views.NAMES)  # created by store migration 4
        decisions = conn.execute("SELECT to_status, stage, weight, actor FROM rollout_decisions ORDER BY t").fetchall()
        assert decisions == [("running", 1, 5, "alice@203.0.113.9"), ("running", 2, 25, "engine"),
                             ("rolling-back", 2, 25, "engine"), ("rolled-back", 2, 0, "engine")]
        assert conn.execute("SELECT series, duration_s, cause, state FROM gaps").fetchall() == [
            ("host", 25.0, "target down", "closed")]
        assert conn.execute("SELECT user, address, action FROM actions WHERE origin != 'engine' ORDER BY t").fetchall() \
            == [("alice", "203.0.113.9", "rollout.start"), ("alice", "203.0.113.9", "pause")]
        latest = dict(conn.execute("SELECT source || '/' || metric, value FROM series_latest").fetchall())
        assert latest["t:canary/error_rate"] == 0.05
    opened = open_history(path)
    try:
        assert [r["cause"] for r in views.query(opened.db, "gaps")] == ["target down"]
        assert views.query(opened.db, "rollout_decisions", "rollout_id = ?", [1], order="t")[0]["t"] == SYNTHETIC_T0 + 100
    finally:
        opened.close()
