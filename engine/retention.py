"""The component that runs the history's retention pass (engine/store/retention.py) periodically,
in a worker thread, pausing between its transactions so the writer is never held off for long.

It waits while the engine is paused (an operator who paused to look at something does not want
the data being rolled up under them), records an event when a pass expired or reclaimed
anything (routine rollups only go to the log), and turns a failing pass into a ComponentError,
so the supervisor shows it and retries with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from engine import eventcodes as ev
from engine.component import ComponentError, EngineContext
from engine.config.schema import StoreConfig
from engine.store import StoreError
from engine.store.retention import run_retention

log = logging.getLogger("opsconsole.store.retention")

EVERY = 600.0  # a pass every 10 minutes: at 50 series x 1 s, ~30k raw rows to roll each time
FIRST_DELAY = 60.0  # not during start-up, when the demo and collectors are busiest
PAUSE = 0.005  # seconds between transactions: the writer's turn


class RetentionComponent:
    name = "retention"

    def __init__(
        self, config: StoreConfig, *, every: float = EVERY, first_delay: float = FIRST_DELAY, pause: float = PAUSE
    ) -> None:
        self.config = config
        self.every = every
        self.first_delay = first_delay
        self.pause = pause

    async def run(self, ctx: EngineContext) -> None:
        stop = threading.Event()
        try:
            await asyncio.sleep(self.first_delay)
            while True:
                await ctx.wait_running()
                try:
                    report = await asyncio.to_thread(
                        run_retention, ctx.store.path, self.config, pause=self.pause, stop=stop
                    )
                except StoreError as exc:
                    raise ComponentError(str(exc)) from exc
                log.info("%s", report.summary())
                if any(report.deleted.values()) or report.freed_pages:
                    ctx.event(
                        ev.RETENTION_RAN, "info", "retention", report.summary(),
                        {"rolled_samples": report.rolled_samples, "deleted": report.deleted,
                         "freed_pages": report.freed_pages},
                    )
                await asyncio.sleep(self.every)
        finally:
            stop.set()  # a pass still running in its thread ends after its current transaction
