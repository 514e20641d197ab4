"""Fakes of the engine's side of the contract, for console tests and the wire-cost bench.

- `FakeSource`: returns whatever snapshot the test set, records every submitted Command, and
  answers pause/resume like the engine does (the next snapshot says PAUSED / RUNNING).
- `DemoSource`: changing data for all six panels, one new point per second of wall time, so a
  run under tui_probe measures what a live console costs on the wire.
"""

from __future__ import annotations

import concurrent.futures
import math
import time
from collections.abc import Callable
from dataclasses import replace

from engine.commands import Command, CommandResult
from engine.snapshot import (
    AlertView,
    ComponentView,
    EngineState,
    ErrorGroup,
    GapView,
    HealthView,
    ProcessView,
    RolloutView,
    RuleView,
    SeriesView,
    Snapshot,
    SourceMode,
    TargetView,
)

T0 = 1_700_000_000.0


def series(source: str, metric: str, values: list[float] | tuple[float, ...], unit: str = "", t0: float = T0) -> SeriesView:
    return SeriesView(source, metric, tuple(t0 + i for i in range(len(values))), tuple(values), unit)


def snap(**kwargs: object) -> Snapshot:
    """A live RUNNING snapshot with nothing configured, overridden by kwargs."""
    base: dict[str, object] = {"taken_at": T0 + 100, "mode": SourceMode.LIVE, "state": EngineState.RUNNING,
                               "config_name": "test"}
    base.update(kwargs)
    return Snapshot(**base)  # type: ignore[arg-type]


def done(result: CommandResult) -> concurrent.futures.Future[CommandResult]:
    future: concurrent.futures.Future[CommandResult] = concurrent.futures.Future()
    future.set_result(result)
    return future


class FakeSource:
    """Scripted snapshots; records commands; pause/resume change the state it reports."""

    def __init__(self, current: Snapshot | None = None, *, mode: SourceMode = SourceMode.LIVE,
                 executor: concurrent.futures.Executor | None = None) -> None:
        self.mode = mode
        self.current = current or snap()
        self.submitted: list[Command] = []
        self.snapshot_calls = 0
        self.closed = False
        self.executor = executor  # when set, commands complete on another thread, like the engine's
        self.handlers: dict[str, Callable[[Command], CommandResult]] = {
            "pause": lambda c: self._set_state(EngineState.PAUSED, "engine paused"),
            "resume": lambda c: self._set_state(EngineState.RUNNING, "engine resumed"),
        }

    def _set_state(self, state: EngineState, message: str) -> CommandResult:
        self.current = replace(self.current, state=state)
        return CommandResult(ok=True, message=message)

    def snapshot(self) -> Snapshot:
        self.snapshot_calls += 1
        return self.current

    def submit(self, command: Command) -> concurrent.futures.Future[CommandResult]:
        self.submitted.append(command)
        handler = self.handlers.get(command.name, lambda c: CommandResult.refused(f"unknown command {c.name}"))
        if self.executor is not None:
            return self.executor.submit(handler, command)
        return done(handler(command))

    def close(self) -> None:
        self.closed = True


class DemoSource:
    """Live-looking data for every panel; a new point each wall-clock second."""

    mode = SourceMode.LIVE

    def __init__(self, points: int = 60, clock: Callable[[], float] = time.time) -> None:
        self.points = points
        self.clock = clock  # wall time; a test steps its own
        self.started = clock()
        self.state = EngineState.RUNNING
        self._cache: tuple[int, Snapshot] | None = None

    def _wave(self, name: str, t: float, base: float, amp: float) -> float:
        phase = sum(map(ord, name)) % 17
        return max(0.0, base + amp * math.sin(t / 7.0 + phase) + amp * 0.3 * math.sin(t / 2.3 + phase))

    def _series(self, source: str, metric: str, now: int, base: float, amp: float, unit: str = "") -> SeriesView:
        times = tuple(float(now - self.points + 1 + i) for i in range(self.points))
        return SeriesView(source, metric, times, tuple(self._wave(source + metric, t, base, amp) for t in times), unit)

    def snapshot(self) -> Snapshot:
        now = int(self.clock())
        if self._cache and self._cache[0] == now:
            return self._cache[1]
        s = self._series
        all_series = (
            s("watch:inbox", "files_per_s", now, 4, 3, "/s"),
            SeriesView("watch:inbox", "files_total", (float(now),), (float(4 * (now - int(self.started))),)),
            s("watch:edge", "lines_per_s", now, 120, 60, "/s"),
            s("collect:api", "requests_per_s", now, 20, 5, "/s"),
            s("host", "mem_pct", now, 55, 10, "%"),
            s("host", "mem_available_bytes", now, 3.2e9, 2e8, "B"),
            s("host", "swap_pct", now, 1, 0.5, "%"),
            s("host", "cpu_pct", now, 20, 15, "%"),
            s("host", "load1", now, 0.8, 0.4),
            s("engine", "rss_bytes", now, 80e6, 4e6, "B"),
            s("engine", "peak_rss_bytes", now, 90e6, 0, "B"),
            s("canary", "error_rate", now, 0.006, 0.004),
            s("canary", "errors_per_s", now, 0.2, 0.1, "/s"),
            s("baseline", "error_rate", now, 0.002, 0.001),
        )
        taken = float(now)
        snapshot = Snapshot(
            taken_at=taken, mode=SourceMode.LIVE, state=self.state, config_name="demo",
            started_at=self.started, configured=frozenset({"watch", "collect", "health", "canary", "monitor"}),
            series=all_series,
            components=(ComponentView("collector", "running"), ComponentView("watcher", "running"),
                        ComponentView("hostmon", "running"), ComponentView("store", "running", restarts=1)),
            health=(HealthView("disk", "OK", taken - 300, "41.2GB", "≥1GB"),
                    HealthView("api", "WARN" if now % 60 < 30 else "OK", taken - (now % 30), "slow", "")),
            alerts=(AlertView("HighErrorRate", "firing", "critical", taken - 40, "canary/error_rate"),),
            gaps=(GapView("collect:api/requests_per_s", taken - 42, None, "connection refused"),
                  GapView("watch:edge/lines_per_s", taken - 600, taken - 590, "log rotated")),
            targets=(TargetView("api", "RETRYING", "connection refused"), TargetView("metrics", "OK")),
            errors=tuple(ErrorGroup("canary", f"upstream timeout after {i}s", 3 + i, T0, taken - 5 * i, "GET /pay")
                         for i in range(1, 5)),
            processes=(ProcessView("nginx", 101, 1.5, 12_000_000), ProcessView("python", 202, 8.0, 80_000_000)),
            rollout=RolloutView(
                id=3, service="checkout", status="running", stage_index=1,
                stages=((5, "1m"), (10, "2m"), (50, "5m"), (100, "")), weight=10, target_weight=50,
                stage_started=taken - (now % 120), next_promotion_at=taken + 120 - (now % 120),
                rules=(RuleView("error_rate", all_series[11].last, 0.01, 0, 3, 1, 10),),
                score=0.97, last_decision="hold: 0/3 breaches", verbs=("promote", "pause", "rollback")),
        )
        self._cache = (now, snapshot)
        return snapshot

    def submit(self, command: Command) -> concurrent.futures.Future[CommandResult]:
        if command.name in ("pause", "resume"):
            self.state = EngineState.PAUSED if command.name == "pause" else EngineState.RUNNING
            self._cache = None
            return done(CommandResult(True, f"engine {command.name}d"))
        return done(CommandResult.refused(f"demo source: {command.name} not supported"))

    def close(self) -> None:
        pass
