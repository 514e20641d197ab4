"""One target's scrape against real misbehaving servers on 127.0.0.1: refused, black hole, slow drip,
500s, 429 + Retry-After, 4xx, malformed and oversized bodies, the circuit breaker, bounded
concurrency, and the token lifecycle (client credentials, refresh before expiry, 401 -> refresh)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pytest

from engine import eventcodes as ev
from engine import secrets
from engine.collect.auth import TokenLifecycleManager
from engine.collect.config import TrackConfig
from engine.collect.http1 import HttpClient
from engine.collect.ratelimit import RateLimiter
from engine.collect.scheduler import Ticker
from engine.collect.target import TargetRunner, both
from tests.httpfixtures import HttpFixture, Reply, TokenIssuer, json_reply

FAST_RETRY = {"attempts": 3, "backoff": "20ms", "max_backoff": "2s"}


@dataclass
class Recorder:
    """The runner's sink: what the engine would have recorded."""

    samples: list[tuple[str, str, float, float, str]] = field(default_factory=list)
    events: list[tuple[str, str, str, str]] = field(default_factory=list)

    def record(self, source: str, metric: str, value: float, t: float, unit: str) -> None:
        self.samples.append((source, metric, value, t, unit))

    def event(self, code: ev.EventCode, severity: str, source: str, message: str,
              data: dict[str, Any] | None = None) -> None:
        self.events.append((code, severity, source, secrets.redact(message)))

    def changed(self) -> None:
        pass

    def metrics(self) -> dict[str, float]:
        return {metric: value for _, metric, value, _, _ in self.samples}

    def messages(self) -> list[str]:
        return [message for *_, message in self.events]


@dataclass
class Harness:
    client: Any
    limiter: RateLimiter
    tokens: TokenLifecycleManager
    slots: asyncio.Semaphore
    sink: Recorder

    def runner(self, url: str, fmt: str = "json", track: dict[str, Any] | None = None, **target: Any) -> TargetRunner:
        if fmt in ("json", "promql"):
            target.setdefault("fields", {"value": "value"})
        spec = {"name": "t", "interval": "1s", "timeout": "1s", "retry": FAST_RETRY, **(track or {}),
                "targets": [{"name": "api", "url": url, "format": fmt, **target}]}
        config = TrackConfig.model_validate(spec)
        return TargetRunner(config, config.targets[0], client=self.client, limiter=self.limiter,
                            token=self.tokens.source_for(config.targets[0].auth, config.targets[0].name),
                            slots=lambda: both(self.slots), sink=self.sink)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    client = HttpClient()
    sink = Recorder()
    tokens = TokenLifecycleManager(
        client, lambda source, severity, message, data: sink.event(ev.TOKEN_EVENT, severity, source, message, data))
    yield Harness(client, RateLimiter(1000, 1000), tokens, asyncio.Semaphore(50), sink)
    await client.aclose()


@pytest.fixture
def server() -> AsyncIterator[HttpFixture]:
    with HttpFixture() as fixture:
        yield fixture


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


OK = json_reply({"value": 42})


async def test_connection_refused_is_retried_then_shown(harness: Harness) -> None:
    runner = harness.runner(f"http://127.0.0.1:{free_port()}/metrics")
    await runner.scrape()
    assert runner.state == "RETRYING"
    assert runner.last_error == "connection refused"
    assert runner.breaker.failures == 3  # every attempt counted
    assert harness.sink.samples == []  # no data is no sample, never a zero
    assert runner.gap_cause() == "target down: connection refused"


async def test_black_hole_times_out_at_the_deadline(harness: Harness, server: HttpFixture) -> None:
    server.route("/hole", Reply(hang=True))
    runner = harness.runner(server.url("/hole"), timeout="200ms", track={"retry": {"attempts": 1}})
    started = time.monotonic()
    await runner.scrape()
    assert 0.19 < time.monotonic() - started < 2.0
    assert runner.last_error == "no complete answer within 200ms"
    assert runner.state == "RETRYING"


async def test_slow_drip_cannot_outlast_the_timeout(harness: Harness, server: HttpFixture) -> None:
    # One byte every 50 ms never trips a per-read timeout; the whole-request deadline must.
    server.route("/drip", Reply(body='{"value": 1}' + " " * 200, drip=0.05))
    runner = harness.runner(server.url("/drip"), timeout="300ms", track={"retry": {"attempts": 1}})
    started = time.monotonic()
    await runner.scrape()
    assert time.monotonic() - started < 2.0
    assert runner.last_error is not None
    assert runner.last_error.startswith("no complete answer within 300ms (")
    assert "of the body received" in runner.last_error
    assert harness.sink.samples == []


async def test_500_is_retried_and_the_next_answer_counts(harness: Harness, server: HttpFixture) -> None:
    server.route("/m", Reply(500), Reply(503), OK)
    runner = harness.runner(server.url("/m"))
    await runner.scrape()
    assert len(server.hits("/m")) == 3
    assert runner.state == "OK" and runner.last_error is None
    assert harness.sink.metrics()["value"] == 42
    assert runner.breaker.failures == 0


async def test_500_forever_gives_up_after_the_attempts(harness: Harness, server: HttpFixture) -> None:
    server.route("/m", Reply(500, "boom"))
    runner = harness.runner(server.url("/m"))
    await runner.scrape()
    assert len(server.hits("/m")) == 3
    assert runner.state == "RETRYING"
    assert runner.last_error == "HTTP 500 Internal Server Error"
    # Backoff: attempt 2 waits 10..20 ms (20 ms * 2^0, equal jitter), attempt 3 waits 20..40 ms.
    hits = [h.t for h in server.hits("/m")]
    assert hits[1] - hits[0] >= 0.009 and hits[2] - hits[1] >= 0.019


async def test_429_retry_after_holds_back_that_target_not_its_neighbours(harness: Harness, server: HttpFixture) -> None:
    server.route("/m", Reply(429, headers={"Retry-After": "1"}), OK)
    runner = harness.runner(server.url("/m"))
    await runner.scrape()
    first, second = server.hits("/m")
    assert second.t - first.t >= 0.95  # waited as told, not the 20 ms backoff
    assert runner.state == "OK" and harness.sink.metrics()["value"] == 42
    # A target told to wait longer than its interval sends nothing until then, and says why...
    server.route("/other", Reply(429, headers={"Retry-After": "30"}))
    limited = harness.runner(server.url("/other"), name="limited", track={"retry": {"attempts": 1}})
    await limited.scrape()
    await limited.scrape()
    assert len(server.hits("/other")) == 1
    assert limited.state == "RETRYING"
    assert limited.last_error is not None and limited.last_error.startswith("rate limited: waiting out the server's Retry-After")
    assert limited.gap_cause().startswith("rate limited: ")
    assert limited.breaker.failures == 1  # the 429 answer counts; the request held back does not
    # ...but its neighbour on the same host:port is not held back by another path's 429.
    neighbour = harness.runner(server.url("/m"), name="neighbour", interval="100ms")
    await neighbour.scrape()
    assert neighbour.state == "OK"
    assert len(server.hits("/m")) == 3


async def test_nothing_but_429_opens_the_circuit_as_rate_limited(harness: Harness, server: HttpFixture) -> None:
    server.route("/m", Reply(429, headers={"Retry-After": "1"}))
    runner = harness.runner(server.url("/m"), track={"retry": {"attempts": 1}, "breaker": {"failures": 2, "open_for": "200ms"}})
    await runner.scrape()
    assert runner.state == "RETRYING"
    await asyncio.sleep(1.0)
    await runner.scrape()
    assert runner.state == "OPEN" and runner.breaker.state == "OPEN"
    # Held open for the Retry-After (1 s), not open_for (200 ms): the probe would only be refused.
    assert runner.breaker.reopens_in() > 0.5
    await runner.scrape()
    assert len(server.hits("/m")) == 2
    assert runner.last_error is not None
    assert runner.last_error.startswith("rate limited: HTTP 429 Too Many Requests, Retry-After 1s; circuit open, next probe in")
    assert runner.gap_cause() == "rate limited: HTTP 429 Too Many Requests, Retry-After 1s (circuit open)"
    states = [m for m in harness.sink.messages() if "->" in m and "circuit" not in m]
    assert states == ["api: PENDING -> RETRYING: HTTP 429 Too Many Requests, Retry-After 1s",
                      "api: RETRYING -> OPEN: HTTP 429 Too Many Requests, Retry-After 1s"]


async def test_404_is_a_configuration_error_and_not_retried(harness: Harness, server: HttpFixture) -> None:
    server.route("/m", Reply(404, "no such page"))
    runner = harness.runner(server.url("/nope"))
    await runner.scrape()
    assert len(server.hits("/nope")) == 1
    assert runner.state == "FAIL"
    assert runner.last_error == "HTTP 404 Not Found: configuration error (check the URL): no such route"


async def test_malformed_json_is_a_named_error(harness: Harness, server: HttpFixture) -> None:
    server.route("/m", Reply(body='{"value": nope}', content_type="application/json"))
    runner = harness.runner(server.url("/m"))
    await runner.scrape()
    assert runner.state == "FAIL"
    assert runner.last_error == "json: line 1 column 11: Expecting value"
    assert len(server.hits("/m")) == 1  # another try would read the same body
    assert runner.gap_cause() == "target error: json: line 1 column 11: Expecting value"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_body_over_the_limit_is_refused(harness: Harness, server: HttpFixture, declared: bool) -> None:
    server.route("/big", Reply(body='{"value": 1, "pad": "' + "x" * 50_000 + '"}', declare_length=declared))
    runner = harness.runner(server.url("/big"), track={"max_body": "10KB"})
    await runner.scrape()
    assert runner.state == "FAIL"
    assert runner.last_error is not None and "over the 10.0KB limit" in runner.last_error
    assert harness.sink.samples == []


async def test_circuit_opens_then_half_open_probe_closes_it(harness: Harness, server: HttpFixture) -> None:
    failing = {"on": True}
    server.route("/m", lambda request: Reply(500) if failing["on"] else OK)
    runner = harness.runner(server.url("/m"), track={"retry": {"attempts": 1}, "breaker": {"failures": 2, "open_for": "300ms"}})
    await runner.scrape()
    await runner.scrape()
    assert runner.state == "OPEN"
    await runner.scrape()  # open: no request is sent
    assert len(server.hits("/m")) == 2
    assert runner.last_error is not None and runner.last_error.startswith("circuit open (HTTP 500 Internal Server Error); next probe in")
    assert runner.gap_cause() == "circuit open: HTTP 500 Internal Server Error"
    await asyncio.sleep(0.35)
    failing["on"] = False
    await runner.scrape()  # the half-open probe succeeds
    assert runner.state == "OK" and len(server.hits("/m")) == 3
    circuit = [m for m in harness.sink.messages() if "circuit" in m and "->" in m and ": OPEN" not in m]
    assert circuit == [
        "api: circuit CLOSED -> OPEN (2 consecutive failures, last: HTTP 500 Internal Server Error)",
        "api: circuit HALF_OPEN -> CLOSED (probe succeeded)",
    ]


async def test_failed_half_open_probes_reopen_and_are_logged_not_recorded(
    harness: Harness, server: HttpFixture, caplog: pytest.LogCaptureFixture,
) -> None:
    server.route("/m", Reply(500))
    runner = harness.runner(server.url("/m"), track={"retry": {"attempts": 1}, "breaker": {"failures": 1, "open_for": "200ms"}})
    await runner.scrape()
    with caplog.at_level(logging.INFO, logger="engine.collect.target"):
        for _ in range(3):  # a dead target, probed every open_for
            await asyncio.sleep(0.25)
            await runner.scrape()
    assert runner.state == "OPEN" and len(server.hits("/m")) == 4
    # One event when the circuit opened; the probes are in the log, not in the history.
    assert harness.sink.messages() == [
        "api: circuit CLOSED -> OPEN (1 consecutive failure, last: HTTP 500 Internal Server Error)",
        "api: PENDING -> OPEN: HTTP 500 Internal Server Error",
    ]
    assert [r.getMessage() for r in caplog.records].count(
        "api: circuit HALF_OPEN -> OPEN (probe failed: HTTP 500 Internal Server Error)") == 3


async def test_concurrency_is_bounded_across_targets(harness: Harness, server: HttpFixture) -> None:
    server.route("/slow", Reply(body='{"value": 1}', delay=0.1))
    harness.slots = asyncio.Semaphore(4)
    runners = [harness.runner(server.url("/slow"), name=f"t{i}") for i in range(12)]
    await asyncio.gather(*(r.scrape() for r in runners))
    assert len(server.hits("/slow")) == 12
    assert server.max_in_flight == 4
    assert all(r.state == "OK" for r in runners)


async def test_client_credentials_token_then_401_refresh(harness: Harness, server: HttpFixture) -> None:
    issuer = TokenIssuer("svc", "client-s3cret-value", expires_in=300)
    server.route("/token", issuer.token_endpoint)
    server.route("/m", issuer.protect(OK))
    auth = {"kind": "client_credentials", "token_url": server.url("/token"), "client_id": "svc",
            "client_secret": "client-s3cret-value", "refresh_before": "30s"}
    runner = harness.runner(server.url("/m"), auth=auth)
    await runner.scrape()
    assert runner.state == "OK" and issuer.issued == [issuer.issued[0]]
    issuer.revoke()  # e.g. the identity provider rotated keys: the next request gets a 401
    await runner.scrape()
    assert runner.state == "OK"
    assert len(issuer.issued) == 2
    statuses = [h.headers.get("authorization", "")[7:] for h in server.hits("/m")]
    assert statuses == [issuer.issued[0], issuer.issued[0], issuer.issued[1]]
    # The tokens and the client secret are secrets: masked wherever they might be written.
    for token in issuer.issued + ["client-s3cret-value"]:
        assert secrets.redact(f"x {token} y") == "x *** y"
        assert all(token not in m for m in harness.sink.messages())
    assert any("token refreshed (refused by a target (HTTP 401))" in m for m in harness.sink.messages())


async def test_token_is_refreshed_before_it_expires(harness: Harness, server: HttpFixture) -> None:
    issuer = TokenIssuer("svc", "another-secret", expires_in=1.0)
    server.route("/token", issuer.token_endpoint)
    server.route("/m", issuer.protect(OK))
    auth = {"kind": "client_credentials", "token_url": server.url("/token"), "client_id": "svc",
            "client_secret": "another-secret", "refresh_before": "400ms"}
    runner = harness.runner(server.url("/m"), auth=auth)
    for _ in range(5):
        await runner.scrape()
        assert runner.state == "OK"
        await asyncio.sleep(0.3)
    assert len(issuer.issued) >= 2  # valid for 1 s, refreshed 400 ms early: after ~600 ms
    assert issuer.refused == 0  # never sent an expired token: refreshed before, not after a 401
    assert not [m for m in harness.sink.messages() if "expired" in m or "refresh_before" in m]


async def test_failing_token_endpoint_is_auth_failed(harness: Harness, server: HttpFixture) -> None:
    issuer = TokenIssuer("svc", "third-secret")
    issuer.failing = True
    server.route("/token", issuer.token_endpoint)
    server.route("/m", issuer.protect(OK))
    auth = {"kind": "client_credentials", "token_url": server.url("/token"), "client_id": "svc", "client_secret": "third-secret"}
    runner = harness.runner(server.url("/m"), auth=auth)
    await runner.scrape()
    assert runner.state == "AUTH FAILED"
    assert runner.last_error == f"token endpoint {server.url('/token')}: HTTP 500 Internal Server Error"
    assert server.hits("/m") == []  # no request without a token
    await runner.scrape()  # within the endpoint's backoff: no second call to it
    assert len(server.hits("/token")) == 1
    assert runner.last_error.startswith(f"token endpoint {server.url('/token')} failed (HTTP 500 Internal Server Error); next try in")
    assert "auth:svc" in [source for _, _, source, _ in harness.sink.events]


async def test_static_token_refused_is_auth_failed_without_retry(harness: Harness, server: HttpFixture) -> None:
    server.route("/m", Reply(401))
    runner = harness.runner(server.url("/m"), auth={"kind": "bearer", "token": "static-token-123"})
    await runner.scrape()
    assert runner.state == "AUTH FAILED"
    assert runner.last_error == "HTTP 401 Unauthorized: the token was refused"
    assert len(server.hits("/m")) == 1
    assert server.hits("/m")[0].headers["authorization"] == "Bearer static-token-123"
    assert secrets.redact("static-token-123") == "***"


async def test_ticker_keeps_its_grid_and_skips_missed_ticks_instead_of_bursting() -> None:
    @dataclass
    class Due:  # what the ticker reads of a target
        enabled: bool = True
        busy: bool = False
        skipped: int = 0

    async def running() -> None:
        return None

    fired: list[float] = []
    ticker = Ticker(0.05, [Due()], running, lambda _runner, _due: fired.append(time.monotonic()))  # type: ignore[list-item]
    task = asyncio.create_task(ticker.run())
    await asyncio.sleep(0.5)
    time.sleep(0.25)  # the loop is blocked: five grid points go by
    await asyncio.sleep(0.5)
    task.cancel()
    start = fired[0]
    # On the grid: each tick is near start + n x 50 ms (no accumulating delay from the work).
    late = sorted(abs((t - start) - round((t - start) / 0.05) * 0.05) for t in fired)
    assert late[len(late) // 2] < 0.015
    assert round((fired[-1] - start) / 0.05) > len(fired)  # ticks were skipped, not all replayed...
    assert min(b - a for a, b in pairwise(fired)) > 0.02  # ...and never in a burst
    assert ticker.missed_ticks >= 3
