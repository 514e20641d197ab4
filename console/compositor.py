"""A compositor that renders, for a partial update, only the rows of the widgets that changed.

Textual's partial update (textual/_compositor.py, `render_partial_update`) crops to the box around
all dirty regions, then asks every widget overlapping that box for its whole visible area. The
console's updates are spread over the screen every second (a digit in each panel, the clock in the
top right corner), so the box is the screen and every widget - the screen, the panel area, six
panels and their scrollbars, the footer and each of its keys - was rendered each second to use a
few rows of it. Here each widget renders only the rows that hold a dirty region overlapping it
(full width, so Textual's cuts and chops line up as before); a widget no dirty region touches
is not rendered at all, nor one whose dirty areas all lie inside a widget in front of it. What
reaches the terminal is the same: the same dirty spans, filled from the same front-most widget
(tests/console/test_compositor.py compares the two, frame by frame).

Textual is pinned (pyproject.toml) because this reaches into its compositor's private parts.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.strip import Strip


class DirtyRowsCompositor(Compositor):
    def __init__(self) -> None:
        super().__init__()
        self._updating: list[Region] | None = None  # the dirty regions while a partial update renders

    def render_partial_update(self) -> ChopsUpdate | None:
        self._updating = [region.intersection(self.size.region) for region in self._dirty_regions]
        try:
            return super().render_partial_update()
        finally:
            self._updating = None

    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        dirty = self._updating
        if dirty is None:  # a full update, a screenshot: Textual's own
            yield from super()._get_renders(crop)
            return
        # Front to back, as Textual paints (the first strip for a cut wins): an area inside one
        # widget's visible region is painted by it alone, so the widgets behind (the panel's
        # box, the panel area, the screen) are not asked for it.
        pending = dirty
        for widget, (region, clip) in self.visible_widgets.items():
            visible = region.intersection(clip)
            top, bottom = visible.bottom, visible.y
            for area in pending:
                if visible.overlaps(area):
                    top, bottom = min(top, area.y), max(bottom, area.bottom)
            top, bottom = max(top, visible.y), min(bottom, visible.bottom)
            if top >= bottom:
                continue
            rows = Region(visible.x, top, visible.width, bottom - top)
            yield rows, rows, widget.render_lines(rows.translate(-region.offset))
            pending = [area for area in pending if not visible.contains_region(area)]
            if not pending:
                return
