"""A full-screen chart of one series, live and in review: clock times along x, the series' unit
on y, the canary and its baseline together when the series is one side of a rollout rule, the
rule and alert thresholds as dotted lines, the rollout's stage changes as marked verticals.

Open it with enter on a Throughput or Memory row, or from the palette ("chart: <series key>":
`ChartProvider`). Keys: `1` `2` `3` zoom to 5m / 1h / 24h, `z` cycles, `q` or escape closes.

Where the points come from (console/chart_history.py for the file):
- live, 5m: the snapshot's own points (the engine's ring buffers), redrawn at the refresh period
  when they changed;
- live, 1h / 24h: the running engine's history, read-only, in a worker thread, again when a
  slot's worth of time has passed; in attach mode a history this user cannot read is said in
  words, and 5m still works;
- review: every zoom reads the file up to the time cursor (the same HistoryDB review holds).

plotext draws (console/chart_render.py), imported when the first chart is drawn, never by
`import console.app`. Its cost while open is bench/chart_cost.py's figure.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Static

from console.chart_history import ChartHistory
from console.chart_model import WINDOWS, ChartData, ChartLine, Mark, from_snapshot, keys_drawn, thresholds_of, unit_name
from engine.snapshot import Snapshot, SourceMode, split_series

POINTS = 400  # slots read per line from the history: about two braille dots per column at 200 wide
SHORT = 0  # index of the window the snapshot's own points serve when live


class ChartScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ChartScreen { align: center middle; }
    ChartScreen > Vertical { width: 100%; height: 100%; border: round $primary; background: $surface; }
    ChartScreen #chart-title { height: 1; color: $text; text-style: bold; }
    ChartScreen #chart-plot { height: 1fr; width: 1fr; text-wrap: nowrap; text-overflow: clip; }
    ChartScreen #chart-legend { height: auto; color: $text-muted; }
    ChartScreen #chart-status { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("q,escape", "close", "close"),
        Binding("1", "zoom(0)", "5m"),
        Binding("2", "zoom(1)", "1h"),
        Binding("3", "zoom(2)", "24h"),
        Binding("z", "cycle_zoom", "zoom"),
    ]

    def __init__(self, key: str, *, window: int = 0, refresh: float | None = None) -> None:
        super().__init__()
        self.key = key
        self.window_index = window
        self.refresh_period = refresh
        self.data: ChartData | None = None
        self.draws = 0  # plotext figures built (tests and the bench read it)
        self.queries = 0  # history reads finished
        self.notice = ""  # why the chart shows what it shows (unavailable zoom, no data)
        self.plot_plain = ""  # the plot area as text (tests, and what a person reads)
        self.history: ChartHistory | None = None
        self._drawn_key: tuple[Any, ...] = ()
        self._queried_at: tuple[int, float] | None = None  # (window, t1) of the last history read
        self._querying = False
        self._timer: Timer | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Chart · {self.key}"
            yield Static("", id="chart-title")
            yield Static("", id="chart-plot")
            yield Static("", id="chart-legend")
            yield Static("", id="chart-status")

    def on_mount(self) -> None:
        self.history = ChartHistory.of(self.app)
        period = self.refresh_period or getattr(self.app, "refresh_interval", 1.0)
        self._timer = self.set_interval(period, self.update_data)
        self.update_data()

    def on_unmount(self) -> None:
        if self.history is not None and not self.history.review:
            self.history.close()

    def on_resize(self) -> None:
        self.draw()

    # ------------------------------------------------------------------ state
    @property
    def window(self) -> tuple[str, float]:
        return WINDOWS[self.window_index]

    @property
    def snapshot(self) -> Snapshot | None:
        return getattr(self.app, "snapshot", None)

    @property
    def reviewing(self) -> bool:
        snapshot = self.snapshot
        return snapshot is not None and snapshot.mode == SourceMode.REVIEW

    def uses_snapshot(self) -> bool:
        """The short zoom, live: the engine's own points, no file read."""
        return self.window_index == SHORT and not self.reviewing

    # ------------------------------------------------------------------ data
    def update_data(self) -> None:
        """At each refresh period: the new data for the zoom; drawn only if it changed."""
        snapshot = self.snapshot
        if snapshot is None:
            self._status("waiting for the first snapshot…")
            return
        if self.uses_snapshot():
            self.notice = ""
            self.show(from_snapshot(snapshot, self.key, self.window[1]))
            return
        label, seconds = self.window
        t1 = snapshot.taken_at
        slot = seconds / POINTS
        last = self._queried_at
        if self._querying or (last is not None and last[0] == self.window_index and abs(t1 - last[1]) < slot):
            return  # a read runs, or nothing new would come of one yet
        self._querying = True
        self._queried_at = (self.window_index, t1)
        self._read(self.window_index, snapshot)

    @work(thread=True, exclusive=True, group="chart", exit_on_error=False)
    def _read(self, index: int, snapshot: Snapshot) -> None:
        from engine.history.chartquery import stage_marks, window_series

        assert self.history is not None
        label, seconds = WINDOWS[index]
        t1 = snapshot.taken_at
        t0 = t1 - seconds
        try:
            db = self.history.db()
            if db is None:
                self.app.call_from_thread(self._unavailable, index, self.history.problem)
                return
            lines = []
            unit = ""
            for role, k in keys_drawn(snapshot, self.key):
                s = window_series(db, k, t0, t1, POINTS)
                lines.append(ChartLine(role, k, s.times if s else (), s.values if s else ()))
                unit = unit or (s.unit if s else "")
            marks = tuple(Mark(m.t, m.label) for m in stage_marks(db, t0, t1))
        except Exception as exc:  # a damaged page, a file replaced meanwhile: say so, keep the screen
            self.app.call_from_thread(self._unavailable, index, f"cannot read the history: {exc}")
            return
        if not unit:
            live = snapshot.get(*split_series(self.key))
            unit = live.unit if live is not None else ""
        data = ChartData(self.key, unit, t0, t1, tuple(lines), thresholds_of(snapshot, self.key), marks,
                         f"history: {POINTS} slots of {seconds / POINTS:g}s")
        self.app.call_from_thread(self._loaded, index, data)

    def _loaded(self, index: int, data: ChartData) -> None:
        self._querying = False
        self.queries += 1
        if index != self.window_index:  # zoomed meanwhile: read again for the zoom shown
            self.update_data()
            return
        self.notice = ""
        self.show(data)

    def _unavailable(self, index: int, problem: str) -> None:
        self._querying = False
        self.queries += 1
        if index != self.window_index:
            self.update_data()
            return
        label = self.window[0]
        self.notice = (f"the {label} zoom reads the engine's history, which is unavailable: {problem}. "
                       f"Press 1 for the last 5 minutes from the engine's memory.")
        self.data = None
        self._drawn_key = ()
        self.plot_plain = self.notice
        self.query_one("#chart-plot", Static).update(Content(self.notice))
        self.query_one("#chart-legend", Static).update("")
        self._title()
        self._status()

    # ------------------------------------------------------------------ drawing
    def show(self, data: ChartData) -> None:
        if data == self.data:
            return  # the refresh brought nothing new: no figure rebuilt, no byte sent
        self.data = data
        self.draw()

    def draw(self) -> None:
        """Build the figure for the plot's current size (a resize draws again)."""
        data = self.data
        plot = self.query_one("#chart-plot", Static)
        width, height = plot.size.width, plot.size.height
        if data is None or width < 20 or height < 6:
            return
        key = (data, width, height)
        if key == self._drawn_key:
            return
        self._drawn_key = key
        self._title()
        self._legend(data)
        self._status()
        if data.empty:
            self.plot_plain = f"no points of {self.key} in the last {self.window[0]} ({data.origin})"
            plot.update(Content(self.plot_plain))
            return
        from console.chart_render import render

        colour = not getattr(self.app, "no_color", False)  # NO_COLOR (`--color-system mono`): no escapes
        text = render(data, width, height, colour=colour)
        self.plot_plain = text.plain
        plot.update(text)
        self.draws += 1

    def _title(self) -> None:
        data = self.data
        unit = unit_name(data) if data is not None else ""
        origin = f" · {data.origin}" if data is not None and data.origin else ""
        where = "review" if self.reviewing else "live"
        self.query_one("#chart-title", Static).update(Content(
            f"{self.key} · {unit} · {self.window[0]} window ({where}){origin}"))

    def _legend(self, data: ChartData) -> None:
        parts: list[str | tuple[str, str]] = []
        for line in data.lines:
            mark = "•" if line.role == "baseline" else "⠤"
            word = "" if line.role == "series" else f"{line.role} "
            count = f" ({len(line.values)} points)" if line.values else " (no points)"
            parts += [f"{mark} {word}", (line.key, "bold"), count, "   "]
        for t in data.thresholds:
            parts += ["┈ ", t.label, "   "]
        marks_in = [m for m in data.marks if data.t0 <= m.t <= data.t1]
        if marks_in:
            parts += [f"│ rollout stage changes: {len(marks_in)}"]
        self.query_one("#chart-legend", Static).update(Content.assemble(*parts))

    def _status(self, text: str = "") -> None:
        zooms = " ".join(f"[{label}]" if i == self.window_index else label for i, (label, _) in enumerate(WINDOWS))
        self.query_one("#chart-status", Static).update(Content(
            text or f"zoom {zooms} · 1/2/3: 5m/1h/24h · z: next zoom · q/escape: close"))

    # ------------------------------------------------------------------ keys
    def action_zoom(self, index: int) -> None:
        if index == self.window_index:
            return
        self.window_index = index
        self.data = None
        self._drawn_key = ()
        self._queried_at = None
        self.plot_plain = f"reading the last {self.window[0]}…"
        self.query_one("#chart-plot", Static).update(Content(self.plot_plain))
        self._status()
        self.update_data()

    def action_cycle_zoom(self) -> None:
        self.action_zoom((self.window_index + 1) % len(WINDOWS))

    def action_close(self) -> None:
        self.dismiss(None)



def open_chart(app: Any, series_key: str) -> None:
    """Push the chart of `series_key` ("source/metric"); the console's latest snapshot is applied
    again when it closes (OpsConsoleApp.open_modal), as for every modal of ours."""
    screen = ChartScreen(series_key)
    opener = getattr(app, "open_modal", None)
    if opener is not None:
        opener(screen)
    else:
        app.push_screen(screen)


class ChartProvider(Provider):
    """Palette entries `chart: <series key>` for every series of the current snapshot."""

    def _keys(self) -> list[str]:
        snapshot = getattr(self.app, "snapshot", None)
        return sorted(s.key for s in snapshot.series) if snapshot is not None else []

    async def discover(self) -> Hits:
        for key in self._keys():
            yield DiscoveryHit(f"chart: {key}", partial(open_chart, self.app, key), help="full-screen chart")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for key in self._keys():
            label = f"chart: {key}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(open_chart, self.app, key), help="full-screen chart")
