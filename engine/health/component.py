"""The health component: runs each configured check on its own interval, turns results into shown
statuses (engine/health/state.py), and contributes them to the Snapshot as HealthView tuples.

- local checks (filesystem, psutil) run in worker threads; HTTP checks on the loop (the lean
  HTTP/1.1 client of engine/collect/http1.py, as the scrapes);
- a check that takes longer than its timeout is a FAIL ("did not finish within 5s"); a blocked
  thread (a hung mount) is waited for before the next run of that check, never piled up;
- a check that raises is a bug, but one check's bug is its own FAIL with the reason, logged with
  the traceback, not the end of the other checks;
- every change of a shown status is an event (kind "health"); each result is recorded as
  health:<name>/status_level (0 OK, 1 WARN, 2 FAIL) and, for HTTP, health:<name>/response_ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine import eventcodes as ev
from engine.collect.http1 import HttpClient
from engine.component import EngineContext
from engine.health.config import (
    DirCheck,
    DiskFreeCheck,
    FileSizeCheck,
    HealthCheck,
    HttpCheck,
    MemoryCheck,
    ProcessCheck,
)
from engine.health.http import check_http, new_client
from engine.health.local import ProcessProbe, check_dir, check_disk_free, check_file_size, check_memory
from engine.health.state import FAIL, LEVELS, OK, WARN, CheckResult, CheckState
from engine.snapshot import HealthView
from engine.units import format_duration

log = logging.getLogger("opsconsole.health")

EVENT_SEVERITY = {FAIL: "critical", WARN: "warning", OK: "info"}
Probe = Callable[[], Awaitable[CheckResult]]


class HealthComponent:
    name = "health"

    def __init__(self, checks: list[HealthCheck], history_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.checks = checks
        self.history_dir = history_dir  # where a `dir` check without a path looks
        self.clock = clock
        now = clock()
        self.states = {c.name: CheckState(c.name, c.failure_threshold, c.success_threshold, now) for c in checks}
        self._views: tuple[HealthView, ...] = tuple(s.view() for s in self.states.values())

    def snapshot_fields(self) -> dict[str, Any]:
        return {"health": self._views}

    async def run(self, ctx: EngineContext) -> None:
        http = any(isinstance(check, HttpCheck) for check in self.checks)
        async with new_client() if http else contextlib.nullcontext() as client:
            async with asyncio.TaskGroup() as group:
                for check in self.checks:
                    group.create_task(self._loop(ctx, check, self._probe(check, client)), name=f"health:{check.name}")

    def _probe(self, check: HealthCheck, client: HttpClient | None) -> Probe:
        """The check as a coroutine function giving one result (`client`: there are http checks)."""
        if isinstance(check, HttpCheck):
            assert client is not None
            return lambda: check_http(client, check)
        blocking: Callable[[], CheckResult]
        if isinstance(check, DirCheck):
            path = check.path or self.history_dir
            blocking = lambda: check_dir(path)  # noqa: E731
        elif isinstance(check, DiskFreeCheck):
            blocking = lambda: check_disk_free(check)  # noqa: E731
        elif isinstance(check, MemoryCheck):
            blocking = lambda: check_memory(check)  # noqa: E731
        elif isinstance(check, FileSizeCheck):
            blocking = lambda: check_file_size(check)  # noqa: E731
        elif isinstance(check, ProcessCheck):
            blocking = ProcessProbe(check)
        else:  # the config schema allows no other kind
            raise TypeError(f"unknown health check kind {check.kind!r}")
        return _InThread(check.name, blocking)

    async def _loop(self, ctx: EngineContext, check: HealthCheck, probe: Probe) -> None:
        next_at = time.monotonic()
        while True:
            await ctx.wait_running()
            result = await self._run_once(check, probe)
            self._apply(ctx, check, result)
            next_at = max(next_at + check.interval, time.monotonic())
            await asyncio.sleep(next_at - time.monotonic())

    async def _run_once(self, check: HealthCheck, probe: Probe) -> CheckResult:
        task = asyncio.ensure_future(probe())
        # A filesystem call may never return, and a check may have a bug: one deadline over all.
        done, _ = await asyncio.wait({task}, timeout=check.timeout + 1.0)
        if not done:
            task.cancel()  # stops an HTTP request; a thread runs on, and _InThread waits for it
            return CheckResult(FAIL, "no result", "", f"did not finish within {format_duration(check.timeout)}")
        try:
            return task.result()
        except Exception as exc:  # a bug in one check: its own FAIL with the reason, the others go on
            if not isinstance(probe, _InThread):  # (_InThread has logged it already)
                log.exception("health check %s failed", check.name)
            return CheckResult(FAIL, "error", "", f"the check itself failed: {type(exc).__name__}: {exc}")

    def _apply(self, ctx: EngineContext, check: HealthCheck, result: CheckResult) -> None:
        now = self.clock()
        state = self.states[check.name]
        previous = state.update(result, now)
        ctx.record(f"health:{check.name}", "status_level", LEVELS[result.status], t=now)
        if result.response_ms is not None:
            ctx.record(f"health:{check.name}", "response_ms", result.response_ms, t=now, unit="ms")
        if previous is not None:
            reason = f": {result.detail}" if result.detail and state.status != OK else ""
            ctx.event(ev.CHECK_CHANGED, EVENT_SEVERITY[state.status], f"health:{check.name}",
                      f"{check.name} is {state.status} (was {previous}){reason}",
                      {"status": state.status, "previous": previous, "value": result.value, "limit": result.limit,
                       "reason": reason.removeprefix(": ")})
        self._views = tuple(s.view() for s in self.states.values())


class _InThread:
    """A blocking check run in a worker thread, never two at once: while a run is stuck (a hung
    mount), later runs report that instead of starting another thread."""

    def __init__(self, name: str, check: Callable[[], CheckResult]) -> None:
        self.name = name
        self.check = check
        self.busy_since: float | None = None

    async def __call__(self) -> CheckResult:
        if self.busy_since is not None:
            stuck = format_duration(time.monotonic() - self.busy_since)
            return CheckResult(FAIL, "no result", "", f"the previous run has not finished after {stuck} "
                               "(a hung filesystem?)")
        self.busy_since = time.monotonic()
        return await asyncio.to_thread(self._run)

    def _run(self) -> CheckResult:
        try:
            return self.check()
        except Exception:  # also logged when nobody waits for this run any more
            log.exception("health check %s failed", self.name)
            raise
        finally:
            self.busy_since = None
