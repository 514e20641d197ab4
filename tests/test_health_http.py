"""HTTP health checks against a real server on 127.0.0.1 returning healthy, degraded and broken
documents (the demo's own /health shapes), slow and silent answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.demo.versions import health_document
from engine.health.config import HttpCheck
from engine.health.http import check_http, new_client
from engine.health.state import FAIL, OK, WARN
from tests.httpfixtures import HttpFixture, Reply, json_reply
from tests.monitorkit import events, running_engine, wait_for


@pytest.fixture
def server() -> Iterator[HttpFixture]:
    with HttpFixture() as fixture:
        yield fixture


def demo_health(error_rate: float) -> Reply:
    """What a demo version answers on /health at that injected error rate."""
    status, document = health_document("canary", error_rate)
    return json_reply(document, status)


def http_check(url: str, **fields: Any) -> HttpCheck:
    return HttpCheck.model_validate({"name": "api", "kind": "http", "url": url, **fields})


async def run(check: HttpCheck):
    async with new_client() as client:
        return await check_http(client, check)


async def test_healthy_document_with_components(server: HttpFixture) -> None:
    server.route("/health", demo_health(0.0))
    result = await run(http_check(server.url("/health"), conditions=['status == "healthy"'], components="components"))
    assert result.status == OK and result.detail == ""
    assert result.components == (("database", OK), ("cache", OK), ("queue", OK))
    assert result.value.startswith("200 in ") and result.response_ms is not None


async def test_degraded_document_fails_its_condition_and_names_the_component(server: HttpFixture) -> None:
    server.route("/health", demo_health(0.2))
    strict = await run(http_check(server.url("/health"), conditions=['status == "healthy"'], components="components"))
    assert strict.status == FAIL
    assert strict.detail == 'status == "healthy": got "degraded"; database: degraded'
    lenient = await run(http_check(server.url("/health"), conditions=['status != "unhealthy"'], components="components"))
    assert (lenient.status, lenient.detail) == (WARN, "database: degraded")
    assert dict(lenient.components) == {"database": WARN, "cache": OK, "queue": OK}


async def test_broken_service_503_still_reports_its_components(server: HttpFixture) -> None:
    server.route("/health", demo_health(0.9))
    result = await run(http_check(server.url("/health"), components="components"))
    assert result.status == FAIL
    assert result.detail == "HTTP 503, expected 200; database: unhealthy"
    assert dict(result.components)["database"] == FAIL


@pytest.mark.parametrize("components, expected", [
    ({"db": {"status": "UP", "latency_ms": 3}, "disk": {"status": "DOWN"}}, (("db", OK), ("disk", FAIL))),
    ([{"name": "db", "status": "pass"}, {"name": "mq", "status": "warn"}], (("db", OK), ("mq", WARN))),
])
async def test_component_shapes(server: HttpFixture, components: object, expected: tuple) -> None:
    server.route("/health", json_reply({"status": "ok", "checks": components}))
    result = await run(http_check(server.url("/health"), components="checks"))
    assert result.components == expected


async def test_bad_bodies_are_failures_with_reasons(server: HttpFixture) -> None:
    server.route("/text", Reply(body="OK"))
    server.route("/nocomp", json_reply({"status": "healthy"}))
    server.route("/num", json_reply({"queue": {"depth": "many"}}))
    assert (await run(http_check(server.url("/text"), components="components"))).detail.startswith("the body is not JSON")
    assert (await run(http_check(server.url("/nocomp"), components="components"))).detail == \
        "no components at 'components' in the document"
    result = await run(http_check(server.url("/num"), conditions=["queue.depth < 100", "queue.size == 1"]))
    assert result.detail == 'queue.depth < 100: got "many", not a number; queue.size == 1: queue.size is missing'
    plain = await run(http_check(server.url("/text")))  # no conditions: the body is not read as JSON
    assert plain.status == OK


async def test_slow_answer_is_a_warning_and_no_answer_a_failure(server: HttpFixture) -> None:
    server.route("/slow", Reply(body="okay", drip=0.1))  # ~400 ms
    server.route("/hole", Reply(hang=True))
    slow = await run(http_check(server.url("/slow"), max_response_time="100ms"))
    assert slow.status == WARN and slow.detail.startswith("slow: ") and slow.detail.endswith("ms > 100ms")
    silent = await run(http_check(server.url("/hole"), timeout="300ms"))
    assert (silent.status, silent.value, silent.detail) == (FAIL, "no answer", "no answer within 300ms")


async def test_connection_refused_is_a_failure() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await run(http_check(f"http://127.0.0.1:{port}/health"))
    assert (result.status, result.value) == (FAIL, "no answer")
    assert result.detail == f"GET http://127.0.0.1:{port}/health: connection refused"  # the URL, in words


def test_the_engine_shows_checks_with_thresholds_components_and_events(tmp_path: Path, server: HttpFixture) -> None:
    state = {"error_rate": 0.0}
    server.route("/health", lambda _request: demo_health(state["error_rate"]))
    body = (f"health:\n"
            f"  - {{name: canary, kind: http, url: '{server.url('/health')}', interval: 1s,"
            f" failure_threshold: 2, success_threshold: 1, components: components,"
            f" conditions: ['status != \"unhealthy\"']}}\n"
            f"  - {{name: state, kind: dir, interval: 1s}}\n")
    with running_engine(tmp_path, body) as engine:
        def check(name: str):
            return next(h for h in engine.snapshot().health if h.name == name)

        wait_for(lambda: check("canary").status == OK and check("state").status == OK, what="both OK")
        assert check("state").detail == str(tmp_path)  # no path: the history's directory
        assert check("canary").components == (("database", OK), ("cache", OK), ("queue", OK))
        state["error_rate"] = 0.9
        hits = len(server.hits("/health"))
        server.wait_for_hits("/health", hits + 1)
        assert check("canary").status == OK  # one bad result is not enough (failure_threshold 2)
        wait_for(lambda: check("canary").status == FAIL, what="FAIL after two bad results")
        assert dict(check("canary").components)["database"] == FAIL
        assert engine.snapshot().get("health:canary", "status_level").last == 2
        assert engine.snapshot().get("health:canary", "response_ms").last > 0
        assert any(m.startswith("canary is FAIL (was OK): HTTP 503, expected 200")
                   for m in events(engine, "health", "health:canary"))
        state["error_rate"] = 0.0
        wait_for(lambda: check("canary").status == OK, what="OK again")
        assert "canary is OK (was FAIL)" in events(engine, "health", "health:canary")
