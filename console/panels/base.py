"""What every panel shares: a view model made of styled lines, and a body that repaints only the
lines that changed.

A panel turns a Snapshot into a `View`: a tuple of lines, each a tuple of (text, style) spans.
The view is hashable and cheap to compare, so:
- an equal view means the panel does nothing at all (zero bytes to the terminal);
- an unequal view repaints only the lines that differ (Textual sends whole dirty regions; it
  does not diff against the previous frame, so line-level refreshes are what keeps the wire quiet).

Styles are theme variables ("$success", "$warning", "$error", "$text-muted", "bold"), one span per
status word or sparkline, never per cell.

In the low-bandwidth mode (`App.low_bandwidth`) the numbers stay live at the refresh rate, but a
sparkline or chart (a SPARK_STYLE span) moves on only every LOW_BANDWIDTH_SPARK_EVERY seconds,
and without colour: a sparkline shifts every cell each time a point arrives, and its colour says
nothing the shape does not.
"""

from __future__ import annotations

import logging
import os
import textwrap
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget

from console.lines import MUTED, SPARK_STYLE, Line, Span, View, line, sentence  # noqa: F401  (the panels import them from here)
from console.render import fit, sparkline
from engine.snapshot import Snapshot

log = logging.getLogger(__name__)

LOW_BANDWIDTH_SPARK_EVERY = 5.0  # seconds between sparkline redraws in the low-bandwidth mode
SPAN_STYLES_MAX = 4096  # cached (style, column) styles per body before they are worked out again


STATUS_STYLES = {
    "OK": "$success",
    "RUNNING": "$success",
    "WARN": "$warning",
    "RETRYING": "$warning",
    "PENDING": "$warning",
    "RESTARTING": "$warning",
    "WAITING": "$warning",
    "FAIL": "$error",
    "OPEN": "$error",
    "AUTH FAILED": "$error",
    "FIRING": "$error",
    "CRASHED": "$error",
    "FAILED": "$error",
    "UNKNOWN": "$text-muted",
    "DISABLED": "$text-muted",
    "STOPPED": "$text-muted",
}


def add_to_config(keys: str, config_name: str) -> str:
    """"add canary: to opsconsole.yaml": the file the engine runs (its name, as the header shows
    it), or "a config file" for the built-in demo and defaults, which have no file to edit."""
    if not config_name or config_name.startswith("built-in"):  # engine/runtime.py: "built-in defaults"
        return f"add {keys} to a config file"
    return f"add {keys} to {config_name}"


def status_span(word: str, width: int = 0) -> Span:
    """A status word in its colour, padded to `width` (padding inside the one span)."""
    return (word.ljust(width), STATUS_STYLES.get(word.upper(), ""))


def to_content(view_line: Line) -> Content:
    return Content.assemble(*((text, style) if style else text for text, style in view_line))


def changed_cells(old: Line, new: Line, y: int) -> Region:
    """The columns of row `y` that differ between two versions of a line (text or style).

    A value that ticks from 21.5% to 21.7% repaints two cells, not the row: Textual sends exactly
    the dirty regions, with a cursor move in front of each. Spans are compared whole first and
    their text only where they differ (this runs for every changed line, every second): two
    lines that split the same cells into spans differently get a wider region, never a narrower one.
    """
    start = _common_cells(old, new)
    old_width, new_width = _width(old), _width(new)
    suffix = 0
    # A shared tail only stays put on screen when both lines are equally wide: if "9s" became
    # "10s", everything after it moved one column and must be repainted.
    if old_width == new_width:  # (prefix and suffix each stop at a differing cell: they cannot overlap)
        suffix = _common_cells(_reversed(old), _reversed(new))
    end = max(old_width, new_width) - suffix
    return Region(start, y, max(1, end - start), 1)


def _common_cells(a: Line, b: Line) -> int:
    """How many cells two lines share from their start: whole equal spans, then the common
    beginning of the first differing pair when its style is the same."""
    cells = 0
    for (text_a, style_a), (text_b, style_b) in zip(a, b, strict=False):
        if style_a != style_b:
            return cells
        if text_a != text_b:
            return cells + cell_len(os.path.commonprefix((text_a, text_b)))
        cells += cell_len(text_a)
    return cells


def _width(view_line: Line) -> int:
    return sum(cell_len(text) for text, _ in view_line)


def _reversed(view_line: Line) -> Line:
    return tuple((text[::-1], style) for text, style in reversed(view_line))


class PanelBody(Widget):
    """The lines of a panel. Re-renders and repaints the changed lines only; relayouts when the
    count changes.

    One view line is one screen line (no wrapping here: panels wrap or crop to their width), which
    is what lets a changed line map to exactly one dirty row. Each line's Strip is cached:
    Textual's default `render_line` re-renders the widget's whole content whenever any region of
    it is dirty (Visual.to_strips was ~25% of the UI thread's time in a profile); here only the
    lines that changed are rendered again.
    """

    DEFAULT_CSS = """
    PanelBody { height: 1; width: 1fr; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: View = ()
        self._strips: list[Strip | None] = []
        self._strip_key: tuple[object, ...] | None = None
        self._height = 1  # as in DEFAULT_CSS
        self._span_styles: dict[tuple[str, int], RichStyle] = {}  # (style, column) -> the segment's style
        self._base_styles: dict[str, RichStyle] = {}  # style -> its Rich style on this body

    @property
    def lines(self) -> View:
        return self._lines

    def set_lines(self, lines: View) -> None:
        old, self._lines = self._lines, lines
        del self._strips[len(lines):]
        self._strips.extend([None] * (len(lines) - len(self._strips)))
        dirty = []
        empty: Line = ()
        for y in range(max(len(old), len(lines))):
            a = old[y] if y < len(old) else empty
            b = lines[y] if y < len(lines) else empty
            if a != b:
                if y < len(lines):
                    self._strips[y] = None
                dirty.append(changed_cells(a, b, y))
        height = max(1, len(lines))
        if height != self._height:
            # An explicit height, not `auto`: Textual caches box models by a layout counter that a
            # second refresh(layout=True) in the same cycle does not bump, leaving stale heights.
            self._height = self.styles.height = height
            self.refresh()
        elif dirty:
            self.refresh(*dirty)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        key = (width, self.visual_style, self.app.theme)
        if key != self._strip_key or len(self._span_styles) > SPAN_STYLES_MAX:  # resized or restyled: every cached line is stale
            self._strip_key = key
            self._strips = [None] * len(self._lines)
            self._span_styles.clear()
            self._base_styles.clear()
        if y >= len(self._lines):
            return Strip.blank(width, self.visual_style.rich_style)
        strip = self._strips[y]
        if strip is None:
            if self.text_selection is None:
                strip = self._line_strip(self._lines[y], width)
            else:  # a mouse selection: Textual's own rendering, which draws it
                strips = Visual.to_strips(self, to_content(self._lines[y]), width, 1, self.visual_style)
                strip = strips[0] if strips else Strip.blank(width, self.visual_style.rich_style)
            self._strips[y] = strip
        return strip

    def _line_strip(self, view_line: Line, width: int) -> Strip:
        """The Strip Visual.to_strips makes of one view line, cell for cell and style for style
        (the selection offsets included), built from its spans: each span's Rich style is worked
        out once per (style, column) and theme. Visual.to_strips set up Content, styles and
        offsets for every changed line, ~30% of the UI thread on a live config (py-spy)."""
        styles = self._span_styles
        segments = []
        x = 0
        for text, style in view_line:
            if not text:
                continue
            rich = styles.get((style, x))
            if rich is None:
                rich = styles[(style, x)] = self._span_style(style) + RichStyle.from_meta({"offset": (x, 0)})
            segments.append(Segment(text, rich))
            x += len(text)
        strip = Strip(segments)
        return strip.crop(0, width) if strip.cell_length > width else strip

    def _span_style(self, style: str) -> RichStyle:
        """A span style as Textual renders it on this body (theme variables resolved), from a
        one-cell render through Visual.to_strips itself."""
        found = self._base_styles.get(style)
        if found is None:
            probe = Visual.to_strips(self, to_content((("x", style),)), 1, 1, self.visual_style)
            segment = next((seg for seg in probe[0] if seg.text), None) if probe else None
            found = self._base_styles[style] = (segment.style or RichStyle()) if segment else RichStyle()
        return found

    def render(self) -> Content:
        return Content("\n").join(to_content(ln) for ln in self._lines)

    @property
    def plain(self) -> str:
        """The text as shown (tests, debugging)."""
        return "\n".join("".join(text for text, _ in ln) for ln in self._lines)


class Panel(VerticalScroll):
    """A bordered, focusable, scrollable panel. Subclasses implement `view()`."""

    TITLE: ClassVar[str] = ""
    DEFAULT_CSS = """
    Panel { scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel")
        self.body = PanelBody()
        self.snapshot: Snapshot | None = None
        self.updates = 0  # how many times the view changed: tests assert no needless repaints
        self.summarized = False  # small terminals: its key lines only (console/compact.py)
        self._view: View | None = None
        self._sparks_at: float | None = None  # low bandwidth: when the shown sparklines were drawn
        self._sparks: list[dict[int, str]] = []  # and, per line, column -> the sparkline shown there

    def compose(self) -> ComposeResult:
        yield self.body

    def on_mount(self) -> None:
        self.border_title = self.TITLE

    @property
    def line_width(self) -> int:
        """Columns available to a line (the body's width, minus nothing: no padding inside)."""
        return max(10, self.scrollable_content_region.width)

    def apply(self, snapshot: Snapshot) -> bool:
        """Render `snapshot` if this panel's view of it changed. Returns True if it did."""
        self.snapshot = snapshot
        if not self.size.width:  # not laid out yet: on_resize renders it at its real width
            return False
        width = self.line_width
        try:
            view = self.summary(snapshot, width) if self.summarized else self.view(snapshot, width)
        except Exception as exc:  # one panel's bug on odd data must not take the console down
            log.exception("%s panel failed to render", self.TITLE)
            view = tuple(((part, "$error"),) for part in textwrap.wrap(
                f"{self.TITLE} panel failed: {exc!r} — the other panels are live; see the log", max(10, width)))
        return self._show(view)

    def redraw(self) -> None:
        """Re-derive the view from the last snapshot (after a resize or a cursor move)."""
        if self.snapshot is not None:
            self.apply(self.snapshot)

    def _show(self, view: View) -> bool:
        if getattr(self.app, "low_bandwidth", False):
            view = self._low_bandwidth(view)
        if view == self._view:
            return False
        self._view = view
        self.updates += 1
        self.body.set_lines(view)
        return True

    def _low_bandwidth(self, view: View) -> View:
        """Sparklines as last drawn until LOW_BANDWIDTH_SPARK_EVERY has passed, then the new ones;
        colourless either way. The snapshot's time is the clock, so review replays the same."""
        now = self.snapshot.taken_at if self.snapshot is not None else 0.0
        due = self._sparks_at is None or not 0 <= now - self._sparks_at < LOW_BANDWIDTH_SPARK_EVERY
        if due:
            self._sparks_at = now
        before = [] if due else self._sparks
        lines: list[Line] = []
        self._sparks = []
        for y, new in enumerate(view):
            shown, sparks = _held_line(new, before[y] if y < len(before) else {})
            lines.append(shown)
            self._sparks.append(sparks)
        return tuple(lines)

    def on_resize(self) -> None:
        self._sparks_at = None  # a new width: draw the sparklines for it now
        self.redraw()

    def watch_show_vertical_scrollbar(self) -> None:
        """An overflowing panel grows a scrollbar, which takes a column without a resize: lay
        the lines out again for the width that is left (else they are cut by one column)."""
        self.call_after_refresh(self.redraw)

    def view(self, snapshot: Snapshot, width: int) -> View:
        raise NotImplementedError

    def summary(self, snapshot: Snapshot, width: int) -> View:
        """The key line(s) shown while another panel is expanded (console/compact.py)."""
        return self.view(snapshot, width)[:1]


def _held_line(new: Line, held: dict[int, str]) -> tuple[Line, dict[int, str]]:
    """`new` with its sparkline spans uncoloured and, where `held` (column -> the sparkline shown
    there) has one of the same length at the same column, that one's text instead; and the
    sparklines of the line as it is shown now."""
    if not any(style == SPARK_STYLE for _, style in new):
        return new, {}
    spans: list[Span] = []
    shown: dict[int, str] = {}
    column = 0
    for text, style in new:
        if style == SPARK_STYLE:
            before = held.get(column)
            text = before if before is not None and len(before) == len(text) else text
            shown[column] = text
            style = ""
        spans.append((text, style))
        column += len(text)
    return tuple(spans), shown


SPARK_MAX = 36  # points: wider sparklines cost bytes and say little more


def spark_row(
    label: str,
    value: str,
    values: tuple[float, ...] = (),
    width: int = 40,
    *,
    lo: float | None = None,
    hi: float | None = None,
    value_style: str = "",
) -> Line:
    """`label  value ▁▂▃▅▇` — the sparkline takes what room is left (none if under 5 cells)."""
    head = f"{label} "
    spans: list[Span] = [(head, ""), (value, value_style)]
    used = len(head) + len(value)
    room = min(SPARK_MAX, width - used - 1)
    if values and room >= 5:
        spans.append((" " + sparkline(values, room, lo, hi), SPARK_STYLE))
    if used > width:  # too narrow even for the numbers: crop the label, keep the value
        spans[0] = (fit(label, max(1, width - len(value) - 1)) + " ", "")
    return tuple(spans)
