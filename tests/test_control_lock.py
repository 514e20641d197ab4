"""One writer per database (engine/lock.py): a second engine refuses before touching the history,
the lock file is private, and the lock goes with its owner however the owner ends."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config.loader import load_config
from engine.lock import CONSOLE, EngineLock, EngineLockedError, lock_path, read_owner
from engine.runtime import Engine
from tests.enginefixtures import QUICK
from tests.headlessfixtures import db_rows, wait_until


def test_a_second_engine_on_the_same_database_refuses_and_names_the_owner(start_engine, tmp_path: Path) -> None:
    first = start_engine()
    db = tmp_path / "history.db"
    second = Engine(load_config(tmp_path / "history.yaml"))
    with pytest.raises(EngineLockedError) as refused:
        second.start()
    assert str(refused.value).startswith(
        f"another opsconsole (pid {os.getpid()}) owns history.db — quit that console, "
        "or use `opsconsole attach` to share its engine")
    assert refused.value.owner_pid == os.getpid()
    assert read_owner(db)["mode"] == CONSOLE
    assert stat.S_IMODE(lock_path(db).stat().st_mode) == 0o600
    first.stop()  # flushes the history: what is in it now is all that was written
    written = db_rows(db, "SELECT message FROM events WHERE kind = 'engine' ORDER BY t")
    assert [m for (m,) in written] == ["engine started (config history.yaml)", "engine stopped"], \
        "the refused engine must not have written to the history"


def test_a_headless_owner_is_named_as_such(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    lock = EngineLock.acquire(db, "headless")
    try:
        with pytest.raises(EngineLockedError, match=r"^a headless opsconsole \(pid \d+\) owns history.db — "
                                                    r"use `opsconsole attach` \(lock: .*history.db.lock\)$"):
            EngineLock.acquire(db, CONSOLE)
    finally:
        lock.release()
    assert not db.exists(), "taking the lock does not create the history (the store does, and cleans up)"


def test_the_lock_is_released_by_a_clean_stop(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(QUICK.format(db="history.db"))
    first = Engine(load_config(tmp_path / "config.yaml"))
    first.start()
    first.stop()
    second = Engine(load_config(tmp_path / "config.yaml"))
    second.start()  # no EngineLockedError
    second.stop()
    assert db_rows(tmp_path / "history.db", "SELECT count(*) FROM events WHERE message = 'engine stopped'") == [(2,)]


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    db = tmp_path / "state" / "history.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from engine.lock import EngineLock;"
         " EngineLock.acquire(sys.argv[1], 'headless'); print('held', flush=True); time.sleep(60)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700  # the store's private directory rules
        with pytest.raises(EngineLockedError, match=f"pid {holder.pid}"):
            EngineLock.acquire(db, CONSOLE)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        lock = wait_until(lambda: _try_lock(db), 5, "the lock after its owner was killed")
        lock.release()
    finally:
        holder.kill()
        holder.wait(10)


def _try_lock(db: Path) -> EngineLock | None:
    try:
        return EngineLock.acquire(db, CONSOLE)
    except EngineLockedError:
        return None
