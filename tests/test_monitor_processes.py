"""Process monitoring against real child processes: matching four ways, vanishing, restarting,
CPU % from measured time, and scans that do not re-read the whole process table."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from engine import eventcodes as ev
from engine.monitor.config import MonitorConfig, ProcessRule
from engine.monitor.processes import ProcessScanner
from tests.monitorkit import busy_python, child, events, running_engine, sleeper_binary, wait_for


def rule(**fields: object) -> ProcessRule:
    return ProcessRule.model_validate(fields)


def view(result, name: str):
    return next(v for v in result.views if v.name == name)


def samples(result, source: str) -> dict[str, float]:
    return {s.metric: s.value for s in result.samples if s.source == source}


def test_found_by_name_cmdline_pid_file_and_self(tmp_path: Path) -> None:
    binary = sleeper_binary(tmp_path, "opsc-sleep-a")
    pid_file = tmp_path / "app.pid"
    with child([str(binary), "300"]) as by_name, child(["sleep", "301.5"]) as by_cmdline:
        pid_file.write_text(f"{by_cmdline.pid}\n")
        scanner = ProcessScanner([
            rule(name="named", match="opsc-sleep-a"),
            rule(name="pattern", cmdline=r"^sleep 301\.5$"),
            rule(name="pidfile", pid_file=str(pid_file)),
            rule(name="me", self=True),
        ])
        result = scanner.scan()
    assert view(result, "named").pid == by_name.pid
    assert view(result, "pattern").pid == by_cmdline.pid
    assert view(result, "pidfile").pid == by_cmdline.pid
    me = view(result, "me")
    assert me.pid == os.getpid() and me.status == "running"
    assert me.rss_bytes == pytest.approx(psutil.Process().memory_info().rss, rel=0.2)
    assert me.threads >= 1 and me.fds >= 3 and me.uptime_s > 0
    assert me.cpu_pct is None  # one reading has no CPU %: it needs two, never a made-up 0
    got = samples(result, "proc:named")
    assert got["running"] == 1 and got["count"] == 1 and got["rss_bytes"] > 0 and "cpu_pct" not in got
    assert [m for _, _, src, m, _ in result.events if src == "proc:named"] == [
        f"named: following pid {by_name.pid} (name 'opsc-sleep-a')"]


def test_the_oldest_of_several_matches_is_followed_and_counted(tmp_path: Path) -> None:
    binary = sleeper_binary(tmp_path, "opsc-sleep-m")
    with child([str(binary), "300"]) as first:
        time.sleep(0.05)  # create times are in 10 ms ticks: make the order certain
        with child([str(binary), "300"]), child([str(binary), "300"]):
            result = ProcessScanner([rule(name="pool", match="opsc-sleep-m")]).scan()
    assert view(result, "pool").pid == first.pid
    assert samples(result, "proc:pool")["count"] == 3


def test_pid_file_problems_say_what_is_wrong(tmp_path: Path) -> None:
    garbage, stale = tmp_path / "garbage.pid", tmp_path / "stale.pid"
    garbage.write_text("not-a-pid")
    with child(["true"]) as gone:
        gone.wait(5)
    stale.write_text(str(gone.pid))
    scanner = ProcessScanner([rule(name="missing", pid_file=str(tmp_path / "none.pid")),
                              rule(name="garbage", pid_file=str(garbage)),
                              rule(name="stale", pid_file=str(stale))])
    result = scanner.scan()
    messages = {src: m for _, _, src, m, _ in result.events}
    assert messages["proc:missing"] == f"missing: not running: pid file {tmp_path / 'none.pid'} does not exist"
    assert messages["proc:garbage"] == f"garbage: not running: pid file {garbage} holds 'not-a-pid', not a pid"
    assert messages["proc:stale"] == f"stale: not running: pid {gone.pid} from {stale} is not running"
    assert all(v.status == "not running" and v.pid is None and v.rss_bytes is None for v in result.views)
    assert scanner.scan().events == []  # said once, not every scan


def test_a_vanished_process_is_an_event_and_no_data_and_its_return_a_restart(tmp_path: Path) -> None:
    binary = sleeper_binary(tmp_path, "opsc-sleep-v")
    scanner = ProcessScanner([rule(name="worker", match="opsc-sleep-v")])
    with child([str(binary), "300"]) as first:
        assert view(scanner.scan(), "worker").pid == first.pid
    gone = scanner.scan()
    assert view(gone, "worker").status == "not running"
    assert samples(gone, "proc:worker") == {"running": 0.0, "count": 0.0}  # no rss/cpu: a gap, not 0
    [(code, severity, _, message, _)] = gone.events
    assert code is ev.PROCESS_GONE and severity == "warning" and message.startswith(f"worker: pid {first.pid} is gone (it ran ")
    assert message.endswith("); no data until a process matches again")
    assert scanner.scan().events == []
    with child([str(binary), "300"]) as second:
        back = scanner.scan()
    assert view(back, "worker").pid == second.pid and view(back, "worker").restarts == 1
    assert [(sev, m) for _, sev, _, m, _ in back.events] == [
        ("warning", f"worker restarted: gone -> pid {second.pid} (restart 1)")]
    assert samples(back, "proc:worker")["restarts"] == 1


def test_a_pid_change_between_two_scans_is_one_restart(tmp_path: Path) -> None:
    binary = sleeper_binary(tmp_path, "opsc-sleep-r")
    scanner = ProcessScanner([rule(name="svc", match="opsc-sleep-r")])
    with child([str(binary), "300"]) as first:
        scanner.scan()
    with child([str(binary), "300"]) as second:
        result = scanner.scan()
    assert [m for _, _, _, m, _ in result.events] == [f"svc restarted: pid {first.pid} -> pid {second.pid} (restart 1)"]


def test_cpu_percent_is_measured_over_real_time(tmp_path: Path) -> None:
    scanner = ProcessScanner([rule(name="spin", cmdline="import time")])
    with child(busy_python(3.0)):
        wait_for(lambda: view(scanner.scan(), "spin").pid is not None, what="the busy child")
        time.sleep(0.5)
        spin = view(scanner.scan(), "spin")
    # One core spinning: ~100 %; a shared 2-core CI box may give it much less, never nothing.
    assert spin.cpu_pct is not None and 10 < spin.cpu_pct < 110


def test_rescans_read_only_new_processes(tmp_path: Path) -> None:
    scanner = ProcessScanner([rule(name="x", cmdline="no-such-program-anywhere")])
    scanner.scan()
    first = scanner.table.identities_read
    assert first >= len(psutil.pids()) // 2  # the first scan reads the table once
    binary = sleeper_binary(tmp_path, "opsc-sleep-n")
    with child([str(binary), "300"]):
        for _ in range(5):
            scanner.scan()
    # Five more scans read the new child and whatever else started meanwhile, not the table again.
    assert scanner.table.identities_read - first < max(20, first // 4)


def test_the_engine_records_process_series_and_events(tmp_path: Path) -> None:
    binary = sleeper_binary(tmp_path, "opsc-sleep-e")
    body = ("monitor:\n  process_interval: 500ms\n  processes:\n"
            "    - {name: engine, self: true}\n    - {name: sleeper, match: opsc-sleep-e}\n")
    with child([str(binary), "300"]) as sleeper, running_engine(tmp_path, body) as engine:
        wait_for(lambda: engine.snapshot().get("proc:engine", "cpu_pct") is not None, what="a CPU % of the engine")
        snap = engine.snapshot()
        assert {p.name: p.pid for p in snap.processes} == {"engine": os.getpid(), "sleeper": sleeper.pid}
        assert snap.get("monitor", "process_scan_ms").last > 0
        sleeper.kill()
        sleeper.wait(5)
        wait_for(lambda: any("is gone" in m for m in events(engine, "monitor", "proc:sleeper")), what="gone event")
        assert next(p for p in engine.snapshot().processes if p.name == "sleeper").status == "not running"
        assert all(c.state == "running" for c in engine.snapshot().components)  # an event, not a crash
        wait_for(lambda: any(g.series == "proc:sleeper/rss_bytes" for g in engine.snapshot().gaps), what="a gap")
        gap = next(g for g in engine.snapshot().gaps if g.series == "proc:sleeper/rss_bytes")
        assert gap.end is None and gap.cause == "not running: no process matches name 'opsc-sleep-e'"
        assert not any(g.series.startswith("proc:engine") for g in engine.snapshot().gaps)


def test_a_process_rule_needs_exactly_one_way_to_find_it() -> None:
    with pytest.raises(ValueError, match="give exactly one of match, cmdline, pid_file, self"):
        MonitorConfig.model_validate({"processes": [{"name": "x", "match": "a", "self": True}]})
    with pytest.raises(ValueError, match="used twice"):
        MonitorConfig.model_validate({"processes": [{"name": "x", "self": True}, {"name": "x", "match": "y"}]})
    with pytest.raises(ValueError, match="use letters, digits and _ . : - only"):  # names become series sources
        MonitorConfig.model_validate({"processes": [{"name": "my app/1", "self": True}]})
