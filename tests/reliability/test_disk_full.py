"""Drill 4: the history's disk fills up, or is read-only. The engine keeps showing live data,
says loudly (critical health event) why history is not written, keeps a bounded buffer (oldest
samples dropped and counted), and picks up writing by itself when space returns.

The history lives on a real 2 MB tmpfs mounted for the test (root, as in CI).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config.loader import load_config
from engine.runtime import Engine
from engine.snapshot import Snapshot
from tests.canaryfixtures import Feeder
from tests.headlessfixtures import wait_until
from tests.ptyrun import opsconsole_argv
from tests.reliability.drillkit import fill, integrity, newest_live_sample, remount, small_filesystem

MAX_BUFFERED = 1000  # the smallest bound the config allows: reached in a fraction of a second here
SERIES = 50  # the feeder records 50 series every 10 ms: ~5000 samples/s, the buffer overflows at once


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "disk", "2m") as mountpoint:
        yield mountpoint


def config_on(tmp_path: Path, disk: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"store: {{path: {disk}/history.db, flush_interval: 50ms, max_buffered_rows: {MAX_BUFFERED}}}\n"
        "engine: {snapshot_interval: 50ms}\n"
        "monitor: {host: {interval: 100ms}}\n"
        "logging: {file: opsconsole.log}\n"
    )
    return path


def event_messages(snapshot: Snapshot, severity: str) -> list[str]:
    return [e.message for e in snapshot.events if e.severity == severity]


def series_value(snapshot: Snapshot, key: str) -> float:
    return next((view.last or 0.0 for view in snapshot.series if view.key == key), 0.0)


def test_disk_full_keeps_live_data_bounds_the_buffer_and_resumes(
    tmp_path: Path, disk: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    feeder = Feeder(every=0.01)
    for i in range(SERIES):
        feeder.set(f"drill:load/s{i}", float(i))
    engine = Engine(load_config(config_on(tmp_path, disk)), components=[feeder])
    engine.start()
    try:
        wait_until(lambda: engine.store.stats.written_rows > 0, 10, "the first samples written")
        filler = fill(disk)
        full_at = time.monotonic()

        def stalled() -> list[str]:
            return [m for m in event_messages(engine.snapshot(), "critical")
                    if m.startswith("history is not being written")]

        (alarm,) = wait_until(stalled, 15, "a critical event: history is not being written")
        noticed = time.monotonic() - full_at
        assert "is full" in alarm and str(disk / "history.db") in alarm, alarm
        assert engine.snapshot().notice.startswith("store: "), "no notice on screen while writes fail"

        # Live data goes on while nothing reaches the disk.
        live = newest_live_sample(engine.snapshot())
        wait_until(lambda: newest_live_sample(engine.snapshot()) > live + 0.5, 10, "live series advancing")

        # The buffer is bounded: the oldest samples are dropped, counted, and say so in a series.
        wait_until(lambda: engine.store.stats.dropped_samples > 0, 10, "samples dropped and counted")
        wait_until(lambda: series_value(engine.snapshot(), "engine/dropped_samples") > 0, 10,
                   "the engine/dropped_samples series counting them")
        buffered = engine.store.stats.queued
        assert buffered <= MAX_BUFFERED + SERIES, f"{buffered} rows buffered with a bound of {MAX_BUFFERED}"
        dropped = engine.store.stats.dropped_samples

        filler.unlink()  # space returns
        freed_at = time.monotonic()
        wait_until(lambda: "history writes resumed" in event_messages(engine.snapshot(), "info"), 15,
                   "the 'history writes resumed' event")
        resumed = time.monotonic() - freed_at
        written = engine.store.stats.written_rows
        wait_until(lambda: engine.store.stats.written_rows > written, 10, "samples written again")
        assert engine.snapshot().notice == ""
    finally:
        engine.stop()
    assert integrity(disk / "history.db") == "ok"
    with capsys.disabled():
        print(f"\n[drill 4] disk full: critical event after {noticed:.2f}s, buffer held at {buffered} rows "
              f"(bound {MAX_BUFFERED}), {dropped} oldest samples dropped and counted, "
              f"writes resumed {resumed:.2f}s after space returned")


def test_a_read_only_store_is_refused_at_start_with_the_reason(tmp_path: Path, disk: Path) -> None:
    """Linux will not turn a filesystem read-only under a process writing to it (remount,ro:
    'busy'), so the read-only case is the next start: the history exists, its disk is read-only."""
    config = config_on(tmp_path, disk)
    engine = Engine(load_config(config))
    engine.start()
    engine.stop()
    remount(disk, "ro")
    try:
        started = time.monotonic()
        done = subprocess.run(opsconsole_argv("--headless", "--config", str(config)),
                              capture_output=True, text=True, timeout=30)
        elapsed = time.monotonic() - started
    finally:
        remount(disk, "rw")
    assert done.returncode == 1, f"exit {done.returncode}: {done.stderr}"
    # Refused before anything is opened (config check says the same): issue 18, item 5.
    assert "is on a read-only filesystem" in done.stderr and str(disk) in done.stderr, done.stderr
    assert elapsed < 15, f"took {elapsed:.1f}s to refuse a read-only store"
    assert integrity(disk / "history.db") == "ok"
