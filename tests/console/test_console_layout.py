"""Layout: all six panels present, visible (or reachable by tab) at every supported size."""

from __future__ import annotations

import pytest
from console_fakes import DemoSource

PANELS = ("throughput", "memory", "errors", "gaps", "health", "rollout")


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_all_six_panels_visible(make_app, size):
    app = make_app(source=DemoSource())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen.region
        for name in PANELS:
            panel = app.screen.query_one(f"#{name}")
            assert panel.region.area > 0, name
            assert screen.contains_region(panel.region), (name, panel.region)
            assert panel.body.lines, f"{name} rendered nothing"
        assert app.header.plain.startswith("opsconsole · RUNNING" if size[0] > 80 else "RUNNING")
        assert "health: " in app.header.plain and "checkout 10% (2/4) running" in app.header.plain


async def test_grid_shape_follows_width(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        rows = {p.region.y for p in app.panels}
        assert len(rows) == 2  # 3 x 2
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert len({p.region.y for p in app.panels}) == 3  # 2 x 3
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert len({p.region.x for p in app.panels}) == 1  # compact: one column (test_compact_layout.py)


async def test_narrow_terminal_reaches_every_panel_by_tab(make_app):
    app = make_app(source=DemoSource())
    async with app.run_test(size=(60, 24)) as pilot:
        await pilot.pause()
        seen = set()
        for _ in PANELS:
            focused = app.focused
            assert focused is not None
            await pilot.pause()
            assert app.screen.region.overlaps(focused.region), f"{focused.id} focused but off screen"
            seen.add(focused.id)
            await pilot.press("tab")
        assert seen == set(PANELS)


async def test_panel_height_follows_its_lines(make_app, source):
    """A panel whose content shrinks (long sentence -> two rates) must not keep a stale height
    (and a scrollbar for nothing)."""
    from console_fakes import series, snap

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        source.current = snap(series=(series("a", "x_per_s", [1.0]), series("b", "y_per_s", [2.0])))
        app.refresh_now()
        await pilot.pause()
        panel = app.panels[0]
        assert panel.body.size.height == 2
        assert panel.max_scroll_y == 0
