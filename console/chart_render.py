"""Draw a ChartData with plotext, as text for a Static.

plotext is imported here, on the first draw, and nowhere else: the always-on console never
loads it (~10 MB of RSS with plotext 6: 79.6 -> 89.2 MB in bench/chart_cost.py). plotext
keeps one global figure, so every draw clears it and runs on the UI thread only.

Choices made because of what plotext does:
- x is seconds relative to the window's end, with our own clock labels as ticks: plotext's date
  axis wants a date form per axis and absolute timestamps; relative seconds keep its floats small.
- Lines are told apart by marker as well as colour (braille for the series or canary, `•` for the
  baseline, dashed thresholds), so `--color-system mono` still reads; the legend is our own line
  of words under the plot (plotext's boxed legend sits over the data).
- plotext has no gap in a line: NaN points are left out, so a hole is bridged by a straight segment.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from rich.text import Text

from console.chart_model import ChartData, Mark, time_ticks, value_range, value_ticks

COLOURS = {"series": 12, "canary": 12, "baseline": 8}  # plotext's 256-colour codes: blue, grey
MARKERS = {"series": "hd", "canary": "hd", "baseline": "•"}
THRESHOLD_COLOUR, MARK_COLOUR = 9, 13  # red, magenta
WHITE_BACKGROUND = "\x1b[48;5;15m"
Y_LABEL_ROOM = 9  # columns plotext gives the widest y tick label, about


def plotext() -> Any:
    import plotext as plt  # noqa: PLC0415  (on purpose: only when a chart opens)

    return plt


def spaced(data: ChartData, width: int) -> list[Mark]:
    """The marks in the window, a mark closer to the next one than its label is wide left out
    (a rollback's "rolling-back" and "rolled-back" half a second apart): the later state is
    the one to read; the legend still counts them all."""
    seconds_per_column = (data.t1 - data.t0) / max(1, width - Y_LABEL_ROOM)
    shown = [m for m in data.marks if data.t0 <= m.t <= data.t1]
    return [m for m, after in pairwise([*shown, None])
            if after is None or (after.t - m.t) / seconds_per_column > len(m.label) + 1]


def render(data: ChartData, width: int, height: int, *, colour: bool = True) -> Text:
    """The chart as text of exactly `width` x `height` cells (plotext's own figure size)."""
    plt = plotext()
    plt.terminal.limit(False, False)  # the figure is sized for the widget, not the terminal
    f = plt.figure
    f.clear()
    f.theme("simple")
    f.plot_size(max(20, width), max(6, height))
    for line in data.lines:
        if not line.values:
            continue
        marker = plt.marker(MARKERS[line.role], plt.pixel(foreground=COLOURS[line.role]))
        s = f.signal([t - data.t1 for t in line.times], list(line.values), marker=marker)
        s.lines()
        f.draw(s)
    for threshold in data.thresholds:
        f.line(threshold.value, orientation="h", pixel=plt.pixel(foreground=THRESHOLD_COLOUR), style="dotted")
    lo, hi = value_range(data)
    span = data.t1 - data.t0
    for mark in spaced(data, width):
        x = mark.t - data.t1
        f.line(x, orientation="v", pixel=plt.pixel(foreground=MARK_COLOUR))
        if mark.t - data.t0 > span * 0.8:  # near the right edge: the label ends at its line
            f.draw(f.text(x, hi, f"{mark.label}▕", alignment="right"))
        else:
            f.draw(f.text(x, hi, f"▏{mark.label}"))
    ticks, labels = time_ticks(data.t0, data.t1, width - Y_LABEL_ROOM)
    f.ruler("x").lim(data.t0 - data.t1, 0)
    f.ruler("x").ticks([t - data.t1 for t in ticks], list(labels))
    y_ticks, y_labels = value_ticks(data, height - 3)
    f.ruler("y").lim(lo, hi)
    f.ruler("y").ticks(list(y_ticks), list(y_labels))
    built = f.build().string(colorless=not colour)
    if not colour:
        return Text(built)
    # plotext 6.1 paints a line's cells on its default white background whatever pixel is given
    return Text.from_ansi(built.replace(WHITE_BACKGROUND, ""))
