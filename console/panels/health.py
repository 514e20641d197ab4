"""Health: alerts first (firing, pending, then rules without data, then recently resolved), then
each configured check (OK / WARN / FAIL / UNKNOWN, since when, last value vs limit), then the
engine's own supervised components.

HTTP checks with components show a one-line summary; with the panel focused, up/down (or j/k)
pick a check and enter expands or folds its components. Rules without data are one muted line,
visible but not alarming. Also here, for the header and the app: the alert count, the overall
health word, and `AlertNews` (which alerts just started firing: the toast and the bell).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from textual.binding import Binding
from textual.geometry import Region

from console.compact import labelled, titled
from console.panels.base import MUTED, Line, Panel, Span, View, add_to_config, line, sentence, status_span
from console.render import age, fit, format_value
from engine.snapshot import AlertView, ComponentView, HealthStatus, HealthView, Snapshot, SourceMode, split_series

CURSOR_STYLE = "reverse"
SEVERITY_STYLES = {"critical": "$error", "warning": "$warning", "info": ""}
STATUS_W = 8  # "FIRING  ", "PENDING ", "WARN    "
SUMMARY_ORDER = (HealthStatus.FAIL, HealthStatus.WARN, HealthStatus.UNKNOWN, HealthStatus.OK)  # worst first; others (RUNNING: a backup) go first


def alert_value(a: AlertView, snapshot: Snapshot | None = None) -> str:
    """The value as its series is shown elsewhere (97.0%, 2.3%, 512ms), unit from the snapshot."""
    if a.value is None:
        return "no data" if a.state in ("nodata", "firing") else ""
    source, metric = split_series(a.series)
    series = snapshot.get(source, metric) if snapshot is not None else None
    return format_value(metric, a.value, series.unit if series is not None else "")


def counts(snapshot: Snapshot) -> tuple[int, int]:
    """(firing and not muted, pending) — what the header shows."""
    firing = sum(1 for a in snapshot.alerts if a.state == "firing" and not a.silenced)
    pending = sum(1 for a in snapshot.alerts if a.state == "pending" and not a.silenced)
    return firing, pending


def alerts_span(snapshot: Snapshot) -> Span:
    """"alerts: 2 +1 pending" in red when something fires, amber when only pending."""
    firing, pending = counts(snapshot)
    text = f"alerts: {firing}" + (f" +{pending} pending" if pending else "")
    return text, "$error" if firing else "$warning" if pending else ""


@dataclass(frozen=True)
class News:
    text: str
    title: str
    critical: bool


class AlertNews:
    """Which alerts started firing (unmuted) since the last snapshot: one toast each, bell for critical.
    Not in review: scrubbing through the history is not news."""

    def __init__(self) -> None:
        self._firing: set[str] = set()

    def update(self, snapshot: Snapshot) -> list[News]:
        now = {a.name: a for a in snapshot.alerts if a.state == "firing" and not a.silenced}
        fresh = [a for name, a in now.items() if name not in self._firing]
        self._firing = set(now)
        if snapshot.mode is SourceMode.REVIEW:
            return []
        return [News(f"{a.name}: {a.summary or f'{a.series} {alert_value(a, snapshot)} ({a.condition})'}",
                     f"{a.severity} alert firing", a.severity == "critical") for a in fresh]


class HealthPanel(Panel):
    TITLE = "Health"
    BINDINGS = [
        Binding("down,j", "cursor(1)", "next check", show=False),
        Binding("up,k", "cursor(-1)", "previous check", show=False),
        Binding("enter", "toggle", "expand/fold components", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected: str | None = None  # by check name, so a reorder does not move it
        self.expanded: set[str] = set()
        self._names: tuple[str, ...] = ()
        self._check_rows: dict[str, int] = {}

    def view(self, snapshot: Snapshot, width: int) -> View:
        rows: list[Line] = self._alerts(snapshot, width)
        self._names = tuple(h.name for h in snapshot.health)
        self._check_rows = {}
        if snapshot.health:
            if rows:
                rows.append(line(("checks", MUTED)))
            cursor = self.cursor_name()
            for h in snapshot.health:
                self._check_rows[h.name] = len(rows)
                rows += self._check(h, snapshot.taken_at, width, h.name == cursor and self.has_focus)
        else:
            rows += sentence(f"no health checks configured — {add_to_config('health:', snapshot.config_name)}", width)
        if snapshot.components:
            rows.append(line(("engine components", MUTED)))
            rows += [self._component(c, width) for c in snapshot.components]
        return tuple(rows)

    def summary(self, snapshot: Snapshot, width: int) -> View:
        """`Health ✖ FIRING HighErrorRate · checks 1 ✖ FAIL, 3 ✔ OK · 1 ▲ PENDING CpuHigh · 1 component(s) ✖ CRASHED`."""
        parts: list[Line] = []
        firing, pending = ([a.name for a in snapshot.alerts if a.state == state and not a.silenced]
                           for state in ("firing", "pending"))
        if firing:
            parts.append(line(labelled(status_span("FIRING")), f" {', '.join(firing)}"))
        if snapshot.health:
            by_status: dict[str, int] = {}
            for h in snapshot.health:
                by_status[h.status] = by_status.get(h.status, 0) + 1
            worst_first = sorted(by_status, key=lambda w: SUMMARY_ORDER.index(w) if w in SUMMARY_ORDER else 0)
            counted: list[str | Span] = ["checks"]
            for i, status in enumerate(worst_first):
                counted += [("," if i else "") + f" {by_status[status]} ", labelled(status_span(status))]
            parts.append(line(*counted))
        elif not parts:
            parts.append(line(("no health checks configured", MUTED)))
        if pending:  # after the checks: names that are only on their way to firing
            parts.append(line(f"{len(pending)} ", labelled(status_span("PENDING")), f" {', '.join(pending)}"))
        broken = [c for c in snapshot.components if c.state.upper() not in ("RUNNING", "STOPPED")]
        if broken:
            parts.append(line(f"{len(broken)} component(s) ", labelled(status_span(broken[0].state.upper()))))
        return (titled(self.TITLE, parts, width),)

    # ------------------------------------------------------------------ alerts
    @staticmethod
    def _alerts(snapshot: Snapshot, width: int) -> list[Line]:
        rows: list[Line] = []
        quiet = [a for a in snapshot.alerts if a.state == "nodata"]
        for a in snapshot.alerts:
            if a.state in ("firing", "pending"):
                rows += _alert_rows(a, snapshot, width)
        if quiet:
            names = ", ".join(a.name for a in quiet)
            rows.append(line((fit(f"{'NO DATA':<{STATUS_W - 1}} {len(quiet)} rule(s): {names}", width), MUTED)))
        for a in snapshot.alerts:
            if a.state == "resolved":
                text = f"{'RESOLVED':<{STATUS_W - 1}} {a.name} {age(snapshot.taken_at - a.since)} ago"
                rows.append(line((fit(text, width), MUTED)))
        return rows

    # ------------------------------------------------------------------ checks
    def _check(self, h: HealthView, now: float, width: int, selected: bool) -> list[Line]:
        measure = f"{h.value} / {h.limit}" if h.limit else h.value
        rest = f" {h.name} {age(now - h.since)} {measure}".rstrip()
        # A check that is not OK keeps its whole measure: on its own line when the row is too narrow.
        wrap_measure = h.status != HealthStatus.OK and len(rest) > width - STATUS_W and bool(measure)
        if wrap_measure:
            rest = f" {h.name} {age(now - h.since)}"
        head = status_span(h.status, STATUS_W - 1)
        rows = [line((head[0], CURSOR_STYLE) if selected else head,
                     (fit(rest, width - STATUS_W), CURSOR_STYLE if selected else ""))]
        if wrap_measure:
            rows += _indented(measure, width, style="")
        worth_saying = h.detail if (h.status != HealthStatus.OK or "bad results" in h.detail) else ""
        if not h.components:
            return rows + _indented(worth_saying, width)
        if h.name not in self.expanded:  # how many, and what is wrong: the whole reason, wrapped if need be
            wrong = worth_saying or ", ".join(f"{n} {status}" for n, status in h.components if status.upper() != HealthStatus.OK)
            summary = f"{'':<{STATUS_W}}▸ {len(h.components)} components"
            if not wrong:
                return [*rows, line((fit(f"{summary}, all OK", width), MUTED))]
            if len(summary) + 3 + len(wrong) <= width:
                return [*rows, line((f"{summary} · {wrong}", MUTED))]
            return [*rows, line((fit(summary, width), MUTED)), *_indented(wrong, width)]
        rows += _indented(worth_saying, width)
        name_w = max(4, width - 2 * STATUS_W)
        for name, status in h.components:
            rows.append(line(f"{'':<{STATUS_W}}▾ {fit(name, name_w - 2):<{name_w - 2}}", status_span(status)))
        return rows

    @staticmethod
    def _component(c: ComponentView, width: int) -> Line:
        name_w = min(14, max(6, width // 3))
        head = f"{fit(c.name, name_w):<{name_w}} "
        restarts = f" ↻{c.restarts}" if c.restarts else ""
        error = f" {c.last_error}" if c.last_error else ""
        tail = fit(restarts + error, max(0, width - len(head) - 10))
        return line(head, status_span(c.state.upper(), 10), tail)

    # ------------------------------------------------------------------ cursor
    def cursor_name(self) -> str | None:
        if self.selected in self._names:
            return self.selected
        return self._names[0] if self._names else None

    def action_cursor(self, step: int) -> None:
        if not self._names:
            return
        current = self.cursor_name()
        index = self._names.index(current) if current in self._names else 0
        self.selected = self._names[min(len(self._names) - 1, max(0, index + step))]
        self.redraw()
        row = self._check_rows.get(self.selected, 0)
        self.scroll_to_region(Region(0, row, 1, 1), animate=False)

    def action_toggle(self) -> None:
        name = self.cursor_name()
        if name is None:
            self.notify("no health check to expand", severity="warning")
            return
        self.expanded ^= {name}
        self.redraw()

    def on_focus(self) -> None:
        # After the event: Widget._on_focus, which sets has_focus, runs after this subclass handler.
        self.call_next(self.redraw)

    def on_blur(self) -> None:
        self.call_next(self.redraw)


def _indented(text: str, width: int, max_lines: int = 3, style: str = MUTED) -> list[Line]:
    """A reason under its check, wrapped (an operator needs the whole sentence), at most 3 lines."""
    if not text:
        return []
    parts = textwrap.wrap(text, max(10, width - STATUS_W))
    if len(parts) > max_lines:
        parts = parts[: max_lines - 1] + [fit(" ".join(parts[max_lines - 1:]), max(10, width - STATUS_W))]
    return [line((f"{'':<{STATUS_W}}{part}", style)) for part in parts]


def _alert_rows(a: AlertView, snapshot: Snapshot, width: int) -> list[Line]:
    word = a.state.upper()
    style = MUTED if a.silenced else (SEVERITY_STYLES[a.severity] if a.state == "firing" else "$warning")
    value = alert_value(a, snapshot)
    text = fit(f"{a.name} {value} {age(snapshot.taken_at - a.since)}".replace("  ", " "), width - STATUS_W)
    rows = [line((f"{word:<{STATUS_W - 1}} ", style), (text, MUTED if a.silenced else ""))]
    if a.silenced:
        rows.append(line((fit(f"{'':<{STATUS_W}}muted: {a.silenced_by}", width), MUTED)))
    return rows
