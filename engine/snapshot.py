"""The one contract between engine and console: an immutable Snapshot, published by a source.

Three sources produce the same Snapshot (DESIGN.md): the live engine in this process, the history
in SQLite at a chosen moment (review), and a headless engine elsewhere on the host (attach). A panel
is written once against this module and works with all three.

Everything here is frozen and built from tuples, so a snapshot can be handed across threads and
compared cheaply: a panel redraws only when the slice it renders is unequal to the last one.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from engine.commands import Command, CommandResult
from engine.verbs import Verb


class EngineState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"


class RolloutStatus(StrEnum):
    """A rollout's status (engine/canary/statemachine.py moves it; everyone else reads it)."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING = "waiting-for-promotion"
    PROMOTING = "promoting"
    PROMOTED = "promoted"
    ROLLING_BACK = "rolling-back"
    ROLLED_BACK = "rolled-back"
    ABORTED = "aborted"
    FROZEN = "frozen"


class HealthStatus(StrEnum):
    """A Health panel line's status (HealthView.status): a check, a watch source, the backup line."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"
    RUNNING = "RUNNING"  # the backup line while a backup runs


class TargetState(StrEnum):
    """A collection target's state (TargetView.state), as the Gaps panel shows it."""

    PENDING = "PENDING"
    OK = "OK"
    RETRYING = "RETRYING"
    OPEN = "OPEN"  # its circuit breaker is open
    AUTH_FAILED = "AUTH FAILED"
    FAIL = "FAIL"
    DISABLED = "DISABLED"


class Verdict(StrEnum):
    """How a check judged: a rule's state (RuleView.state) or a comparison's verdict (ComparisonView)."""

    PASS = "pass"
    BREACH = "breach"  # a rule over its limit
    HIGH = "high"  # a comparison: the canary above the baseline, or below it
    LOW = "low"
    INCONCLUSIVE = "inconclusive"
    NO_DATA = "no-data"
    ERROR = "error"  # could not measure


# How much of each list a Snapshot holds: the engine keeps as many, and review shows as many.
RECENT_EVENTS = 200
ERROR_GROUPS = 100
RECENT_CLOSED_GAPS = 20


class SourceMode(StrEnum):
    LIVE = "live"
    REVIEW = "review"
    ATTACH = "attach"


def split_series(key: str) -> tuple[str, str]:
    """The inverse of SeriesView.key: "demo:loadgen/error_rate" -> ("demo:loadgen", "error_rate").

    A metric never holds a '/', a source may ("disk:/var"), so the key is split at its last '/'.
    """
    source, _, metric = key.rpartition("/")
    return source, metric


@dataclass(frozen=True)
class SeriesView:
    """The recent points of one series, keyed by (source, metric), e.g. ("host", "mem_pct")."""

    source: str
    metric: str
    times: tuple[float, ...]
    values: tuple[float, ...]
    unit: str = ""

    @property
    def key(self) -> str:
        return f"{self.source}/{self.metric}"

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    @property
    def last_time(self) -> float | None:
        return self.times[-1] if self.times else None


@dataclass(frozen=True)
class ComponentView:
    """A supervised engine component: running, restarting after a crash, waiting, or stopped."""

    name: str
    state: str
    restarts: int = 0
    last_error: str | None = None
    since: float = 0.0


@dataclass(frozen=True)
class HealthView:
    name: str
    status: str  # a HealthStatus value (typed str: see docs/architecture.md, 'Layering, types and lint')
    since: float
    value: str = ""
    limit: str = ""
    detail: str = ""
    components: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AlertView:
    name: str
    state: str  # pending / firing / nodata / resolved (recently)
    severity: str  # critical / warning / info
    since: float
    series: str = ""
    value: float | None = None
    summary: str = ""
    silenced: bool = False  # by a silence or inhibited by a firing critical of the same source
    silenced_by: str = ""  # why muted: "alice until 14:30: deploying fix" / "inhibited by DiskFull"
    runbook: str = ""
    condition: str = ""  # "> 0.01 for 30s"


@dataclass(frozen=True)
class SilenceView:
    """An operator's silence on one alert rule: who, why, until when (engine/alerts/silences.py)."""

    id: str
    rule: str
    author: str
    comment: str
    created: float
    expires: float


@dataclass(frozen=True)
class GapView:
    series: str
    start: float
    end: float | None  # None while the gap is open
    cause: str


@dataclass(frozen=True)
class TargetView:
    """A collection target's state, for the Gaps panel."""

    name: str
    state: str  # a TargetState value (typed str: see docs/architecture.md, 'Layering, types and lint')
    last_error: str | None = None


@dataclass(frozen=True)
class ErrorGroup:
    """Distinct error messages of one source, counted, for the Errors panel."""

    source: str
    message: str
    count: int
    first_seen: float
    last_seen: float
    context: str = ""


@dataclass(frozen=True)
class ProcessView:
    name: str
    pid: int | None
    cpu_pct: float | None
    rss_bytes: int | None
    threads: int | None = None
    fds: int | None = None
    status: str = "running"  # running / not running / no access / starting
    uptime_s: float | None = None
    restarts: int = 0  # times the followed pid changed


@dataclass(frozen=True)
class RuleView:
    """One analysis rule of a rollout: `error_rate 0.4% / 1.0%  1/3 consecutive · 1/10 total`."""

    metric: str
    value: float | None
    limit: float
    consecutive: int
    consecutive_limit: int
    total: int
    total_limit: int | None
    unit: str = ""
    op: str = ">"  # ">" for a max, "<" for a min: which side of `limit` is a breach
    state: str = ""  # a Verdict, "" before the first check
    canary: str = ""  # series keys ("source/metric") for the canary-vs-baseline sparkline
    baseline: str = ""
    n: int | None = None  # requests judged (counted rules), and how many of them were bad
    bad: int | None = None
    why: str = ""  # the cause of inconclusive / no data / down: "12 requests, need 50"
    test: str = ""  # how it was judged: "errors/requests, Wilson 95%"
    window: float | None = None  # seconds of evidence judged


@dataclass(frozen=True)
class ComparisonView:
    """One Mann-Whitney comparison of canary against baseline: pass / high / low / no-data / error."""

    metric: str
    verdict: str  # a Verdict
    failed: bool = False
    critical: bool = False
    canary_mean: float | None = None
    baseline_mean: float | None = None
    p_value: float | None = None
    unit: str = ""
    canary: str = ""  # series keys
    baseline: str = ""
    test: str = ""  # "Fisher", "Mann-Whitney (buckets)", "Mann-Whitney"
    canary_n: str = ""  # "27/1000" (errors/requests) or "n=30"
    baseline_n: str = ""
    why: str = ""  # inconclusive / no data: the cause


@dataclass(frozen=True)
class RolloutView:
    id: int | None
    service: str
    status: RolloutStatus
    stage_index: int
    stages: tuple[tuple[int, str], ...]  # (weight, hold as text: "30s" / "manual" / "")
    weight: int
    target_weight: int
    stage_started: float | None = None
    next_promotion_at: float | None = None
    rules: tuple[RuleView, ...] = ()
    score: float | None = None
    last_decision: str = ""
    verbs: tuple[Verb, ...] = ()  # verbs that make sense right now: promote, pause, rollback, ...
    comparisons: tuple[ComparisonView, ...] = ()
    alert: str = ""  # must be read now, shown in red: "ROLLBACK FAILED: … retrying"
    hold_left: float | None = None  # seconds of hold left while paused or frozen
    measure_errors: int = 0  # provider errors in a row (cannot measure), against measure_error_limit
    measure_error_limit: int = 0
    guarded: bool = True  # automatic rollback is armed (false only while frozen)
    inconclusive: int = 0  # the longest run of inconclusive checks, against inconclusive_limit
    inconclusive_limit: int = 0
    ended: float | None = None  # when a finished rollout ended: time in stage stops counting there
    rollback_until: float | None = None  # a promoted rollout's rollback window closes (open while now < it)


@dataclass(frozen=True)
class EventView:
    time: float
    kind: str  # gap, alert, health, rollout, action, watch, collect, backup, engine
    severity: str  # info, warning, critical
    source: str
    message: str


@dataclass(frozen=True)
class Snapshot:
    """What the console renders. Every collection defaults to empty, never to fake zeros."""

    taken_at: float
    mode: SourceMode
    state: EngineState
    config_name: str = ""
    profile: str | None = None
    read_only: bool = False
    started_at: float | None = None
    configured: frozenset[str] = frozenset()  # parts with a source: watch, collect, health, ...
    series: tuple[SeriesView, ...] = ()
    components: tuple[ComponentView, ...] = ()
    health: tuple[HealthView, ...] = ()
    alerts: tuple[AlertView, ...] = ()
    silences: tuple[SilenceView, ...] = ()  # active ones, soonest to expire first
    gaps: tuple[GapView, ...] = ()
    targets: tuple[TargetView, ...] = ()
    errors: tuple[ErrorGroup, ...] = ()
    processes: tuple[ProcessView, ...] = ()
    rollout: RolloutView | None = None
    events: tuple[EventView, ...] = ()
    notice: str = ""  # one line the engine wants the operator to read (e.g. "store: disk full")
    _index: dict[str, SeriesView] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update((s.key, s) for s in self.series)

    def get(self, source: str, metric: str) -> SeriesView | None:
        return self._index.get(f"{source}/{metric}")


class SnapshotSource(Protocol):
    """Live engine, history, or attached engine: the console needs nothing else."""

    mode: SourceMode

    def snapshot(self) -> Snapshot: ...

    def submit(self, command: Command) -> concurrent.futures.Future[CommandResult]: ...

    def close(self) -> None: ...
