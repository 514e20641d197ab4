"""The Memory panel: charts of host memory and engine RSS when there is room (rebuilt at most every
CHART_EVERY seconds), sparklines when not, disk and I/O rows, and processes by RSS."""

from __future__ import annotations

from console_fakes import T0, series, snap

from console.panels.memory import CHART_EVERY
from engine.snapshot import ProcessView

WAVE = [50 + (i % 7) * 3.0 for i in range(40)]
RSS = [80e6 + (i % 5) * 1e6 for i in range(40)]


def memory(app):
    return app.screen.query_one("#memory")


def with_points(taken_at: float, shift: int = 0, **kwargs: object):
    return snap(taken_at=taken_at, series=(
        series("host", "mem_pct", WAVE[shift:] + WAVE[:shift], "%"),
        series("engine", "rss_bytes", RSS[shift:] + RSS[:shift], "B"),
        series("engine", "peak_rss_bytes", [90e6], "B"),
    ), **kwargs)


def has_braille(text: str) -> bool:
    return any("\u2800" <= c <= "\u28ff" for c in text)


async def test_charts_when_tall_enough_sparklines_otherwise(make_app, source) -> None:
    source.current = with_points(T0 + 100)
    app = make_app()
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.pause()
        rows = memory(app).body.plain.splitlines()
        assert rows[0].split() == ["host", "mem", "62.0%", "last", "39s"]
        assert rows[1].startswith("100%") and rows[4].startswith("  0%")
        assert has_braille("".join(rows[1:5]))
        rss_at = next(i for i, r in enumerate(rows) if r.startswith("engine rss"))
        assert rows[rss_at].split()[-2:] == ["last", "39s"] and has_braille("".join(rows[rss_at + 1:rss_at + 4]))
        # plot rows are two spans: the y label, muted, and the plot in one style
        assert [style for _, style in memory(app).body.lines[1]] == ["$text-muted", "$accent"]
    small = make_app()
    async with small.run_test(size=(120, 31)) as pilot:  # the grid, in panels too short for a chart
        await pilot.pause()
        rows = memory(small).body.plain.splitlines()
        assert rows[0].startswith("host mem") and not has_braille(memory(small).body.plain)
        assert any(c in rows[0] for c in "▁▂▃▄▅▆▇█")  # the sparkline instead


async def test_a_chart_is_rebuilt_at_most_every_chart_every_seconds(make_app, source) -> None:
    source.current = with_points(T0 + 100)
    app = make_app()
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.pause()
        chart = memory(app).body.plain.splitlines()[1:5]
        source.current = with_points(T0 + 100 + CHART_EVERY / 2, shift=3)  # new data, too soon
        app.refresh_now()
        rows = memory(app).body.plain.splitlines()
        assert rows[1:5] == chart and rows[0].split()[2] != "62.0%"  # the value moved, the chart did not
        source.current = with_points(T0 + 100 + CHART_EVERY, shift=3)
        app.refresh_now()
        assert memory(app).body.plain.splitlines()[1:5] != chart


async def test_disk_io_and_processes(make_app, source) -> None:
    source.current = snap(
        series=(series("disk:/", "used_pct", [24.1], "%"), series("disk:/", "free_bytes", [82.7e9], "B"),
                series("host", "disk_read_bytes_s", [0.0], "B/s"), series("host", "disk_write_bytes_s", [15.2e6], "B/s"),
                series("host", "net_recv_bytes_s", [24_200.0], "B/s"), series("host", "net_sent_bytes_s", [3_000.0], "B/s")),
        processes=(ProcessView("opsconsole", 4728, 2.2, 83_400_000, 8, 13, "running", 11.0),
                   ProcessView("nginx", 101, 0.5, 12_000_000, 2, 40, "running", 7200.0, restarts=2),
                   ProcessView("api", None, None, None, status="not running", restarts=1)),
    )
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        rows = [r.split() for r in memory(app).body.plain.splitlines()]
        assert ["disk", "/", "24.1%", "82.7GB", "free"] in rows
        assert ["disk", "io", "r", "0B/s", "w", "15.2MB/s"] in rows
        assert ["net", "↓", "24.2KB/s", "↑", "3.0KB/s"] in rows
        at = rows.index(["process", "pid", "cpu", "rss", "up"])
        assert rows[at + 1] == ["opsconsole", "4728", "2.2%", "83.4MB", "10s"]  # ages step by 10s
        assert rows[at + 2] == ["nginx", "101", "0.5%", "12.0MB", "2h", "↻2"]
        assert rows[at + 3] == ["api", "—", "not", "running", "↻1"]
