"""Configured processes (`monitor.processes`): found by name, command line, pid file or `self`;
pid, CPU %, RSS, threads, open file descriptors, uptime and restarts.

Cost stays bounded on a host with thousands of processes:
- the process table (pid -> name, command line) reads each process's identity once, when its pid
  first appears, plus a full refresh every minute (a process may exec into another program);
- only the followed process of each rule is examined in detail (cpu times, memory, threads, fds);
- scans run in a worker thread, never on the engine's loop.

A process that disappears is an event and "no data" for its series (a gap), never an error of the
monitor; when a process matches again with another pid, that is a restart.

Series, source "proc:<name>": running (1/0), count (processes matching), and while running
cpu_pct, rss_bytes, threads, fds (when readable), uptime_s, restarts.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psutil

from engine import eventcodes as ev
from engine.component import EngineContext
from engine.eventcodes import EventCode
from engine.gaps import GapTracker
from engine.monitor.config import MonitorConfig, ProcessMatch, ProcessRule
from engine.monitor.host import Sample
from engine.snapshot import ProcessView
from engine.units import format_duration

FULL_REFRESH_EVERY = 60.0  # seconds between re-reading every process's name and command line


def source_of(rule_name: str) -> str:
    return f"proc:{rule_name}"


@dataclass(frozen=True)
class Identity:
    name: str
    cmdline: str  # arguments joined by spaces; "" when not needed or not readable


class ProcessTable:
    """pid -> Identity of every process on the host, read once per new pid."""

    def __init__(self, with_cmdline: bool, refresh_every: float = FULL_REFRESH_EVERY) -> None:
        self.with_cmdline = with_cmdline
        self.refresh_every = refresh_every
        self._identities: dict[int, Identity] = {}
        self._refreshed_at = float("-inf")
        self.identities_read = 0  # for tests and the bench: how much work the scans did

    def update(self) -> dict[int, Identity]:
        now = time.monotonic()
        if now - self._refreshed_at >= self.refresh_every:
            self._identities.clear()
            self._refreshed_at = now
        pids = psutil.pids()
        alive = set(pids)
        for pid in [p for p in self._identities if p not in alive]:
            del self._identities[pid]
        for pid in pids:
            if pid not in self._identities:
                identity = self._read(pid)
                if identity is not None:
                    self._identities[pid] = identity
        return self._identities

    def _read(self, pid: int) -> Identity | None:
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                name = process.name()
                cmdline = " ".join(process.cmdline()) if self.with_cmdline else ""
        except psutil.NoSuchProcess:  # exited between the listing and the read
            return None
        except psutil.AccessDenied:  # a process we may not look into: matched by nothing
            name, cmdline = "", ""
        self.identities_read += 1
        return Identity(name, cmdline)


def needs_table(rules: Iterable[ProcessMatch]) -> bool:
    return any(rule.match or rule.cmdline for rule in rules)


def needs_cmdline(rules: Iterable[ProcessMatch]) -> bool:
    return any(rule.cmdline for rule in rules)


def candidates(rule: ProcessMatch, table: dict[int, Identity]) -> tuple[list[int], str]:
    """The pids matching `rule`, and when there are none, why (a sentence for the operator)."""
    if rule.self_:
        return [os.getpid()], ""
    if rule.pid_file is not None:
        return _from_pid_file(rule.pid_file)
    if rule.match:
        pids = [pid for pid, ident in table.items() if ident.name == rule.match]
    else:
        pattern = re.compile(rule.cmdline or "")
        pids = [pid for pid, ident in table.items() if pattern.search(ident.cmdline)]
    return pids, "" if pids else f"no process matches {rule.describe()}"


def _from_pid_file(path: Path) -> tuple[list[int], str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return [], f"pid file {path} does not exist"
    except OSError as exc:
        return [], f"pid file {path} cannot be read: {exc.strerror or exc}"
    if not text.isdigit():
        return [], f"pid file {path} holds {text[:20]!r}, not a pid"
    pid = int(text)
    if not psutil.pid_exists(pid):
        return [], f"pid {pid} from {path} is not running"
    return [pid], ""


def oldest(pids: list[int]) -> psutil.Process | None:
    """The longest-running of `pids` (the master of nginx, gunicorn, postgres ...)."""
    found: list[tuple[float, int, psutil.Process]] = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            found.append((process.create_time(), pid, process))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return min(found, key=lambda item: item[:2])[2] if found else None


@dataclass
class _Followed:
    """What we know of one rule's process across scans."""

    process: psutil.Process | None = None
    cpu: tuple[float, float] | None = None  # (cpu seconds, monotonic) at the last scan
    restarts: int = 0
    seen: bool = False
    reported_missing: bool = False


@dataclass
class ScanResult:
    t: float
    views: tuple[ProcessView, ...]
    samples: list[Sample] = field(default_factory=list)
    events: list[tuple[EventCode, str, str, str, dict[str, Any]]] = field(default_factory=list)  # code, severity, source, msg, data
    scan_ms: float = 0.0
    cpu_ms: float = 0.0  # CPU time the scan itself used (its thread)


class ProcessScanner:
    """One scan: refresh the table, follow each rule's process, sample it. Not thread-safe: one
    scan at a time (the component awaits each)."""

    def __init__(self, rules: list[ProcessRule]) -> None:
        self.rules = rules
        self.table = ProcessTable(needs_cmdline(rules)) if needs_table(rules) else None
        self._followed = {rule.name: _Followed() for rule in rules}
        self.why_missing: dict[str, str] = {}  # rule -> why it has no process now (gap causes)

    def scan(self) -> ScanResult:
        started, cpu_started = time.perf_counter(), time.thread_time()
        identities = self.table.update() if self.table is not None else {}
        result = ScanResult(time.time(), ())
        views = [self._one(rule, identities, result) for rule in self.rules]
        result.views = tuple(views)
        result.scan_ms = (time.perf_counter() - started) * 1000
        result.cpu_ms = (time.thread_time() - cpu_started) * 1000
        return result

    def _one(self, rule: ProcessRule, identities: dict[int, Identity], result: ScanResult) -> ProcessView:
        followed = self._followed[rule.name]
        source = source_of(rule.name)
        pids, why_none = candidates(rule, identities)
        previous = followed.process
        if previous is not None and not (previous.pid in pids and _same(previous)):
            followed.process = None
        if followed.process is None and pids:
            followed.process, followed.cpu = oldest(pids), None
        process = followed.process
        if process is not None:
            self._note_found(rule, followed, previous, process, result)
            view = self._sample(rule, followed, process, len(pids), result)
            if view is not None:
                return view
            followed.process, previous = None, process  # it exited while we were reading it
            why_none = f"pid {process.pid} exited"
        self.why_missing[rule.name] = why_none
        self._note_missing(rule, followed, previous, why_none, result)
        result.samples += [Sample(source, "running", 0.0), Sample(source, "count", float(len(pids)))]
        return ProcessView(rule.name, None, None, None, status="not running", restarts=followed.restarts)

    def _sample(self, rule: ProcessRule, followed: _Followed, process: psutil.Process, count: int,
                result: ScanResult) -> ProcessView | None:
        now = time.monotonic()
        try:
            with process.oneshot():
                times = process.cpu_times()
                rss = process.memory_info().rss
                threads = process.num_threads()
                uptime = max(0.0, time.time() - process.create_time())
                fds = _fds(process)
        except psutil.NoSuchProcess:
            return None
        except psutil.AccessDenied:  # another user's process without the rights to read it
            source = source_of(rule.name)
            result.samples += [Sample(source, "running", 1.0), Sample(source, "count", float(count))]
            return ProcessView(rule.name, process.pid, None, None, status="no access", restarts=followed.restarts)
        cpu_seconds = times.user + times.system
        cpu_pct = None
        if followed.cpu is not None and now > followed.cpu[1]:
            # From the measured time between two real readings, not the nominal interval.
            cpu_pct = max(0.0, (cpu_seconds - followed.cpu[0]) / (now - followed.cpu[1]) * 100)
        followed.cpu = (cpu_seconds, now)
        source = source_of(rule.name)
        result.samples += [
            Sample(source, "running", 1.0),
            Sample(source, "count", float(count)),
            Sample(source, "rss_bytes", float(rss), "B"),
            Sample(source, "threads", float(threads)),
            Sample(source, "uptime_s", uptime, "s"),
            Sample(source, "restarts", float(followed.restarts)),
        ]
        if cpu_pct is not None:
            result.samples.append(Sample(source, "cpu_pct", cpu_pct, "%"))
        if fds is not None:
            result.samples.append(Sample(source, "fds", float(fds)))
        return ProcessView(rule.name, process.pid, cpu_pct, rss, threads, fds, "running", uptime, followed.restarts)

    @staticmethod
    def _note_found(rule: ProcessRule, followed: _Followed, previous: psutil.Process | None,
                    process: psutil.Process, result: ScanResult) -> None:
        source = source_of(rule.name)
        if previous is process:  # the same process as last scan (a reused pid is a new object)
            return
        if followed.seen:
            followed.restarts += 1
            old = f"pid {previous.pid}" if previous is not None else "gone"
            result.events.append((ev.PROCESS_RESTARTED, "warning", source, f"{rule.name} restarted: {old} -> pid {process.pid} "
                                  f"(restart {followed.restarts})",
                                  {"pid": process.pid, "restarts": followed.restarts}))
        else:
            result.events.append((ev.PROCESS_FOLLOWED, "info", source, f"{rule.name}: following pid {process.pid} ({rule.describe()})",
                                  {"pid": process.pid}))
        followed.seen = True
        followed.reported_missing = False

    @staticmethod
    def _note_missing(rule: ProcessRule, followed: _Followed, previous: psutil.Process | None, why: str,
                      result: ScanResult) -> None:
        source = source_of(rule.name)
        if previous is not None:
            up = _uptime_text(previous)
            result.events.append((ev.PROCESS_GONE, "warning", source, f"{rule.name}: pid {previous.pid} is gone{up}; "
                                  "no data until a process matches again", {"pid": previous.pid, "why": why}))
            followed.reported_missing = True
        elif not followed.reported_missing:
            result.events.append((ev.PROCESS_MISSING, "warning", source, f"{rule.name}: not running: {why}", {"why": why}))
            followed.reported_missing = True


def _same(process: psutil.Process) -> bool:
    """Still the process we followed (not a new one that reused its pid)."""
    try:
        return process.is_running()
    except psutil.Error:
        return False


def _fds(process: psutil.Process) -> int | None:
    try:
        return process.num_fds()
    except psutil.AccessDenied:
        return None


def _uptime_text(process: psutil.Process) -> str:
    try:
        return f" (it ran {format_duration(max(0.0, time.time() - process.create_time()))})"
    except psutil.Error:
        return ""


class ProcessMonitor:
    name = "process-monitor"

    def __init__(self, config: MonitorConfig, gaps: GapTracker | None = None) -> None:
        self.config = config
        self.scanner = ProcessScanner(list(config.processes))
        if gaps is not None:  # RSS is recorded only while the process runs: its silence is the gap
            for rule in config.processes:
                gaps.expect(f"{source_of(rule.name)}/rss_bytes", config.process_interval,
                            cause=partial(self._missing_cause, rule.name))
        self._views: tuple[ProcessView, ...] = tuple(
            ProcessView(rule.name, None, None, None, status="starting") for rule in config.processes
        )

    def _missing_cause(self, name: str) -> str:
        return f"not running: {self.scanner.why_missing.get(name, '?')}"

    def snapshot_fields(self) -> dict[str, Any]:
        return {"processes": self._views}

    async def run(self, ctx: EngineContext) -> None:
        next_at = time.monotonic()
        while True:
            await ctx.wait_running()
            result = await asyncio.to_thread(self.scanner.scan)
            for s in result.samples:
                ctx.record(s.source, s.metric, s.value, t=result.t, unit=s.unit)
            ctx.record("monitor", "process_scan_ms", result.scan_ms, t=result.t, unit="ms")
            ctx.record("monitor", "process_scan_cpu_ms", result.cpu_ms, t=result.t, unit="ms")
            for code, severity, source, message, data in result.events:
                ctx.event(code, severity, source, message, data)
            self._views = result.views
            next_at = max(next_at + self.config.process_interval, time.monotonic())
            await asyncio.sleep(next_at - time.monotonic())
