"""The alerts component: evaluates the rules every second on the engine's loop (reading the ring
buffers is cheap: no I/O), records every transition as an event, owns the `alerts.silence` and
`alerts.unsilence` commands (audited by the engine), and contributes AlertView tuples.

On start, silences still running are restored from the history (read in a worker thread), and
so is the part of each rule window from before the start (feed.py says why and when else).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from engine import eventcodes as ev
from engine.alerts.config import AlertRule, window_spans
from engine.alerts.evaluator import EVALUATE_EVERY, AlertEvaluator, AlertEvent, clock_text
from engine.alerts.feed import Gap, Key, WindowFeed
from engine.alerts.silences import MAX_DURATION, parse_request
from engine.commands import Command, CommandResult
from engine.component import EngineContext
from engine.store import StoreError, open_reader
from engine.units import format_duration

log = logging.getLogger("opsconsole.alerts")


class AlertsComponent:
    name = "alerts"

    def __init__(self, rules: list[AlertRule], *, clock: Callable[[], float] = time.time) -> None:
        self.evaluator = AlertEvaluator(rules, clock=clock)
        self.feed = WindowFeed(window_spans(rules))
        self._registered = False
        self._history_warned = False

    def snapshot_fields(self) -> dict[str, Any]:
        return {"alerts": self.evaluator.views(), "silences": self.evaluator.silence_views()}

    async def run(self, ctx: EngineContext) -> None:
        if not self._registered:  # once per engine, also when the supervisor restarts us
            ctx.register_command("alerts.silence", lambda c: self._silence(ctx, c))
            ctx.register_command("alerts.unsilence", lambda c: self._unsilence(ctx, c))
            self._registered = True
            await self._restore_silences(ctx)
        next_at = time.monotonic()
        while True:
            await ctx.wait_running()
            gaps = self.feed.take(ctx.series, self.evaluator.clock())
            if gaps:  # at start, or after the ring moved on unseen: rare, and in a thread
                await self._fill_windows(ctx, gaps)
            self._emit(ctx, self.evaluator.evaluate(self.feed.lookup(ctx.series)))
            next_at = max(next_at + EVALUATE_EVERY, time.monotonic())
            await asyncio.sleep(next_at - time.monotonic())

    @staticmethod
    def _emit(ctx: EngineContext, events: list[AlertEvent]) -> None:
        for e in events:
            ctx.event(e.code, e.severity, e.source, e.message, e.data)

    async def _restore_silences(self, ctx: EngineContext) -> None:
        now = self.evaluator.clock()
        path = ctx.store.path
        if not path.exists():
            return
        try:
            # After a config reload, a silence set a moment ago may still be in the writer's buffer.
            await asyncio.to_thread(ctx.store.flush)
            events = await asyncio.to_thread(_read_alert_events, path, now - MAX_DURATION)
        except StoreError as exc:  # the history is unreadable: silences start empty, and we say so
            ctx.event(ev.SILENCES_UNREAD, "warning", "alerts", f"silences not restored from the history: {exc}",
                      {"error": str(exc)})
            return
        restored = self.evaluator.silences.restore(events, now, set(self.evaluator.rules))
        if restored:
            names = ", ".join(f"{s.rule} (until {clock_text(s.expires)})" for s in restored)
            ctx.event(ev.SILENCES_RESTORED, "info", "alerts",
                      f"restored {len(restored)} silence(s) from the history: {names}", {"count": len(restored)})

    async def _fill_windows(self, ctx: EngineContext, gaps: dict[Key, Gap]) -> None:
        path = ctx.store.path
        try:
            if path.exists():
                await asyncio.to_thread(ctx.store.flush)
                read = await asyncio.to_thread(_read_windows, path, gaps)
                for key, points in read.items():
                    self.feed.fill(key, points, gaps[key])
                return
        except StoreError as exc:  # the windows hold what the rings give; said once
            if not self._history_warned:
                self._history_warned = True
                ctx.event(ev.ALERT_WINDOWS_UNREAD, "warning", "alerts", f"rule windows not read from the history "
                          f"(they hold what this engine recorded since it started): {exc}", {"error": str(exc)})
        for key in gaps:
            self.feed.give_up(key)

    async def _silence(self, ctx: EngineContext, command: Command) -> CommandResult:
        try:
            rule, comment, seconds = parse_request(command.args, set(self.evaluator.rules))
        except ValueError as exc:
            return CommandResult.refused(f"not silenced: {exc}")
        silence, event = self.evaluator.silence(rule, command.actor.describe(), comment, seconds)
        self._emit(ctx, [event])
        return CommandResult(True, f"{rule} silenced for {format_duration(seconds)}, until "
                             f"{clock_text(silence.expires)}", {"silence": silence.as_data()})

    async def _unsilence(self, ctx: EngineContext, command: Command) -> CommandResult:
        rule = command.args.get("rule")
        if rule not in self.evaluator.rules:
            return CommandResult.refused(f"no alert rule named {rule!r}")
        events = self.evaluator.unsilence(rule, command.actor.describe())
        if not events:
            return CommandResult(True, f"{rule} had no silence")
        self._emit(ctx, events)
        return CommandResult(True, f"{rule}: {len(events)} silence(s) lifted")


def _read_windows(path: Any, gaps: dict[Key, Gap]) -> dict[Key, list[tuple[float, float]]]:
    with open_reader(path) as reader:
        return {key: reader.series(key[0], key[1], t0, t1) for key, (t0, t1) in gaps.items()}


def _read_alert_events(path: Any, since: float) -> list[dict[str, Any]]:
    with open_reader(path) as reader:
        return reader.events(t0=since, kinds=["alert"], limit=100_000)
