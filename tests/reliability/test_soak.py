"""Drill 7: the built-in demo under `opsconsole --headless` for a long run (30 minutes by default),
with a different fault every minute. What an operator checks after a night's rollout:

- resident memory and open file descriptors are flat once the rings have filled (the slope over
  the run after a warm-up is reported, and bounded);
- the log holds no unhandled exception and no component crash, stderr stays empty;
- the engine still answers and its history passes SQLite's integrity check.

    pytest -m soak tests/reliability/test_soak.py -s                  # 30 minutes, figures printed
    OPSCONSOLE_SOAK_MINUTES=3 pytest -m soak tests/reliability/test_soak.py -s   # a quick look

The faults are the operator's own levers: the demo router's /admin/faults (errors, latency past the
collectors' timeout), engine pause and resume, a rollout restarted after its rollback, a backup.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from engine.commands import Command
from tests.headlessfixtures import HeadlessProcess, free_port
from tests.reliability.drillkit import integrity

pytestmark = pytest.mark.soak

ROOT_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"
MINUTES = float(os.environ.get("OPSCONSOLE_SOAK_MINUTES", "30"))
FAULT_EVERY = float(os.environ.get("OPSCONSOLE_SOAK_FAULT_EVERY", "60"))  # seconds
SAMPLE_EVERY = 5.0  # seconds between RSS / fd readings
# The first part of the run is warm-up: rings (120 points a series), caches and SQLite's page cache
# fill. Flatness is judged on the rest.
WARM_UP_SHARE = 0.25
# Growth allowed after the warm-up, in MB, median of the last 12 readings against the first 12.
# Caches still fill in 30 minutes (SQLite's page cache, 2 MB a connection, grows with the file), so
# the slope is reported, not bounded. The leak this drill found (glibc keeping ~0.7 MB per backup,
# engine/allocator.py) grew about 11 MB here; with the fix the growth is 4-5 MB with a flat Python heap.
MAX_RSS_GROWTH_MB = 6.0
MAX_FD_RISE = 6


def soak_config(tmp_path: Path) -> Path:
    """The root config.yaml as a user runs it, moved onto free ports and into `tmp_path`."""
    text = ROOT_CONFIG.read_text()
    for port in ("18470", "18471", "18472"):
        text = text.replace(port, str(free_port()))
    text = text.replace("~/.local/state/opsconsole/demo", str(tmp_path / "demo"))
    text = text.replace("store:\n", "store:\n  path: history.db\n", 1)
    text = text.replace("backup:\n", f"backup:\n  dir: {tmp_path / 'backups'}\n", 1)
    text = text.replace("logging:\n", "logging:\n  file: opsconsole.log\n", 1)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def _router_port(config: Path) -> int:
    match = re.search(r"^  port: (\d+)", config.read_text(), re.M)
    assert match, "demo.port not found in the soak config"
    return int(match.group(1))


def _set_faults(router_port: int, version: str, **faults: object) -> None:
    body = json.dumps({"version": version, **faults}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{router_port}/admin/faults", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def _command(engine: HeadlessProcess, name: str, **args: object) -> str:
    with engine.client() as client:
        result = client.command(Command(name, dict(args)), origin="cli", timeout=30)
    return f"{name}: {'ok' if result.ok else 'refused'} ({result.message})"


def rollout_verb(engine: HeadlessProcess) -> str:
    """The operator's next move on the demo rollout: start a finished one again, resume a paused
    one (no data pauses it, by design), pause a running one."""
    rollout = engine.snapshot().rollout
    status = rollout.status if rollout is not None else "idle"
    if status in ("paused", "frozen"):
        return "rollout.resume"
    if status in ("running", "waiting-for-promotion"):
        return "rollout.pause"
    return "rollout.start"


def fault_plan(engine: HeadlessProcess, router_port: int) -> list[tuple[str, Callable[[], str]]]:
    """One lever a minute, in turn: each names what it did for the run's record."""

    def faults(version: str, **values: object) -> Callable[[], str]:
        def apply() -> str:
            _set_faults(router_port, version, **values)
            return f"{version} faults {values}"
        return apply

    def clear() -> str:
        _set_faults(router_port, "baseline", error_rate=0.002, latency="0ms")
        _set_faults(router_port, "canary", error_rate=0.0, latency="5ms")
        return "faults cleared"

    return [
        ("canary errors", faults("canary", error_rate=0.3)),
        ("baseline slow", faults("baseline", latency="600ms")),
        ("clear", clear),
        ("baseline past the scrape timeout", faults("baseline", latency="1500ms")),
        ("baseline failing", faults("baseline", latency="0ms", error_rate=0.5)),
        ("clear", clear),
        ("pause the engine", lambda: _command(engine, "pause")),
        ("resume the engine", lambda: _command(engine, "resume")),
        ("move the rollout", lambda: _command(engine, rollout_verb(engine), reason="soak drill")),
        ("backup", lambda: _command(engine, "backup")),
    ]


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per hour."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600 if var else 0.0


def rise(values: list[float] | list[int]) -> float:
    """The median of the last readings minus that of the first (12 of each, fewer in a short run):
    a level that went up, not a spike."""
    k = max(1, min(12, len(values) // 3))
    return statistics.median(values[-k:]) - statistics.median(values[:k])


def log_problems(log_text: str) -> list[str]:
    """Entries an operator would call a bug: errors with a traceback, crashes, asyncio's complaints,
    anything that is not one of our JSON lines (a bare traceback from a thread)."""
    problems = []
    for line in log_text.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"not a JSON log line: {line[:200]}")
            continue
        message = str(entry.get("message", ""))
        if "exception" in entry or entry.get("level") == "CRITICAL" or re.search(
            r"crash|never retrieved|unhandled|Traceback", message, re.I
        ):
            problems.append(line[:500])
    return problems


def test_headless_demo_soak_with_faults_every_minute(tmp_path: Path) -> None:
    config = soak_config(tmp_path)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    with HeadlessProcess(config, env=env) as engine:
        process = psutil.Process(engine.proc.pid)
        plan = fault_plan(engine, _router_port(config))
        start = time.monotonic()
        end = start + MINUTES * 60
        next_fault, next_sample, step = start + FAULT_EVERY, start, 0
        readings: list[tuple[float, float, int]] = []  # (s since start, RSS MB, open fds)
        applied: list[str] = []
        while time.monotonic() < end:
            now = time.monotonic()
            assert engine.proc.poll() is None, f"the engine exited with {engine.proc.returncode}:\n{engine.stderr()}"
            if now >= next_sample:
                readings.append((now - start, process.memory_info().rss / 1e6, process.num_fds()))
                next_sample += SAMPLE_EVERY
            if now >= next_fault:
                name, lever = plan[step % len(plan)]
                applied.append(f"{now - start:6.0f}s {name}: {lever()}")
                step += 1
                next_fault += FAULT_EVERY
            time.sleep(max(0.0, min(next_sample, next_fault) - time.monotonic()))
        snapshot = engine.snapshot()
        cpu_seconds = sum(process.cpu_times()[:2])
        assert engine.stop() == 0, "SIGTERM after the soak did not exit 0"
        stderr = engine.stderr()

    (tmp_path / "readings.csv").write_text(
        "seconds,rss_mb,open_fds\n" + "".join(f"{t:.0f},{rss:.2f},{fds}\n" for t, rss, fds in readings)
    )
    settled = [r for r in readings if r[0] >= MINUTES * 60 * WARM_UP_SHARE]
    rss_slope = slope_per_hour([(t, rss) for t, rss, _ in settled])
    fd_slope = slope_per_hour([(t, fds) for t, _, fds in settled])
    rss = [r for _, r, _ in settled]
    fds = [f for _, _, f in settled]
    rss_growth = rise(rss)
    print(f"\nsoak: {MINUTES:g} min, a fault every {FAULT_EVERY:g} s, {len(applied)} applied, "
          f"{len(readings)} readings ({len(settled)} after the warm-up)")
    print(f"  RSS  start {readings[0][1]:.1f} MB, after warm-up {rss[0]:.1f}, end {rss[-1]:.1f}, "
          f"min/max {min(rss):.1f}/{max(rss):.1f}, slope {rss_slope:+.2f} MB/h, "
          f"growth (medians) {rss_growth:+.1f} MB")
    print(f"  fds  start {readings[0][2]}, after warm-up {fds[0]}, end {fds[-1]}, "
          f"min/max {min(fds)}/{max(fds)}, slope {fd_slope:+.2f} /h")
    print(f"  engine CPU {cpu_seconds / (MINUTES * 60) * 100:.1f}% over the run")
    print("  " + "\n  ".join(applied))
    print(f"  every reading: {tmp_path / 'readings.csv'}")

    assert snapshot.state.value == "running", f"engine state at the end: {snapshot.state.value}"
    # Headless mirrors its log to stderr (for journald): both must be clean.
    for name, text in (("opsconsole.log", (tmp_path / "opsconsole.log").read_text(errors="replace")), ("stderr", stderr)):
        problems = log_problems(text)
        assert not problems, f"{name}: {len(problems)} problem lines:\n" + "\n".join(problems[:20])
    assert integrity(engine.db) == "ok"
    assert rss_growth <= MAX_RSS_GROWTH_MB, f"RSS grew {rss_growth:+.1f} MB after the warm-up ({rss_slope:+.2f} MB/h)"
    # Sockets come and go with the faults (a slow upstream holds more connections); a leak is a
    # level that keeps rising, so the settled start is compared with the end (rise()).
    assert rise(fds) <= MAX_FD_RISE, f"open fds rose by {rise(fds):+g} (medians) after the warm-up: {fds[:3]}..{fds[-3:]}"
