"""The review console, driven by its keys: the cursor and the header move together, typed times,
next/previous event of a kind, play, the event log and rollout timeline jump the cursor, export
writes the window, what-if shows its comparison — and the same keys through a real terminal."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import pytest

from console.render import clock
from console.review import ReviewApp
from engine.config.loader import load_config
from engine.history.opener import open_history
from engine.history.source import HistorySource
from engine.history.whatif import WhatIfInput
from tests.ptyrun import PtyProcess
from tests.reviewfixtures import SYNTHETIC_T0 as T0
from tests.reviewfixtures import synthetic_history

SIZE = (120, 40)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_history(tmp_path_factory.mktemp("review-console") / "h")


async def settle(app: ReviewApp, pilot, timeout: float = 5.0) -> None:
    """Wait until the snapshot for the cursor is built and applied (the build runs in a thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.02)
        if not app._seeking and app.history.cursor == app.cursor.t and app.snapshot is app.history.snapshot():
            return
    raise AssertionError(f"cursor {app.cursor.t} not built after {timeout}s (built {app.history.cursor})")


def review_app(history: Path, **kwargs) -> ReviewApp:
    return ReviewApp(HistorySource(open_history(history)), **kwargs)


async def test_keys_move_the_cursor_and_the_header_follows(history: Path) -> None:
    app = review_app(history)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        end = app.history.range.last
        assert app.cursor.t == end and "REVIEW" in app.header.plain and app.header.plain.endswith(clock(end))
        marks, info = app.strip.plain.splitlines()
        assert "R" in marks and "!" in marks and "g" in marks and "o" in marks and len(marks) == SIZE[0]
        assert info.startswith(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(end)))
        for key, delta in (("left_curly_bracket", -60), ("left_square_bracket", -1), ("right_square_bracket", 1),
                           ("less_than_sign", -3600), ("greater_than_sign", 3600)):
            before = app.cursor.t
            await pilot.press(key)
            await settle(app, pilot)
            assert app.cursor.t == app.history.range.clamp(before + delta), key
            assert app.snapshot.taken_at == app.cursor.t and app.header.plain.endswith(clock(app.cursor.t))
        await pilot.press("right_curly_bracket")
        await settle(app, pilot)
    app.history.close()


async def test_typed_time_and_event_jumps(history: Path) -> None:
    app = review_app(history)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g")
        await pilot.press(*"9:99", "enter")
        assert "not a time of day" in str(app.screen.query_one("#prompt-error").render())  # stays open
        await pilot.press(*["backspace"] * 4, *"start", "enter")
        await settle(app, pilot)
        assert app.cursor.t == app.history.range.first
        await pilot.press("f")  # the kind for n / N: rollout
        await pilot.press("n")
        await settle(app, pilot)
        assert app.cursor.t == T0 + 100 and app.snapshot.rollout.status == "running"
        await pilot.press("n")
        await settle(app, pilot)
        assert app.cursor.t == T0 + 200 and app.snapshot.rollout.weight == 25
        await pilot.press("N")
        await settle(app, pilot)
        assert app.cursor.t == T0 + 100
        panel = app.query_one("#rollout").body.plain
        assert "checkout #1 RUNNING weight 5% → 25%" in panel
    app.history.close()


async def test_play_moves_on_by_itself_and_stops_at_the_end(history: Path) -> None:
    app = review_app(history)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("less_than_sign", "x", "x")  # back to the start; 60x
        await settle(app, pilot)
        start = app.cursor.t
        await pilot.press("space")
        await pilot.pause(1.3)
        moved = app.cursor.t - start
        assert 30 <= moved <= 120 and app.cursor.playing  # ~60 s of recording per second
        await pilot.press("space")
        assert not app.cursor.playing
        await settle(app, pilot)
    app.history.close()


async def test_the_event_log_filters_and_jumps(history: Path) -> None:
    app = review_app(history)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("l")
        await pilot.pause(0.3)
        screen = app.screen
        await pilot.press("slash", *"kind:gap", "enter")
        for _ in range(100):
            await pilot.pause(0.02)
            if "kinds gap" in str(screen.query_one("#events-status").render()):
                break
        assert [r.kind for r in screen.rows] == ["gap", "gap"]
        assert screen.rows[0].t > screen.rows[1].t  # newest first: the closing, then the opening
        await pilot.press("down", "enter")  # the gap's opening
        await settle(app, pilot)
        assert app.screen is not screen and app.cursor.t == T0 + 400
        assert app.snapshot.gaps and app.snapshot.gaps[0].end is None  # open at that moment
    app.history.close()


async def test_the_rollout_timeline_tells_the_story_and_jumps(history: Path) -> None:
    app = review_app(history)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        screen = app.screen
        for _ in range(750):  # the story is read in a worker: up to 15 s on a loaded machine
            await pilot.pause(0.02)
            if screen.story is not None:
                break
        assert [d.to_status for d in screen.story.decisions] == ["running", "running", "rolling-back", "rolled-back"]
        assert "5% " in str(screen.query_one("#rollout-stages").render())
        await pilot.press("tab", "down", "down", "down")
        await pilot.pause()
        detail = str(screen.query_one("#rollout-detail").render())
        assert "rolled back at 25%" in detail and "audit:" in detail and "judged: error_rate 5.0%" in detail
        # 40 healthy seconds (0.4%) and 21 failing ones (5%) in the minute before: 2.0%.
        assert "around: t:canary/error_rate minute before 2.0% · minute after 5.0%" in detail
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.cursor.t == T0 + 300.5 and app.snapshot.rollout.status == "rolled-back"
    app.history.close()


async def test_export_writes_the_window_and_what_if_compares(history: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text((history.parent / "config.yaml").read_text().replace("max: 0.01", "max: 0.003"))
    app = review_app(history, what_if=WhatIfInput(other, load_config(other).config))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        for _ in range(200):
            await pilot.pause(0.02)
            if getattr(screen, "report", None) is not None:
                break
        text = str(screen.query_one("#whatif-text").render())
        assert "rollout #1 checkout" in text and "other config:" in text
        await pilot.press("q")
        await settle(app, pilot)
        await pilot.press("E")
        for _ in range(200):
            await pilot.pause(0.02)
            if list(tmp_path.glob("history-*.csv")):
                break
        [written] = list(tmp_path.glob("history-*.csv"))
        rows = list(csv.DictReader(written.open()))
        assert rows and {r["source"] for r in rows} >= {"host", "t:canary"}
        assert max(float(r["time"]) for r in rows) <= app.cursor.t
        assert "exported" in app.notices[-1][2]
    app.history.close()


def test_the_time_keys_work_through_a_real_terminal(history: Path) -> None:
    """Bytes as a terminal (and tmux) sends them: `<` `[` `]` `g`, then q."""
    proc = PtyProcess([sys.executable, "-m", "console", "review", str(history), "--at", "end"], cols=120, rows=40)
    try:
        proc.wait_for_text("REVIEW", 30)
        end = clock(T0 + 600)
        proc.wait_for_text(end, 10)
        proc.send(b"<")
        proc.wait_for_text(clock(T0 + 0), 10)  # clamped to the start of the recording
        proc.send(b"]")
        proc.wait_for_text(clock(T0 + 1), 10)
        proc.send(b"g")
        proc.wait_for_text("Go to time", 10)
        proc.send(b"+5m\r")
        proc.wait_for_text(clock(T0 + 301), 10)
        proc.send(b"p")
        proc.wait_for_text("review mode: pausing or resuming the engine is disabled", 10)
        proc.send(b"q")
        assert proc.wait(10) == 0
    finally:
        proc.kill()
