"""Memory: the host's memory, swap, CPU and load, the engine's own RSS and peak, disk usage and
I/O rates, then the watched processes by RSS.

Host memory and engine RSS over time are small braille line charts when the panel has the room
(else sparklines). Wire cost, measured with bench/panel_render.py: a chart scrolls every cell of
its rows when it changes, so charts are rebuilt at most every CHART_EVERY seconds, drawn without
colour (one style span per row), with capped points. They are drawn by console.render.braille_line
rather than plotext: plotext costs ~15 MB of RSS and ~0.3 s to import, keeps global state, and
rebuilds a whole figure per frame, for two charts that are a few dozen lines of our own.

Rows have a cursor while the panel has focus (up/down or j/k); enter opens the row's series in
the full-screen chart (console/screens/chart.py, where plotext is used: one figure, on demand).

A series that is absent shows "—", never 0: an operator must be able to tell "zero" from "unknown".
"""

from __future__ import annotations

from console.chart_rows import CURSOR_BINDINGS, SeriesCursor
from console.compact import titled
from console.panels.base import (
    MUTED,
    SPARK_STYLE,
    Line,
    Panel,
    View,
    add_to_config,
    line,
    sentence,
    spark_row,
)
from console.render import NO_DATA, age, braille_line, fit, format_value, spark_range
from engine.snapshot import ProcessView, SeriesView, Snapshot
from engine.units import format_duration, format_size

# (source, metric, label, sparkline?) in display order
ROWS: tuple[tuple[str, str, str, bool], ...] = (
    ("host", "mem_pct", "host mem", True),
    ("host", "mem_available_bytes", "host avail", False),
    ("host", "swap_pct", "host swap", False),
    ("host", "cpu_pct", "host cpu", False),
    ("host", "load1", "host load1", False),
    ("engine", "rss_bytes", "engine rss", True),
    ("engine", "peak_rss_bytes", "engine peak", False),
)
# (source, metric, label) of the compact layout's one line
SUMMARY = (("host", "mem_pct", "mem"), ("host", "cpu_pct", "cpu"), ("host", "load1", "load"),
           ("host", "swap_pct", "swap"), ("engine", "rss_bytes", "rss"))
LABEL_W = 11
TOP_PROCESSES = 8
CHART_EVERY = 2.0  # seconds: the host and the engine sample every 2 s by default anyway
CHART_MIN_POINTS = 10  # fewer points: a sparkline says as much
# Chart heights (rows) for host memory and engine RSS, used when the panel has that many spare rows.
MEM_CHART_ROWS, RSS_CHART_ROWS = 4, 3
class MemoryPanel(SeriesCursor, Panel):
    """Rows have a cursor (up/down or j/k while focused); enter charts the row's series."""

    TITLE = "Memory"
    BINDINGS = CURSOR_BINDINGS

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._charts: dict[str, tuple[float, tuple[str, ...]]] = {}  # metric -> (built at, rows)

    def view(self, snapshot: Snapshot, width: int) -> View:
        io = io_rows(snapshot, width)
        processes = process_rows(snapshot.processes, width, snapshot.config_name)
        spare = self.scrollable_content_region.height - len(ROWS) - len(io) - len(processes)
        charted = {"mem_pct": spare >= MEM_CHART_ROWS,
                   "rss_bytes": spare >= MEM_CHART_ROWS + RSS_CHART_ROWS}
        rows: list[Line] = []
        keys: list[str | None] = []
        for source, metric, label, with_spark in ROWS:
            s = snapshot.get(source, metric)
            if s is None or s.last is None:
                rows.append(line(f"{label:<{LABEL_W}} ", (f"{NO_DATA:>8}", MUTED)))
                keys.append(None)
                continue
            value = f"{format_value(metric, s.last, s.unit):>8}"
            chart = self._chart(s, width, snapshot.taken_at) if with_spark and charted[metric] else ()
            keys.append(s.key)
            if chart:
                rows.append(line(f"{label:<{LABEL_W}} ", value, (f" last {span_text(s)}", MUTED)))
                rows.extend(chart)
                keys += [None] * len(chart)
                continue
            lo, hi = spark_range(metric, s.unit, s.values)
            rows.append(spark_row(f"{label:<{LABEL_W}}", value, s.values if with_spark else (), width, lo=lo, hi=hi))
        keys += io_keys(snapshot) + process_keys(snapshot, processes)
        return self.mark(rows + io + processes, keys)

    def summary(self, snapshot: Snapshot, width: int) -> View:
        """`Memory mem 3.3% · cpu 61.9% · load 2.57 · swap 0.0% · rss 61.2MB`."""
        parts = []
        for source, metric, label in SUMMARY:
            s = snapshot.get(source, metric)
            value = NO_DATA if s is None or s.last is None else format_value(metric, s.last, s.unit)
            parts.append(line(f"{label} {value}"))
        return (titled(self.TITLE, parts, width),)

    def _chart(self, s: SeriesView, width: int, now: float) -> tuple[Line, ...]:
        """The series as a small chart, reused until CHART_EVERY has passed or the width changed."""
        if len(s.values) < CHART_MIN_POINTS:
            return ()
        height = MEM_CHART_ROWS if s.metric == "mem_pct" else RSS_CHART_ROWS
        built = self._charts.get(s.metric)
        if built is None or now - built[0] >= CHART_EVERY or now < built[0] or len(built[1][0]) != width:
            built = (now, chart_rows(s, width, height))
            self._charts[s.metric] = built
        return tuple(_chart_line(r, width) for r in built[1])


def _chart_line(row: str, width: int) -> Line:
    """A chart row as two spans: the y label (muted) and the plot (one style, whatever it holds)."""
    row = row[:width]
    stripped = row.lstrip(" ")
    label_end = len(row) - len(stripped)
    head = row[:label_end] + (stripped.split(" ", 1)[0] if stripped and not _is_plot(stripped[0]) else "")
    return ((head, MUTED), (row[len(head):], SPARK_STYLE))


def _is_plot(char: str) -> bool:
    return "\u2800" <= char <= "\u28ff"  # braille


def chart_rows(s: SeriesView, width: int, height: int) -> tuple[str, ...]:
    """A colourless braille line chart with y labels on its top and bottom rows."""
    lo, hi = spark_range(s.metric, s.unit, s.values)
    low = min(s.values) if lo is None else lo
    high = max(s.values) if hi is None else hi
    if high <= low:
        high = low + 1.0
    labels = [_axis_label(s, high)] + [""] * (height - 2) + [_axis_label(s, low)]
    label_w = max(len(label) for label in labels) + 1
    plot = braille_line(s.values, width - label_w, height, low, high)
    return tuple(f"{label:>{label_w - 1}} {row}" for label, row in zip(labels, plot, strict=False))  # 1 row: 2 labels


def _axis_label(s: SeriesView, value: float) -> str:
    if s.unit == "%":
        return f"{value:.0f}%"
    return format_value(s.metric, value, s.unit).replace(".0", "")


def span_text(s: SeriesView) -> str:
    """How much time the chart covers: "4m"."""
    return format_duration(s.times[-1] - s.times[0]) if len(s.times) > 1 else "0s"


def _rate(value: float | None) -> str:
    return NO_DATA if value is None else f"{format_size(value)}/s"


def io_rows(snapshot: Snapshot, width: int) -> list[Line]:
    """Disk usage per mount, then disk and network I/O rates (rows only for what is recorded)."""
    rows: list[Line] = []
    for s in snapshot.series:
        if s.source.startswith("disk:") and s.metric == "used_pct" and s.last is not None:
            free = snapshot.get(s.source, "free_bytes")
            free_text = f"  {format_size(free.last)} free" if free is not None and free.last is not None else ""
            mount = fit(s.source.removeprefix("disk:"), LABEL_W - 5)
            rows.append(line(fit(f"{'disk ' + mount:<{LABEL_W}} {s.last:>7.1f}%{free_text}", width)))
    pairs = (("disk io", "disk_read_bytes_s", "disk_write_bytes_s", "r", "w"),
             ("net", "net_recv_bytes_s", "net_sent_bytes_s", "↓", "↑"))
    for label, first, second, a, b in pairs:
        x, y = snapshot.get("host", first), snapshot.get("host", second)
        if x is None and y is None:
            continue
        text = f"{label:<{LABEL_W}} {a} {_rate(x.last if x else None)}  {b} {_rate(y.last if y else None)}"
        rows.append(line(fit(text, width)))
    return rows


def io_keys(snapshot: Snapshot) -> list[str | None]:
    """The series each of io_rows' rows charts, in the same order (the first of a pair)."""
    keys: list[str | None] = [f"{s.source}/{s.metric}" for s in snapshot.series
                              if s.source.startswith("disk:") and s.metric == "used_pct" and s.last is not None]
    for first, second in (("disk_read_bytes_s", "disk_write_bytes_s"), ("net_recv_bytes_s", "net_sent_bytes_s")):
        x, y = snapshot.get("host", first), snapshot.get("host", second)
        if x is not None or y is not None:
            keys.append(f"host/{first}" if x is not None else f"host/{second}")
    return keys


def process_keys(snapshot: Snapshot, rows: list[Line]) -> list[str | None]:
    """The RSS series of each process row (proc:<name>/rss_bytes), None for the other rows."""
    if not snapshot.processes:
        return [None] * len(rows)
    top = sorted(snapshot.processes, key=lambda p: -1 if p.rss_bytes is None else p.rss_bytes, reverse=True)
    keys: list[str | None] = [None]  # the column header
    for p in top[:TOP_PROCESSES]:
        found = snapshot.get(f"proc:{p.name}", "rss_bytes")
        keys.append(found.key if found is not None else None)
    return keys + [None] * (len(rows) - len(keys))


def where_to_watch(config_name: str) -> str:
    """Where processes are configured: the file the engine runs (its name, as the header shows
    it), or just the key for the built-in demo and defaults, which have no file to edit."""
    return f"processes: none watched — {add_to_config('monitor: processes:', config_name)}"


def process_rows(processes: tuple[ProcessView, ...], width: int, config_name: str = "") -> list[Line]:
    if not processes:
        return list(sentence(where_to_watch(config_name), width))
    top = sorted(processes, key=lambda p: -1 if p.rss_bytes is None else p.rss_bytes, reverse=True)
    name_w = max(6, min(16, width - 28))
    rows = [line((fit(f"{'process':<{name_w}} {'pid':>6} {'cpu':>6} {'rss':>7} {'up':>4}", width), MUTED))]
    for p in top[:TOP_PROCESSES]:
        pid = NO_DATA if p.pid is None else str(p.pid)
        cpu = NO_DATA if p.cpu_pct is None else f"{p.cpu_pct:.1f}%"
        rss = NO_DATA if p.rss_bytes is None else format_size(p.rss_bytes)
        up = NO_DATA if p.uptime_s is None else age(p.uptime_s)
        restarts = f" ↻{p.restarts}" if p.restarts else ""
        head = f"{fit(p.name, name_w):<{name_w}} {pid:>6} "
        if p.status != "running":  # the status where the numbers would be: there are none
            rows.append(line(head, (fit(p.status, max(1, width - len(head) - len(restarts))), "$warning"), restarts))
        else:
            rows.append(line(fit(f"{head}{cpu:>6} {rss:>7} {up:>4}{restarts}", width)))
    if len(top) > TOP_PROCESSES:
        rows.append(line((f"… {len(top) - TOP_PROCESSES} more", MUTED)))
    return rows
