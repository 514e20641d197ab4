"""Recordings for the review tests: a real Engine runs a short config into a real history file
while the test keeps the snapshots it published, so replay can be compared with what was live.

    with private_env(tmp):                                  # HOME/XDG inside tmp (module scope)
        rec = record_demo(tmp / "demo")                     # host monitor + the demo at 5 rps
        rec = record_rollout(tmp / "canary", server_url)    # a canary promoted, then rolled back

Panels are compared through their view tuples (console/panels/base.py): `views(snapshot, width)`
asks the console's own six panels, never laid out, for what they would draw.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from engine import eventcodes as ev
from engine.commands import Actor, Command
from engine.config.loader import load_config
from engine.runtime import Engine
from engine.snapshot import Snapshot
from tests.canaryfixtures import BASELINE, CANARY, Feeder, http_actuator, noisy, status, wait_until

ALICE = Actor("alice", "203.0.113.9", "tui")
DEMO_CONFIG = """\
store: {path: history.db, flush_interval: 50ms}
engine: {snapshot_interval: 100ms, self_metrics_interval: 300ms}
monitor: {host: {interval: 200ms}}
demo: {enabled: true, port: 0, rps: 5, dir: demo, inbox_every: 1s}
backup: {dir: backups}
"""


@dataclass
class Recording:
    dir: Path
    config: Path
    snapshots: list[Snapshot] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # named moments (wall time)

    @property
    def db(self) -> Path:
        return self.dir / "history.db"


@contextmanager
def private_env(tmp: Path) -> Iterator[None]:
    """What tests/conftest.py does per test, for a module-scoped recording."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp / "home"
        home.mkdir(parents=True, exist_ok=True)
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
        mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        mp.setenv("XDG_RUNTIME_DIR", str(tmp / "run"))
        for name in [n for n in os.environ if n.startswith("OPSCONSOLE_")] + ["SSH_CLIENT", "SSH_CONNECTION"]:
            mp.delenv(name, raising=False)
        yield


def snapshots_while(engine: Engine, seconds: float, every: float = 0.25) -> list[Snapshot]:
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(every)
        out.append(engine.snapshot())
    return out


def record_demo(directory: Path, seconds: float = 2.2) -> Recording:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    config.write_text(DEMO_CONFIG)
    rec = Recording(directory, config)
    engine = Engine(load_config(config))
    engine.start()
    try:
        wait_until(lambda: engine.snapshot().get("demo:loadgen", "requests_per_s") is not None, 10,
                   "the demo's first rate")
        rec.snapshots = snapshots_while(engine, seconds)
    finally:
        engine.stop()
    return rec


def canary_config(directory: Path, base_url: str, *, rule_max: float = 0.01, alert_value: float = 0.02,
                  allowed_increase: float = 1.0) -> str:
    """Stage 1 holds 300 ms, stage 2 ten seconds (the fault comes while it holds); a rule and a
    Mann-Whitney comparison on the fed series; an alert rule on the canary's error rate."""
    return (
        "store: {path: history.db, flush_interval: 20ms}\n"
        "engine: {snapshot_interval: 50ms, supervisor: {backoff_initial: 50ms, backoff_max: 200ms}}\n"
        "monitor: {host: {enabled: false}}\n"
        f"backup: {{dir: {directory / 'backups'}}}\n"
        f"alerts: [{{name: CanaryErrors, series: '{CANARY}', op: '>', value: {alert_value}, for: 200ms,"
        " severity: critical}]\n"
        "canary:\n  service: checkout\n  interval: 50ms\n  window: 200ms\n"
        "  stages: [{weight: 5, hold: 300ms}, {weight: 25, hold: 10s}, {weight: 100}]\n"
        f"  rules: [{{series: '{CANARY}', baseline: '{BASELINE}', max: {rule_max}, consecutive: 3, total: 10}}]\n"
        f"  compare: [{{canary: '{CANARY}', baseline: '{BASELINE}', min_samples: 3,"
        f" allowed_increase: {allowed_increase}}}]\n"
        f"  actuator: {http_actuator(base_url)}\n"
    )


def record_rollout(directory: Path, base_url: str) -> Recording:
    """alice starts a rollout; clean checks promote it to 25%; then the canary's error rate jumps
    to ~5% and the engine rolls it back; the alert fires a little later."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    config.write_text(canary_config(directory, base_url))
    rec = Recording(directory, config)
    feeder = Feeder()
    feeder.set(CANARY, noisy(0.004, 0.0005, 1))
    feeder.set(BASELINE, noisy(0.004, 0.0005, 2))
    engine = Engine(load_config(config), components=[feeder])
    engine.start()
    try:
        time.sleep(0.3)
        assert engine.submit(Command("rollout.start", {"reason": "release 42"}, ALICE)).result(10).ok
        rec.marks["started"] = time.time()
        wait_until(lambda: (r := engine.snapshot().rollout) is not None and r.weight == 25, 10, "stage 2", engine)
        # Long enough in stage 2 that an alert rule over the healthy noise fires before the fault.
        rec.snapshots += snapshots_while(engine, 2.5, 0.25)
        rec.marks["fault"] = time.time()
        feeder.set(CANARY, noisy(0.05, 0.002, 3))
        wait_until(lambda: status(engine) == "rolled-back", 10, "the rollback", engine)
        rec.marks["rolled_back"] = time.time()
        wait_until(lambda: any(a.name == "CanaryErrors" and a.state == "firing" for a in engine.snapshot().alerts),
                   10, "the alert")
        # Past the next whole evaluation step: a what-if replays the rules once a second
        # (EVALUATE_EVERY) over the recorded span, and must see the firing inside it.
        rec.snapshots += snapshots_while(engine, 1.5, 0.1)
    finally:
        engine.stop()
    return rec


_shared: dict[str, Recording] = {}


def shared_rollout(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """One rollout recording for the whole session (replay and what-if tests only read it)."""
    if "rollout" not in _shared:
        from tests.httpfixtures import HttpFixture, Reply

        tmp = tmp_path_factory.mktemp("rollout-run")
        with private_env(tmp), HttpFixture() as server:
            for path in ("/canary/enable", "/canary/rollback", "/canary/promote"):
                server.route(path, Reply(200, "ok"))
            rec = record_rollout(tmp / "run", server.url(""))
            rec.marks["server"] = 0.0
            (tmp / "url").write_text(server.url(""))
        _shared["rollout"] = rec
    return _shared["rollout"]


def views(snapshot: Snapshot, width: int) -> dict[str, Any]:
    """What each of the console's six panels would draw for this snapshot at this width."""
    from console.app import OpsConsoleApp

    panels = _panels.get("p")
    if panels is None:  # the app's own panel list; the app is never run
        panels = _panels["p"] = OpsConsoleApp(None).panels  # type: ignore[arg-type]
    return {p.TITLE: p.view(snapshot, width) for p in panels}


_panels: dict[str, Any] = {}


def as_review(live: Snapshot) -> Snapshot:
    """A live snapshot as a read-only console would have drawn it: review refuses every verb, and
    the Rollout panel says so in its keys line."""
    return replace(live, read_only=True)


def fingerprint(directory: Path) -> dict[str, str]:
    """Every file in a directory and the SHA-256 of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


SYNTHETIC_T0 = 1_790_000_000.0  # a fixed moment, so times in assertions read plainly
CANARY_ONLY = """\
store: {path: history.db, flush_interval: 20ms}
monitor: {host: {interval: 1s}}
canary:
  service: checkout
  interval: 10s
  stages: [{weight: 5, hold: 100s}, {weight: 25, hold: 1h}, {weight: 100}]
  rules: [{series: 't:canary/error_rate', baseline: 't:baseline/error_rate', max: 0.01, consecutive: 3}]
  actuator: {kind: http, base_url: 'http://127.0.0.1:9', set_weight: {url: /w}}
alerts: [{name: CanaryErrors, series: 't:canary/error_rate', op: '>', value: 0.02, for: 5s, severity: critical}]
"""


def synthetic_history(directory: Path) -> Path:
    """Ten minutes written through the store's own writer, with one of everything review marks:
    a run with its record, a rollout (alice starts it, the engine promotes, then rolls back), an
    alert that fires, a gap, an operator's pause, and the engine's stop.

    T0+100 start · T0+200 promote · T0+295 alert fires · T0+300 rollback · T0+400..420 gap ·
    T0+450 pause · T0+460 resume · T0+600 stop. Samples every second: host/mem_pct, and the
    canary's and baseline's error rate (the canary's jumps to 5% at T0+280)."""
    from engine.history.runs import run_record
    from engine.store import Store

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(CANARY_ONLY)
    loaded = load_config(directory / "config.yaml")
    path = directory / "history.db"
    store = Store.open(path, loaded.config.store)
    t0 = SYNTHETIC_T0
    engine_actor = Actor("engine", None, "engine")
    store.add_event(t0, ev.ENGINE_STARTED, "info", "engine", "engine started (config config.yaml)",
                    run_record(loaded, {"monitor", "canary", "alerts"}, ["gaps", "host-monitor", "canary", "alerts"],
                               False))
    for i in range(600):
        t = t0 + i + 0.5
        store.add_sample(t, "host", "mem_pct", 40 + (i % 17), unit="%")
        store.add_sample(t, "t:canary", "error_rate", 0.05 if i >= 280 else 0.004)
        store.add_sample(t, "t:baseline", "error_rate", 0.004)

    def transition(t: float, code: ev.EventCode, before: str, to: str, stage: int, weight: int, actor: str,
                   message: str, severity: str = "info") -> None:
        store.add_event(t, code, severity, "canary", message, {
            "rollout_id": 1, "from": before, "to": to, "stage": stage, "weight": weight, "actor": actor})

    store.upsert_rollout({"id": 1, "service": "checkout", "started": t0 + 100, "status": "running", "stage": 0,
                          "weight": 5, "reason": "started"})
    transition(t0 + 100, ev.ROLLOUT_STARTED, "idle", "running", 1, 5, "alice@203.0.113.9", "started by alice@203.0.113.9 at 5% (stage 1/3)")
    store.add_audit(t0 + 100, ALICE, "rollout.start", {"context": {"rollout_id": 1, "stage": 1, "weight": 5}},
                    "started by alice@203.0.113.9 at 5% (stage 1/3)", True)
    transition(t0 + 200, ev.ROLLOUT_STAGE_ENTERED, "running", "running", 2, 25, "engine", "promoted to 25% (stage 2/3): 1m40s at 5% passed")
    store.add_audit(t0 + 200, engine_actor, "rollout.promote", {"context": {
        "rollout_id": 1, "stage": 1, "weight": 5,
        "metrics": {"error_rate": {"value": 0.004, "state": "pass", "limit": 0.01, "consecutive": 0, "total": 0}}}},
        "promoted to 25% (stage 2/3)", True)
    evidence = "canary error_rate 5.0% > 1.0% for 3/3 checks (total 3)"
    transition(t0 + 300, ev.ROLLOUT_ROLLING_BACK, "running", "rolling-back", 2, 25, "engine", f"rolling back from 25% (stage 2/3): {evidence}",
               "critical")
    transition(t0 + 300.5, ev.ROLLOUT_ROLLED_BACK, "rolling-back", "rolled-back", 2, 0, "engine", f"rolled back at 25%: {evidence}", "critical")
    store.upsert_rollout({"id": 1, "ended": t0 + 300.5, "status": "rolled-back", "stage": 1, "weight": 0,
                          "reason": f"rolled back at 25%: {evidence}"})
    store.add_audit(t0 + 300.5, engine_actor, "rollout.rollback", {"context": {
        "rollout_id": 1, "stage": 2, "weight": 25,
        "metrics": {"error_rate": {"value": 0.05, "state": "breach", "limit": 0.01, "consecutive": 3, "total": 3}}}},
        f"rolled back at 25%: {evidence}", True)
    alert = {"rule": "CanaryErrors", "series": "t:canary/error_rate", "value": 0.05, "op": ">", "threshold": 0.02,
             "severity": "critical"}
    store.add_event(t0 + 290, ev.ALERT_PENDING, "info", "alert:CanaryErrors", "CanaryErrors pending",
                    {**alert, "from": "inactive", "to": "pending"})
    store.add_event(t0 + 295, ev.ALERT_FIRING, "critical", "alert:CanaryErrors", "CanaryErrors firing: error rate",
                    {**alert, "from": "pending", "to": "firing"})
    store.add_event(t0 + 400, ev.GAP_OPENED, "warning", "host", "gap opened: no data from host (target down)",
                    {"series": "host", "start": t0 + 395, "cause": "target down", "interval_s": 1.0})
    store.add_event(t0 + 420, ev.GAP_CLOSED, "info", "host", "gap closed: host had no data for 25s (target down)",
                    {"series": "host", "start": t0 + 395, "end": t0 + 420, "duration_s": 25.0, "cause": "target down"})
    store.add_event(t0 + 450, ev.ENGINE_PAUSED, "info", "engine", "engine paused by alice@203.0.113.9")
    store.add_audit(t0 + 450, ALICE, "pause", {}, "paused: collection and analysis stopped", True)
    store.add_event(t0 + 460, ev.ENGINE_RESUMED, "info", "engine", "engine resumed by alice@203.0.113.9")
    store.add_event(t0 + 600, ev.ENGINE_STOPPED, "info", "engine", "engine stopped")
    store.close()
    return path
