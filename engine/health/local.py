"""Checks on this host: dir, disk_free, memory, file_size, process. Each is a blocking function
(filesystem calls, psutil) that the health component runs in a worker thread."""

from __future__ import annotations

import errno
import os
import tempfile
import time
from pathlib import Path

import psutil

from engine.health.config import DiskFreeCheck, FileSizeCheck, MemoryCheck, ProcessCheck
from engine.health.state import FAIL, OK, WARN, CheckResult
from engine.monitor.processes import ProcessTable, candidates, needs_cmdline, needs_table, oldest
from engine.units import format_duration, format_size

PROBE_BYTES = b"opsconsole health probe\n"


def _why(exc: OSError) -> str:
    """"Permission denied", "Read-only file system", "No space left on device" ..."""
    return exc.strerror or errno.errorcode.get(exc.errno or 0, "") or str(exc)


def check_dir(path: Path) -> CheckResult:
    """Exists, is a directory, and takes a real write: a temp file written, synced and removed."""
    if not path.exists():
        return CheckResult(FAIL, "missing", "writable", f"{path} does not exist")
    if not path.is_dir():
        return CheckResult(FAIL, "not a directory", "writable", f"{path} is not a directory")
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".opsconsole-health-", delete=True) as probe:
            probe.write(PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return CheckResult(FAIL, "not writable", "writable", f"cannot write in {path}: {_why(exc)}")
    return CheckResult(OK, "writable", "", str(path))


def check_disk_free(check: DiskFreeCheck) -> CheckResult:
    try:
        usage = psutil.disk_usage(str(check.path))
    except OSError as exc:
        return CheckResult(FAIL, "unknown", "", f"cannot read the disk usage of {check.path}: {_why(exc)}")
    free_pct = 100.0 - usage.percent
    value = f"{format_size(usage.free)} ({free_pct:.0f}%) free"
    limits = []
    if check.min is not None:
        limits.append(f"≥{format_size(check.min)}")
    if check.min_pct is not None:
        limits.append(f"≥{check.min_pct:g}%")
    limit = " & ".join(limits)

    def below(size: int | None, pct: float | None) -> bool:
        return (size is not None and usage.free < size) or (pct is not None and free_pct < pct)

    if below(check.min, check.min_pct):
        return CheckResult(FAIL, value, limit, f"{check.path}: only {value}")
    if below(check.warn_min, check.warn_min_pct):
        return CheckResult(WARN, value, limit, f"{check.path}: getting low, {value}")
    return CheckResult(OK, value, limit)


def check_memory(check: MemoryCheck) -> CheckResult:
    mem = psutil.virtual_memory()
    value = f"{mem.percent:.1f}% used"
    limit = f"≤{check.max_pct:g}%"
    if mem.percent > check.max_pct:
        return CheckResult(FAIL, value, limit, f"memory {value}, {format_size(mem.available)} available")
    if check.warn_pct is not None and mem.percent > check.warn_pct:
        return CheckResult(WARN, value, limit, f"memory {value} (warn above {check.warn_pct:g}%)")
    return CheckResult(OK, value, limit)


def check_file_size(check: FileSizeCheck) -> CheckResult:
    limit = f"≤{format_size(check.max)}"
    try:
        size = check.path.stat().st_size
    except FileNotFoundError:
        return CheckResult(FAIL, "missing", limit, f"{check.path} does not exist")
    except OSError as exc:
        return CheckResult(FAIL, "unknown", limit, f"cannot read {check.path}: {_why(exc)}")
    value = format_size(size)
    if size > check.max:
        return CheckResult(FAIL, value, limit, f"{check.path} is {value}, over {format_size(check.max)}")
    if check.warn is not None and size > check.warn:
        return CheckResult(WARN, value, limit, f"{check.path} is {value} (warn above {format_size(check.warn)})")
    return CheckResult(OK, value, limit)


class ProcessProbe:
    """A process check: OK while a process matches. Keeps its own table, so repeated checks read
    each process's identity once."""

    def __init__(self, check: ProcessCheck) -> None:
        self.check = check
        self.table = ProcessTable(needs_cmdline([check])) if needs_table([check]) else None

    def __call__(self) -> CheckResult:
        identities = self.table.update() if self.table is not None else {}
        pids, why = candidates(self.check, identities)
        process = oldest(pids)
        if process is None:
            return CheckResult(FAIL, "not running", "running", why or f"no process matches {self.check.describe()}")
        try:
            uptime = format_duration(max(0.0, time.time() - process.create_time()))
        except psutil.Error:
            uptime = "?"
        more = f", {len(pids)} processes" if len(pids) > 1 else ""
        return CheckResult(OK, f"pid {process.pid}, up {uptime}{more}", "running")
