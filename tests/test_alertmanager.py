"""Alertmanager push (engine/alertmanager/) from a real engine with a real alert rule to a real
HTTP server on 127.0.0.1 that records every POST /api/v2/alerts."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from engine.commands import Command
from engine.runtime import Engine
from tests.canaryfixtures import Feeder
from tests.headlessfixtures import wait_until
from tests.httpfixtures import HttpFixture, Reply, Seen

PATH = "/api/v2/alerts"
RULE = ("alerts:\n  - {name: HighErrors, series: 't:app/error_rate', op: '>', value: 0.1, for: 0s,"
        " severity: critical, summary: too many errors, runbook: roll back}\n")


def pusher(urls: list[str], **extra: str) -> str:
    settings = ", ".join(f"{k}: {v}" for k, v in {
        "urls": "[" + ", ".join(f"'{u}'" for u in urls) + "]", "check_every": "100ms", "resend_every": "1s",
        "labels": "{env: test}", "retry": "{attempts: 3, backoff: 50ms, max_backoff: 200ms}", **extra,
    }.items())
    return f"export:\n  alertmanager: {{{settings}}}\n" + RULE


@pytest.fixture
def alertmanager() -> Iterator[HttpFixture]:
    with HttpFixture() as server:
        server.route(PATH, Reply(200))
        yield server


def alerts_in(request: Seen) -> list[dict]:
    assert request.method == "POST" and request.headers["content-type"] == "application/json"
    return json.loads(request.body)


def seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def start(start_engine, url: str, feeder: Feeder, **extra: str) -> Engine:
    feeder.set("t:app/error_rate", 0.5)
    return start_engine(pusher([url], **extra), components=[feeder])


def test_firing_is_pushed_resent_and_resolved_with_the_same_labels(start_engine, alertmanager: HttpFixture) -> None:
    feeder = Feeder(every=0.05)
    start(start_engine, alertmanager.url(""), feeder)
    first = alerts_in(alertmanager.wait_for_hits(PATH, 1)[0])
    (alert,) = first
    assert alert["labels"] == {"alertname": "HighErrors", "severity": "critical", "series": "t:app/error_rate",
                               "env": "test", "instance": socket.gethostname()}
    assert alert["annotations"]["summary"] == "too many errors" and alert["annotations"]["runbook"] == "roll back"
    assert alert["annotations"]["value"] == "50.0%"
    now = time.time()
    assert seconds(alert["startsAt"]) <= now < seconds(alert["endsAt"])
    assert seconds(alert["endsAt"]) >= now + 3  # 4 x resend_every: Alertmanager resolves it if we die

    resent = alerts_in(alertmanager.wait_for_hits(PATH, 2, timeout=5)[1])
    assert [a["labels"] for a in resent] == [alert["labels"]] and resent[0]["startsAt"] == alert["startsAt"]

    feeder.set("t:app/error_rate", 0.0)
    resolved = wait_until(lambda: next((a for r in alertmanager.hits(PATH) for a in alerts_in(r)
                                        if seconds(a["endsAt"]) <= time.time()), None), 10, "the resolved push")
    assert resolved["labels"] == alert["labels"] and resolved["startsAt"] == alert["startsAt"]
    count = len(alertmanager.hits(PATH))
    time.sleep(1.5)  # a quiet period longer than resend_every: nothing firing, nothing more to send
    assert len(alertmanager.hits(PATH)) == count


def test_server_errors_are_retried_and_a_refused_push_loses_nothing(start_engine, alertmanager: HttpFixture) -> None:
    alertmanager.route(PATH, Reply(503, "busy"), Reply(503, "busy"), Reply(200))
    feeder = Feeder(every=0.05)
    engine = start(start_engine, alertmanager.url(""), feeder)
    hits = alertmanager.wait_for_hits(PATH, 3)
    assert [alerts_in(h) for h in hits[1:3]] == [alerts_in(hits[0])] * 2  # the same push, retried
    assert not [e for e in engine.snapshot().events if "push" in e.message and "failed" in e.message]

    alertmanager.route(PATH, Reply(400, "bad alert"))  # a 4xx: the request is wrong, retrying will not help
    feeder.set("t:app/error_rate", 0.0)
    failed = wait_until(lambda: next((e for e in engine.snapshot().events if "failed: HTTP 400" in e.message), None),
                        10, "the failure event")
    assert failed.severity == "warning" and failed.message == (
        f"alertmanager {alertmanager.url(PATH)}: push of 1 alert(s) failed: HTTP 400: bad alert; "
        "retrying, nothing is dropped")
    alertmanager.route(PATH, Reply(200))
    wait_until(lambda: any(e.message.endswith("pushes work again") for e in engine.snapshot().events), 10,
               "the recovery event")
    last = alerts_in(alertmanager.hits(PATH)[-1])
    assert [a["labels"]["alertname"] for a in last] == ["HighErrors"] and seconds(last[0]["endsAt"]) <= time.time()


def test_an_unreachable_alertmanager_is_a_named_warning(start_engine) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    engine = start(start_engine, url, Feeder(every=0.05))
    warning = wait_until(lambda: next((e for e in engine.snapshot().events if "push of" in e.message), None),
                         15, "the failure event")
    assert warning.message == (f"alertmanager {url}{PATH}: push of 1 alert(s) failed: connection refused; "
                               "retrying, nothing is dropped")


def test_a_silenced_alert_is_not_pushed_and_silencing_a_pushed_one_resolves_it(
    start_engine, alertmanager: HttpFixture
) -> None:
    feeder = Feeder(every=0.05)
    engine = start(start_engine, alertmanager.url(""), feeder)
    (pushed,) = alerts_in(alertmanager.wait_for_hits(PATH, 1)[0])
    silenced = engine.submit(Command("alerts.silence", {"rule": "HighErrors", "comment": "known, fixing"})).result(10)
    assert silenced.ok, silenced.message
    resolved = wait_until(lambda: next((a for r in alertmanager.hits(PATH) for a in alerts_in(r)
                                        if seconds(a["endsAt"]) <= time.time()), None), 10, "the resolution")
    assert resolved["labels"] == pushed["labels"]
    count = len(alertmanager.hits(PATH))
    time.sleep(1.5)  # longer than resend_every: a silenced alert is not re-sent
    assert len(alertmanager.hits(PATH)) == count


def test_the_config_names_a_bad_label(tmp_path: Path) -> None:
    from engine.config.loader import ConfigError, load_config

    path = tmp_path / "config.yaml"
    path.write_text("export:\n  alertmanager:\n    urls: [http://127.0.0.1:9093]\n    labels: {team-name: x}\n")
    with pytest.raises(ConfigError, match=r"config.yaml:4: export.alertmanager.labels: label name 'team-name': "
                                          r"use letters, digits and '_'"):
        load_config(path)
