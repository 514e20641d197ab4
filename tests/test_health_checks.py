"""Local health checks against real directories, files, disks and processes, and the thresholds
that turn results into the status the operator sees."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from engine.health.config import DiskFreeCheck, FileSizeCheck, MemoryCheck, ProcessCheck
from engine.health.local import ProcessProbe, check_dir, check_disk_free, check_file_size, check_memory
from engine.health.state import FAIL, OK, UNKNOWN, WARN, CheckResult, CheckState, overall
from engine.snapshot import HealthView
from tests.monitorkit import child, sleeper_binary


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody can write into: chmod for a normal user; root ignores modes, so as root
    the directory is made immutable (chattr +i), or the test is skipped where that is refused."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a filesystem without chattr +i: no read-only directory to test with")
    try:
        yield path
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_a_writable_directory_is_ok_and_the_probe_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "state"
    target.mkdir()
    result = check_dir(target)
    assert (result.status, result.value) == (OK, "writable")
    assert list(target.iterdir()) == []


def test_a_read_only_directory_fails_with_the_reason(read_only_dir: Path) -> None:
    result = check_dir(read_only_dir)
    assert (result.status, result.value) == (FAIL, "not writable")
    assert result.detail.startswith(f"cannot write in {read_only_dir}: ")
    assert result.detail.split(": ")[-1] in ("Permission denied", "Operation not permitted")


def test_a_missing_directory_or_a_file_fails_and_says_which(tmp_path: Path) -> None:
    missing = check_dir(tmp_path / "nope")
    assert (missing.status, missing.detail) == (FAIL, f"{tmp_path / 'nope'} does not exist")
    afile = tmp_path / "file"
    afile.write_text("x")
    assert check_dir(afile).detail == f"{afile} is not a directory"


def test_disk_free_against_absolute_and_percent_limits(tmp_path: Path) -> None:
    usage = psutil.disk_usage(str(tmp_path))
    ok = check_disk_free(DiskFreeCheck(name="d", kind="disk_free", path=tmp_path, min=1000))
    assert ok.status == OK and ok.limit == "≥1.0KB" and "free" in ok.value
    too_little = check_disk_free(DiskFreeCheck(name="d", kind="disk_free", path=tmp_path, min=usage.total + 1))
    assert too_little.status == FAIL and too_little.detail.startswith(f"{tmp_path}: only ")
    by_pct = check_disk_free(DiskFreeCheck(name="d", kind="disk_free", path=tmp_path, min_pct=100))
    assert by_pct.status == FAIL and by_pct.limit == "≥100%"
    warn = check_disk_free(DiskFreeCheck(name="d", kind="disk_free", path=tmp_path, min=1, warn_min=usage.total))
    assert warn.status == WARN
    gone = check_disk_free(DiskFreeCheck(name="d", kind="disk_free", path=tmp_path / "gone", min=1))
    assert gone.status == FAIL and "No such file or directory" in gone.detail


def test_memory_against_its_limits() -> None:
    assert check_memory(MemoryCheck(name="m", kind="memory", max_pct=100)).status == OK
    failing = check_memory(MemoryCheck(name="m", kind="memory", max_pct=0))
    assert failing.status == FAIL and failing.limit == "≤0%" and failing.value.endswith("% used")
    assert check_memory(MemoryCheck(name="m", kind="memory", max_pct=100, warn_pct=0)).status == WARN


def test_file_size_of_a_real_log(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"x" * 2000)
    small = FileSizeCheck(name="f", kind="file_size", path=log, max="1KB")
    result = check_file_size(small)
    assert (result.status, result.value, result.limit) == (FAIL, "2.0KB", "≤1.0KB")
    assert check_file_size(FileSizeCheck(name="f", kind="file_size", path=log, max="10KB", warn="1KB")).status == WARN
    assert check_file_size(FileSizeCheck(name="f", kind="file_size", path=log, max="10KB")).status == OK
    missing = check_file_size(FileSizeCheck(name="f", kind="file_size", path=tmp_path / "none.log", max="1KB"))
    assert (missing.status, missing.detail) == (FAIL, f"{tmp_path / 'none.log'} does not exist")


def test_a_process_check_fails_when_its_child_exits(tmp_path: Path) -> None:
    binary = sleeper_binary(tmp_path, "opsc-sleep-h")
    probe = ProcessProbe(ProcessCheck(name="p", kind="process", match="opsc-sleep-h"))
    with child([str(binary), "300"]) as sleeper:
        running = probe()
        assert running.status == OK and running.value.startswith(f"pid {sleeper.pid}, up ")
    stopped = probe()
    assert (stopped.status, stopped.detail) == (FAIL, "no process matches name 'opsc-sleep-h'")


def test_thresholds_need_consecutive_results_to_change_the_status() -> None:
    state = CheckState("api", failure_threshold=3, success_threshold=2, now=0.0)
    assert state.view().status == UNKNOWN
    bad, good = CheckResult(FAIL, "HTTP 503", detail="HTTP 503, expected 200"), CheckResult(OK, "200 in 3ms")
    assert state.update(good, 1.0) == UNKNOWN  # the first result is shown as it is
    assert state.update(bad, 2.0) is None and state.update(bad, 3.0) is None
    view = state.view()
    assert (view.status, view.value, view.detail) == (OK, "HTTP 503", "HTTP 503, expected 200 (2/3 bad results)")
    state.update(good, 4.0)  # one good result resets the streak
    assert state.update(bad, 5.0) is None and state.update(bad, 6.0) is None
    assert state.update(bad, 7.0) == OK and state.view().status == FAIL and state.view().since == 7.0
    assert state.update(good, 8.0) is None and state.view().detail == "1/2 good results"
    assert state.update(good, 9.0) == FAIL and state.view().status == OK


def test_overall_status_is_the_worst_check() -> None:
    def views(*statuses: str) -> tuple[HealthView, ...]:
        return tuple(HealthView(f"c{i}", s, 0.0) for i, s in enumerate(statuses))

    assert overall(()) == ""
    assert overall(views(OK, OK)) == OK
    assert overall(views(OK, UNKNOWN)) == OK  # a check with no result yet does not hide the others
    assert overall(views(UNKNOWN, UNKNOWN)) == UNKNOWN
    assert overall(views(WARN, UNKNOWN, OK)) == WARN
    assert overall(views(OK, FAIL, WARN)) == FAIL
