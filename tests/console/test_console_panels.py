"""Panels: honest empty states, no fake zeros, no needless repaints, the error detail modal."""

from __future__ import annotations

import dataclasses

from console_fakes import T0, DemoSource, series, snap

from console.screens.error_detail import ErrorDetailScreen
from engine.snapshot import ErrorGroup, RolloutView, RuleView


def screen_text(app) -> str:
    """What the terminal shows (the compositor's strips)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def text(app, panel_id: str) -> str:
    return app.screen.query_one(f"#{panel_id}").body.plain


async def test_unconfigured_panels_say_so_plainly(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        flat = {p.id: " ".join(p.body.plain.split()) for p in app.panels}
        # "test" is the fake engine's config name: the panels name the file that is running.
        assert flat["throughput"] == "no throughput source yet — add watch: or collect: to test"
        assert flat["errors"].startswith("no error source yet")
        assert flat["gaps"] == "no collection configured — add collect: to test"
        assert flat["rollout"] == "no rollout configured — add canary: to test"
        assert "no health checks configured" in flat["health"]
        assert "rollout" not in app.header.plain or "no rollout" in app.header.plain


async def test_absent_series_show_a_dash_never_zero(make_app, source):
    source.current = snap(series=(series("host", "mem_pct", [40.0, 42.5], "%"),))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        rows = {ln.split()[0] + " " + ln.split()[1]: ln for ln in text(app, "memory").splitlines()[:7]}
        assert "42.5%" in rows["host mem"]
        for absent in ("host avail", "host swap", "host cpu", "host load1", "engine rss", "engine peak"):
            assert rows[absent].split()[-1] == "—", rows[absent]
        assert "0" not in text(app, "memory").replace("40", "").replace("42.5", "")


async def test_rates_sparklines_totals_and_units(make_app, source):
    source.current = snap(
        configured=frozenset({"watch"}),
        series=(
            series("watch:inbox", "files_per_s", [0.0, 1.0, 2.0, 4.0], "/s"),
            series("watch:inbox", "files_total", [7.0, 9.0]),
            series("canary", "error_rate", [0.001, 0.004]),
        ),
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        line = text(app, "throughput").splitlines()[0]
        assert line.split()[:4] == ["watch:inbox", "files", "4/s", "Σ9"]
        assert line.endswith("▁▃▅█")
        assert "0.4%" in text(app, "errors")


async def test_unchanged_slice_is_not_repainted(make_app, source):
    demo = DemoSource()
    source.current = demo.snapshot()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        before = {p.id: p.updates for p in app.panels}
        assert all(before.values())
        app.refresh_now()  # same snapshot object
        source.current = dataclasses.replace(source.current)  # an equal copy
        app.refresh_now()
        assert {p.id: p.updates for p in app.panels} == before
        # only the memory slice changes: only the memory panel repaints
        mem = source.current.get("host", "mem_pct")
        changed = tuple(dataclasses.replace(s, values=s.values[:-1] + (99.0,)) if s is mem else s
                        for s in source.current.series)
        source.current = dataclasses.replace(source.current, series=changed)
        app.refresh_now()
        after = {p.id: p.updates for p in app.panels}
        assert after == {**before, "memory": before["memory"] + 1}


async def test_a_changed_line_repaints_only_that_line(make_app, source):
    source.current = snap(series=(series("host", "mem_pct", [40.0], "%"), series("host", "cpu_pct", [5.0], "%")))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        body = app.screen.query_one("#memory").body
        source.current = snap(series=(series("host", "mem_pct", [40.0], "%"), series("host", "cpu_pct", [6.0], "%")))
        app.refresh_now()
        dirty = body._repaint_regions  # what the compositor will send: one row, not the panel
        assert len(dirty) == 1 and next(iter(dirty)).height == 1
        await pilot.pause()
        assert "6.0%" in screen_text(app) and "5.0%" not in screen_text(app)  # and it is not stale


async def test_enter_on_an_error_opens_its_full_text(make_app, source):
    long_message = "upstream timeout talking to payments-gateway.internal:8443 after 30s " * 3
    source.current = snap(
        configured=frozenset({"watch"}),
        errors=(
            ErrorGroup("canary", "old error", 2, T0, T0 + 10),
            ErrorGroup("canary", long_message, 5, T0, T0 + 90, context="GET /pay 504\\nretry=3"),
        ),
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.screen.query_one("#errors").focus()
        await pilot.pause()
        lines = text(app, "errors").splitlines()
        assert "upstream timeout" in lines[1] and "old error" in lines[2]  # newest first
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDetailScreen)
        detail = str(app.screen.query_one("#error-text").render())
        assert long_message in detail and "GET /pay" in detail and "count  5" in detail
        await pilot.press("q")
        await pilot.press("down", "enter")
        await pilot.pause()
        assert "old error" in str(app.screen.query_one("#error-text").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorDetailScreen)


async def test_a_json_log_line_reads_as_its_fields_without_the_time(make_app, source):
    """The Errors row of a JSON access-log line starts with what went wrong, not with a timestamp
    the age column already gives; the detail screen keeps the whole line."""
    raw = '{"time": "2026-12-06T02:03:04+00:00", "upstream": "canary", "status": 502, "request": "GET /pay"}'
    source.current = snap(configured=frozenset({"watch"}), errors=(ErrorGroup("log:access", raw, 4, T0, T0 + 90),))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        rows = text(app, "errors").splitlines()
        assert any("log:access: upstream=canary" in row for row in rows), rows  # then cut to the panel
        assert not any("2026-12-06" in row for row in rows)
        app.screen.query_one("#errors").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert raw in str(app.screen.query_one("#error-text").render())


async def test_rollout_panel_ladder_rules_and_verbs(make_app, source):
    source.current = snap(rollout=RolloutView(
        id=1, service="checkout", status="running", stage_index=1,
        stages=((5, "1m"), (10, "2m"), (50, "5m"), (100, "")), weight=10, target_weight=50,
        stage_started=T0 + 40, next_promotion_at=T0 + 160,
        rules=(RuleView("error_rate", 0.004, 0.01, 1, 3, 1, 10),), score=0.9,
        last_decision="hold", verbs=("promote", "rollback")))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        body = " ".join(text(app, "rollout").split())
        assert "5 → [10] → 50 → 100" in body
        assert "error_rate 0.4% / 1.0% 1/3 consecutive · 1/10 total" in body
        assert "in stage 1m · next promotion in 1m" in body
        assert "keys: P promote · R roll back" in body
        assert "checkout 10% (2/4) running" in app.header.plain


async def test_a_stage_past_its_hold_says_which_rule_holds_it_not_next_promotion_in_0s(make_app, source):
    source.current = snap(rollout=RolloutView(
        id=1, service="checkout", status="running", stage_index=1,
        stages=((5, "1m"), (10, "2m"), (100, "")), weight=10, target_weight=100,
        stage_started=T0 - 130, next_promotion_at=T0 - 10,
        rules=(RuleView("error_rate", 0.03, 0.01, 1, 3, 1, 10, state="breach"),
               RuleView("latency_p99", 0.2, 0.5, 0, 3, 0, 10, state="pass")),
        verbs=("promote", "rollback")))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        body = " ".join(text(app, "rollout").split())
        assert "in stage 3m · waiting for error_rate" in body, body  # the longest wording that fits
        assert "next promotion in 0s" not in body


async def test_modal_defers_applying_and_closing_applies(make_app, source):
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        source.current = snap(series=(series("host", "mem_pct", [77.0], "%"),))
        app.refresh_now()
        assert app.snapshot is source.current
        memory = app.panels[1]
        assert "77.0%" not in memory.body.plain  # pulled, not applied under the modal
        await pilot.press("q")
        await pilot.pause()
        assert "77.0%" in memory.body.plain


async def test_a_failing_source_is_reported_and_the_last_data_stays(make_app, source):
    source.current = snap(series=(series("host", "mem_pct", [50.0], "%"),))
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()

        def broken():
            raise RuntimeError("store: database is locked")

        source.snapshot = broken
        app.refresh_now()
        app.refresh_now()
        failures = [t for _, sev, t in app.notices if sev == "error"]
        assert len(failures) == 1 and "database is locked" in failures[0]
        assert "50.0%" in app.panels[1].body.plain


async def test_a_panel_that_raises_shows_why_and_the_others_stay_live(make_app, source, monkeypatch):
    from console.panels.rollout import RolloutPanel

    def broken(self, snapshot, width):
        raise ValueError("stage index out of range")

    monkeypatch.setattr(RolloutPanel, "view", broken)
    source.current = snap(series=(series("host", "mem_pct", [50.0], "%"),))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "Rollout panel failed: ValueError('stage index out of range')" in " ".join(text(app, "rollout").split())
        assert "50.0%" in text(app, "memory")


async def test_engine_notice_is_shown_once_and_bell_rings_on_a_new_alert(make_app, source, monkeypatch):
    from engine.snapshot import AlertView

    app = make_app(bell=True)
    rings = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(1))
    firing = AlertView("HighErrorRate", "firing", "critical", T0)
    async with app.run_test() as pilot:
        await pilot.pause()
        source.current = snap(notice="store: disk full, samples are being dropped", alerts=(firing,))
        app.refresh_now()
        app.refresh_now()
        assert [t for _, _, t in app.notices].count("engine: store: disk full, samples are being dropped") == 1
        assert rings == [1]
        assert "alerts: 1" in app.header.plain
