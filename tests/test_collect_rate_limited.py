"""A 429 neighbour on the same host:port, through the real engine and store (issue 18, item 2).

One real server on 127.0.0.1 with two paths: /limited answers nothing but 429 with Retry-After,
/ok answers 200. The healthy target keeps its cadence (its samples, as stored, come every
interval: no gap), and the limited target settles in OPEN, saying it is rate limited, instead of
flapping between RETRYING and a lucky OK.
"""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime import Engine
from tests.httpfixtures import HttpFixture, Reply, json_reply
from tests.test_engine import query, wait_for, write_config

INTERVAL = 0.2
RETRY_AFTER = 1  # seconds: five of the healthy target's intervals


@pytest.fixture
def server() -> Iterator[HttpFixture]:
    with HttpFixture() as fixture:
        fixture.route("/limited", Reply(429, "slow down", {"Retry-After": str(RETRY_AFTER)}))
        fixture.route("/ok", json_reply({"v": 1}))
        yield fixture


def spacings(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_a_429_neighbour_does_not_starve_a_healthy_target(server: HttpFixture, tmp_path: Path) -> None:
    body = (
        "collect:\n  tracks:\n"
        f"    - {{name: fast, interval: {INTERVAL * 1000:g}ms, timeout: 1s,\n"
        "       retry: {attempts: 3, backoff: 100ms, max_backoff: 5s}, breaker: {failures: 3, open_for: 1m},\n"
        "       targets: [\n"
        f"        {{name: limited, url: '{server.url('/limited')}', format: json, fields: {{v: v}}}},\n"
        f"        {{name: ok, url: '{server.url('/ok')}', format: json, fields: {{v: v}}}}]}}\n"
    )
    engine = Engine(write_config(tmp_path, body))
    engine.start()
    try:
        def limited_state() -> str:
            return next((t.state for t in engine.snapshot().targets if t.name == "limited"), "not built yet")

        wait_for(lambda: limited_state() == "OPEN", timeout=15, what="the limited target's circuit to open")
        opened_after = len(server.hits("/ok"))
        wait_for(lambda: len(server.hits("/ok")) >= opened_after + 10, what="healthy scrapes after it opened")
        snapshot = engine.snapshot()
        engine.store.flush()
    finally:
        engine.stop()

    # The healthy target: one sample per interval, from its first to its last, while its
    # neighbour was refused, retried and then had its circuit opened.
    rows = query(tmp_path / "history.db", "SELECT t FROM samples JOIN series ON series.id = series_id "
                 "WHERE source = 'collect:ok' AND metric = 'v' ORDER BY t")
    steps = spacings([t for (t,) in rows])
    assert len(steps) >= 15
    print(f"\nhealthy target: {len(steps) + 1} samples, spacing median {statistics.median(steps):.3f}s, "
          f"max {max(steps):.3f}s (interval {INTERVAL}s)")
    assert statistics.median(steps) == pytest.approx(INTERVAL, rel=0.25)
    assert max(steps) < 2.5 * INTERVAL  # the gap threshold (gap_factor): never a gap
    assert not [g for g in snapshot.gaps if g.series == "collect:ok"]
    ok = next(t for t in snapshot.targets if t.name == "ok")
    assert ok.state == "OK" and ok.last_error is None

    # The limited target: OPEN, saying why, after a few refusals; its Retry-After honoured.
    limited = next(t for t in snapshot.targets if t.name == "limited")
    assert limited.state == "OPEN"
    assert limited.last_error is not None
    assert limited.last_error.startswith("rate limited: HTTP 429 Too Many Requests, Retry-After 1s; circuit open")
    arrivals = [h.t for h in server.hits("/limited")]
    assert len(arrivals) == 3  # the breaker's `failures`, then nothing until the probe
    assert min(spacings(arrivals)) >= RETRY_AFTER - 0.01  # the server's clock: none before Retry-After
    events = query(tmp_path / "history.db",
                   "SELECT message FROM events WHERE source = 'collect:limited' AND kind = 'collect' ORDER BY t, id")
    states = [m for (m,) in events if "circuit" not in m]
    assert states == ["limited: PENDING -> RETRYING: HTTP 429 Too Many Requests, Retry-After 1s (attempt 1 of 3)",
                      "limited: RETRYING -> OPEN: HTTP 429 Too Many Requests, Retry-After 1s"]
    assert [m for (m,) in events if "circuit" in m] == [
        "limited: circuit CLOSED -> OPEN (3 consecutive failures, last: HTTP 429 Too Many Requests, Retry-After 1s)"]
    gaps = query(tmp_path / "history.db", "SELECT data FROM events WHERE kind = 'gap' AND source = 'collect:limited'")
    assert gaps and all(json.loads(d)["cause"].startswith("rate limited: ") for (d,) in gaps)
    assert not query(tmp_path / "history.db",
                     "SELECT message FROM events WHERE source = 'collect:ok' AND kind IN ('collect', 'gap')")
