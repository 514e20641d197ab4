"""80x24 as a first-class size (issue 17 item 4): the focused panel expanded, the other five as key
lines, tab moving which one is expanded; the header keeps health and the rollout's state; toasts
never cover the Rollout panel; throughput sparklines draw."""

from __future__ import annotations

import pytest
from console_fakes import T0, DemoSource, series, snap
from textual.widgets._toast import Toast

from engine.snapshot import (
    AlertView,
    EngineState,
    ErrorGroup,
    GapView,
    HealthView,
    RolloutView,
    RuleView,
    TargetView,
)

PANELS = ("throughput", "memory", "errors", "gaps", "health", "rollout")


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def incident(**overrides: object):
    """One of everything, with numbers a test can look for."""
    now = T0 + 100
    values: dict[str, object] = dict(
        config_name="a-rather-long-config-name-for-this-host.yaml",
        profile="production",
        series=(
            series("collect:baseline", "requests_per_s", [8.0, 9.0, 8.95], "/s"),
            series("collect:canary", "requests_per_s", [1.0, 1.1, 0.99], "/s"),
            series("host", "mem_pct", [3.0, 3.3], "%"),
            series("host", "cpu_pct", [60.0, 61.9], "%"),
            series("host", "load1", [2.5, 2.57]),
            series("engine", "rss_bytes", [61e6, 61.2e6], "B"),
            series("collect:canary", "error_rate", [0.01, 0.021]),
        ),
        health=(HealthView("disk", "OK", now - 60, "41GB", "≥1GB"), HealthView("api", "WARN", now - 9, "slow", ""),
                HealthView("backup", "UNKNOWN", now - 9, "none yet", "")),
        alerts=(AlertView("CanaryErrors", "firing", "critical", now - 20, "collect:canary/error_rate", value=0.021),
                AlertView("CpuHigh", "pending", "warning", now - 5, "host/cpu_pct", value=61.9)),
        gaps=(GapView("collect:canary/requests_per_s", now - 30, None, "connection refused"),),
        targets=(TargetView("baseline", "OK"), TargetView("canary", "OPEN", "connection refused")),
        errors=(ErrorGroup("collect:canary", "upstream timeout", 7, T0, now - 3, ""),),
        rollout=RolloutView(
            id=1, service="demo", status="paused", stage_index=0, stages=((10, "1m"), (25, "1m"), (50, "1m"), (100, "")),
            weight=10, target_weight=25, stage_started=now - 9, hold_left=40.0,
            rules=(RuleView("error_rate", 0.021, 0.01, 2, 3, 2, None, state="breach"),
                   RuleView("canary up", None, 0.0, 0, 3, 0, None, op="", state="pass")),
        ),
        state=EngineState.PAUSED,
    )
    values.update(overrides)
    return snap(**values)


async def test_80x24_shows_every_panels_key_numbers(make_app, source):
    source.current = incident()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        header = text.splitlines()[0]
        assert "health: WARN +1 unknown" in header and "demo 10% 1/4 paused" in header and "PAUSED" in header
        for expected in ("8.95/s", "0.99/s",  # throughput (expanded)
                         "mem 3.3%", "cpu 61.9%", "load 2.57", "rss 61.2MB",  # memory
                         "canary 2.1%", "1 message, newest 3s: upstream timeout",  # errors
                         "✖ OPEN collect:canary/requests_per_s", "1 ✖ OPEN", "1 ✔ OK",  # gaps
                         "✖ FIRING CanaryErrors", "1 ▲ WARN",  # health
                         "demo #1 ▲ PAUSED 10% → 25% (1/4)", "stage 9s · 40s hold left", "error_rate 2.1% ✖ BREACH",
                         "canary up ✔ OK"):  # rollout
            assert expected in text, expected
        for name in PANELS:
            panel = app.query_one(f"#{name}")
            assert app.screen.region.contains_region(panel.region), name
        assert "alerts 1 +1p" in header  # the pending alert: counted in the header, named when wider
        health = app.query_one("#health")
        assert "1 ▲ PENDING CpuHigh" in "".join(text for text, _ in health.summary(health.snapshot, 120)[0])


async def test_tab_moves_which_panel_is_expanded(make_app, source):
    source.current = incident()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for name in PANELS:
            assert app.focused is not None and app.focused.id == name
            heights = {p.id: p.region.height for p in app.panels}
            assert heights.pop(name) >= 10, (name, heights)  # expanded: most of the screen
            assert heights == {p: (2 if p == "rollout" else 1) for p in heights}
            assert sum(p.region.height for p in app.panels) == 22  # header and footer: all the rest
            await pilot.press("tab")
            await pilot.pause()


async def test_rollout_expanded_shows_whole_decision_at_80x24(make_app, source):
    reason = ("rolled back: error_rate 2.1% > 1.0% for 3 consecutive checks (canary 21/1000 requests failed, "
              "baseline 2/1000); traffic is back on the stable version")
    source.current = incident(rollout=RolloutView(
        id=1, service="demo", status="rolled-back", stage_index=1, stages=((10, "1m"), (25, "1m"), (100, "")),
        weight=0, target_weight=0, stage_started=T0 + 10, ended=T0 + 90, last_decision=reason))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "rolled back: error_rate 2.1% > 1.0%" in screen_text(app)  # its summary, before any key
        app.query_one("#rollout").focus()
        await pilot.pause()
        panel = app.query_one("#rollout")
        assert panel.max_scroll_y == 0
        assert "traffic is back on the stable version" in panel.body.plain.replace("\n", " ")


@pytest.mark.parametrize("focus", ["throughput", "rollout"])
async def test_toasts_never_cover_the_rollout_panel(make_app, source, focus):
    source.current = incident()
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        app.query_one(f"#{focus}").focus()
        await pilot.pause()
        for i in range(3):
            app.say(f"message {i} that is long enough to need more than one line at forty columns, surely",
                    title="engine", severity="warning")
        await pilot.pause()
        await pilot.pause()
        toasts = [t for t in app.screen.query(Toast) if t.region.area]
        assert toasts
        rollout = app.query_one("#rollout").region
        for toast in toasts:
            assert not toast.region.overlaps(rollout), (toast.region, rollout)
            assert toast.region.height == 1
        assert "▲ engine: message 2" in screen_text(app).splitlines()[-1]  # the newest, its severity as a symbol


async def test_throughput_sparklines_draw_at_80_columns(make_app):
    app = make_app(source=DemoSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        rows = app.query_one("#throughput").body.plain.splitlines()
        assert rows and all(any(c in "▁▂▃▄▅▆▇█" for c in row) for row in rows), rows


@pytest.mark.parametrize("size", [(120, 40), (200, 60)])
async def test_large_terminals_keep_the_grid(make_app, source, size):
    source.current = incident()
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert not app.compact
        assert all(not p.summarized and p.region.height > 5 for p in app.panels)
        assert "health: WARN +1 unknown" in app.header.plain and "demo 10% (1/4) paused" in app.header.plain
        if size[0] >= 200:
            assert "opsconsole · PAUSED · a-rather-long-config-name" in app.header.plain


async def test_resize_switches_layouts(make_app, source):
    source.current = incident()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.compact and sum(p.summarized for p in app.panels) == 5
        assert "health: WARN" in app.header.plain
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not app.compact and not any(p.summarized for p in app.panels)


def test_summary_names_stay_apart():
    from console.compact import short_names

    assert short_names(["collect:baseline", "collect:canary", "log:access:baseline", "engine"]) == {
        "collect:baseline": "baseline", "collect:canary": "canary", "log:access:baseline": "access:baseline",
        "engine": "engine"}


async def test_review_switches_layouts_on_a_resize(tmp_path):
    from console.review import ReviewApp
    from engine.history.opener import open_history
    from engine.history.source import HistorySource
    from tests.reviewfixtures import synthetic_history

    app = ReviewApp(HistorySource(open_history(synthetic_history(tmp_path / "h"))))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not app.compact
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.compact and sum(p.summarized for p in app.panels) == 5
    app.history.close()
