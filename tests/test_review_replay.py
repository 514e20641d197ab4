"""Replay shows what was live: a real Engine records into a real history file while the test keeps
the snapshots it published; a HistorySource over the file then rebuilds each of those moments and
the console's own six panels must draw the same lines (view tuples, at two widths)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from engine import statelog
from engine.history.opener import open_history
from engine.history.source import HistorySource
from engine.snapshot import EngineState, Snapshot, SourceMode
from tests.reviewfixtures import Recording, as_review, private_env, record_demo, shared_rollout, views

WIDTHS = (44, 100)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    tmp = tmp_path_factory.mktemp("demo-run")
    with private_env(tmp):
        return record_demo(tmp / "run")


@pytest.fixture(scope="module")
def rollout(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return shared_rollout(tmp_path_factory)


def without_states(rec: Recording, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recording as an engine before schema version 7 left it: no recorded states, so review
    rebuilds them from events and samples (engine/history/parts.py, rollout.py)."""
    copy = tmp_path_factory.mktemp("no-states") / "history.db"
    with sqlite3.connect(rec.db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM states")
    return copy


@pytest.fixture(scope="module", params=["recorded", "rebuilt"])
def rollout_file(request: pytest.FixtureRequest, rollout: Recording,
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rollout.db if request.param == "recorded" else without_states(rollout, tmp_path_factory)


def test_review_shows_the_state_the_engine_recorded_exactly(demo: Recording, rollout: Recording) -> None:
    for rec in (demo, rollout):
        source = HistorySource(open_history(rec.db))
        try:
            for live in rec.snapshots:
                replayed = source.seek(live.taken_at)
                for part in statelog.RECORDED:
                    assert getattr(replayed, part) == getattr(live, part), (live.taken_at, part)
        finally:
            source.close()


def in_flight(live: Snapshot, replayed: Snapshot) -> bool:
    """A sample measured just before the snapshot was taken but handed to the engine after it (the
    host monitor measures in a worker thread): the replay, which reads by time, has that newest
    point; the live snapshot could not. An older point that live never had is a real difference."""
    live_times = {s.key: set(s.times) for s in live.series}
    late = False
    for s in replayed.series:
        extra = [t for t in s.times if t not in live_times.get(s.key, set())]
        if extra:
            if min(extra) < live.taken_at - 1.5:
                return False  # compared, and the test says where
            late = True
    return late


def test_every_recorded_moment_draws_the_same_six_panels(demo: Recording) -> None:
    source = HistorySource(open_history(demo.db))
    try:
        assert len(demo.snapshots) >= 8
        compared = 0
        for live in demo.snapshots:
            replayed = source.seek(live.taken_at)
            assert replayed.mode is SourceMode.REVIEW and replayed.read_only
            if in_flight(live, replayed):
                continue
            compared += 1
            for width in WIDTHS:
                assert views(replayed, width) == views(as_review(live), width), (live.taken_at, width)
        assert compared >= len(demo.snapshots) * 0.7, f"only {compared} of {len(demo.snapshots)} moments compared"
    finally:
        source.close()


def test_the_replayed_snapshot_carries_the_live_data_not_only_its_drawing(demo: Recording) -> None:
    live = demo.snapshots[-1]
    with_source = HistorySource(open_history(demo.db), at=live.taken_at)
    try:
        replayed = with_source.snapshot()
        assert replayed.series == live.series  # the same ring buffers, point for point
        assert replayed.errors == live.errors and replayed.gaps == live.gaps and replayed.events == live.events
        assert [c.name for c in replayed.components] == [c.name for c in live.components]
        assert replayed.configured == live.configured and replayed.config_name == "config.yaml"
        assert replayed.state is EngineState.RUNNING
    finally:
        with_source.close()


def test_the_cursor_stays_inside_the_recording(demo: Recording) -> None:
    source = HistorySource(open_history(demo.db))
    try:
        assert source.seek(source.range.last + 3600).taken_at == source.range.last
        first = source.seek(source.range.first - 3600)
        assert first.taken_at == source.range.first
        assert first.events and first.events[0].message.startswith("engine started")
    finally:
        source.close()


def test_a_recorded_rollout_replays_through_the_canary_state_machine(rollout: Recording, rollout_file: Path) -> None:
    """Status, stage, weights, last decision and alert line come from the canary's own machine and
    view: equal to live at every moment. Rule values are re-computed by the canary's analysis at
    the recorded check times; the panel's lines match except where a sample sits within the few
    milliseconds a live check took (see engine/history/checks.py), so the counts are compared at
    the decision, where the audit row holds the judged evidence. Both from the recorded states and,
    as for a file of an older engine, rebuilt."""
    source = HistorySource(open_history(rollout_file))
    try:
        for live in rollout.snapshots:
            replayed = source.seek(live.taken_at).rollout
            assert replayed is not None and live.rollout is not None
            fields = ("id", "service", "status", "stage_index", "stages", "weight", "target_weight",
                      "last_decision", "verbs", "alert", "hold_left", "measure_error_limit")
            assert {f: getattr(replayed, f) for f in fields} == {f: getattr(live.rollout, f) for f in fields}
            assert replayed.next_promotion_at == pytest.approx(live.rollout.next_promotion_at, abs=0.01)
            assert [(r.metric, r.limit, r.consecutive_limit, r.total_limit) for r in replayed.rules] == \
                [(r.metric, r.limit, r.consecutive_limit, r.total_limit) for r in live.rollout.rules]
        live_final = rollout.snapshots[-1].rollout
        final = source.seek(rollout.snapshots[-1].taken_at).rollout
        assert final.status == "rolled-back" and final.weight == 0 and "rolled back at 25%" in final.last_decision
        # The limit that decided live (the rule's or the comparison's) is breached in the replay too.
        decided = {r.metric for r in live_final.rules if r.consecutive >= r.consecutive_limit}
        assert decided and {r.metric for r in final.rules if r.state == "breach"} >= decided
    finally:
        source.close()


def test_alerts_replay_through_the_engines_evaluator(rollout: Recording, rollout_file: Path) -> None:
    source = HistorySource(open_history(rollout_file))
    try:
        live_firing = next(s for s in rollout.snapshots if any(a.state == "firing" for a in s.alerts))
        replayed = source.seek(live_firing.taken_at)
        firing = [a for a in replayed.alerts if a.state == "firing"]
        assert [(a.name, a.severity, a.condition) for a in firing] == \
            [(a.name, a.severity, a.condition) for a in live_firing.alerts if a.state == "firing"]
        assert firing[0].since == pytest.approx(next(a for a in live_firing.alerts if a.state == "firing").since, abs=0.01)
        before = source.seek(rollout.marks["started"])
        assert not [a for a in before.alerts if a.state == "firing"]
    finally:
        source.close()


def test_a_window_shows_a_wider_span_in_as_many_points(demo: Recording) -> None:
    source = HistorySource(open_history(demo.db), window=4.0, capacity=4)  # a 4 s span in 1 s slots
    try:
        snap = source.snapshot()
        rss = snap.get("engine", "rss_bytes")
        assert rss is not None and 2 <= len(rss.values) <= 4 and list(rss.times) == sorted(rss.times)
        everything = source.db.series("engine", "rss_bytes", snap.taken_at - 4.0, snap.taken_at)
        assert min(rss.values) >= min(v for _, v in everything) and max(rss.values) <= max(v for _, v in everything)
        live = dataclasses.replace(demo.snapshots[-1])
        assert rss.last == live.get("engine", "rss_bytes").last  # the last point is the last value
    finally:
        source.close()
