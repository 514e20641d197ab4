"""A row cursor over the series a panel lists, and enter to chart the one under it: the
Throughput and Memory panels' way into the chart screen (as the Errors and Health panels have a
cursor for their detail).

The cursor is kept by series key, so rows that come and go do not move it; it is drawn (reverse
video on the row's label) only while the panel has focus, so an unfocused panel repaints nothing
for it. The chart screen is imported when enter is pressed, not with the panel.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.geometry import Region

from console.lines import Line

CURSOR_STYLE = "reverse"
CURSOR_BINDINGS = [
    Binding("down,j", "cursor(1)", "next row", show=False),
    Binding("up,k", "cursor(-1)", "previous row", show=False),
    Binding("enter", "chart", "chart the row's series", show=False),
]


class SeriesCursor:
    """Mixed into a Panel: `mark(rows, keys)` at the end of `view()`; keys[i] is the series row i
    charts, or None for a row that charts nothing."""

    selected_key: str | None = None
    _keys: tuple[str, ...] = ()
    _key_rows: dict[str, int] = {}

    def mark(self, rows: list[Line], keys: list[str | None]) -> tuple[Line, ...]:
        self._key_rows = {}
        for i, k in enumerate(keys):
            if k is not None and k not in self._key_rows:
                self._key_rows[k] = i
        self._keys = tuple(self._key_rows)
        current = self.cursor_key()
        if current is None or not getattr(self, "has_focus", False):
            return tuple(rows)
        at = self._key_rows[current]
        out = list(rows)
        out[at] = highlight(rows[at])
        return tuple(out)

    def cursor_key(self) -> str | None:
        if self.selected_key in self._key_rows:
            return self.selected_key
        return self._keys[0] if self._keys else None

    def action_cursor(self, step: int) -> None:
        if not self._keys:
            return
        current = self.cursor_key()
        index = self._keys.index(current) if current in self._keys else 0
        self.selected_key = self._keys[min(len(self._keys) - 1, max(0, index + step))]
        panel: Any = self
        panel.redraw()
        panel.scroll_to_region(Region(0, self._key_rows[self.selected_key], 1, 1), animate=False)

    def action_chart(self) -> None:
        panel: Any = self
        key = self.cursor_key()
        if key is None:
            panel.notify("no series on this panel to chart", severity="warning")
            return
        from console.screens.chart import open_chart

        open_chart(panel.app, key)

    def on_focus(self) -> None:
        # After the event: Widget._on_focus, which sets has_focus, runs after this subclass handler.
        self.call_next(self.redraw)

    def on_blur(self) -> None:
        self.call_next(self.redraw)


def highlight(row: Line) -> Line:
    """The row with its first span (the label) in reverse video: one span, whatever the row holds."""
    if not row:
        return row
    (text, style), *rest = row
    return ((text, f"{style} {CURSOR_STYLE}".strip()), *rest)
