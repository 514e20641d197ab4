"""Accessibility (issue 17 item 6): every coloured state has a word or symbol beside it, in the
panels, the summaries and the header; the colour-blind-safe theme loads and draws; with NO_COLOR
(`--color-system mono`) the focused panel and cursor rows are told by style, not colour."""

from __future__ import annotations

from dataclasses import replace

import pytest
from console_fakes import T0
from rich.segment import Segment
from test_compact_layout import incident, screen_text
from textual.color import Color

from console.symbols import status_label, toast_label
from engine.snapshot import GapView, HealthView, RolloutView, TargetView

NOW = T0 + 100


def states_snapshot():
    return incident(
        health=(HealthView("disk", "OK", NOW - 60, "41GB", "≥1GB"), HealthView("api", "WARN", NOW - 9, "slow", ""),
                HealthView("db", "FAIL", NOW - 9, "refused", ""), HealthView("backup", "UNKNOWN", NOW - 9, "none yet", "")),
        targets=(TargetView("baseline", "OK"), TargetView("canary", "OPEN", "circuit open"),
                 TargetView("edge", "RETRYING", "timeout"), TargetView("old", "DISABLED")),
        gaps=(GapView("collect:canary/requests_per_s", NOW - 30, None, "connection refused"),
              GapView("host/mem_pct", NOW - 90, NOW - 60, "paused by operator")),
    )


def rollout(status: str, **kwargs: object) -> RolloutView:
    return RolloutView(id=1, service="demo", status=status, stage_index=1, stages=((10, "1m"), (100, "")),
                       weight=10, target_weight=100, stage_started=NOW - 9, **kwargs)  # type: ignore[arg-type]


async def test_every_state_has_a_word_in_the_panels_and_header(make_app, source):
    source.current = states_snapshot()
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        health = app.query_one("#health").body.plain
        for word in ("OK", "WARN", "FAIL", "UNKNOWN", "FIRING", "PENDING"):
            assert word in health, word
        gaps = app.query_one("#gaps").body.plain
        for word in ("OPEN collect:canary", "closed host/mem_pct", "OK", "RETRYING", "DISABLED"):
            assert word in gaps, word
        assert "health: FAIL" in app.header.plain and "PAUSED" in app.header.plain
        assert "alerts: 1 +1 pending" in app.header.plain  # firing and pending told apart by words
        for status, word in (("running", "RUNNING"), ("paused", "PAUSED"), ("rolled-back", "ROLLED-BACK"),
                             ("promoted", "PROMOTED")):
            source.current = replace(source.current, rollout=rollout(status))
            app.refresh_now()
            await pilot.pause()
            assert f"demo #1 {word}" in app.query_one("#rollout").body.plain, status
        assert "Rollout" in text


async def test_summaries_put_a_symbol_beside_each_state(make_app, source):
    source.current = states_snapshot()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.query_one("#rollout").focus()
        await pilot.pause()
        text = screen_text(app)
        for expected in ("✖ FIRING CanaryErrors", "1 ✖ FAIL",
                         "✖ OPEN collect:canary"):
            assert expected in text, expected
        assert app.query_one("#rollout").body.plain.startswith("demo #1 PAUSED")  # expanded: the panel's own words
        gaps = app.query_one("#gaps")
        wide = "".join(text for text, _ in gaps.summary(gaps.snapshot, 200)[0])  # at 80 columns it is cropped
        assert all(f"1 {label}" in wide for label in ("✖ OPEN", "▲ RETRYING", "○ DISABLED", "✔ OK")), wide


def test_symbols_come_from_one_place():
    assert [status_label(w) for w in ("OK", "WARN", "FAIL", "UNKNOWN", "OPEN")] == [
        "✔ OK", "▲ WARN", "✖ FAIL", "? UNKNOWN", "✖ OPEN"]
    assert toast_label("error", "rollout.rollback") == "✖ rollout.rollback"
    assert toast_label("warning", "") == "▲ warning"
    assert toast_label("information", "") == ""


async def test_the_colour_blind_theme_loads_and_draws(make_app, source):
    source.current = states_snapshot()
    app = make_app(theme="opsconsole-colorblind")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "opsconsole-colorblind" and not any("theme" in text for _, _, text in app.notices)
        app.query_one("#health").focus()
        await pilot.pause()
        # OK is sky blue and FAIL vermillion (Okabe-Ito), not green against red.
        colours = {seg.text.strip(): seg.style.color.triplet for strip in app.screen._compositor.render_strips()
                   for seg in strip if seg.style and seg.style.color and seg.text.strip() in ("OK", "FAIL")}
        for word, (r, g, b) in (("OK", (0x56, 0xB4, 0xE9)), ("FAIL", (0xD5, 0x5E, 0x00))):
            assert max(map(abs, (colours[word].red - r, colours[word].green - g, colours[word].blue - b))) <= 4, colours


async def test_t_reaches_the_colour_blind_theme(make_app):
    app = make_app()
    async with app.run_test() as pilot:
        for _ in range(5):
            if app.theme == "opsconsole-colorblind":
                break
            await pilot.press("t")
        assert app.theme == "opsconsole-colorblind"


def terminal_segments(app, y: int) -> list[Segment]:
    """Row `y` as it reaches the terminal: after the app's filters (Monochrome under NO_COLOR)."""
    segments = list(app.screen._compositor.render_strips()[y])
    for f in app._filters:
        segments = f.apply(segments, Color(0, 0, 0))
    return segments


@pytest.mark.parametrize("panel", ["errors", "gaps", "health"])
async def test_mono_cursor_rows_and_focus_are_told_by_style(make_app, source, monkeypatch, panel):
    monkeypatch.setenv("NO_COLOR", "1")
    source.current = states_snapshot()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.has_class("-mono")
        widget = app.query_one(f"#{panel}")
        widget.focus()
        await pilot.pause()
        cursor_rows = [y for y in range(app.size.height)
                       if any(seg.style and seg.style.reverse and seg.text.strip()
                              and widget.region.contains(widget.region.x + 1, y) for seg in terminal_segments(app, y))]
        body_rows = [y for y in cursor_rows if y != widget.region.y]  # the title row is reverse too
        assert body_rows, f"no reverse cursor row in {panel}"
        title_row = terminal_segments(app, widget.region.y)
        assert any(seg.style and seg.style.reverse and seg.style.bold and widget.TITLE in seg.text for seg in title_row)
        assert "┏" in "".join(seg.text for seg in title_row)  # heavy border: focus without colour
