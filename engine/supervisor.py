"""Runs each component as an asyncio task and restarts it with backoff when it crashes.

A crash is never swallowed: it is logged (with traceback unless it is a ComponentError, whose
message is already a sentence for the operator), recorded as an event, and shown on the component's
line in the Health panel until the component has run cleanly again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from engine import eventcodes as ev
from engine.component import Component, ComponentError, EngineContext
from engine.config.schema import SupervisorConfig
from engine.snapshot import ComponentView

log = logging.getLogger("opsconsole.supervisor")


@dataclass
class _Status:
    state: str = "starting"  # starting / running / restarting / stopped
    restarts: int = 0
    last_error: str | None = None
    since: float = field(default_factory=time.time)


class Supervisor:
    def __init__(self, ctx: EngineContext, config: SupervisorConfig) -> None:
        self._ctx = ctx
        self._config = config
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._status: dict[str, _Status] = {}

    def start(self, component: Component) -> None:
        if component.name in self._tasks:
            raise ValueError(f"component {component.name!r} is already running")
        self._status[component.name] = _Status()
        self._tasks[component.name] = asyncio.create_task(self._supervise(component), name=component.name)

    async def stop_all(self, timeout: float = 2.0) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks.values(), timeout=timeout)
            for task in pending:
                log.error("component %s did not stop within %.1fs", task.get_name(), timeout)
        for status in self._status.values():
            status.state = "stopped"

    def views(self) -> tuple[ComponentView, ...]:
        return tuple(
            ComponentView(name, s.state, s.restarts, s.last_error, s.since) for name, s in self._status.items()
        )

    async def _supervise(self, component: Component) -> None:
        status = self._status[component.name]
        backoff = self._config.backoff_initial
        while True:
            started = time.monotonic()
            status.state, status.since = "running", time.time()
            try:
                await component.run(self._ctx)
            except asyncio.CancelledError:
                raise
            except ComponentError as exc:
                reason = str(exc)
                log.error("component %s failed: %s", component.name, reason)
            except Exception as exc:  # a bug in a component: keep the engine up, show and record it
                reason = f"{type(exc).__name__}: {exc}"
                log.exception("component %s crashed", component.name)
            else:
                status.state, status.since = "stopped", time.time()
                log.info("component %s finished", component.name)
                return
            # A component that ran for a while before failing starts its backoff afresh.
            if time.monotonic() - started > self._config.backoff_max:
                backoff = self._config.backoff_initial
            status.state, status.since = "restarting", time.time()
            status.restarts += 1
            status.last_error = reason
            self._ctx.event(
                ev.COMPONENT_CRASHED,
                "critical",
                component.name,
                f"{component.name} failed: {reason} — restarting in {backoff:.0f}s",
                {"restarts": status.restarts, "backoff_s": backoff, "error": reason},  # review rebuilds the line
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._config.backoff_max)
