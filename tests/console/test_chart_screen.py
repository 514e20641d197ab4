"""The chart screen, driven as a person would: enter on a Throughput or Memory row, or the
palette's "chart: <series>"; what the screen shows (clock times, units, canary and baseline,
thresholds, stage changes), zoom keys, live and review, and what it says when the history behind
an attached console cannot be read. Real app (Pilot), real history files (SQLite)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import pytest
from console_fakes import T0, FakeSource, series, snap

from console.app import OpsConsoleApp
from console.review import ReviewApp
from console.screens.chart import ChartScreen, open_chart
from engine.history.opener import open_history
from engine.history.source import HistorySource
from engine.snapshot import AlertView, RolloutView, RuleView, SourceMode
from tests.reviewfixtures import SYNTHETIC_T0, synthetic_history

SIZE = (120, 40)
CANARY, BASELINE = "t:canary/error_rate", "t:baseline/error_rate"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_history(tmp_path_factory.mktemp("chart") / "h")


def clock(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


def rollout_snapshot(taken_at: float = T0 + 100, points: int = 120):
    """A live snapshot with a canary rule on error_rate, an alert on the canary's series, a rate."""
    t0 = taken_at - points
    canary = [0.004 + 0.003 * math.sin(i / 8) for i in range(points)]
    baseline = [0.003 + 0.001 * math.sin(i / 9) for i in range(points)]
    rule = RuleView("error_rate", 0.005, 0.01, 0, 3, 0, None, canary=CANARY, baseline=BASELINE)
    rollout = RolloutView(1, "api", "running", 1, ((5, "30s"), (25, "30s"), (100, "")), 25, 25, rules=(rule,))
    alert = AlertView("CanaryErrors", "pending", "warning", taken_at, series=CANARY, condition="> 0.8% for 30s")
    return snap(taken_at=taken_at, rollout=rollout, alerts=(alert,), series=(
        series("t:canary", "error_rate", canary, t0=t0),
        series("t:baseline", "error_rate", baseline, t0=t0),
        series("watch:spool", "files_per_s", [3 + (i % 5) for i in range(points)], t0=t0),
        series("host", "mem_pct", [40 + i * 0.05 for i in range(points)], "%", t0=t0),
    ))


async def until(pilot, check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.02)
        if check():
            return
    raise AssertionError("the chart did not get there in time")


def chart(app) -> ChartScreen:
    assert isinstance(app.screen, ChartScreen), type(app.screen).__name__
    return app.screen


def texts(screen: ChartScreen) -> tuple[str, str, str]:
    title = str(screen.query_one("#chart-title").render())
    legend = str(screen.query_one("#chart-legend").render())
    return title, screen.plot_plain, legend


async def test_enter_on_a_throughput_row_charts_its_rate_with_clock_times_and_units() -> None:
    app = OpsConsoleApp(FakeSource(rollout_snapshot()), refresh=60)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#throughput").focus()
        await pilot.pause()
        assert "watch:spool files" in app.query_one("#throughput").body.plain
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws == 1)
        title, plot, legend = texts(chart(app))
        assert title.startswith("watch:spool/files_per_s · per second · 5m window (live)")
        assert "/s┤" in plot or "/s┼" in plot  # the value axis speaks the unit
        # clock times along x: the last minutes before the snapshot, as HH:MM
        assert clock(T0 + 100) in plot and clock(T0 + 100 - 120) in plot
        assert "watch:spool/files_per_s (120 points)" in legend
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, ChartScreen)


async def test_memory_rows_have_a_cursor_and_enter_charts_the_row_under_it() -> None:
    app = OpsConsoleApp(FakeSource(rollout_snapshot()), refresh=60)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one("#memory")
        panel.focus()
        await pilot.pause()
        assert panel.cursor_key() == "host/mem_pct"
        await pilot.press("down")  # host avail and the others have no data here: the cursor skips them
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws == 1)
        title, plot, _ = texts(chart(app))
        assert title.startswith("host/mem_pct · %")
        assert "%┤" in plot or "%┼" in plot


async def test_a_canary_series_is_drawn_with_its_baseline_and_the_rule_and_alert_limits() -> None:
    app = OpsConsoleApp(FakeSource(rollout_snapshot()), refresh=60)
    async with app.run_test(size=SIZE) as pilot:
        open_chart(app, BASELINE)  # either side of the pair charts both
        await until(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws == 1)
        title, plot, legend = texts(chart(app))
        assert "percent" in title
        assert f"canary {CANARY} (120 points)" in legend and f"baseline {BASELINE} (120 points)" in legend
        assert "rule error_rate > 1.0%" in legend and "alert CanaryErrors > 0.8%" in legend
        assert "1.0%" in plot and "•" in plot  # the y axis reaches the rule's limit; the baseline's marker
        assert plot.count("┈") > 100  # two dotted threshold lines across the plot


async def test_the_palette_lists_every_series_and_opens_its_chart() -> None:
    app = OpsConsoleApp(FakeSource(rollout_snapshot()), refresh=60)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"chart: host/mem")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws == 1)
        assert chart(app).key == "host/mem_pct"


async def test_the_live_chart_redraws_only_when_its_points_change_and_on_resize() -> None:
    source = FakeSource(rollout_snapshot())
    app = OpsConsoleApp(source, refresh=60)
    async with app.run_test(size=SIZE) as pilot:
        open_chart(app, CANARY)
        await until(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws == 1)
        screen = chart(app)
        app.refresh_now()
        screen.update_data()
        await pilot.pause()
        assert screen.draws == 1  # the same snapshot again: no figure rebuilt
        source.current = rollout_snapshot(taken_at=T0 + 101)
        app.refresh_now()
        screen.update_data()
        await pilot.pause()
        assert screen.draws == 2
        width = len(screen.plot_plain.splitlines()[0])
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: screen.draws == 3)
        assert len(screen.plot_plain.splitlines()[0]) < width


async def test_zoom_reads_the_running_engines_history_for_the_longer_windows(history: Path) -> None:
    """Live on an engine whose store is the synthetic history: 5m from the snapshot, 1h and 24h
    from the file, with the rollout's stage changes marked."""
    at = SYNTHETIC_T0 + 310
    source = FakeSource(rollout_snapshot(taken_at=at))
    source.config = SimpleNamespace(store=SimpleNamespace(path=history))  # the engine's store path
    app = OpsConsoleApp(source, refresh=60)
    async with app.run_test(size=SIZE) as pilot:
        open_chart(app, CANARY)
        await until(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws == 1)
        screen = chart(app)
        assert "engine memory" in texts(screen)[0]
        await pilot.press("2")
        await until(pilot, lambda: screen.draws == 2)
        title, plot, legend = texts(screen)
        assert "1h window (live) · history" in title
        assert screen.data is not None and screen.data.t1 - screen.data.t0 == 3600
        labels = plot.splitlines()[-1].split()  # clock times under the x axis, ten minutes apart
        minutes = [int(x[:2]) * 60 + int(x[3:]) for x in labels]
        assert len(labels) >= 5 and all(b - a in (10, 10 - 1440) for a, b in pairwise(minutes)), labels
        # the recorded transitions, 100 s apart at the hour's end: the last one's label is read,
        # the legend counts them all
        assert "rolled-back▕" in plot and "rollout stage changes: 4" in legend
        await pilot.press("z")
        await until(pilot, lambda: screen.draws == 3)
        assert "24h window" in texts(screen)[0] and screen.data.t1 - screen.data.t0 == 86400
        await pilot.press("z")  # back to 5m: the snapshot again
        await until(pilot, lambda: screen.draws == 4)
        assert "5m window" in texts(screen)[0]


async def test_attached_without_a_readable_history_the_longer_zooms_say_why(tmp_path: Path) -> None:
    source = FakeSource(rollout_snapshot(), mode=SourceMode.ATTACH)
    source.db_path = tmp_path / "elsewhere" / "history.db"  # not there: another account's state dir
    app = OpsConsoleApp(source, refresh=60)
    async with app.run_test(size=SIZE) as pilot:
        open_chart(app, CANARY)
        await until(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws == 1)
        screen = chart(app)
        await pilot.press("3")
        await until(pilot, lambda: screen.queries == 1)
        plot = texts(screen)[1]
        assert "the 24h zoom reads the engine's history, which is unavailable" in plot
        assert f"{source.db_path} does not exist" in plot and "Press 1" in plot
        await pilot.press("1")
        await until(pilot, lambda: screen.draws == 2)
        assert "┤" in texts(screen)[1]


async def test_in_review_the_chart_reads_the_file_up_to_the_cursor(history: Path) -> None:
    app = ReviewApp(HistorySource(open_history(history), at=SYNTHETIC_T0 + 310))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.rollout is not None)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*f"chart: {CANARY}")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChartScreen) and app.screen.draws == 1)
        screen = chart(app)
        title, plot, legend = texts(screen)
        assert title.startswith(f"{CANARY} · percent · 5m window (review) · history")
        assert screen.data.t1 == SYNTHETIC_T0 + 310
        assert f"canary {CANARY}" in legend and f"baseline {BASELINE}" in legend
        assert "rule error_rate > 1.0%" in legend and "alert CanaryErrors > 2.0%" in legend
        assert "5%┤" in plot  # the canary's jump to 5% at T0+280 is on the scale
        assert "▏25%" in plot and "rolled-back▕" in plot  # near the right edge: the label ends at its line
        await pilot.press("2")
        await until(pilot, lambda: screen.draws == 2)
        assert "1h window (review)" in texts(screen)[0]


def test_the_console_and_the_chart_module_do_not_import_plotext() -> None:
    """plotext is imported when a chart is drawn, so the always-on console keeps its cost."""
    probe = ("import json, sys; import console.app, console.review, console.screens.chart; "
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith('plotext'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == []
