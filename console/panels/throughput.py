"""Throughput: per source, its rates (files/s, bytes/s, lines/s, requests/s, ...) with a cheap
sparkline and its totals.

Rows come from series whose metric ends with `_per_s`, grouped by source in name order. A
labelled source (`log:edge:canary`) sits under its parent (`log:edge`), shown by its label alone,
so 40 columns hold it. Rates that count failures (4xx/5xx, error lines) are the Errors panel's
and are left out here. A watch or log source that is waiting for its directory or file says so
in place of its rates (which would be stale): its Health entry is not OK.
"""

from __future__ import annotations

from collections.abc import Iterable

from console.chart_rows import CURSOR_BINDINGS, SeriesCursor
from console.compact import labelled, short_names, titled
from console.panels.base import MUTED, Line, Panel, View, add_to_config, line, sentence, spark_row, status_span
from console.render import fit, format_value
from engine.snapshot import HealthStatus, HealthView, SeriesView, Snapshot
from engine.units import format_size

ERROR_RATES = frozenset({"status_4xx_per_s", "status_5xx_per_s", "errors_per_s", "parse_errors_per_s"})
WATCHED = ("watch:", "log:")  # sources whose state comes with a Health entry of the same name
INDENT = "  "


def rate_series(snapshot: Snapshot) -> tuple[SeriesView, ...]:
    return tuple(s for s in snapshot.series if s.metric.endswith("_per_s") and s.metric not in ERROR_RATES)


def short(metric: str) -> str:
    """files_per_s -> files, requests_per_s -> req: the value already says "/s"."""
    name = metric.removesuffix("_per_s")
    return "req" if name == "requests" else name


def source_order(source: str) -> tuple[str, ...]:
    """log:edge, log:edge:canary, log:edge2 — children right after their parent."""
    return tuple(source.split(":"))


def display_names(sources: Iterable[str]) -> dict[str, str]:
    """A source whose parent is listed too is shown indented, by its last part."""
    listed = set(sources)
    names = {}
    for source in listed:
        parent, _, leaf = source.rpartition(":")
        names[source] = INDENT + leaf if parent in listed else source
    return names


def waiting(snapshot: Snapshot) -> dict[str, HealthView]:
    return {h.name: h for h in snapshot.health if h.name.startswith(WATCHED) and h.status.upper() != HealthStatus.OK}


def why_empty(snapshot: Snapshot) -> str:
    """Say plainly why there is nothing, from what the config says is there. Never fake zeros."""
    sources = sorted(snapshot.configured & {"watch", "collect"})
    if sources:
        return f"no rate samples yet from {', '.join(sources)} — waiting for the first interval"
    return f"no throughput source yet — {add_to_config('watch: or collect:', snapshot.config_name)}"


def fit_end(text: str, width: int) -> str:
    """Crop from the left: of a path, the end says most ("…/inbox/spool")."""
    return text if len(text) <= width else "…" + text[len(text) - width + 1 :]


def format_rate(s: SeriesView) -> str:
    if s.last is not None and s.unit == "B/s":
        return f"{format_size(s.last)}/s"
    return format_value(s.metric, s.last, s.unit)


class ThroughputPanel(SeriesCursor, Panel):
    """Rows have a cursor (up/down or j/k while focused); enter charts the row's rate."""

    TITLE = "Throughput"
    BINDINGS = CURSOR_BINDINGS

    def view(self, snapshot: Snapshot, width: int) -> View:
        stuck = waiting(snapshot)
        by_source: dict[str, list[SeriesView]] = {}
        for s in rate_series(snapshot):
            by_source.setdefault(s.source, []).append(s)
        for name in stuck:
            by_source.setdefault(name, [])
        if not by_source:
            return sentence(why_empty(snapshot), width)
        sources = sorted(by_source, key=source_order)
        names = display_names(sources)
        src_w = min(16, max(len(names[s]) for s in sources))
        met_w = min(8, max((len(short(s.metric)) for rows in by_source.values() for s in rows), default=0))
        rows: list[Line] = []
        keys: list[str | None] = []
        for source in sources:
            if source in stuck:
                waiting_rows = self._waiting_rows(names[source], stuck[source], width, src_w)
                rows += waiting_rows
                keys += [None] * len(waiting_rows)
                continue
            for i, s in enumerate(by_source[source]):
                label = f"{fit(names[source] if i == 0 else '', src_w):<{src_w}} {fit(short(s.metric), met_w):<{met_w}}"
                rows.append(spark_row(label, self._value(snapshot, s), s.values, width))
                keys.append(s.key)
        return self.mark(rows, keys)

    def summary(self, snapshot: Snapshot, width: int) -> View:
        """`Throughput baseline req 8.95/s · canary req 1.00/s · inbox WAITING`: each source's first rate."""
        stuck = waiting(snapshot)
        first: dict[str, SeriesView] = {}
        for s in rate_series(snapshot):
            first.setdefault(s.source, s)
        parts: list[Line] = []
        sources = sorted(first.keys() | stuck.keys(), key=source_order)
        names = short_names(sources)
        for source in sources:
            if source in stuck:
                parts.append(line(f"{names[source]} ", labelled(status_span("WAITING" if stuck[source].value == "waiting"
                                                                   else stuck[source].status))))
            else:
                s = first[source]
                parts.append(line(f"{names[source]} {short(s.metric)} {format_rate(s)}"))
        return (titled(self.TITLE, parts or [line(("no rates yet", MUTED))], width),)

    @staticmethod
    def _value(snapshot: Snapshot, s: SeriesView) -> str:
        value = f"{format_rate(s):>7}"
        total = snapshot.get(s.source, s.metric.removesuffix("_per_s") + "_total")
        if total is not None and total.last is not None:
            value += f" Σ{format_value(total.metric, total.last, total.unit)}"
        return value

    @staticmethod
    def _waiting_rows(name: str, health: HealthView, width: int, src_w: int) -> list[Line]:
        """`watch:spool WAITING does not exist` and, muted below, the path (its end, if long)."""
        word = "WAITING" if health.value == "waiting" else health.status
        head = f"{fit(name, src_w):<{src_w}} "
        path, _, reason = health.detail.removeprefix("waiting for ").rpartition(": ")
        rows = [line(head, status_span(word), fit(f" {reason or health.detail}", max(0, width - len(head) - len(word))))]
        if path:
            rows.append(line((fit_end(f"{INDENT}{path}", width), MUTED)))
        return rows
