"""Drill 1: kill -9 of a real headless engine under heavy ingest with a rollout in flight.

What an operator checks after the crash and a restart: the history file is sound, at most the
last flush interval of samples is gone, every verb the CLI acknowledged is in the audit and the
events, and the rollout waits, paused at its stage, with an event saying why.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.headlessfixtures import HeadlessProcess, canary_section, db_rows, events, wait_until
from tests.httpfixtures import HttpFixture
from tests.ptyrun import opsconsole_argv
from tests.reliability.drillkit import (
    FLUSH_INTERVAL,
    heavy_config,
    integrity,
    newest_live_sample,
    newest_stored_sample,
)

SLACK = 0.5  # seconds on top of the flush interval: one commit's time on a busy 2-core machine



def cli(config: Path, *verb: str) -> str:
    """An operator's `opsconsole rollout ...`: exit 0 is the engine's acknowledgement."""
    done = subprocess.run(opsconsole_argv("rollout", *verb, "--config", str(config)),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"rollout {' '.join(verb)} exited {done.returncode}: {done.stderr}{done.stdout}"
    return done.stdout


def test_kill_9_under_heavy_ingest_mid_rollout_loses_at_most_one_flush_interval(
    tmp_path: Path, actuator: HttpFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    # An hour's hold at 10%: the rollout is `running` (not waiting for an operator) when it dies.
    config = heavy_config(tmp_path, canary_section(actuator.url("")).replace("hold: manual", "hold: 1h"))
    with HeadlessProcess(config) as engine:
        wait_until(lambda: newest_stored_sample(engine.db) > 0, 15, "the first samples committed")
        cli(config, "start")
        wait_until(lambda: engine.snapshot().rollout.status == "running", 10, "the rollout running")
        actuator.wait_for_hits("/canary/enable", 1, 10)
        cli(config, "pause", "--reason", "drill: hold before the crash")
        cli(config, "resume")  # acknowledged: from here on it must survive anything
        # Heavy ingest goes on for a while after the last verb's commit, as it would in a real crash.
        acked = newest_live_sample(engine.snapshot())
        wait_until(lambda: newest_live_sample(engine.snapshot()) > acked + 0.7, 10, "ingest going on")
        before = newest_live_sample(engine.snapshot())
        engine.kill()  # SIGKILL: no flush, no stop event, the WAL as the crash left it

    assert integrity(engine.db) == "ok"
    survived = newest_stored_sample(engine.db)
    lost = before - survived
    ((rows, first, last),) = db_rows(engine.db, "SELECT count(*), min(t), max(t) FROM samples")
    with capsys.disabled():
        print(f"\n[drill 1] kill -9 under heavy ingest ({rows / max(last - first, 1e-9):.0f} samples/s stored): "
              f"{lost:.2f}s of samples lost (flush interval {FLUSH_INTERVAL:g}s)")
    assert lost <= FLUSH_INTERVAL + SLACK, f"{lost:.2f}s of samples lost at kill -9"
    audited = [action for (action,) in db_rows(engine.db, "SELECT action FROM audit ORDER BY id")]
    for verb in ("rollout.start", "rollout.pause", "rollout.resume"):
        assert verb in audited, f"acknowledged {verb} missing from the audit after kill -9: {audited}"
    assert events(engine.db, "%drill: hold before the crash%"), "the acknowledged pause's event is missing"

    with HeadlessProcess(config) as restarted:
        rollout = wait_until(lambda: (r := restarted.snapshot().rollout) and r.status == "paused" and r,
                             15, "the rollout recovered paused")
        assert (rollout.stage_index, rollout.weight) == (0, 10)
        wait_until(lambda: events(restarted.db, "recovered after a restart: was running at 10% (stage 1/2)%"),
                   10, "the recovery's event in the history")
        assert integrity(restarted.db) == "ok"
