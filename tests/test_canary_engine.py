"""The canary in a real Engine with a real store in tmp_path and a real HTTP actuator on 127.0.0.1:
automatic promotion and rollback with their explanations and audit rows, idempotent rollback,
read-only, gates, no data, a failing rollback, recovery after a restart, and pause on stop."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from engine.commands import Actor, Command
from tests.canaryfixtures import (
    BASELINE,
    CANARY,
    Feeder,
    http_actuator,
    query,
    running,
    status,
    wait_until,
    write_config,
)
from tests.httpfixtures import HttpFixture, Reply

ALICE = Actor("alice", "203.0.113.9", "tui")


@pytest.fixture
def server(actuator: HttpFixture) -> HttpFixture:
    """tests/conftest.py's actuator: set-weight, rollback and promote answered 200, calls recorded."""
    return actuator


def weights(server: HttpFixture) -> list[int]:
    return [json.loads(hit.body)["traffic_percentage"] for hit in server.hits("/canary/enable")]


def send(engine, name: str, actor: Actor = ALICE, **args: object):  # noqa: ANN001, ANN201
    return engine.submit(Command(name, dict(args), actor)).result(10)


def test_a_good_canary_promotes_through_every_stage(tmp_path: Path, server: HttpFixture) -> None:
    feeder = Feeder()
    feeder.set(CANARY, 0.002)
    feeder.set(BASELINE, 0.002)
    with running(write_config(tmp_path, http_actuator(server.url(""))), feeder) as engine:
        result = send(engine, "rollout.start")
        assert result.ok and result.message == "started by alice@203.0.113.9 at 5% (stage 1/4)"
        wait_until(lambda: status(engine) == "promoted", 15, "promotion", engine)
        r = engine.snapshot().rollout
        assert r is not None and r.weight == 100 and r.verbs == ("start", "rollback")  # rollback: inside canary.rollback_window
        assert r.last_decision.startswith("promoted at 100% (stage 4/4), the canary now the only version")
    assert weights(server) == [5, 10, 50, 100]
    assert len(server.hits("/canary/promote")) == 1 and not server.hits("/canary/rollback")
    db = tmp_path / "history.db"
    assert query(db, "SELECT status, weight, stage FROM rollouts") == [("promoted", 100, 3)]
    messages = [m for (m,) in query(db, "SELECT message FROM events WHERE kind = 'rollout' ORDER BY id")]
    assert messages[1].startswith("promoted to 10% (stage 2/4): 300ms at 5% passed with clean checks at ")
    audit = query(db, "SELECT user, action FROM audit ORDER BY id")
    assert audit[0] == ("alice", "rollout.start")
    assert [a for _, a in audit[1:]] == ["rollout.promote", "rollout.promote", "rollout.promote", "rollout.promote_full"]
    assert {u for u, _ in audit[1:]} == {"engine"}


def test_a_failing_canary_is_rolled_back_with_its_evidence(tmp_path: Path, server: HttpFixture) -> None:
    feeder = Feeder()
    feeder.set(CANARY, 0.002)
    feeder.set(BASELINE, 0.002)
    with running(write_config(tmp_path, http_actuator(server.url(""))), feeder) as engine:
        send(engine, "rollout.start")
        wait_until(lambda: (engine.snapshot().rollout or None) and engine.snapshot().rollout.weight == 10, 10,
                   "stage 2", engine)
        feeder.set(CANARY, 0.032)
        wait_until(lambda: status(engine) == "rolled-back", 10, "rollback", engine)
        r = engine.snapshot().rollout
        assert r is not None
        assert re.match(r"rolled back at 10%: canary error_rate \d\.\d% > 1\.0% for 3/3 checks \(total 3/10\) at \d\d:\d\d:\d\d$",
                        r.last_decision), r.last_decision
        rule = r.rules[0]
        assert (rule.metric, rule.consecutive, rule.total, rule.state) == ("error_rate", 3, 3, "breach")
    assert weights(server) == [5, 10] and len(server.hits("/canary/rollback")) == 1
    db = tmp_path / "history.db"
    (row,) = query(db, "SELECT user, action, args, result, ok FROM audit WHERE action = 'rollout.rollback'")
    user, _, args, result, ok = row
    assert (user, ok) == ("engine", 1) and result.startswith("rolled back at 10%: canary error_rate ")
    context = json.loads(args)["context"]
    assert (context["weight"], context["stage"]) == (10, 2)
    assert context["metrics"]["error_rate"]["value"] > 0.01
    (severity,) = query(db, "SELECT severity FROM events WHERE message LIKE 'rolled back at 10%%'")[0]
    assert severity == "critical"


def test_two_rollbacks_racing_actuate_once(tmp_path: Path, server: HttpFixture) -> None:
    server.route("/canary/rollback", Reply(200, "ok", delay=0.2))  # slow enough for the presses to overlap
    with running(write_config(tmp_path, http_actuator(server.url("")))) as engine:
        send(engine, "rollout.start")
        futures = [engine.submit(Command("rollout.rollback", {"reason": f"press {i}"}, ALICE)) for i in range(3)]
        results = [f.result(10) for f in futures]
        assert all(r.ok for r in results)
        assert sum("already" in r.message for r in results) == 2
        assert results[0].message.startswith("rolled back at 5% by alice@203.0.113.9: press 0 at ")
    assert len(server.hits("/canary/rollback")) == 1
    audit = query(tmp_path / "history.db", "SELECT args, ok FROM audit WHERE action = 'rollout.rollback'")
    assert len(audit) == 3  # every press is audited, the reason with it
    assert json.loads(audit[0][0])["reason"] == "press 0"
    assert json.loads(audit[0][0])["context"]["weight"] == 5


def test_read_only_refuses_every_verb(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url(""))), read_only=True) as engine:
        for verb in ("start", "promote", "promote_full", "pause", "resume", "freeze", "rollback"):
            result = send(engine, f"rollout.{verb}")
            assert not result.ok and result.message == f"read-only mode: rollout.{verb} is disabled"
    assert not server.requests
    assert len(query(tmp_path / "history.db", "SELECT * FROM audit WHERE ok = 0")) == 7


def test_refused_verbs_say_why(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")))) as engine:
        assert send(engine, "rollout.rollback").message == "cannot roll back: there is no rollout"
        send(engine, "rollout.start")
        assert send(engine, "rollout.resume").message == "cannot resume: the rollout is running"


def test_manual_verbs_pause_resume_freeze_promote(tmp_path: Path, server: HttpFixture) -> None:
    feeder = Feeder()
    feeder.set(CANARY, 0.05)  # bad all along: only a freeze keeps it from rolling back
    canary = ("  interval: 50ms\n  window: 200ms\n"
              "  stages: [{weight: 5, hold: 1h}, {weight: 10, hold: manual}, {weight: 100}]\n"
              f"  rules: [{{series: '{CANARY}', max: 0.01, consecutive: 2}}]\n")
    with running(write_config(tmp_path, http_actuator(server.url("")), canary), feeder) as engine:
        send(engine, "rollout.start")
        assert send(engine, "rollout.freeze", reason="schema migration in flight").ok
        wait_until(lambda: any("frozen at 5%" in e.message and "with a failing canary, not rolling back" in e.message
                               for e in engine.snapshot().events), 10, "the frozen warning", engine)
        assert status(engine) == "frozen" and not server.hits("/canary/rollback")
        feeder.set(CANARY, 0.001)
        wait_until(lambda: engine.snapshot().rollout.rules[0].state == "pass", 10, "good values", engine)  # type: ignore[union-attr]
        assert send(engine, "rollout.promote").message.startswith("promoted to 10% (stage 2/3) by alice@203.0.113.9 at ")
        assert status(engine) == "waiting-for-promotion"
        assert send(engine, "rollout.pause", reason="lunch").message == "paused at 10% (stage 2/3) by alice@203.0.113.9: lunch"
        assert send(engine, "rollout.resume").ok and status(engine) == "waiting-for-promotion"
        result = send(engine, "rollout.promote_full", reason="looks good")
        assert result.ok and status(engine) == "promoted"
    assert weights(server) == [5, 10] and len(server.hits("/canary/promote")) == 1


def test_no_data_pauses_with_the_reason(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")))) as engine:  # nothing feeds the series
        send(engine, "rollout.start")
        wait_until(lambda: status(engine) == "paused", 10, "a pause", engine)
        r = engine.snapshot().rollout
        assert r is not None and r.weight == 5
        assert r.last_decision.startswith("paused at 5% (stage 1/4): no data for canary error_rate "
                                          "(t:canary/error_rate) in the last 200ms at ")


def test_a_failed_rollback_is_red_and_retried_until_it_works(tmp_path: Path, server: HttpFixture) -> None:
    server.route("/canary/rollback", Reply(502, "lb unreachable"), Reply(502, "lb unreachable"), Reply(200, "ok"))
    with running(write_config(tmp_path, http_actuator(server.url("")))) as engine:
        send(engine, "rollout.start")
        first = send(engine, "rollout.rollback", reason="bad deploy")
        assert not first.ok and first.message.startswith("ROLLBACK FAILED after 1 attempts: POST ")
        assert "answered HTTP 502: lb unreachable" in first.message
        r = engine.snapshot().rollout
        assert r is not None and r.status == "rolling-back" and r.alert.startswith("ROLLBACK FAILED")
        wait_until(lambda: status(engine) == "rolled-back", 10, "the retried rollback", engine)
        r = engine.snapshot().rollout
        assert r is not None and r.alert == "" and "by alice@203.0.113.9: bad deploy" in r.last_decision
    assert len(server.hits("/canary/rollback")) == 3
    severities = query(tmp_path / "history.db",
                       "SELECT severity FROM events WHERE message LIKE 'ROLLBACK FAILED%'")
    assert severities and {s for (s,) in severities} == {"critical"}


def test_gates(tmp_path: Path, server: HttpFixture) -> None:
    server.route("/gates/pre", Reply(503, "change freeze until 18:00"))
    server.route("/gates/confirm", Reply(403, "waiting for QA"), Reply(200, "ok"))
    feeder = Feeder()
    feeder.set(CANARY, 0.001)
    gates = (f"  gates: {{pre_rollout: {{url: '{server.url('/gates/pre')}'}},"
             f" confirm_promotion: {{url: '{server.url('/gates/confirm')}'}}}}\n")
    canary = ("  interval: 50ms\n  window: 200ms\n  stages: [{weight: 5, hold: 100ms}, {weight: 100}]\n"
              f"  rules: [{{series: '{CANARY}', max: 0.01}}]\n" + gates)
    with running(write_config(tmp_path, http_actuator(server.url("")), canary), feeder) as engine:
        refused = send(engine, "rollout.start")
        assert not refused.ok and status(engine) == "aborted"
        assert refused.message == (f"not started: gate pre_rollout (POST {server.url('/gates/pre')}) answered "
                                   "HTTP 503: change freeze until 18:00")
        assert not server.hits("/canary/enable")  # nothing moved
        server.route("/gates/pre", Reply(200))
        assert send(engine, "rollout.start").ok
        wait_until(lambda: status(engine) == "promoted", 10, "promotion after the gate said yes", engine)
        held = [e.message for e in engine.snapshot().events if "promotion held" in e.message]
        assert held == [f"promotion held at 5% (stage 1/2): gate confirm_promotion (POST "
                        f"{server.url('/gates/confirm')}) answered HTTP 403: waiting for QA"]
    pre = json.loads(server.hits("/gates/pre")[-1].body)
    assert pre["service"] == "checkout" and pre["weight"] == 5


def test_recovery_after_restart_pauses_at_the_stage_and_reapplies_the_weight(tmp_path: Path, server: HttpFixture) -> None:
    loaded = write_config(tmp_path, http_actuator(server.url("")))
    feeder = Feeder()
    feeder.set(CANARY, 0.001)
    with running(loaded, feeder, ) as engine:
        send(engine, "rollout.start")
        wait_until(lambda: engine.snapshot().rollout.weight == 10, 10, "stage 2", engine)  # type: ignore[union-attr]
        # a crash, as far as the history can tell: the row still says running
    db = tmp_path / "history.db"
    import sqlite3

    with sqlite3.connect(db) as conn:  # undo the clean stop's pause, as if kill -9 had hit first
        conn.execute("UPDATE rollouts SET status = 'running', reason = 'promoted to 10%'")
    with running(loaded) as engine:
        wait_until(lambda: status(engine) == "paused", 10, "recovery", engine)
        r = engine.snapshot().rollout
        assert r is not None and (r.weight, r.stage_index) == (10, 1)
        assert r.last_decision == ("recovered after a restart: was running at 10% (stage 2/4); "
                                   "paused — resume, promote or roll back")
        wait_until(lambda: any(e.message == "weight 10% re-applied after the restart" for e in engine.snapshot().events),
                   10, "re-applied weight", engine)
    assert weights(server)[-1] == 10


def test_engine_stop_pauses_a_running_rollout_before_the_store_closes(tmp_path: Path, server: HttpFixture) -> None:
    feeder = Feeder()
    feeder.set(CANARY, 0.001)
    with running(write_config(tmp_path, http_actuator(server.url(""))), feeder) as engine:
        send(engine, "rollout.start")
    db = tmp_path / "history.db"
    assert query(db, "SELECT status, weight FROM rollouts") == [("paused", 5)]
    (message,) = query(db, "SELECT message FROM events WHERE kind = 'rollout' ORDER BY id DESC LIMIT 1")[0]
    assert message == "paused at 5% (stage 1/4): the engine is stopping (console closed or terminal hung up)"
    assert query(db, "SELECT user, action FROM audit ORDER BY id DESC LIMIT 1") == [("engine", "rollout.pause")]


def test_stop_waits_for_an_actuation_in_flight(tmp_path: Path, server: HttpFixture) -> None:
    server.route("/canary/rollback", Reply(200, "ok", delay=0.5))
    with running(write_config(tmp_path, http_actuator(server.url("")))) as engine:
        send(engine, "rollout.start")
        pressed = engine.submit(Command("rollout.rollback", {}, ALICE))
        server.wait_for_hits("/canary/rollback", 1, 5)
        threading.Event().wait(0.05)
    # the engine stopped while the rollback was in flight: it finished and was recorded
    assert query(tmp_path / "history.db", "SELECT status, weight FROM rollouts") == [("rolled-back", 0)]
    assert pressed.done()


def test_a_paused_rollout_is_still_guarded_and_rolls_back_by_itself(tmp_path: Path, server: HttpFixture) -> None:
    """Issue 15: a held rollout used to stop counting, so nothing protected the traffic it still
    sent to the canary. Now only a freeze turns automatic rollback off."""
    feeder = Feeder()
    feeder.set(CANARY, 0.001)
    canary = ("  interval: 50ms\n  window: 200ms\n"
              "  stages: [{weight: 5, hold: 1h}, {weight: 100}]\n"
              f"  rules: [{{series: '{CANARY}', max: 0.01, consecutive: 3}}]\n")
    with running(write_config(tmp_path, http_actuator(server.url("")), canary), feeder) as engine:
        send(engine, "rollout.start")
        assert send(engine, "rollout.pause", reason="lunch").ok
        wait_until(lambda: engine.snapshot().rollout.rules[0].state == "pass", 10, "a counted check", engine)  # type: ignore[union-attr]
        feeder.set(CANARY, 0.05)
        wait_until(lambda: status(engine) == "rolled-back", 10, "the automatic rollback", engine)
        r = engine.snapshot().rollout
        assert r is not None and r.last_decision.startswith("rolled back at 5%: canary error_rate 5.0% > 1.0% for 3/3")
    assert len(server.hits("/canary/rollback")) == 1


def test_a_restart_continues_the_counters_and_the_hold(tmp_path: Path, server: HttpFixture) -> None:
    feeder = Feeder()
    feeder.set(CANARY, 0.05)  # breaching, but 1000 in a row are needed: the counter climbs
    canary = ("  interval: 50ms\n  window: 200ms\n"
              "  stages: [{weight: 5, hold: 1h}, {weight: 100}]\n"
              f"  rules: [{{series: '{CANARY}', max: 0.01, consecutive: 1000}}]\n")
    loaded = write_config(tmp_path, http_actuator(server.url("")), canary)
    with running(loaded, feeder) as engine:
        send(engine, "rollout.start")
        wait_until(lambda: engine.snapshot().rollout.rules[0].consecutive >= 5, 10, "5 breaches", engine)  # type: ignore[union-attr]
    ((saved, hold_left),) = query(tmp_path / "history.db", "SELECT analysis, hold_left FROM rollouts")
    before = json.loads(saved)["rules"][0][0]
    assert before >= 5 and 3500 < hold_left < 3600
    with running(loaded) as engine:
        wait_until(lambda: status(engine) == "paused", 10, "recovery", engine)
        wait_until(lambda: engine.snapshot().rollout.rules[0].state != "", 10, "a check", engine)  # type: ignore[union-attr]
        r = engine.snapshot().rollout
        assert r is not None and r.hold_left == pytest.approx(hold_left, abs=1.0)  # not a fresh hour
        assert r.rules[0].consecutive >= before  # the same analysis, continued


def test_an_operators_rollback_goes_out_on_a_connection_opened_ahead(tmp_path: Path, server: HttpFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """While a rollback can act, the actuator's connection is kept open (a fresh one every
    WARM_EVERY): the confirmed key does not wait for a TCP handshake on a busy loop (bench/reaction.py)."""
    from engine.canary import component

    monkeypatch.setattr(component, "WARM_EVERY", 0.1)
    feeder = Feeder()
    feeder.set(CANARY, 0.002)
    feeder.set(BASELINE, 0.002)
    canary = ("  interval: 50ms\n  window: 200ms\n  stages: [{weight: 5, hold: 1h}, {weight: 100}]\n"
              f"  rules: [{{series: '{CANARY}', max: 0.01, consecutive: 3}}]\n")
    with running(write_config(tmp_path, http_actuator(server.url("")), canary), feeder) as engine:
        assert send(engine, "rollout.start").ok
        wait_until(lambda: len(server.connections) >= 3, 10, "the actuator's warm-ups", engine)
        opened_before = len(server.connections)
        assert send(engine, "rollout.rollback", reason="bad deploy").ok
        (call,) = server.hits("/canary/rollback")
        assert call.connection < opened_before  # opened before the key, not for it
        settled = len(server.connections)
        time.sleep(0.5)  # five warm-up periods
        assert len(server.connections) == settled  # rolled back: no verb left to be quick for
