"""The Engine: runs components on its own asyncio loop, publishes Snapshots, executes Commands.

Embedded (the TUI): `start()` runs the loop in a daemon thread, so engine work never runs on the
UI's loop. Headless: `await engine.serve()` runs it on the caller's loop. Either way the console
only calls `snapshot()` (returns the last published, immutable object: no locks, no I/O) and
`submit()` (schedules the command on the engine's loop and returns a Future).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from engine import eventcodes as ev
from engine import secrets
from engine.backup.component import BackupComponent
from engine.cadence import sleep_to_tick
from engine.commands import Command, CommandResult
from engine.component import Component, SnapshotContributor
from engine.config.loader import LoadedConfig
from engine.config.schema import Config
from engine.control.server import ControlServer
from engine.errorbook import ErrorBook, context_text
from engine.eventcodes import EventCode
from engine.gaps import GapTracker
from engine.heap import freeze_startup_objects
from engine.history.runs import run_record
from engine.lock import CONSOLE, HEADLESS, EngineLock
from engine.monitor.host import HostMonitor
from engine.monitor.processes import ProcessMonitor
from engine.retention import RetentionComponent
from engine.selfmetrics import EngineCounters, SelfMetrics
from engine.series import SeriesBuffers
from engine.snapshot import RECENT_EVENTS, EngineState, EventView, SeriesView, Snapshot, SourceMode
from engine.statelog import StateRecorder
from engine.store import Store, StoreError
from engine.supervisor import Supervisor

log = logging.getLogger("opsconsole.engine")

CommandHandler = Callable[[Command], Awaitable[CommandResult]]
COMMIT_WAIT = 2.0  # seconds a verb's answer waits for its audit row to be committed
# Sections a reload keeps as they were (they take effect at the next start): the open history and
# its lock, and the log handlers the CLI set up.
NOT_RELOADABLE = ("store", "logging")


class EngineStartError(Exception):
    """The engine could not start; str() is a sentence for the operator."""


def configured_parts(config: Config) -> frozenset[str]:
    """Which panels have a configured source, so an empty panel can say why instead of showing 0."""
    parts = set()
    if config.monitor.host.enabled:
        parts.add("monitor")
    if config.demo.enabled:
        parts.add("demo")
    for section in ("watch", "collect", "health", "alerts", "canary", "backup"):
        if getattr(config, section, None):
            parts.add(section)
    return frozenset(parts)


class Engine:
    mode = SourceMode.LIVE

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        read_only: bool = False,
        components: Sequence[Component] | None = None,
        headless: bool = False,
        freeze_heap: bool = False,
    ) -> None:
        self.loaded = loaded
        self.freeze_heap = freeze_heap  # the program's own engine: engine/heap.py, once it is running
        self.config = loaded.config
        self.read_only = read_only
        self.headless = headless  # no terminal to lose: a running rollout is not paused on stop
        self.started_at = time.time()
        self._extra_components = list(components or ())
        self._series = SeriesBuffers()
        self._errors = ErrorBook()
        self._states = StateRecorder()
        self._events: deque[EventView] = deque(maxlen=RECENT_EVENTS)
        self._errors_total = 0
        self._state = EngineState.STARTING
        self._store: Store | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._running: asyncio.Event | None = None
        self._supervisor: Supervisor | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._store_error_seen: str | None = None
        self._handlers: dict[str, CommandHandler] = self._own_commands()
        self._contributors: list[SnapshotContributor] = []
        self._engine_lock: EngineLock | None = None
        self._command_lock = asyncio.Lock()  # one command (or reload) at a time, whoever sends it
        # Every series with an expected cadence: parts call self.gaps.expect(...) when built.
        self.gaps = self._new_gap_tracker(self.started_at)
        self._snapshot = self._build_snapshot()

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 10.0) -> None:
        """Embedded mode: run the engine's loop in a thread; return once it is running."""
        self._thread = threading.Thread(target=self._thread_main, name="opsconsole-engine", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise EngineStartError(f"the engine did not start within {timeout:.0f}s")
        if self._start_error is not None:
            raise self._start_error

    def stop(self, timeout: float = 3.0) -> None:
        """Stop components, flush the store, join the thread. Safe to call twice."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # loop already closed between the check and the call
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("engine thread did not stop within %.1fs", timeout)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self.serve())
        except BaseException as exc:  # surfaced to start() if it happened before the engine was ready
            if not self._ready.is_set():
                self._start_error = exc
                self._ready.set()
            else:
                log.exception("engine loop ended with an error")

    @property
    def running(self) -> bool:
        """Started and not stopping (paused counts as running)."""
        return self._state in (EngineState.RUNNING, EngineState.PAUSED)

    async def serve(self) -> None:
        """Run until stop() (or cancellation). Headless mode awaits this on the main thread."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._running = asyncio.Event()
        self._running.set()
        # One writer per database: refuse before touching it (engine/lock.py).
        self._engine_lock = EngineLock.acquire(self.config.store.path, HEADLESS if self.headless else CONSOLE)
        try:
            self._store = Store.open(self.config.store.path, self.config.store)
        except BaseException:
            self._engine_lock.release()
            raise
        try:
            self._supervisor = Supervisor(self, self.config.engine.supervisor)
            self._start_components()
            self._state = EngineState.RUNNING
            # The run record makes the history self-describing for review (engine/history/runs.py).
            components = [view.name for view in self._supervisor.views()]
            self.event(ev.ENGINE_STARTED, "info", "engine", f"engine started (config {self._config_name()})",
                       run_record(self.loaded, configured_parts(self.config), components, self.read_only))
            publisher = asyncio.create_task(self._publish_forever(), name="snapshot-publisher")
            self._publish()
            self._ready.set()
            if self.freeze_heap:
                log.info("start-up objects frozen for the collector: %d", freeze_startup_objects())
            try:
                await self._stop.wait()
            finally:
                self._state = EngineState.STOPPING
                publisher.cancel()
                await self._supervisor.stop_all()
                self.event(ev.ENGINE_STOPPED, "info", "engine", "engine stopped")
                self._state = EngineState.STOPPED
                self._publish()
        finally:
            self._store.close()
            self._engine_lock.release()

    def _start_components(self) -> None:
        assert self._supervisor is not None
        for component in self._build_components():
            if isinstance(component, SnapshotContributor):
                self._contributors.append(component)
            self._supervisor.start(component)

    async def reload(self, loaded: LoadedConfig) -> list[str]:
        """Restart every component with a new config, already validated by the caller.

        Everything built from the config is rebuilt (collectors, monitors, health, alerts, canary,
        demo, exporters, the supervisor's backoff); the series buffers, recent events and errors
        are kept. The NOT_RELOADABLE sections keep their running values: returned are those that
        changed, to take effect at the next start. Runs under the command lock, so no command
        meets half-rebuilt components. Like a restart, a rollout that was running comes back
        paused at its stage (the canary's recovery), with its traffic unchanged.
        """
        async with self._command_lock:
            old = self.config
            kept = [name for name in NOT_RELOADABLE if getattr(loaded.config, name) != getattr(old, name)]
            config = loaded.config.model_copy(update={name: getattr(old, name) for name in NOT_RELOADABLE})
            assert self._supervisor is not None, "reload() is called while serve() runs"
            await self._supervisor.stop_all()
            self.loaded, self.config = dataclasses.replace(loaded, config=config), config
            self._handlers = self._own_commands()
            self._contributors = []
            self.gaps = self._new_gap_tracker(time.time())  # like a restart: expectations come from the new parts
            self._supervisor = Supervisor(self, config.engine.supervisor)
            self._start_components()
            self._publish()
        later = f"; {', '.join(kept)} changed: takes effect at the next start" if kept else ""
        self.event(ev.CONFIG_RELOADED, "info", "engine", f"config reloaded ({self._config_name()}): components restarted{later}")
        return kept

    def _own_commands(self) -> dict[str, CommandHandler]:
        return {"pause": self._pause, "resume": self._resume}

    def _new_gap_tracker(self, started_at: float) -> GapTracker:
        return GapTracker(started_at, self.config.collect.gap_factor if self.config.collect else 2.5)

    def _build_components(self) -> list[Component]:
        """Every configured part, in one place. Later parts (watch, collect, ...) are added here."""
        components: list[Component] = [self.gaps]
        if self.config.monitor.host.enabled:
            components.append(HostMonitor(self.config.monitor.host))
            self.gaps.expect("host", self.config.monitor.host.interval)
        components.append(SelfMetrics(self.config.engine.self_metrics_interval, self._counters, self.started_at))
        components.append(RetentionComponent(self.config.store))
        components.append(BackupComponent(self.config.backup))  # also owns the `backup` command
        if self.config.monitor.processes:
            components.append(ProcessMonitor(self.config.monitor, self.gaps))
        if self.config.health:
            from engine.health.component import HealthComponent  # only when used: httpx stays unloaded

            components.append(HealthComponent(self.config.health, self.config.store.path.parent))
        if self.config.alerts:
            from engine.alerts.component import AlertsComponent

            components.append(AlertsComponent(self.config.alerts))
        if self.config.demo.enabled:
            from engine.demo import DemoComponent  # imported only when used: keeps start-up lean

            components.append(DemoComponent(self.config.demo))
        if self.config.canary is not None:
            from engine.canary.component import CanaryComponent  # only when used: keeps start-up lean

            components.append(CanaryComponent(self.config.canary, pause_on_stop=not self.headless))
        if self.config.collect:
            from engine.collect.component import CollectComponent  # only when used: httpx/prometheus stay unloaded

            components.append(CollectComponent(self.config.collect, self.gaps))
        if self.config.watch:
            from engine.watch.sources import build_sources  # only when used: watchfiles stays unloaded

            components.extend(build_sources(self.config.watch))
        components.append(ControlServer(self, self.config.store.path))  # attach and CLI verbs: a private Unix socket
        if self.config.export.prometheus is not None:
            from engine.export.component import PrometheusExporter  # only when used: prometheus-client stays unloaded

            components.append(PrometheusExporter(self.config.export.prometheus, self.snapshot))
        if self.config.export.alertmanager is not None:
            from engine.alertmanager.component import AlertmanagerPusher

            components.append(AlertmanagerPusher(self.config.export.alertmanager, self.snapshot))
        components.extend(self._extra_components)
        return components

    # ------------------------------------------------------------------ EngineContext
    @property
    def paused(self) -> bool:
        return self._state == EngineState.PAUSED

    async def wait_running(self) -> None:
        assert self._running is not None, "wait_running() is called from components, after serve()"
        await self._running.wait()

    @property
    def store(self) -> Store:
        assert self._store is not None, "the store is opened by serve(), before any component runs"
        return self._store

    def series(self, source: str, metric: str) -> SeriesView | None:
        return self._series.view(source, metric)

    def metrics_of(self, source: str) -> tuple[str, ...]:
        return self._series.metrics(source)

    def record(self, source: str, metric: str, value: float, *, t: float | None = None, unit: str = "") -> None:
        t = time.time() if t is None else t
        value = float(value)
        self._series.append(source, metric, t, value, unit)
        self.gaps.observe(source, metric, t)
        if self._store is not None:
            self._store.add_sample(t, source, metric, value, unit=unit)

    def event(
        self, code: EventCode, severity: str, source: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        t = time.time()
        message = secrets.redact(message)
        self._events.append(EventView(t, code.kind, severity, source, message))
        if severity in ("warning", "critical"):
            self._errors_total += 1
            self._errors.add(t, source, message, context=context_text(code.kind, data))
        if self._store is not None:
            self._store.add_event(t, code, severity, source, message, data)
        level = {"critical": logging.ERROR, "warning": logging.WARNING}.get(severity, logging.INFO)
        log.log(level, "%s/%s: %s", code.kind, source, message)

    # ------------------------------------------------------------------ SnapshotSource
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def history_path(self) -> Path:
        """The history file this engine writes: the console's event log and rollout timeline
        read it alongside the engine."""
        return self.config.store.path

    def submit(self, command: Command) -> concurrent.futures.Future[CommandResult]:
        loop = self._loop
        if loop is None or loop.is_closed() or self._state in (EngineState.STOPPING, EngineState.STOPPED):
            done: concurrent.futures.Future[CommandResult] = concurrent.futures.Future()
            done.set_result(CommandResult.refused(f"{command.name}: the engine is not running"))
            return done
        return asyncio.run_coroutine_threadsafe(self.execute(command), loop)

    def close(self) -> None:
        self.stop()

    def register_command(self, name: str, handler: CommandHandler) -> None:
        """Parts that own a verb (canary: promote, rollback, ...) register it here."""
        if name in self._handlers:
            raise ValueError(f"command {name!r} is already registered")
        self._handlers[name] = handler

    async def execute(self, command: Command) -> CommandResult:
        """Run a command on the engine's loop, audit it, and publish its effect at once. Commands run
        one at a time, whoever sends them (the console, attached consoles, CLI verbs)."""
        async with self._command_lock:
            return await self._execute(command)

    async def _execute(self, command: Command) -> CommandResult:
        handler = self._handlers.get(command.name)
        if self.read_only:
            result = CommandResult.refused(f"read-only mode: {command.name} is disabled")
        elif handler is None:
            result = CommandResult.refused(f"unknown command {command.name!r}")
        else:
            try:
                result = await handler(command)
            except Exception as exc:  # a failing verb is reported to the operator, never swallowed
                log.exception("command %s failed", command.name)
                result = CommandResult(False, f"{command.name} failed: {type(exc).__name__}: {exc}")
        if self._store is not None:
            # A verb may add what the operator saw when acting (stage, weight, metrics) to its audit row.
            args = {**command.args, "context": result.audit} if result.audit else command.args
            self._store.add_audit(time.time(), command.actor, command.name, args, result.message, result.ok)
            await self._commit_before_answering(command)
        self._publish()
        return result

    async def _commit_before_answering(self, command: Command) -> None:
        """An answered verb is on disk: a crash right after the operator saw "done" must not lose
        its audit row or its events. A store that cannot write is already on screen (critical
        event, notice): then the answer does not wait for the disk."""
        assert self._store is not None
        if self._store.stats.last_error is not None:
            return
        try:
            await asyncio.to_thread(self._store.flush, COMMIT_WAIT)
        except StoreError as exc:
            log.error("command %s: its audit row is not on disk yet: %s", command.name, exc)

    # ------------------------------------------------------------------ commands
    async def _pause(self, command: Command) -> CommandResult:
        if self._state == EngineState.PAUSED:
            return CommandResult(True, "already paused")
        assert self._running is not None
        self._running.clear()
        self._state = EngineState.PAUSED
        self.event(ev.ENGINE_PAUSED, "info", "engine", f"engine paused by {command.actor.describe()}",
                   {"actor": command.actor.describe()})
        return CommandResult(True, "paused: collection and analysis stopped")

    async def _resume(self, command: Command) -> CommandResult:
        if self._state != EngineState.PAUSED:
            return CommandResult(True, "already running")
        assert self._running is not None
        self._running.set()
        self._state = EngineState.RUNNING
        self.event(ev.ENGINE_RESUMED, "info", "engine", f"engine resumed by {command.actor.describe()}",
                   {"actor": command.actor.describe()})
        return CommandResult(True, "resumed")

    # ------------------------------------------------------------------ snapshots
    async def _publish_forever(self) -> None:
        while True:
            await sleep_to_tick(self.config.engine.snapshot_interval)  # read each time: reloadable
            self._check_store()
            self._publish()

    def _check_store(self) -> None:
        """A store that cannot write (disk full, read-only) is news for the operator, once per cause."""
        error = self._store.stats.last_error if self._store is not None else None
        if error != self._store_error_seen:
            if error:
                self.event(ev.STORE_WRITE_FAILED, "critical", "store", f"history is not being written: {error}",
                           {"error": error})
            elif self._store_error_seen:
                self.event(ev.STORE_WRITE_RESUMED, "info", "store", "history writes resumed")
            self._store_error_seen = error

    def _publish(self) -> None:
        self._snapshot = snapshot = self._build_snapshot()
        if self._store is not None:  # review reads the state as it was (engine/statelog.py)
            for part, body in self._states.changes(snapshot):
                self._store.add_state(snapshot.taken_at, part, body)

    def _build_snapshot(self) -> Snapshot:
        store_error = self._store.stats.last_error if self._store is not None else None
        contributed: dict[str, Any] = {}
        for contributor in self._contributors:
            for name, value in contributor.snapshot_fields().items():
                old = contributed.get(name)
                contributed[name] = old + value if isinstance(old, tuple) and isinstance(value, tuple) else value
        errors = self._errors.groups() + contributed.pop("errors", ())
        events = tuple(self._events)
        return Snapshot(
            taken_at=time.time(),
            mode=SourceMode.LIVE,
            state=self._state,
            config_name=self._config_name(),
            profile=self.loaded.profile,
            read_only=self.read_only,
            started_at=self.started_at,
            configured=configured_parts(self.config),
            series=self._series.views(),
            components=self._supervisor.views() if self._supervisor else (),
            errors=errors,
            events=events,
            notice=f"store: {store_error}" if store_error else contributed.pop("notice", ""),
            **contributed,
        )

    def _counters(self) -> EngineCounters:
        stats = self._store.stats if self._store is not None else None
        return EngineCounters(
            samples_total=self._series.version,
            errors_total=self._errors_total,
            flush_ms=stats.last_flush_ms if stats else None,
            dropped_samples=stats.dropped_samples if stats else 0,
        )

    def _config_name(self) -> str:
        return self.loaded.path.name if self.loaded.path else "built-in defaults"
