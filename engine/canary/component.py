"""The canary as an engine component: analysis every interval, automatic promotion and rollback,
the operator's verbs as engine commands, the rollout in the store at all times.

- Verbs are commands (`rollout.start`, `rollout.promote`, `rollout.promote_full`, `rollout.pause`,
  `rollout.resume`, `rollout.freeze`, `rollout.rollback`), so the console, the CLI and an attached
  console all go through the engine, which audits each one; the result carries the stage, weight
  and metrics of that moment for the audit row. Automatic decisions write their own audit rows.
- Everything that changes the rollout runs under one asyncio.Lock, as a task shielded from
  cancellation: two rollback presses, or a manual and an automatic rollback, actuate once, and
  stopping the engine never interrupts an actuation half-way.
- Restart: an unfinished rollout comes back paused at its stage (statemachine.recover); its weight
  is re-applied (actuators are idempotent) so the traffic matches the record.
- Stop (the console closing, a dropped SSH session): a running rollout is paused at its weight and
  recorded before the store closes; `pause_on_stop=False` (headless) leaves it running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from engine import eventcodes as ev
from engine.cadence import sleep_to_tick
from engine.canary.actuators import ActuatorConfigError, build_actuator, needs_http_client
from engine.canary.actuators.base import Actuation, Actuator, ActuatorError, Report, apply_with_retries
from engine.canary.analysis import NONE, PAUSE, ROLLBACK, Analysis, CheckResult, Reading
from engine.canary.checking import UP_SERIES, check_context
from engine.canary.config import CanaryConfig
from engine.canary.down import down_cause
from engine.canary.gates import check_gate
from engine.canary.readings import Points
from engine.canary.statemachine import HOLDING, Refused, RolloutMachine, Status, Transition, Verb, clock_text
from engine.canary.view import build_view
from engine.canary.window import SeriesWindow
from engine.collect.http1 import HttpClient
from engine.commands import ENGINE_ACTOR, Actor, Command, CommandResult
from engine.component import ComponentError, EngineContext
from engine.snapshot import RolloutView
from engine.store.errors import StoreError
from engine.store.reader import open_reader
from engine.units import format_duration
from engine.verbs import VERB_SPECS

if TYPE_CHECKING:  # opened only for a gate (_http_client); the actuators use HttpClient
    import httpx

log = logging.getLogger("opsconsole.canary")

SOURCE = "canary"
STOP_WAIT = 1.5  # seconds an in-flight actuation may take to finish when the engine stops
# Seconds between the actuator's warm-ups while a verb can act: under http1's KEEPALIVE (5 s), so a
# verb finds a connection younger than any server's idle timeout we know of (Apache's is 5 s).
WARM_EVERY = 4.0
Op = Callable[..., Awaitable[CommandResult]]
R = TypeVar("R")


class CanaryComponent:
    name = "canary"

    def __init__(
        self,
        config: CanaryConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        pause_on_stop: bool = True,
    ) -> None:
        self.config = config
        self.clock = clock
        self.pause_on_stop = pause_on_stop
        self.machine: RolloutMachine | None = None
        self.last_check: CheckResult | None = None
        self._ctx: EngineContext | None = None
        self._actuator: Actuator | None = None
        self._client: httpx.AsyncClient | None = None
        self._analysis: Analysis | None = None
        self._window: SeriesWindow | None = None
        self._lock = asyncio.Lock()
        self._ops: set[asyncio.Task[Any]] = set()
        self._registered = False
        self._view: RolloutView | None = None
        self._last_decision = ""
        self._alert = ""
        self._held_because = ""  # the last reason an automatic promotion was held (events on change)
        self._frozen_warned = False
        self._previous_check: float | None = None
        self.decided_at: float | None = None  # wall time of the last automatic rollback decision
        self._rollback_why = ""  # kept for retries of a failed rollback: ": <evidence>" or " by alice: <reason>"

    # -- the engine's side ---------------------------------------------------------------------

    def snapshot_fields(self) -> dict[str, Any]:
        return {"rollout": self._view} if self._view is not None else {}

    async def run(self, ctx: EngineContext) -> None:
        config = self.config if self.config is not None else ctx.config.canary
        if config is None:
            raise ComponentError("canary: no canary: section in the config")
        self.config, self._ctx = config, ctx
        self.machine = self._new_machine(config)
        self._analysis = Analysis(config)
        self._window = SeriesWindow(ctx)
        async with _http_client(needs_http_client(config)) as client, HttpClient() as lean:
            self._client = client
            try:
                self._actuator = build_actuator(config, ctx.config.demo, lean)
            except ActuatorConfigError as exc:
                raise ComponentError(str(exc)) from None
            self._register(ctx)
            self._publish()
            try:
                # Under the lock, before any verb: a `start` arriving now waits for the recovery.
                await self._serialized(self._recover)
                if config.auto_start and self.machine.status not in HOLDING | {Status.ROLLING_BACK}:
                    await self._serialized(self._start, ENGINE_ACTOR, "auto_start is on")
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._keep_actuator_warm(), name="canary:warm")
                    await self._loop(ctx, config)
            except asyncio.CancelledError:
                await self._on_stop()
                raise
            finally:
                self._window.close()

    async def _loop(self, ctx: EngineContext, config: CanaryConfig) -> None:
        next_due = time.monotonic()
        while True:
            next_due += config.interval
            await asyncio.sleep(max(0.0, next_due - time.monotonic()))
            if ctx.paused:  # the engine is paused: no analysis, no decisions
                await ctx.wait_running()
                next_due = time.monotonic()
            await self._serialized(self._check)

    async def _keep_actuator_warm(self) -> None:
        """While a rollback (or any verb) can act, the actuator holds what its call needs open:
        an operator's confirmed key otherwise waited ~100 ms for a TCP handshake on the busy loop
        (bench/reaction.py). A failure is logged once per streak; the verb itself says why it failed."""
        failing = False
        while True:
            await sleep_to_tick(WARM_EVERY)  # on the engine's grid: no wake-up of its own (engine/cadence.py)
            if self._actuator is None or Verb.ROLLBACK not in self.m.verbs():
                continue
            try:
                await self._actuator.warm()
            except (OSError, ActuatorError) as exc:
                if not failing:
                    log.warning("canary: cannot reach the actuator ahead of a verb (%s): %s",
                                self._actuator.describe(), exc)
                failing = True
            else:
                failing = False

    def _new_machine(self, config: CanaryConfig) -> RolloutMachine:
        return RolloutMachine(config.service, config.stages, self.clock, rollback_window=config.rollback_window)

    def _register(self, ctx: EngineContext) -> None:
        if self._registered:  # a restarted component keeps its verbs
            return
        handlers: dict[Verb, Op] = {
            Verb.START: self._start, Verb.PROMOTE: self._promote, Verb.PROMOTE_FULL: self._promote_full,
            Verb.PAUSE: self._pause, Verb.RESUME: self._resume, Verb.FREEZE: self._freeze, Verb.ROLLBACK: self._rollback,
        }
        for spec in VERB_SPECS:  # engine/verbs.py: the console's keys and the CLI come from the same rows
            ctx.register_command(spec.command, self._command_handler(handlers[spec.verb]))
        self._registered = True

    def _command_handler(self, op: Op) -> Callable[[Command], Awaitable[CommandResult]]:
        async def handle(command: Command) -> CommandResult:
            if self.machine is None:
                return CommandResult.refused(f"{command.name}: the canary is not running yet")
            reason = str(command.args.get("reason") or "").strip()
            try:
                return await self._serialized(op, command.actor, reason)
            except Refused as exc:
                return CommandResult(False, str(exc), audit=self._context())

        return handle

    async def _serialized(self, op: Callable[..., Awaitable[R]], *args: Any) -> R:
        """Run `op` under the lock, as a task that a cancellation of the caller does not interrupt."""

        async def locked() -> R:
            async with self._lock:
                try:
                    return await op(*args)
                finally:
                    self._publish()

        task = asyncio.ensure_future(locked())
        self._ops.add(task)
        task.add_done_callback(self._ops.discard)
        return await asyncio.shield(task)

    # -- records -------------------------------------------------------------------------------

    @property
    def ctx(self) -> EngineContext:
        assert self._ctx is not None
        return self._ctx

    @property
    def m(self) -> RolloutMachine:
        assert self.machine is not None
        return self.machine

    def _where(self) -> str:
        r = self.m.rollout
        if r is None:
            return "not started"
        return f"{r.weight}% (stage {r.stage + 1}/{len(self.m.stages)})"

    def _context(self) -> dict[str, Any]:
        """What the audit row keeps: where the rollout was and the metrics of that moment."""
        r = self.m.rollout
        context: dict[str, Any] = {"status": str(self.m.status)}
        if r is not None:
            context.update(rollout_id=r.id, stage=r.stage + 1, stages=len(self.m.stages), weight=r.weight)
        if self.last_check is not None:
            context["metrics"] = self.last_check.evidence()
        return context

    def _record(self, transition: Transition, actor: Actor, severity: str = "info", **data: Any) -> None:
        r = transition.rollout
        self.ctx.store.upsert_rollout(r.row())
        self._last_decision = transition.reason
        self.ctx.event(
            transition.code, severity, SOURCE, transition.reason,
            {"rollout_id": r.id, "from": str(transition.before), "to": str(r.status), "stage": r.stage + 1,
             "weight": r.weight, "actor": actor.describe(), **data},
        )

    def _save_analysis(self) -> None:
        """The counters with the rollout, so a restart or an attach continues the same analysis."""
        r = self.m.rollout
        assert r is not None and self._analysis is not None
        left = r.hold_left if r.hold_deadline is None else max(0.0, r.hold_deadline - self.clock())
        self.ctx.store.upsert_rollout({"id": r.id, "analysis": json.dumps(self._analysis.state()), "hold_left": left})

    def _audit_automatic(self, action: str, message: str, ok: bool, context: dict[str, Any]) -> None:
        self.ctx.store.add_audit(self.clock(), ENGINE_ACTOR, action, {"context": context}, message, ok)

    def _publish(self) -> None:
        if self.config is not None and self.machine is not None:
            self._view = build_view(self.config, self.machine, self.last_check, self._last_decision, self._alert)

    async def _actuate(self, kind: str, weight: int, stage: int) -> Report:
        assert self._actuator is not None and self.config is not None
        r = self.m.rollout
        actuation = Actuation(kind, weight, self.config.service, r.id if r else 0, stage + 1)  # type: ignore[arg-type]
        settings = self.config.actuator
        return await apply_with_retries(self._actuator, actuation, settings.retries, settings.retry_backoff)

    # -- verbs (each runs under the lock) ------------------------------------------------------

    async def _start(self, actor: Actor, reason: str) -> CommandResult:
        m, config = self.m, self.config
        assert config is not None and self._analysis is not None
        m.require(Verb.START)
        rollout_id = self.ctx.store.next_rollout_id()
        by = "auto_start" if actor is ENGINE_ACTOR else f"{actor.describe()}"
        first = config.stages[0].weight
        gate = config.gates.pre_rollout
        if gate is not None:
            assert self._client is not None, "a gate opens the client (needs_http_client)"
            why = await check_gate(self._client, "pre_rollout", gate,
                                   {"service": config.service, "rollout_id": rollout_id, "weight": first})
            if why:
                t = m.abort_start(rollout_id, f"not started: {why}")
                self._record(t, actor, "warning")
                return CommandResult(False, t.reason, audit=self._context())
        report = await self._actuate("set_weight", first, 0)
        if not report.ok:
            t = m.abort_start(rollout_id, f"not started: could not set weight {first}%: {report.detail}")
            self._record(t, actor, "critical", actuation=report.data)
            return CommandResult(False, t.reason, audit=self._context())
        self._analysis.reset()
        self._previous_check = None
        self.last_check = None
        self._alert = self._held_because = ""
        self._frozen_warned = False
        t = m.start(rollout_id, f"started by {by} at {first}% (stage 1/{len(config.stages)})"
                    + (f": {reason}" if reason and actor is not ENGINE_ACTOR else ""))
        self._record(t, actor, actuation=report.detail)
        if actor is ENGINE_ACTOR:
            self._audit_automatic("rollout.start", t.reason, True, self._context())
        return CommandResult(True, t.reason, audit=self._context())

    async def _promote(self, actor: Actor, reason: str, *, automatic: str = "") -> CommandResult:
        """The next stage's weight, or the final promotion from the last stage."""
        m = self.m
        m.require(Verb.PROMOTE)
        if m.at_last_stage:
            return await self._promote_full(actor, reason, automatic=automatic)
        r = m.rollout
        assert r is not None
        context = self._context()
        nxt = r.stage + 1
        weight = m.stage_weight(nxt)
        report = await self._actuate("set_weight", weight, nxt)
        if not report.ok:
            t = m.pause(f"could not promote to {weight}%, held at {r.weight}% and paused: {report.detail}")
            self._record(t, actor, "critical", actuation=report.data)
            if automatic:
                self._audit_automatic("rollout.promote", t.reason, False, context)
            return CommandResult(False, t.reason, audit=context)
        step = f"promoted to {weight}% (stage {nxt + 1}/{len(m.stages)})"
        if automatic:
            text = f"{step}: {automatic}"
        else:
            text = f"{step} by {actor.describe()}" + (f": {reason}" if reason else "")
        t = m.enter_stage(nxt, f"{text} at {clock_text(self.clock())}")
        self._record(t, actor, actuation=report.detail)
        if automatic:
            self._audit_automatic("rollout.promote", t.reason, True, context)
        return CommandResult(True, t.reason, audit=context)

    async def _promote_full(self, actor: Actor, reason: str, *, automatic: str = "") -> CommandResult:
        m = self.m
        m.require(Verb.PROMOTE_FULL)
        context = self._context()
        before = self._where()
        by = f": {automatic}" if automatic else f" by {actor.describe()}" + (f": {reason}" if reason else "")
        # A last stage at 100% already carries all traffic: the promotion ends the rollout there
        # (the actuator's `promote`), it does not move the weight ("to 100% from 100%" read wrong).
        r = m.rollout
        step = (f"at {before}, the canary now the only version" if r is not None and r.weight >= 100
                else f"to 100% from {before}")
        self._record(m.begin_promotion(f"promoting {step}{by}"), actor)
        report = await self._actuate("promote", 100, len(m.stages) - 1)
        if not report.ok:
            t = m.pause(f"promotion to 100% failed, paused at {before}: {report.detail}")
            self._record(t, actor, "critical", actuation=report.data)
            if automatic:
                self._audit_automatic("rollout.promote_full", t.reason, False, context)
            return CommandResult(False, t.reason, audit=context)
        now = self.clock()
        t = m.promoted(f"promoted {step}{by} at {clock_text(now)}{self._window_text(now)}")
        self._record(t, actor, actuation=report.detail)
        if automatic:
            self._audit_automatic("rollout.promote_full", t.reason, True, context)
        return CommandResult(True, t.reason, audit=context)

    def _window_text(self, promoted_at: float) -> str:
        """After a promotion: until when a rollback still undoes it (rollout status prints the decision)."""
        window = self.m.rollback_window
        return f"; rollback possible until {clock_text(promoted_at + window)}" if window > 0 else ""

    async def _pause(self, actor: Actor, reason: str) -> CommandResult:
        self.m.require(Verb.PAUSE)
        context = self._context()
        t = self.m.pause(f"paused at {self._where()} by {actor.describe()}" + (f": {reason}" if reason else ""))
        self._record(t, actor)
        return CommandResult(True, t.reason, audit=context)

    async def _resume(self, actor: Actor, reason: str) -> CommandResult:
        self.m.require(Verb.RESUME)
        context = self._context()
        t = self.m.resume(f"resumed at {self._where()} by {actor.describe()}" + (f": {reason}" if reason else ""))
        self._frozen_warned = False
        self._record(t, actor)
        return CommandResult(True, t.reason, audit=context)

    async def _freeze(self, actor: Actor, reason: str) -> CommandResult:
        self.m.require(Verb.FREEZE)
        context = self._context()
        t = self.m.freeze(f"frozen at {self._where()} by {actor.describe()} (no automatic rollback)"
                          + (f": {reason}" if reason else ""))
        self._record(t, actor)
        return CommandResult(True, t.reason, audit=context)

    async def _rollback(self, actor: Actor, reason: str, *, automatic: bool = False) -> CommandResult:
        """`reason`: the operator's words, or (automatic) the evidence with its time."""
        m = self.m
        r = m.rollout
        if r is not None and r.status is Status.ROLLED_BACK:  # a second press, or the engine got there first
            return CommandResult(True, f"already {r.reason}", audit=self._context())
        m.require(Verb.ROLLBACK)
        assert r is not None and self.config is not None
        context = self._context()
        retry = r.status is Status.ROLLING_BACK
        if r.status is Status.PROMOTED:  # inside the rollback window (require said so): undo the promotion
            self._rollback_why = f" by {actor.describe()}: {reason or 'no reason given'}"
            self._record(m.begin_rollback(f"rolling back the promotion to 100% of {clock_text(r.ended or 0.0)}"
                                          f"{self._rollback_why}"), actor, "warning")
        elif not retry:
            self._rollback_why = f": {reason}" if automatic else f" by {actor.describe()}: {reason or 'no reason given'}"
            decided = {"decided_at": self.decided_at} if automatic and self.decided_at else {}
            self._record(m.begin_rollback(f"rolling back from {self._where()}{self._rollback_why}"), actor,
                         "critical" if automatic else "warning", **decided)
        report = await self._actuate("rollback", 0, r.stage)
        if not report.ok:
            self._alert = (f"ROLLBACK FAILED after {report.attempts} attempts: {report.detail} — "
                           f"retrying every {format_duration(self.config.interval)}")
            self._record(m.note(self._alert), actor, "critical", actuation=report.data, cause="rollback_failed")
            if automatic and not retry:
                self._audit_automatic("rollout.rollback", self._alert, False, context)
            return CommandResult(False, self._alert, audit=context)
        self._alert = ""
        when = "" if automatic else f" at {clock_text(self.clock())}"
        t = m.rolled_back(f"rolled back at {r.weight}%{self._rollback_why}{when}")
        self._record(t, actor, "critical" if automatic else "warning", actuation=report.detail)
        if automatic:
            self._audit_automatic("rollout.rollback", t.reason, True, context)
        return CommandResult(True, t.reason, audit=context)

    # -- analysis ------------------------------------------------------------------------------

    async def _read(self, now: float) -> dict[str, Reading]:
        assert self._analysis is not None and self._window is not None and self.config is not None
        keys = self._analysis.series_keys()
        t0 = now - self.config.analysis_window
        cache: dict[tuple[str, str], Points] = {}  # one read per series per check
        return {key: await self._window.read(key, t0, now, cache) for key in keys}

    async def _check(self) -> CommandResult | None:
        m, config = self.m, self.config
        assert config is not None and self._analysis is not None
        r = m.rollout
        if r is None:
            return None
        if r.status is Status.ROLLING_BACK:  # a rollback that failed: try again, for ever
            return await self._rollback(ENGINE_ACTOR, "", automatic=True)
        if r.status not in HOLDING:
            return None
        now = self.clock()
        readings = await self._read(now)
        down = down_cause(config, self.ctx.snapshot())
        counted, context = check_context(config, r, now, down=down, previous_check=self._previous_check)
        self._previous_check = now
        result = self._analysis.evaluate(readings, count=counted, context=context)
        self.last_check = result
        if counted:
            if result.score is not None:
                self.ctx.record(SOURCE, "score", result.score)
            if config.down.enabled:
                self.ctx.record(*UP_SERIES, 0.0 if down else 1.0)
            self._save_analysis()
        if result.action == NONE:
            if r.status is Status.FROZEN and self._frozen_warned:
                self._alert = ""  # the canary is no longer failing
                self._frozen_warned = False
            return await self._maybe_promote(result)
        decided = f"{result.reason} at {clock_text(self.clock())}"
        if r.status is Status.FROZEN:  # frozen: the only state without automatic rollback
            if result.action == ROLLBACK:
                self._alert = f"frozen with a failing canary: {result.reason} (R rolls back, C resumes the guard)"
                if not self._frozen_warned:
                    self._frozen_warned = True
                    self.ctx.event(ev.ROLLOUT_FROZEN_FAILING, "critical", SOURCE,
                                   f"frozen at {self._where()} with a failing canary, not rolling back: {decided}",
                                   {"rollout_id": r.id, "evidence": result.evidence()})
            return None
        if result.action == ROLLBACK:
            self.decided_at = time.time()  # the reaction benchmark measures from here to the actuator
            return await self._rollback(ENGINE_ACTOR, decided, automatic=True)
        assert result.action == PAUSE
        if r.status is Status.PAUSED:  # already held: still guarded, nothing more to do
            return None
        context_row = self._context()
        t = m.pause(f"paused at {self._where()}: {decided}")
        self._record(t, ENGINE_ACTOR, "warning")
        self._audit_automatic("rollout.pause", t.reason, True, context_row)
        return None

    async def _maybe_promote(self, result: CheckResult) -> CommandResult | None:
        m, config = self.m, self.config
        assert config is not None
        # A check due at the hold's end may wake a few ms early: don't make it wait a whole interval.
        if not (result.clean and m.hold_passed(slack=min(0.5, config.interval / 10))):
            return None
        r = m.rollout
        assert r is not None
        hold = config.stages[r.stage].hold
        gate = config.gates.confirm_promotion
        if gate is not None:
            assert self._client is not None, "a gate opens the client (needs_http_client)"
            why = await check_gate(self._client, "confirm_promotion", gate,
                                   {"service": config.service, "rollout_id": r.id, "stage": r.stage + 1,
                                    "weight": r.weight, "next_weight": m.target_weight()})
            if why:
                if why != self._held_because:  # one event per new reason, not one per check
                    self._held_because = why
                    self._last_decision = f"promotion held at {self._where()}: {why}"
                    self.ctx.event(ev.ROLLOUT_PROMOTION_HELD, "warning", SOURCE, self._last_decision,
                                   {"rollout_id": r.id, "why": why})
                return None
        self._held_because = ""
        held = format_duration(float(hold)) if isinstance(hold, float) else "the stage"
        return await self._promote(ENGINE_ACTOR, "", automatic=f"{held} at {r.weight}% passed with clean checks")

    # -- restart and stop ----------------------------------------------------------------------

    async def _recover(self) -> None:
        """The last rollout from the history (runs under the lock, before any verb)."""
        config = self.config
        assert config is not None

        def latest() -> dict[str, Any] | None:
            with open_reader(self.ctx.store.path) as reader:
                rows = reader.rollouts(config.service, limit=1)
            return rows[0] if rows else None

        try:
            await asyncio.to_thread(self.ctx.store.flush)  # a restarted component reads what it wrote
            row = await asyncio.to_thread(latest)
        except StoreError as exc:
            self.ctx.event(ev.ROLLOUT_HISTORY_UNREAD, "warning", SOURCE,
                           f"cannot read the last rollout from the history: {exc}", {"error": str(exc)})
            return
        if row is None:
            return
        try:
            transition = self.m.recover(row)
        except ValueError:  # a status this version does not know: show it, do not guess
            self.ctx.event(ev.ROLLOUT_UNKNOWN_STATUS, "warning", SOURCE,
                           f"rollout #{row['id']} has an unknown status {row['status']!r} in the history; ignored",
                           {"rollout_id": row["id"], "status": row["status"]})
            self.machine = self._new_machine(config)
            return
        self._last_decision = self.m.rollout.reason if self.m.rollout else ""
        if transition is None:
            return
        self._restore_analysis(row)
        self._record(transition, ENGINE_ACTOR, "warning")
        if transition.after is Status.PAUSED:  # the engine decided this, so the audit says so
            self._audit_automatic("rollout.pause", transition.reason, True, self._context())
        if transition.after is Status.ROLLING_BACK:
            self._rollback_why = ": finishing a rollback interrupted by a restart"
            await self._rollback(ENGINE_ACTOR, "", automatic=True)
            return
        await self._reapply()

    def _restore_analysis(self, row: dict[str, Any]) -> None:
        """The counters of the interrupted rollout: a restart continues the same analysis."""
        assert self._analysis is not None
        try:
            saved = json.loads(row.get("analysis") or "null")
        except ValueError:
            log.warning("canary: rollout #%s has unreadable analysis counters; starting them at zero", row["id"])
            return
        if isinstance(saved, dict):
            self._analysis.restore(saved)

    async def _reapply(self) -> None:
        """After a restart, make the traffic match the record (idempotent set-weight)."""
        r = self.m.rollout
        assert r is not None
        report = await self._actuate("set_weight", r.weight, r.stage)
        if report.ok:
            self.ctx.event(ev.ROLLOUT_REAPPLIED, "info", SOURCE, f"weight {r.weight}% re-applied after the restart",
                           {"rollout_id": r.id, "actuation": report.detail})
        else:
            self.ctx.event(ev.ROLLOUT_REAPPLY_FAILED, "critical", SOURCE,
                           f"could not re-apply weight {r.weight}% after the restart: {report.detail}",
                           {"rollout_id": r.id})

    def _actuation_cut_off(self) -> str:
        """An actuation outlived the stop: traffic may be at the old weight or the new one. Say so
        where an operator looks (an event, the audit, the pause's reason); the next start re-applies
        the recorded weight (`_reapply`), which settles it."""
        r = self.m.rollout
        recorded = f"{r.weight}%" if r is not None else "none"
        message = (f"an actuation was still running {STOP_WAIT:g}s after the engine began to stop and was cut "
                   f"off: the weight traffic gets is uncertain (recorded {recorded}) until it is re-applied at "
                   "the next start")
        log.error("canary: %s", message)
        if r is not None:
            self._record(self.m.note(message), ENGINE_ACTOR, "critical", cause="actuation_cut_off")  # the row says it too
        else:
            self.ctx.event(ev.ROLLOUT_ACTUATION_CUT_OFF, "critical", SOURCE, message)
        self._audit_automatic("rollout.actuation_cut_off", message, False, self._context())
        return f"; weight uncertain: an actuation was cut off (recorded {recorded})"

    async def _on_stop(self) -> None:
        """The engine is stopping: let an actuation finish, then pause a running rollout."""
        pending = [task for task in self._ops if not task.done()]
        cut_off = ""
        if pending:
            _, still = await asyncio.wait(pending, timeout=STOP_WAIT)
            if still and self.machine is not None:
                cut_off = self._actuation_cut_off()
        if not self.pause_on_stop or self.machine is None:
            return
        r = self.m.rollout
        if r is None or r.status not in (Status.RUNNING, Status.WAITING):
            return
        context = self._context()
        t = self.m.pause(f"paused at {self._where()}: the engine is stopping (console closed or terminal hung up)"
                         + cut_off)
        self._record(t, ENGINE_ACTOR, "warning", cause="engine_stopping")
        self._audit_automatic("rollout.pause", t.reason, True, context)
        self._publish()


@contextlib.asynccontextmanager
async def _http_client(needed: bool) -> AsyncIterator[httpx.AsyncClient | None]:
    """The gates' httpx client when a gate is configured, else None: the actuators (the http and
    demo ones on the lean HttpClient) never load httpx (2.9 MB of RSS with its client, docs/performance.md)."""
    if not needed:
        yield None
        return
    import httpx

    async with httpx.AsyncClient() as client:
        yield client
