"""Short-lived OAuth2 tokens through the real engine (issue 18, item 4).

A real client-credentials endpoint and a protected /metrics on 127.0.0.1 (tests/httpfixtures.py's
TokenIssuer, which counts what it issues and refuses expired tokens). Lifetimes are scaled down
from the issue's (5 s tokens, refresh_before 30 s or 1 s) so a run takes seconds; what is asserted
is relative to the lifetime, never to the machine's speed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime import Engine
from tests.httpfixtures import HttpFixture, TokenIssuer, json_reply
from tests.test_engine import query, wait_for, write_config


@pytest.fixture
def server() -> Iterator[HttpFixture]:
    with HttpFixture() as fixture:
        yield fixture


def run(server: HttpFixture, tmp_path: Path, issuer: TokenIssuer, *, interval: str, refresh_before: str,
        scrapes: int) -> list[tuple[str, str, str]]:
    """Scrape /metrics `scrapes` times through the engine; the auth source's events (severity, message, data)."""
    server.route("/token", issuer.token_endpoint)
    server.route("/metrics", issuer.protect(json_reply({"v": 1})))
    body = (
        "collect:\n  tracks:\n"
        f"    - {{name: t, interval: {interval}, timeout: 1s, targets: [\n"
        f"        {{name: api, url: '{server.url('/metrics')}', format: json, fields: {{v: v}},\n"
        f"         auth: {{kind: client_credentials, token_url: '{server.url('/token')}', client_id: svc,\n"
        f"                 client_secret: s3cret-of-svc, refresh_before: {refresh_before}}}}}]}}\n"
    )
    engine = Engine(write_config(tmp_path, body))
    engine.start()
    try:
        wait_for(lambda: len(server.hits("/metrics")) >= scrapes, timeout=30, what=f"{scrapes} scrapes")
        assert engine.snapshot().targets[0].state == "OK"
        engine.store.flush()
    finally:
        engine.stop()
    rows = query(tmp_path / "history.db", "SELECT severity, message, data FROM events WHERE source = 'auth:svc' ORDER BY t, id")
    return [(severity, message, data) for severity, message, data in rows]


def test_a_token_shorter_than_refresh_before_is_refreshed_per_lifetime_and_said_once(
        server: HttpFixture, tmp_path: Path) -> None:
    lifetime = 1.0
    issuer = TokenIssuer("svc", "s3cret-of-svc", expires_in=lifetime)
    events = run(server, tmp_path, issuer, interval="100ms", refresh_before="30s", scrapes=40)
    token_calls = server.hits("/token")
    lifetimes = (server.hits("/metrics")[-1].t - token_calls[0].t) / lifetime
    print(f"\n{len(server.hits('/metrics'))} scrapes, {len(token_calls)} token calls over {lifetimes:.1f} lifetimes")
    # At half the lifetime: two calls per lifetime, plus the first. (Before: one per scrape, ~40.)
    assert len(token_calls) <= 2 * lifetimes + 2
    assert issuer.refused == 0  # and never an expired token sent
    warnings = [(m, json.loads(d)) for severity, m, d in events if severity == "warning"]
    assert len(warnings) == 1, warnings
    message, data = warnings[0]
    assert message == (
        f"token endpoint {server.url('/token')} (target api): its tokens live 1s, shorter than refresh_before 30s, "
        "which would refresh at every use; refreshing at half the lifetime (every 500ms) instead "
        "(set refresh_before to 500ms or less to follow it)"
    )
    assert data == {"targets": ["api"], "lifetime_s": 1.0, "refresh_before_s": 30.0}
    # Routine refreshes are not events: the history has the first token and the warning.
    assert [m for _, m, _ in events if "refreshed" in m] == [
        f"token endpoint {server.url('/token')}: token refreshed (first use), valid for 1s"]


def test_a_token_expiring_between_scrapes_is_no_warning_when_scrapes_succeed(
        server: HttpFixture, tmp_path: Path) -> None:
    # Scraped every 700 ms, a 500 ms token has always expired by the next scrape: replaced then,
    # before use, every scrape succeeds. (Before: "token expired" at every scrape.)
    issuer = TokenIssuer("svc", "s3cret-of-svc", expires_in=0.5)
    events = run(server, tmp_path, issuer, interval="700ms", refresh_before="100ms", scrapes=5)
    assert issuer.refused == 0
    assert len(server.hits("/token")) >= 4  # a new token for every scrape: each had expired
    assert [(s, m) for s, m, _ in events if s != "info"] == []
    assert not [m for _, m, _ in events if "expired" in m]
