"""The Throughput and Errors panels on watch and log series: grouping per source, labels under
their log, a waiting source saying why, per-source error rates and totals, a scrollable list."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "console"))  # console_fakes, as the console tests use it

from console_fakes import T0, FakeSource, series, snap  # noqa: E402

from console.app import OpsConsoleApp  # noqa: E402
from console.screens.error_detail import ErrorDetailScreen  # noqa: E402
from engine.snapshot import ErrorGroup, HealthView  # noqa: E402


def plain(app: OpsConsoleApp, panel: str) -> list[str]:
    return [" ".join(row.split()) for row in app.screen.query_one(f"#{panel}").body.plain.splitlines()]


WATCH_SERIES = (
    series("watch:inbox", "files_per_s", [1.0, 2.0, 4.0], "/s"),
    series("watch:inbox", "bytes_per_s", [0.0, 8192.0, 16384.0], "B/s"),
    series("watch:inbox", "files_total", [10.0, 14.0]),
    series("watch:inbox", "errors_total", [0.0, 3.0]),
    series("log:access", "lines_per_s", [20.0, 21.0], "/s"),
    series("log:access", "lines_total", [1200.0, 1221.0]),
    series("log:access", "parse_errors_total", [2.0]),
    series("log:access", "errors_per_s", [0.5]),
    series("log:access:baseline", "requests_per_s", [18.0, 19.0], "/s"),
    series("log:access:baseline", "status_5xx_per_s", [0.0, 0.1], "/s"),
    series("log:access:baseline", "error_rate", [0.002, 0.005]),
    series("log:access:canary", "requests_per_s", [2.0, 2.0], "/s"),
    series("log:access:canary", "status_4xx_per_s", [0.1], "/s"),
    series("log:access:canary", "status_5xx_per_s", [0.0, 0.2], "/s"),
    series("log:access:canary", "error_rate", [0.01, 0.1]),
)


async def test_throughput_groups_rates_per_source_with_labels_under_their_log() -> None:
    source = FakeSource(snap(configured=frozenset({"watch"}), series=WATCH_SERIES, health=(
        HealthView("watch:spool", "WARN", T0, value="waiting", detail="waiting for /srv/spool: does not exist"),
        HealthView("log:access", "OK", T0, value="tailing"),
    )))
    app = OpsConsoleApp(source, refresh=60.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        rows = plain(app, "throughput")
    assert [r.split(" ")[:4] for r in rows[:5]] == [
        ["log:access", "lines", "21/s", "Σ1221"],
        ["baseline", "req", "19/s", "██"],
        ["canary", "req", "2/s", "██"],
        ["watch:inbox", "files", "4/s", "Σ14"],
        ["bytes", "16.4KB/s", "▁▅█"],
    ]
    assert rows[5:7] == ["watch:spool WAITING does not exist", "/srv/spool"]
    assert not any("5xx" in r or "4xx" in r or "errors" in r for r in rows), "failure rates are the Errors panel's"


async def test_errors_panel_rates_and_totals_per_source_and_a_scrollable_message_list() -> None:
    errors = tuple(
        ErrorGroup("watch:inbox", f"bad{i}.json: invalid JSON at line 1 column {i}: Expecting value", 1, T0,
                   T0 + i, context=f"kind: watch; path=/in/bad{i}.json")
        for i in range(30)
    )
    source = FakeSource(snap(configured=frozenset({"watch"}), series=WATCH_SERIES, errors=errors))
    app = OpsConsoleApp(source, refresh=60.0)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.screen.query_one("#errors")
        panel.focus()  # at 80x24 the focused panel is the expanded one, the others are key lines
        await pilot.pause()
        rows = plain(app, "errors")
        assert rows[:4] == [
            "log:access — 0.50/s Σ2 █",
            "baseline 0.5% 0.10/s ▄█",
            "canary 10.0% 0.20/s ▂█",
            "watch:inbox — — Σ3",
        ]
        assert rows[4] == "30 distinct, newest first"
        assert rows[5].startswith("1× 1m watch:inbox: bad29.json: in")  # count, age, source, message
        for _ in range(25):
            await pilot.press("down")
        await pilot.pause()
        assert panel.scroll_y > 0, "the list scrolls to keep the cursor in view"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDetailScreen)
        detail = str(app.screen.query_one("#error-text").render())
        assert "bad4.json: invalid JSON at line 1 column 4" in detail and "path=/in/bad4.json" in detail
