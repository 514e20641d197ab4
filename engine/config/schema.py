"""The typed shape of config.yaml. Every model forbids unknown keys and is frozen.

Validators raise ValueError with a short sentence ("must be 0..100, got 150"); the loader
(engine/config/loader.py) puts "file:line: key.path:" in front of it. Relative paths are resolved
against the config file's directory by the loader, before validation.

Later parts (watch, collect, health, alerts, canary, backup) add their own sections here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
)
from pydantic_core import core_schema

from engine.statedir import state_dir
from engine.units import format_duration, format_size, parse_duration, parse_size


def _positive(seconds: float) -> float:
    if seconds <= 0:
        # format_duration(0) says "0ms", which reads oddly for a "0s" in the file.
        raise ValueError(f"must be greater than 0, got {format_duration(seconds) if seconds else '0s'}")
    return seconds


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value  # "got 2", not "got 2.0"


class Range:
    """An inclusive bound that says "must be LOW..HIGH, got X" (the message operators read), and
    tells the JSON Schema and the reference (engine/config/reference.py) what it allows.

    `shown` is how the bounds are written in YAML ("1..100", or "100ms..1m" for durations)."""

    def __init__(self, low: float, high: float, shown: str | None = None, json_bounds: bool = True) -> None:
        self.low, self.high = low, high
        self.shown = shown or f"{_number(low)}..{_number(high)}"
        self.json_bounds = json_bounds  # a duration's YAML form is text, which JSON bounds cannot judge

    def check(self, value: float) -> float:
        if not (self.low <= value <= self.high):
            shown = format_duration(value) if not self.json_bounds else _number(value)
            raise ValueError(f"must be {self.shown}, got {shown}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        out = handler(schema)
        if self.json_bounds and "type" in out:
            out.update(minimum=_number(self.low), maximum=_number(self.high))
        return out


def in_range(low: float, high: float) -> Range:
    return Range(low, high)


def unique_names(what: str):
    """A list validator: every item's `name` is used once ("alert rule name 'x' is used twice")."""

    def check(items: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for item in items:
            if item.name in seen:
                raise ValueError(f"{what} name {item.name!r} is used twice; names must be unique")
            seen.add(item.name)
        return items

    return AfterValidator(check)


def duration_range(low: str, high: str) -> Range:
    """Like in_range, but speaks in durations: "must be 100ms..1m, got 2m"."""
    return Range(parse_duration(low), parse_duration(high), f"{low}..{high}", json_bounds=False)


class WrittenAs:
    """How a value is written in YAML when that differs from the type inside the program: a
    duration is the float seconds in Python but "5s" in the file. Gives the JSON Schema that
    editors check and the type name the reference shows."""

    def __init__(self, name: str, json_schema: dict[str, Any]) -> None:
        self.name, self.json_schema = name, json_schema

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return handler(source)

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        return dict(self.json_schema)


DURATION_TEXT = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d|w|y)\s*$"
SIZE_TEXT = r"^\s*\d+(\.\d+)?\s*([KkMmGgTt][Ii]?[Bb]|[Bb])?\s*$"
WRITTEN_DURATION = WrittenAs(
    "duration", {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": DURATION_TEXT}]}
)
WRITTEN_SERIES = WrittenAs("series `source/metric`", {"type": "string", "pattern": "^.+/[^/]+$"})
WRITTEN_SIZE = WrittenAs("size", {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": SIZE_TEXT}]})


# Durations are seconds (float) inside the program, strings like "5s" in YAML.
Duration = Annotated[
    float, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str), WRITTEN_DURATION
]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
Size = Annotated[int, BeforeValidator(parse_size), PlainSerializer(format_size, return_type=str), WRITTEN_SIZE]
Port = Annotated[int, in_range(0, 65535)]
Percent = Annotated[float, in_range(0, 100)]
Fraction = Annotated[float, in_range(0, 1)]


def default_state_dir() -> Path:
    """$XDG_STATE_HOME/opsconsole, or ~/.local/state/opsconsole (engine/statedir.py)."""
    return state_dir()


class Strict(BaseModel):
    """Every config model: unknown keys are errors and values are frozen. The docstring under each
    field is its description, read when asked for (engine/config/fielddocs.py): config errors, the
    reference and the JSON Schema show it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionConfig(Strict):
    raw: PositiveDuration = parse_duration("7d")
    """Raw samples older than this are rolled up into minute and hour rows and deleted, e.g. `3d`."""
    minute: PositiveDuration = parse_duration("90d")
    """Minute rows (min, max, avg, count, last per series) older than this are deleted."""
    hour: PositiveDuration = parse_duration("2y")
    """Hour rows older than this are deleted."""
    events: PositiveDuration = parse_duration("365d")
    """Events, audit records and finished rollouts older than this are deleted."""


class StoreConfig(Strict):
    path: Path = Field(default_factory=lambda: default_state_dir() / "history.db")
    """The SQLite history file everything is written to (created 0600 in a 0700 directory), e.g. `/var/lib/opsconsole/history.db`."""
    retention: RetentionConfig = RetentionConfig()
    """How long each kind of row is kept: the history keeps a bounded size however long it runs."""
    flush_interval: Annotated[PositiveDuration, duration_range("10ms", "10s")] = 0.5
    """The writer commits queued rows at least this often, so a crash loses at most this much."""
    flush_rows: Annotated[int, in_range(1, 1_000_000)] = 5000
    """The writer commits as soon as this many rows are queued, without waiting for `flush_interval`."""
    max_buffered_rows: Annotated[int, in_range(1000, 10_000_000)] = 200_000
    """Rows queued in memory while the disk is slow or full; beyond this the oldest are dropped and counted."""
    journal_size_limit: Size = parse_size("64MB")
    """The size SQLite trims its write-ahead log back to after a checkpoint."""
    checkpoint_every: PositiveDuration = 60.0
    """How often the writer folds the write-ahead log into the database file."""


class UiConfig(Strict):
    refresh: Annotated[PositiveDuration, duration_range("100ms", "1m")] = 1.0
    """How often the panels redraw from the engine's latest snapshot, just after the engine builds one (a multiple of `engine.snapshot_interval`)."""
    theme: str = "opsconsole-dark"
    """The colour theme: the name of a file in themes/ without `.tcss` (`t` cycles through them)."""
    color_system: Literal["auto", "truecolor", "256", "16", "mono"] = "auto"
    """Colours the terminal is sent: `auto` detects from the terminal, `mono` sends none."""
    bell: bool = False
    """Ring the terminal bell when a critical alert starts firing."""
    low_bandwidth: bool = False
    """For slow links (mosh, a phone, a jump host): sparklines move every 5s and uncoloured, the clock shows minutes (`--low-bandwidth`); only changed cells are sent either way."""


class FaultConfig(Strict):
    """The demo's fault knob for one version: share of requests that fail, and added latency."""

    error_rate: Fraction = 0.0
    """Share of this version's requests that fail with a 500, 0..1."""
    latency: Duration = 0.0
    """Latency added to each of this version's requests."""


class DemoFaults(Strict):
    baseline: FaultConfig = FaultConfig()
    """Faults of the stable version."""
    canary: FaultConfig = FaultConfig()
    """Faults of the canary version."""



class DemoScenario(Strict):
    """A story for the demo rollout (engine/demo/scenario.py): from this canary weight on, the
    canary fails `error_rate` of its requests. None: the canary stays healthy and promotes."""

    canary_fails_at_weight: Annotated[int, in_range(1, 100)] | None = None
    """From this canary weight on, the canary fails `error_rate` of its requests; unset: it stays healthy and promotes, e.g. `25`."""
    error_rate: Fraction = 0.03
    """Share of the canary's requests that fail once the scenario's weight is reached."""


class DemoConfig(Strict):
    enabled: bool = False
    """Run the built-in demo service (a router, two versions, a load generator) inside this process."""
    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    """The loopback address the demo's servers listen on."""
    port: Port = 0
    """The demo router's port, which splits traffic by the canary weight; 0 picks a free port."""
    baseline_port: Port = 0
    """The stable version's port, so collectors and health checks can name its URL; 0 picks a free port."""
    canary_port: Port = 0
    """The canary version's port; 0 picks a free port."""
    dir: Path = Field(default_factory=lambda: default_state_dir() / "demo")
    """Where the demo writes its access log and its inbox of files to watch."""
    rps: Annotated[float, in_range(0, 1000)] = 20.0
    """Requests per second the demo's load generator sends through the router."""
    canary_weight: Annotated[int, in_range(0, 100)] = 0
    """The canary's share of traffic at start, in percent (a rollout changes it)."""
    inbox_every: PositiveDuration = 2.0
    """How often the demo drops a file into its inbox directory."""
    inbox_keep: Annotated[int, in_range(1, 100_000)] = 200
    """How many inbox files the demo keeps before it deletes the oldest."""
    faults: DemoFaults = DemoFaults()
    """Injected failures and latency per version."""
    scenario: DemoScenario = DemoScenario()
    """A story for the demo rollout: when the canary starts failing."""


class LoggingConfig(Strict):
    file: Path = Field(default_factory=lambda: default_state_dir() / "opsconsole.log")
    """The engine's log file (rotated; secrets are masked), e.g. `/var/log/opsconsole/opsconsole.log`."""
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """The lowest level written to the log file."""
    max_size: Size = parse_size("10MB")
    """The log file is rotated when it reaches this size."""
    keep: Annotated[int, in_range(0, 100)] = 5
    """How many rotated log files are kept."""


class SupervisorConfig(Strict):
    """How a crashed component is restarted: exponential backoff between these bounds."""

    backoff_initial: PositiveDuration = 1.0
    """The wait before the first restart of a crashed component."""
    backoff_max: PositiveDuration = 30.0
    """The longest wait between restarts (the wait doubles up to this)."""


class EngineConfig(Strict):
    supervisor: SupervisorConfig = SupervisorConfig()
    """How crashed engine components are restarted."""
    self_metrics_interval: PositiveDuration = 2.0
    """How often the engine records its own series (RSS, CPU, samples/s, queue lengths)."""
    snapshot_interval: Annotated[PositiveDuration, duration_range("50ms", "10s")] = 1.0
    """How often the engine builds the snapshot the panels, `status` and `attach` read. It and `ui.refresh` both run on multiples of their period, so the console pulls each snapshot just after it is built: keep `ui.refresh` a multiple of it (lower both for livelier panels)."""


# Parts' own sections. Imported here, below the building blocks above, because their modules
# import those (the parts' package __init__ loads this module first to keep that order).
from engine.alerts.config import AlertRules  # noqa: E402
from engine.backup.config import BackupConfig  # noqa: E402
from engine.canary.config import CanaryConfig  # noqa: E402
from engine.collect.config import CollectConfig  # noqa: E402
from engine.export.config import ExportConfig  # noqa: E402
from engine.health.config import HealthChecks  # noqa: E402
from engine.monitor.config import HostMonitorConfig, MonitorConfig  # noqa: E402,F401  (re-exported)
from engine.watch.config import WatchSources  # noqa: E402


class Config(Strict):
    """The whole config. `profiles` are applied (merged) by the loader before validation."""

    store: StoreConfig = Field(default_factory=StoreConfig)  # built per load: its paths follow $XDG_STATE_HOME now
    """The history file and how long it keeps what."""
    ui: UiConfig = UiConfig()
    """The console's look and refresh."""
    demo: DemoConfig = Field(default_factory=DemoConfig)  # built per load: its paths follow $XDG_STATE_HOME now
    """The built-in demo service, for trying opsconsole without a real system."""
    monitor: MonitorConfig = MonitorConfig()
    """Host metrics and watched processes (psutil)."""
    health: HealthChecks = []
    """Health checks, each with a `kind`, shown on the Health panel and recorded as `health:<name>` series."""
    alerts: AlertRules = []
    """Alert rules on series, with `for` durations, severities, silences and notifications."""
    canary: CanaryConfig | None = None
    """A staged canary rollout: stages, analysis rules, comparisons and the actuator that moves traffic; unset: no rollouts."""
    watch: WatchSources = ()
    """Directory and log-file sources (`dir:` or `log:`), recorded as `watch:<name>` and `log:<name>` series."""
    collect: CollectConfig | None = None
    """HTTP targets scraped on an interval (Prometheus text, JSON, health endpoints, PromQL); unset: none."""
    backup: BackupConfig = Field(default_factory=BackupConfig)  # built per load: its paths follow $XDG_STATE_HOME now
    """Online backups of the history file."""
    export: ExportConfig = ExportConfig()
    """Serving opsconsole's data to the monitoring stack a team already runs: Prometheus /metrics, Alertmanager."""
    logging: LoggingConfig = Field(default_factory=LoggingConfig)  # built per load: its paths follow $XDG_STATE_HOME now
    """The engine's own log file."""
    engine: EngineConfig = EngineConfig()
    """The engine's internals: restart backoff and snapshot cadence."""
    profiles: dict[str, dict[str, Any]] = {}
    """Named overlays merged over the rest of the file with `--profile NAME` or $OPSCONSOLE_PROFILE, e.g. `{prod: {ui: {refresh: 2s}}}`."""
