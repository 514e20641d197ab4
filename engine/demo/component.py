"""The demo as an engine component: start the service, report the load generator, stop on cancel.

Blocking work (binding, creating files, joining threads) runs in worker threads via
`asyncio.to_thread`, never on the engine's loop. The load generator's window is read on the loop
once a second and recorded through `ctx.record`, so the ctx is only ever used from its own loop.
"""

from __future__ import annotations

import asyncio
import logging
import time

from engine import eventcodes as ev
from engine.component import EngineContext
from engine.config.schema import DemoConfig
from engine.demo.loadgen import LoadSample
from engine.demo.service import DemoService
from engine.evidence.counts import STANDARD_BOUNDS_MS, record_counts

log = logging.getLogger("opsconsole.demo")

SOURCE = "demo:loadgen"


class DemoComponent:
    """`DemoComponent()` reads `ctx.config.demo`; pass a DemoConfig to override it (tests, tools)."""

    name = "demo"

    def __init__(self, config: DemoConfig | None = None, *, report_every: float = 1.0) -> None:
        self.config = config
        self.report_every = report_every
        self.service: DemoService | None = None

    async def run(self, ctx: EngineContext) -> None:
        config = self.config if self.config is not None else ctx.config.demo
        loop = asyncio.get_running_loop()

        def on_change(message: str) -> None:
            # Called from router threads (admin API) or the loop: hand the event to the loop.
            try:
                loop.call_soon_threadsafe(ctx.event, ev.DEMO_CHANGED, "info", "demo", message)
            except RuntimeError:  # the loop is closing: the change stands, only its event is lost
                log.info("%s (not recorded: the engine is stopping)", message)

        service = DemoService(config, on_change=on_change)
        starting = asyncio.ensure_future(asyncio.to_thread(service.start))
        try:
            # Shielded: if we are cancelled mid-start, the start still completes and `finally`
            # then stops whatever it started, instead of leaving threads running.
            await asyncio.shield(starting)
            self.service = service
            ctx.event(
                ev.DEMO_LISTENING, "info", "demo",
                f"demo service listening on {service.router_url} "
                f"(baseline :{service.ports['baseline']}, canary :{service.ports['canary']})",
                {"router": service.router_url, "baseline": service.baseline_url, "canary": service.canary_url},
            )
            await self._report(ctx, service)
        finally:
            self.service = None
            if not starting.done():
                await asyncio.wait([starting])
            if starting.done() and not starting.cancelled() and starting.exception() is None:
                await asyncio.shield(asyncio.to_thread(service.stop))
            # A failed start has already stopped what it started (and its exception propagates).

    async def _report(self, ctx: EngineContext, service: DemoService) -> None:
        """Record the load generator's window every `report_every` seconds, on a monotonic schedule."""
        loadgen = service.loadgen
        if loadgen is None:
            await asyncio.Event().wait()  # rps 0: nothing to report; serve until cancelled
            return
        # The first window starts now, not when the load generator started: a window opening at
        # its first request would count one request too many (both ends of the interval).
        loadgen.reset_window()
        next_due = time.monotonic()
        first = True
        while True:
            next_due += self.report_every
            await asyncio.sleep(max(0.0, next_due - time.monotonic()))
            if ctx.paused:
                # Paused: record nothing; on resume, start a fresh window rather than report one
                # average spanning the whole pause.
                await ctx.wait_running()
                loadgen.reset_window()
                next_due = time.monotonic()
                continue
            record_sample(ctx, loadgen.take_window(), first=first)
            first = False


def record_sample(ctx: EngineContext, sample: LoadSample, *, first: bool = False) -> None:
    ctx.record(SOURCE, "requests_per_s", sample.requests_per_s, unit="req/s")
    # No completed request, no error rate or latency: a gap is honest, a zero would be made up.
    if sample.error_rate is not None:
        ctx.record(SOURCE, "error_rate", sample.error_rate)
    if sample.latency_p95_ms is not None:
        ctx.record(SOURCE, "latency_p95_ms", sample.latency_p95_ms, unit="ms")
    record_counts(ctx.record, SOURCE, sample.requests, sample.errors, sample.unavailable,
                  zip(STANDARD_BOUNDS_MS, sample.buckets, strict=True), every_bucket=first)
