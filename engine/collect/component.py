"""The collect component: every configured target, scraped on its track's schedule.

Owns the shared pieces (one HTTP client, the rate limiter: a bucket per host and each target's
Retry-After, the token manager, the concurrency limits), one TargetRunner per target and one
Ticker per (track, interval). It contributes `targets` to the Snapshot, declares
each target's cadence to the engine's GapTracker (so a silent target becomes a gap with the
target's own reason), and owns the verbs `collect.enable` / `collect.disable` (args: target).

Cadence is recorded as series of source `collect`, every REPORT_EVERY while scrapes are due:
`lateness_p50_ms`, `lateness_p99_ms`, `lateness_max_ms` (a scrape's start against its slot),
`late_scrapes` (later than scheduler.LATE_SHARE of the interval) and `skipped_scrapes` (the
previous scrape of the target still running). Late scrapes are also logged, once a minute at most.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

from engine import eventcodes as ev
from engine.cadence import sleep_to_tick
from engine.collect.auth import TokenLifecycleManager
from engine.collect.config import CollectConfig, effective_interval
from engine.collect.http1 import HttpClient
from engine.collect.ratelimit import RateLimiter
from engine.collect.scheduler import Lateness, Ticker, group_by_interval
from engine.collect.target import TargetRunner, both
from engine.commands import Command, CommandResult
from engine.component import EngineContext
from engine.eventcodes import EventCode
from engine.snapshot import TargetView

if TYPE_CHECKING:
    from engine.gaps import GapTracker

log = logging.getLogger("opsconsole.collect")

SOURCE = "collect"  # no target is named by it: a target's source is always collect:<name>
REPORT_EVERY = 1.0  # seconds between cadence samples
LATE_LOG_EVERY = 60.0  # seconds between log lines about late scrapes


class CollectComponent:
    name = "collect"

    def __init__(self, config: CollectConfig, gaps: GapTracker | None = None) -> None:
        self.config = config
        self.runners: dict[str, TargetRunner] = {}
        self.tickers: list[Ticker] = []
        self._ctx: EngineContext | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._commands_registered = False
        self._dirty = True
        self._targets: tuple[TargetView, ...] = ()
        self._disabled: set[str] = set()  # by the operator: survives a restart of this component
        self._enabled: set[str] = set()
        self.lateness = Lateness()
        self._late_logged = -math.inf
        if gaps is not None:
            for track in config.tracks:
                for target in track.targets:
                    gaps.expect(f"collect:{target.name}", effective_interval(track, target), self._cause_for(target.name))

    # ------------------------------------------------------------------ Component
    async def run(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        self._register_commands(ctx)
        targets = sum(len(track.targets) for track in self.config.tracks)
        # One client: its idle pool is a list per origin, so a thousand targets cost no more per
        # request than four (httpcore walked all its connections on every request).
        client = HttpClient(max_idle=max(1, min(targets, self.config.max_concurrency)))
        # Big bodies are decoded here, not on the loop (target.INLINE_DECODE_MAX). One thread: with
        # the GIL a second would not parse faster, and the loop would wait behind two for it.
        decoder = ThreadPoolExecutor(1, thread_name_prefix="collect-decode")
        try:
            self._build(ctx, client, decoder)
            async with asyncio.TaskGroup() as group:
                for ticker in self.tickers:
                    group.create_task(ticker.run())
                group.create_task(self._report_cadence(ctx))
        finally:
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=2.0)
            await client.aclose()
            decoder.shutdown(wait=False, cancel_futures=True)

    def _build(self, ctx: EngineContext, client: HttpClient, decoder: Executor) -> None:
        limiter = RateLimiter(self.config.rate_limit.rate, self.config.rate_limit.burst)
        tokens = TokenLifecycleManager(
            client,
            lambda source, severity, message, data: ctx.event(ev.TOKEN_EVENT, severity, source, message, data),
        )
        all_slots = asyncio.Semaphore(self.config.max_concurrency)
        self.runners, self.tickers = {}, []
        for track in self.config.tracks:
            semaphores = (all_slots, asyncio.Semaphore(track.max_concurrency)) if track.max_concurrency else (all_slots,)
            runners = [
                TargetRunner(
                    track, target, client=client, limiter=limiter,
                    token=tokens.source_for(target.auth, target.name), slots=partial(both, *semaphores), sink=self,
                    decoder=decoder,
                )
                for target in track.targets
            ]
            for runner in runners:
                self.runners[runner.name] = runner
                if runner.name in self._disabled:
                    runner.set_enabled(False)
                elif runner.name in self._enabled:
                    runner.set_enabled(True)
            for interval, group in group_by_interval(runners).items():
                self.tickers.append(Ticker(interval, group, ctx.wait_running, self._spawn, self._skipped))
        self._dirty = True

    def _spawn(self, runner: TargetRunner, due: float) -> None:
        runner.busy = True
        task = asyncio.create_task(self._scrape(runner, due), name=f"scrape {runner.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _skipped(self, runner: TargetRunner) -> None:
        self.lateness.skipped()

    async def _scrape(self, runner: TargetRunner, due: float) -> None:
        # Measured here, at the task's first step: the loop's own delay in getting to it counts.
        self.lateness.started(time.monotonic() - due, runner.interval)
        try:
            await runner.scrape()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug on one target's odd answer must not stop the others: show it
            log.exception("scrape of %s failed", runner.name)
            runner.internal_error(exc)
        finally:
            runner.busy = False

    async def _report_cadence(self, ctx: EngineContext) -> None:
        while True:
            await sleep_to_tick(REPORT_EVERY)  # with the ticker's rounds: one wake-up (engine/cadence.py)
            summary = self.lateness.summary()
            if summary is None:
                continue
            if summary.scrapes:
                ctx.record(SOURCE, "lateness_p50_ms", summary.p50_ms, unit="ms")
                ctx.record(SOURCE, "lateness_p99_ms", summary.p99_ms, unit="ms")
                ctx.record(SOURCE, "lateness_max_ms", summary.max_ms, unit="ms")
            ctx.record(SOURCE, "late_scrapes", summary.late)
            ctx.record(SOURCE, "skipped_scrapes", summary.skipped)
            now = time.monotonic()
            if summary.late and now - self._late_logged >= LATE_LOG_EVERY:
                self._late_logged = now
                log.warning("%d of %d scrapes in the last %.0fs started late (up to %.0f ms after their slot): "
                            "the engine's loop is busier than the schedule allows",
                            summary.late, summary.scrapes, REPORT_EVERY, summary.max_ms)

    # ------------------------------------------------------------------ Sink (for the runners)
    def record(self, source: str, metric: str, value: float, t: float, unit: str) -> None:
        assert self._ctx is not None
        self._ctx.record(source, metric, value, t=t, unit=unit)

    def event(self, code: EventCode, severity: str, source: str, message: str, data: dict[str, Any] | None = None
              ) -> None:
        assert self._ctx is not None
        self._ctx.event(code, severity, source, message, data)

    def changed(self) -> None:
        self._dirty = True

    # ------------------------------------------------------------------ SnapshotContributor
    def snapshot_fields(self) -> dict[str, Any]:
        if self._dirty:
            self._dirty = False
            self._targets = tuple(r.view() for r in self.runners.values())
        return {"targets": self._targets}

    # ------------------------------------------------------------------ gaps
    def _cause_for(self, name: str) -> Callable[[], str]:
        def cause() -> str:
            runner = self.runners.get(name)
            if runner is None:
                return "collector not running (see the Health panel's engine components)"
            return runner.gap_cause()

        return cause

    # ------------------------------------------------------------------ commands
    def _register_commands(self, ctx: EngineContext) -> None:
        if self._commands_registered:  # this component restarted after a crash: verbs are still ours
            return
        ctx.register_command("collect.enable", lambda command: self._set_enabled(command, True))
        ctx.register_command("collect.disable", lambda command: self._set_enabled(command, False))
        self._commands_registered = True

    async def _set_enabled(self, command: Command, enabled: bool) -> CommandResult:
        verb = "enable" if enabled else "disable"
        name = command.args.get("target")
        if not isinstance(name, str) or not name:
            return CommandResult.refused(f"collect.{verb}: say which target (args: target)")
        runner = self.runners.get(name)
        if runner is None:
            known = ", ".join(sorted(self.runners)) or "none"
            return CommandResult.refused(f"collect.{verb}: no target named {name!r} (targets: {known})")
        if runner.enabled == enabled:
            return CommandResult(True, f"{name} is already {verb}d")
        (self._enabled if enabled else self._disabled).add(name)
        (self._disabled if enabled else self._enabled).discard(name)
        runner.set_enabled(enabled)
        assert self._ctx is not None
        who = command.actor.describe()
        self._ctx.event(ev.TARGET_TOGGLED, "info", runner.source, f"{name}: collection {verb}d by {who}",
                        {"target": name, "enabled": enabled, "actor": who})
        if enabled:
            return CommandResult(True, f"{name}: collection enabled")
        return CommandResult(True, f"{name}: collection disabled — its series show a gap until it is enabled")
