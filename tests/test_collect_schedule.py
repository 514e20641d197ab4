"""The collect schedule: targets spread across their interval, and a scrape that starts late is
counted as late (engine/collect/scheduler.py). Orderings and counts, not wall-clock bounds."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from engine.collect.scheduler import LATE_SHARE, Lateness, Ticker
from engine.config.loader import load_config
from engine.runtime import Engine
from tests.httpfixtures import HttpFixture, Reply


@dataclass
class Due:  # what the ticker reads of a target
    name: str
    enabled: bool = True
    busy: bool = False
    skipped: int = 0


async def running() -> None:
    return None


async def test_many_targets_are_spread_evenly_across_the_interval_in_their_order() -> None:
    runners = [Due(f"t{i}") for i in range(10)]  # more than BATCH (8): one by one
    fired: list[tuple[str, float, float]] = []  # name, slot, when it fired
    ticker = Ticker(0.5, runners, running, lambda r, due: fired.append((r.name, due, time.monotonic())))  # type: ignore[arg-type]
    task = asyncio.create_task(ticker.run())
    while len(fired) < 20:
        await asyncio.sleep(0.01)
    task.cancel()
    names = [name for name, _, _ in fired[:20]]
    assert names == [f"t{i}" for i in range(10)] * 2  # one round after the other, in config order
    slots = [due for _, due, _ in fired[:20]]
    steps = [round(b - a, 9) for a, b in pairwise(slots)]
    assert steps == [0.05] * 19  # interval / N apart: no burst at the top of the interval
    assert all(at >= due - 0.002 for _, due, at in fired)  # never fired before its slot (SLACK)


async def test_a_few_targets_start_together_in_one_wake_up() -> None:
    runners = [Due(f"t{i}") for i in range(4)]
    fired: list[tuple[str, float]] = []
    ticker = Ticker(0.3, runners, running, lambda r, due: fired.append((r.name, due)))  # type: ignore[arg-type]
    task = asyncio.create_task(ticker.run())
    while len(fired) < 8:
        await asyncio.sleep(0.01)
    task.cancel()
    rounds = [{due for _, due in fired[:4]}, {due for _, due in fired[4:8]}]
    assert all(len(slots) == 1 for slots in rounds), fired  # four scrapes, one slot a round
    assert round(min(rounds[1]) - min(rounds[0]), 9) == 0.3


async def test_a_busy_target_is_skipped_and_counted() -> None:
    runners = [Due("free"), Due("busy", busy=True)]
    fired: list[str] = []
    skipped: list[str] = []
    ticker = Ticker(0.1, runners, running, lambda r, due: fired.append(r.name),  # type: ignore[arg-type]
                    lambda r: skipped.append(r.name))
    task = asyncio.create_task(ticker.run())
    while len(fired) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    assert set(fired) == {"free"}
    assert skipped and set(skipped) == {"busy"} and runners[1].skipped == len(skipped)


async def test_a_scrape_that_starts_after_a_blocked_loop_is_counted_late() -> None:
    lateness = Lateness()
    runners = [Due(f"t{i}") for i in range(4)]
    started: list[str] = []

    def spawn(runner: Due, due: float) -> None:
        lateness.started(time.monotonic() - due, 1.0)
        started.append(runner.name)
        if runner.name == "t0":
            time.sleep(0.4)  # the loop is blocked: t1, due in the same wake-up, starts 400 ms late

    ticker = Ticker(1.0, runners, running, spawn)  # type: ignore[arg-type]
    task = asyncio.create_task(ticker.run())
    while len(started) < 4:
        await asyncio.sleep(0.01)
    task.cancel()
    summary = lateness.summary()
    assert summary is not None
    assert summary.scrapes == 4 and summary.late == 3  # t0 on time, the three behind it late
    assert summary.max_ms > 1000 * LATE_SHARE * 1.0
    assert lateness.summary() is None  # a summary starts the count again


def test_the_engine_records_its_scrapes_cadence(tmp_path: Path) -> None:
    with HttpFixture() as server:
        server.route("/m", Reply(body="up 1\n", content_type="text/plain; version=0.0.4"))
        targets = ", ".join(f"{{name: t{i}, url: '{server.url('/m')}', format: prometheus, fields: {{up: up}}}}"
                            for i in range(4))
        config = tmp_path / "config.yaml"
        config.write_text(
            f"store: {{path: {tmp_path / 'history.db'}}}\nmonitor: {{host: {{enabled: false}}}}\n"
            f"collect:\n  tracks:\n    - {{name: t, interval: 200ms, targets: [{targets}]}}\n"
        )
        engine = Engine(load_config(config))
        engine.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and engine.series("collect", "late_scrapes") is None:
                time.sleep(0.05)
            views = {m: engine.series("collect", m) for m in ("lateness_p99_ms", "late_scrapes", "skipped_scrapes")}
        finally:
            engine.stop()
    assert all(view is not None for view in views.values()), views
    assert views["lateness_p99_ms"].unit == "ms"  # type: ignore[union-attr]
