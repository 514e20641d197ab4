"""Errors: per source its error rate, errors/s and error total, then the distinct error
messages, newest first, with count and age.

Per source: `error_rate` (0..1, e.g. 5xx share of a log label), errors/s (`errors_per_s`, or
`status_5xx_per_s` for a log label) and the total (`errors_total`: failed files of a directory
source; `parse_errors_total`: lines of a log source that did not parse). Labelled sources sit
under their parent, as in the Throughput panel.

The message list has a cursor (up/down or j/k) while the panel has focus; `enter` opens the
selected group's full text and context in a modal.
"""

from __future__ import annotations

import json

from textual.binding import Binding
from textual.geometry import Region

from console.compact import short_names, titled
from console.panels.base import MUTED, Line, Panel, View, add_to_config, line, sentence, spark_row
from console.panels.throughput import display_names, source_order
from console.render import NO_DATA, age, fit, format_value
from console.screens.error_detail import ErrorDetailScreen
from engine.snapshot import ErrorGroup, SeriesView, Snapshot

CURSOR_STYLE = "reverse"


def newest_first(snapshot: Snapshot) -> tuple[ErrorGroup, ...]:
    return tuple(sorted(snapshot.errors, key=lambda g: g.last_seen, reverse=True))


TIME_KEYS = frozenset({"time", "timestamp", "@timestamp", "ts", "time_iso8601", "time_local", "msec", "date"})


def brief(message: str) -> str:
    """A JSON log line as `status=500 upstream_addr=canary request="GET /"`: its time (the age
    column says it) and its braces and quotes are what a narrow row can spare. Anything else, as it is."""
    text = message.strip()
    if not text.startswith("{"):
        return message
    try:
        record = json.loads(text)
    except ValueError:
        return message
    if not isinstance(record, dict):
        return message
    parts = []
    for key, value in record.items():
        if key in TIME_KEYS or value in ("", "-", None):
            continue
        shown = value if isinstance(value, (int, float)) else json.dumps(value, ensure_ascii=False)
        if isinstance(value, str) and value and " " not in value and '"' not in value:
            shown = value
        parts.append(f"{key}={shown}")
    return " ".join(parts) or message


def group_key(group: ErrorGroup) -> tuple[str, str]:
    return (group.source, group.message)


RATE_METRICS = ("error_rate",)
PER_S_METRICS = ("errors_per_s", "status_5xx_per_s")
TOTAL_METRICS = ("errors_total", "parse_errors_total")


def _first(snapshot: Snapshot, source: str, metrics: tuple[str, ...]) -> SeriesView | None:
    for metric in metrics:
        found = snapshot.get(source, metric)
        if found is not None:
            return found
    return None


class ErrorsPanel(Panel):
    TITLE = "Errors"
    BINDINGS = [
        Binding("down,j", "cursor(1)", "next error", show=False),
        Binding("up,k", "cursor(-1)", "previous error", show=False),
        Binding("enter", "open", "error detail", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected: tuple[str, str] | None = None  # by identity, so new errors don't move it
        self._groups: tuple[ErrorGroup, ...] = ()
        self._first_group_row = 0

    def view(self, snapshot: Snapshot, width: int) -> View:
        self._groups = groups = newest_first(snapshot)
        rows = self._rate_rows(snapshot, width)
        if not rows and not groups:
            return sentence(self._why_empty(snapshot), width)
        if not groups:
            rows.append(line(("no error messages recorded", MUTED)))
            return tuple(rows)
        rows.append(line((fit(f"{len(groups)} distinct, newest first", width), MUTED)))
        self._first_group_row = len(rows)
        cursor = self.cursor_index()
        for i, g in enumerate(groups):
            text = fit(f"{g.count:>4}× {age(snapshot.taken_at - g.last_seen):>3} {g.source}: {brief(g.message)}", width)
            style = CURSOR_STYLE if (i == cursor and self.has_focus) else ""
            rows.append(line((text, style)))
        return tuple(rows)

    def summary(self, snapshot: Snapshot, width: int) -> View:
        """`Errors canary 2.1% · baseline 0.0% · 5 messages, newest 3s: upstream=canary status=502`."""
        self._groups = groups = newest_first(snapshot)
        rates = sorted((s for s in snapshot.series if s.metric in RATE_METRICS), key=lambda s: source_order(s.source))
        names = short_names(s.source for s in rates)
        parts = [line(f"{names[s.source]} {format_value(s.metric, s.last, s.unit)}") for s in rates]
        if groups:
            g = groups[0]
            parts.append(line(f"{len(groups)} message{'s' * (len(groups) != 1)}, newest {age(snapshot.taken_at - g.last_seen)}: {brief(g.message)}"))
        elif not parts:
            parts.append(line(("no errors recorded", MUTED)))
        return (titled(self.TITLE, parts, width),)

    @staticmethod
    def _rate_rows(snapshot: Snapshot, width: int) -> list[Line]:
        """One line per source with an error rate, errors/s or an error total."""
        found: dict[str, None] = {}
        for s in snapshot.series:
            if s.metric in RATE_METRICS or s.metric in PER_S_METRICS or s.metric in TOTAL_METRICS:
                found.setdefault(s.source)
        sources = sorted(found, key=source_order)
        names = display_names(sources)
        rows: list[Line] = []
        src_w = min(14, max((len(names[s]) for s in sources), default=0))
        for source in sources:
            rate = _first(snapshot, source, RATE_METRICS)
            per_s = _first(snapshot, source, PER_S_METRICS)
            total = _first(snapshot, source, TOTAL_METRICS)
            rate_text = NO_DATA if rate is None else format_value(rate.metric, rate.last, rate.unit)
            per_text = NO_DATA if per_s is None else format_value(per_s.metric, per_s.last, per_s.unit)
            value = f"{rate_text:>6} {per_text:>8}"
            if total is not None and total.last is not None:
                value += f" Σ{format_value(total.metric, total.last, total.unit)}"
            shown = rate if rate is not None else per_s
            rows.append(spark_row(f"{fit(names[source], src_w):<{src_w}}", value, shown.values if shown else (), width))
        return rows

    @staticmethod
    def _why_empty(snapshot: Snapshot) -> str:
        if snapshot.configured & {"watch", "collect"}:
            return "no errors recorded — no error_rate series and no error messages yet"
        return f"no error source yet — {add_to_config('watch: (logs) or collect:', snapshot.config_name)}"

    def cursor_index(self) -> int:
        keys = [group_key(g) for g in self._groups]
        if self.selected in keys:
            return keys.index(self.selected)
        return 0

    def selected_group(self) -> ErrorGroup | None:
        return self._groups[self.cursor_index()] if self._groups else None

    def action_cursor(self, step: int) -> None:
        if not self._groups:
            return
        index = min(len(self._groups) - 1, max(0, self.cursor_index() + step))
        self.selected = group_key(self._groups[index])
        self.redraw()
        row = self._first_group_row + index
        self.scroll_to_region(Region(0, row, 1, 1), animate=False)

    def action_open(self) -> None:
        group = self.selected_group()
        if group is None:
            self.notify("no error selected", severity="warning")
            return
        self.app.push_screen(ErrorDetailScreen(group, now=self.snapshot.taken_at if self.snapshot else None))

    def on_focus(self) -> None:
        # After the event: Widget._on_focus, which sets has_focus, runs after this subclass handler.
        self.call_next(self.redraw)

    def on_blur(self) -> None:
        self.call_next(self.redraw)
