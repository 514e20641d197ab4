"""What the record says when the engine stops during an actuation, and after kill -9 (issue 18,
drill 8): a real headless engine with a real command actuator that is still running when the
engine is told to stop, then a restart; read back from the history as an operator would."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.headlessfixtures import FAST, HeadlessProcess, db_rows, events, wait_until
from tests.ptyrun import opsconsole_argv

# set_weight sleeps at 100% only: the start (10%) is quick, the promotion outlives the stop.
SLOW_AT_100 = "import sys, time; time.sleep(20 if sys.argv[1] == '100' else 0)"


def config(tmp_path: Path) -> Path:
    path = tmp_path / "opsconsole.yaml"
    path.write_text(FAST + (
        "canary:\n"
        "  service: checkout\n"
        "  interval: 100ms\n"
        "  stages: [{weight: 10, hold: manual}, {weight: 100}]\n"
        f"  actuator: {{kind: command, retries: 0, timeout: 25s, set_weight: [{sys.executable}, -c, \"{SLOW_AT_100}\","
        " '{weight}']}\n"
    ), encoding="utf-8")
    return path


def audit(db: Path) -> list[tuple[str, str, int]]:
    return [(user, action, ok) for user, action, ok in db_rows(db, "SELECT user, action, ok FROM audit ORDER BY id")]


def actuating_at_100() -> bool:
    """The actuator's own process is running with weight 100: the promotion is in flight."""
    return any(p.info["cmdline"] and SLOW_AT_100 in p.info["cmdline"] and p.info["cmdline"][-1] == "100"
               for p in psutil.process_iter(["cmdline"]))


def test_an_actuation_cut_off_by_the_stop_is_an_event_an_audit_row_and_an_uncertain_pause(tmp_path: Path) -> None:
    path = config(tmp_path)
    with HeadlessProcess(path) as engine:
        subprocess.run(opsconsole_argv("rollout", "start", "--config", str(path)), check=True, timeout=60,
                       capture_output=True)
        wait_until(lambda: (r := engine.snapshot().rollout) and r.weight == 10, 20, "the rollout at 10%")
        promote = subprocess.Popen(opsconsole_argv("rollout", "promote", "--yes", "--config", str(path)),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(actuating_at_100, 20, "the promotion actuating")
        engine.signal(signal.SIGTERM)  # as a dropped SSH session's SIGHUP or systemd's stop would
        assert engine.stop(timeout=30) == 0, engine.stderr()
        promote.communicate(timeout=30)

    cut = events(engine.db, "an actuation was still running % and was cut off: the weight traffic gets is uncertain "
                            "(recorded 10%) until it is re-applied at the next start")
    assert cut, events(engine.db, "%")
    assert ("engine", "rollout.actuation_cut_off", 0) in audit(engine.db)
    ((reason,),) = db_rows(engine.db, "SELECT reason FROM rollouts ORDER BY id DESC LIMIT 1")
    # Headless does not pause on a stop (a long rollout outlives the SSH session): the row says it.
    assert "the weight traffic gets is uncertain (recorded 10%)" in reason, reason

    with HeadlessProcess(path) as restarted:  # the next start settles it: the recorded weight again
        wait_until(lambda: events(restarted.db, "weight 10% re-applied after the restart"), 30,
                   "the weight re-applied")
        recovered = [row for row in audit(restarted.db) if row[1] == "rollout.pause"]
        assert ("engine", "rollout.pause", 1) in recovered, audit(restarted.db)


def test_the_recovery_pause_after_kill_9_has_an_audit_row(tmp_path: Path) -> None:
    path = config(tmp_path)
    with HeadlessProcess(path) as engine:
        subprocess.run(opsconsole_argv("rollout", "start", "--config", str(path)), check=True, timeout=60,
                       capture_output=True)
        wait_until(lambda: (r := engine.snapshot().rollout) and r.weight == 10, 20, "the rollout at 10%")
        subprocess.run(opsconsole_argv("rollout", "resume", "--config", str(path)), timeout=60, capture_output=True)
        engine.kill()
    before = audit(engine.db)
    with HeadlessProcess(path) as restarted:
        wait_until(lambda: (r := restarted.snapshot().rollout) and r.status == "paused", 20, "the recovery pause")
        wait_until(lambda: len(audit(restarted.db)) > len(before), 10, "an audit row for the recovery")
        ((actor, action, ok, message),) = db_rows(
            restarted.db, "SELECT user, action, ok, result FROM audit ORDER BY id DESC LIMIT 1")
    assert (actor, action, ok) == ("engine", "rollout.pause", 1)
    assert "recovered after a restart" in message, message
