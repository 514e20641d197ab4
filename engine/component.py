"""What the engine runs: components, supervised, each given an EngineContext.

A component is an object with a `name` and an `async run(ctx)` that runs until cancelled. If it
raises, the supervisor (engine/supervisor.py) records the error, shows it on screen and restarts it
with backoff. A `ComponentError` is an expected failure with a sentence for the operator (logged
without a traceback); any other exception is a bug and is logged with its traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from engine.commands import Command, CommandResult
from engine.config.schema import Config
from engine.eventcodes import EventCode
from engine.snapshot import SeriesView, Snapshot

if TYPE_CHECKING:
    from engine.store import Store


class ComponentError(Exception):
    """An expected failure, e.g. "demo: port 8470 on 127.0.0.1 is already in use"."""


class EngineContext(Protocol):
    """What a component may use. Implemented by engine/runtime.py's Engine."""

    config: Config

    @property
    def store(self) -> Store:
        """For parts with their own records (watched-files ledger, rollouts); read-only: the
        engine opens it before any component runs."""
        ...

    def record(self, source: str, metric: str, value: float, *, t: float | None = None, unit: str = "") -> None:
        """A sample (wall time `t`, default now): into the live ring buffers and the store."""

    def event(
        self, code: EventCode, severity: str, source: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        """An event (its code from engine/eventcodes.py): into the snapshot's recent events, the
        store, and the log."""

    @property
    def paused(self) -> bool: ...

    async def wait_running(self) -> None:
        """Return at once unless the engine is paused; then wait for resume. Call before each cycle."""

    def series(self, source: str, metric: str) -> SeriesView | None:
        """The recent points of a series (the same ring buffers the panels draw)."""

    def snapshot(self) -> Snapshot:
        """The engine's last published Snapshot (for parts that judge others' state: the canary)."""

    def metrics_of(self, source: str) -> tuple[str, ...]:
        """The metrics recorded for a source so far (its count and latency-bucket series)."""

    def register_command(self, name: str, handler: Callable[[Command], Awaitable[CommandResult]]) -> None:
        """Own a verb (e.g. "rollout.rollback"); the engine audits every call."""


@runtime_checkable
class Component(Protocol):
    name: str

    async def run(self, ctx: EngineContext) -> None: ...


@runtime_checkable
class SnapshotContributor(Protocol):
    """A component that owns part of the Snapshot (targets, gaps, health, alerts, rollout, ...).

    Called on the engine's loop each time a snapshot is built; returns Snapshot field names mapped
    to values. Tuple fields from several contributors are concatenated; `configured` is not theirs.
    It must be cheap: return prebuilt immutable views, do no I/O.
    """

    def snapshot_fields(self) -> dict[str, Any]: ...
