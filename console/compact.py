"""The layout for small terminals (80x24 first of all): the focused panel expanded to the full
width, the other five as their key lines — one line each, the Rollout panel two — in the same
order. Tab moves the focus and so which panel is expanded; nothing scrolls out of reach.

Why not the 2x3 grid at 80x24: each panel had ~5 rows of 38 columns, too few for a sparkline or a
rollback reason. Why not tabs: a tab bar hides five panels' numbers; a summary line shows them.

A summary line starts with the panel's name (its border is gone) and is cropped, never wrapped,
so its height is fixed and a changing number repaints a few cells. Toasts at this size are one
line over the footer (app.tcss): over the panels they would hide the Rollout panel.
"""

from __future__ import annotations

from collections.abc import Iterable

from console.lines import Line, Span
from console.rollout_text import crop
from console.symbols import status_label

COMPACT_COLUMNS = 90  # at most this wide, or
COMPACT_ROWS = 30  # at most this tall: the compact layout
TITLE_W = 11  # "Throughput " and one space
SEP: Span = (" · ", "$text-muted")


def is_compact(width: int, height: int) -> bool:
    return width <= COMPACT_COLUMNS or height <= COMPACT_ROWS


def titled(title: str, parts: Iterable[Line], width: int) -> Line:
    """`Throughput baseline 8.9/s · canary 1.0/s`, cropped to `width`."""
    spans: list[Span] = [(f"{title:<{TITLE_W - 1}} ", "bold")]
    for i, part in enumerate(p for p in parts if p):
        if i:
            spans.append(SEP)
        spans.extend(part)
    return crop(tuple(spans), width)


def indented(parts: Iterable[Line], width: int) -> Line:
    """A second summary line, under the first one's text."""
    return titled("", parts, width)


def short_names(sources: Iterable[str]) -> dict[str, str]:
    """collect:canary -> canary: the summary has no room for the kind of source. Where two sources
    end alike (collect:canary, log:access:canary) each keeps one more part (access:canary)."""
    listed = list(dict.fromkeys(sources))
    names = {s: s.split(":")[-1] or s for s in listed}
    for source in listed:
        if list(names.values()).count(names[source]) > 1:
            parts = source.split(":")
            names[source] = ":".join(parts[-2:]) if len(parts) > 2 else names[source]
    return names


def labelled(span: Span) -> Span:
    """A state word span with its symbol in front (`✖ FIRING`): summaries are read at a glance."""
    text, style = span
    return status_label(text), style
