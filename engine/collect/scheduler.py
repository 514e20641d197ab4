"""Cadence: one ticker per (track, interval) fires its targets on a fixed grid of monotonic times,
spread across the interval, and the collect component notes how late each scrape started.

Spread: target i of N fires at `start + n * interval + i * interval / N`, so a thousand targets
at 1 s are ten-odd scrapes every 10 ms, not a thousand at once. Firing them together made the
loop a queue of a thousand scrape steps once a second: every other task (a command, the actuator
call it makes, the snapshot publisher) waited behind it, hundreds of milliseconds at the tail
(bench/reaction.py), and the scrapes at the back of the burst were late by the burst's length.
A handful of targets (up to BATCH) all fire at the top of the interval instead, in one wake-up:
spreading four targets at 1 s woke the engine four times a second to start one request each, and
their answers came in four more (bench/loop_wakeups.py --real: 16.2 -> 7.1 wake-ups/s). Batching
the thousand as well (8 per slot) made their answers arrive in bursts: 997 -> 986 fetches/s and
p50 lateness 0.1 -> 1.3 ms in bench/collect.py, so past BATCH the spread is one by one.
Slots within SLACK of each other fire in one wake-up.

Drift-free: slots are `start + n * interval`, not "now + interval" after the work, so the cost
of a tick never pushes the schedule back. A tick only starts scrapes (tasks) and returns: a
slow target never delays the others. A target whose previous scrape is still running (retrying,
or a slow server within its timeout) skips this tick rather than piling up requests; the skip is
counted. Slots missed by a whole interval or more while the loop was blocked or the engine paused
are skipped, never replayed in a burst: the ticker goes on at the next round.

Lateness is measured where a scrape really starts (its task's first step, after the loop got to
it), against its slot: `Lateness` summarizes it per report (p50/p99/max, how many started later
than LATE_SHARE of their interval, how many were skipped) for the component to record.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from engine.cadence import next_tick
from engine.collect.target import TargetRunner

SLACK = 0.002  # seconds: slots this close fire together
BATCH = 8  # up to this many targets in a ticker start together: a command never waits behind many
LATE_SHARE = 0.1  # a scrape that starts later than this share of its interval is late


def slot_offset(index: int, count: int, interval: float) -> float:
    """Offset of target `index` of `count` within each round: up to BATCH targets start together,
    more are spread one by one across the interval."""
    return 0.0 if count <= BATCH else index * interval / count


class Ticker:
    def __init__(
        self,
        interval: float,
        runners: Sequence[TargetRunner],
        wait_running: Callable[[], Awaitable[None]],
        spawn: Callable[[TargetRunner, float], None],
        skipped: Callable[[TargetRunner], None] | None = None,
    ) -> None:
        self.interval = interval
        self.runners = list(runners)
        self._wait_running = wait_running
        self._spawn = spawn  # (runner, its slot on the monotonic clock)
        self._skipped = skipped
        self.missed_ticks = 0  # rounds skipped because the loop was blocked or the engine paused

    def slot(self, index: int) -> float:
        """Offset of runner `index` within each round."""
        return slot_offset(index, len(self.runners), self.interval)

    async def run(self) -> None:
        if not self.runners:
            return
        count = len(self.runners)
        # Rounds on the engine's shared grid (engine/cadence.py), so a round's wake-up is also the
        # publisher's and the cadence report's; a long interval starts at the next whole second.
        round_start = next_tick(min(self.interval, 1.0))
        index = 0
        while True:
            await self._wait_running()
            now = time.monotonic()
            due = round_start + self.slot(index)
            behind = now - due
            if behind >= self.interval:  # paused, or the loop was blocked: this slot's next round
                missed = math.floor(behind / self.interval) + 1
                self.missed_ticks += missed
                round_start += missed * self.interval
                await asyncio.sleep(round_start + self.slot(index) - now)
                continue
            while due <= now + SLACK:
                self.fire(self.runners[index], due)
                index += 1
                if index == count:
                    index, round_start = 0, round_start + self.interval
                due = round_start + self.slot(index)
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    def fire(self, runner: TargetRunner, due: float) -> None:
        if not runner.enabled:
            return
        if runner.busy:
            runner.skipped += 1
            if self._skipped is not None:
                self._skipped(runner)
            return
        self._spawn(runner, due)


@dataclass(frozen=True)
class LatenessSummary:
    scrapes: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    late: int  # started later than LATE_SHARE of their interval
    skipped: int  # not started: the previous scrape of the target was still running


class Lateness:
    """How late scrapes started against their slots, since the last summary."""

    def __init__(self) -> None:
        self._values: list[float] = []
        self._late = 0
        self._skipped = 0

    def started(self, lateness: float, interval: float) -> None:
        lateness = max(0.0, lateness)  # slots within SLACK fire a little early
        self._values.append(lateness)
        if lateness > LATE_SHARE * interval:
            self._late += 1

    def skipped(self) -> None:
        self._skipped += 1

    def summary(self) -> LatenessSummary | None:
        """The figures since the last call, and start again; None if nothing was due."""
        values, late, skipped = sorted(self._values), self._late, self._skipped
        self._values, self._late, self._skipped = [], 0, 0
        if not values and not skipped:
            return None
        if not values:
            return LatenessSummary(0, math.nan, math.nan, math.nan, 0, skipped)
        pick = lambda q: 1000 * values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]  # noqa: E731
        return LatenessSummary(len(values), pick(0.5), pick(0.99), 1000 * values[-1], late, skipped)


def group_by_interval(runners: Sequence[TargetRunner]) -> dict[float, list[TargetRunner]]:
    groups: dict[float, list[TargetRunner]] = {}
    for runner in runners:
        groups.setdefault(runner.interval, []).append(runner)
    return groups
