"""The Health panel: alerts at a glance, checks with since/value/limit, HTTP components that fold,
and the header's alert count and overall health."""

from __future__ import annotations

import dataclasses

from console_fakes import T0, series, snap

from engine.snapshot import AlertView, ComponentView, HealthView


def body(app) -> list[str]:
    return app.screen.query_one("#health").body.plain.splitlines()


def styles(app, row: int) -> list[str]:
    return [style for _, style in app.screen.query_one("#health").body.lines[row]]


NOW = T0 + 100
ALERTS = (
    AlertView("HighErrorRate", "firing", "critical", NOW - 120, "canary/error_rate", 0.023, "error rate above 1%"),
    AlertView("HostCpuHigh", "pending", "warning", NOW - 20, "host/cpu_pct", 85.0),
    AlertView("DiskSpaceLow", "firing", "warning", NOW - 60, "disk:/var/used_pct", 91.0, silenced=True,
              silenced_by="alice until 14:30: cleaning up"),
    AlertView("CanaryLogErrors", "nodata", "critical", NOW - 300, "log:access:canary/error_rate"),
    AlertView("BackupLate", "nodata", "warning", NOW - 300, "backup/age_s"),
    AlertView("HostMemoryHigh", "resolved", "warning", NOW - 90, "host/mem_pct", 80.0),
)
CHECKS = (
    HealthView("root-disk", "OK", NOW - 3600, "80.1GB (76%) free", "≥1.0GB"),
    HealthView("canary", "WARN", NOW - 300, "200 in 12ms", "≤500ms", "database: degraded",
               (("database", "WARN"), ("cache", "OK"), ("queue", "OK"))),
    HealthView("state-dir", "FAIL", NOW - 30, "not writable", "writable", "cannot write in /srv/state: Read-only file system"),
    HealthView("memory", "UNKNOWN", NOW - 2, detail="no result yet"),
)


async def test_alerts_come_first_then_checks_then_components(make_app, source) -> None:
    source.current = snap(alerts=ALERTS, health=CHECKS, series=(series("host", "cpu_pct", [85.0], "%"),),
                          components=(ComponentView("health", "running"),))
    app = make_app()
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.pause()
        rows = body(app)
        assert rows[0].split() == ["FIRING", "HighErrorRate", "2.3%", "2m"]
        assert styles(app, 0)[0] == "$error"
        assert rows[1].split() == ["PENDING", "HostCpuHigh", "85.0%", "20s"]  # the series' unit
        assert rows[2].split()[:2] == ["FIRING", "DiskSpaceLow"] and styles(app, 2)[0] == "$text-muted"
        assert rows[3].strip() == "muted: alice until 14:30: cleaning up"
        assert rows[4].split() == ["NO", "DATA", "2", "rule(s):", "CanaryLogErrors,", "BackupLate"]
        assert styles(app, 4) == ["$text-muted"]  # visible, not alarming
        assert rows[5].split() == ["RESOLVED", "HostMemoryHigh", "1m", "ago"]
        assert rows[6] == "checks"
        assert rows[7].split() == ["OK", "root-disk", "1h", "80.1GB", "(76%)", "free", "/", "≥1.0GB"]
        assert rows[8].split()[:3] == ["WARN", "canary", "5m"]
        assert rows[9].strip() == "▸ 3 components · database: degraded"
        assert rows[10].split()[:2] == ["FAIL", "state-dir"]
        assert " ".join(r.strip() for r in rows[11:13]) == "cannot write in /srv/state: Read-only file system"
        assert rows[13].split()[:2] == ["UNKNOWN", "memory"] and rows[14].strip() == "no result yet"
        assert rows[15:] == ["engine components", rows[16]] and rows[16].split()[:2] == ["health", "RUNNING"]
        header = app.header.plain
        assert "alerts: 1 +1 pending" in header and "health: FAIL" in header


async def test_enter_expands_and_folds_an_http_checks_components(make_app, source) -> None:
    source.current = snap(health=CHECKS)
    app = make_app()
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one("#health")
        panel.focus()
        await pilot.press("down", "enter")  # root-disk -> canary, expand
        await pilot.pause()
        rows = body(app)
        assert rows[1].split()[:2] == ["WARN", "canary"] and panel.body.lines[1][0][1] == "reverse"
        assert [r.split() for r in rows[3:6]] == [["▾", "database", "WARN"], ["▾", "cache", "OK"], ["▾", "queue", "OK"]]
        assert rows[2].strip() == "database: degraded"
        await pilot.press("enter")
        await pilot.pause()
        assert body(app)[2].strip() == "▸ 3 components · database: degraded"


async def test_the_panel_repaints_only_when_its_slice_changes(make_app, source) -> None:
    source.current = snap(alerts=ALERTS, health=CHECKS)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()  # the panel overflows: its scrollbar takes a column, and it lays out once more
        panel = app.screen.query_one("#health")
        before = panel.updates
        source.current = dataclasses.replace(source.current, series=(series("host", "mem_pct", [50.0], "%"),))
        app.refresh_now()
        assert panel.updates == before
        source.current = dataclasses.replace(source.current, alerts=ALERTS[:1])
        app.refresh_now()
        assert panel.updates == before + 1


async def test_no_checks_and_no_alerts_says_where_to_configure_them(make_app, source) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert " ".join(body(app)) == "no health checks configured — add health: to test"  # the file running
        assert "alerts: 0" in app.header.plain and "health:" not in app.header.plain


async def test_at_120_columns_a_warn_check_keeps_its_whole_measure_and_reason(make_app, source) -> None:
    """The 38-column Health panel of a 120x40 terminal: a check that is not OK is never cut short
    ('200 in 3ms / ≤…', 'database: d…'); an OK check may be."""
    warn = HealthView("baseline-health", "WARN", NOW - 30, "200 in 3ms", "≤500ms", "database: degraded, replica lag 12s",
                      (("database", "WARN"), ("cache", "OK"), ("queue", "OK")))
    source.current = snap(health=(warn,))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        rows = [r.strip() for r in body(app)]
        assert not any("…" in r for r in rows), rows
        assert rows[0].split() == ["WARN", "baseline-health", "30s"]
        assert rows[1] == "200 in 3ms / ≤500ms"
        assert rows[2] == "▸ 3 components"
        assert " ".join(rows[3:5]) == "database: degraded, replica lag 12s"
