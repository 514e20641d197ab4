"""console/compositor.py renders only the dirty rows of the widgets a partial update touches: the
terminal must still end up showing, after every frame, exactly what a full repaint would show."""

from __future__ import annotations

from typing import Any

from console_fakes import T0, DemoSource
from textual._compositor import ChopsUpdate, CompositorUpdate

from console.app import OpsConsoleApp
from console.compositor import DirtyRowsCompositor
from tests.termscreen import TermScreen

COLS, ROWS = 120, 40


def full_repaint(app: OpsConsoleApp) -> TermScreen:
    """The screen as Textual's own full render draws it now (its compositor, every widget)."""
    screen = TermScreen(COLS, ROWS)
    strips = app.screen._compositor.render_strips()
    screen.feed("".join(f"\x1b[{y + 1};1H" + strip.render(app.console) for y, strip in enumerate(strips)))
    return screen


async def test_every_partial_update_leaves_the_terminal_as_a_full_repaint_would() -> None:
    now = [T0]
    app = OpsConsoleApp(DemoSource(clock=lambda: now[0]), refresh=60.0)
    terminal = TermScreen(COLS, ROWS)
    partial = 0

    async with app.run_test(size=(COLS, ROWS)) as pilot:
        assert isinstance(app.screen._compositor, DirtyRowsCompositor)

        def display(_screen: Any, update: Any) -> None:  # what the driver would write (headless: nothing)
            nonlocal partial
            if isinstance(update, CompositorUpdate):
                partial += isinstance(update, ChopsUpdate)
                terminal.feed(update.render_segments(app.console))

        app._display = display  # type: ignore[method-assign]
        app.screen.refresh()  # a first full frame through the capture
        await pilot.pause()
        first = terminal.text()
        for second in range(1, 40):
            now[0] = T0 + second
            app.refresh_now()
            await pilot.pause()
            if second == 20:  # focus moves: two panels' borders change, the rest does not
                await pilot.press("tab")
                await pilot.pause()
            assert terminal.cells == full_repaint(app).cells, f"second {second}"

    assert partial >= 30  # the frames were partial updates, not full ones
    assert terminal.text() != first  # and the panels changed
