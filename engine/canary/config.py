"""`canary:` — a staged rollout: stages of weight and hold, analysis rules, a comparison against the
baseline, what moves traffic (the actuator) and optional gates. See README "Canary rollouts".

Series are named "source/metric", e.g. "log:access:canary/error_rate" (the source may contain ':',
the metric never contains '/'). Request and argv templates may use {weight}, {stable_weight},
{service}, {rollout_id} and {stage}; an unknown placeholder is a config error, not a runtime one.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from engine.canary import nginxconf
from engine.config.schema import Duration, PositiveDuration, Strict, duration_range, in_range
from engine.units import format_duration, parse_duration
from engine.snapshot import split_series

PLACEHOLDERS = ("weight", "stable_weight", "service", "rollout_id", "stage")
MANUAL = "manual"


def _series_key(text: str) -> str:
    source, metric = split_series(text)
    if not source or not metric:
        raise ValueError(f'expected a series as "source/metric", e.g. "log:access:canary/error_rate", got {text!r}')
    return text


def _template(text: str) -> str:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:  # "Single '}' encountered": say where
        raise ValueError(f"bad template {text!r}: {exc} (write {{{{ or }}}} for a literal brace)") from None
    for name in fields:
        if name not in PLACEHOLDERS:
            raise ValueError(
                f"unknown placeholder {{{name}}} in {text!r}; use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
    return text


def _templates_in(value: Any) -> Any:
    """Check every string inside a JSON body template."""
    if isinstance(value, str):
        _template(value)
    elif isinstance(value, dict):
        for item in value.values():
            _templates_in(item)
    elif isinstance(value, list):
        for item in value:
            _templates_in(item)
    return value


def _hold(value: Any) -> Any:
    if value == MANUAL or value is None:
        return value
    return parse_duration(value)


def _show_hold(value: float | str | None) -> str | None:
    return value if value is None or isinstance(value, str) else format_duration(value)


SeriesKey = Annotated[str, AfterValidator(_series_key)]
Template = Annotated[str, AfterValidator(_template)]
Hold = Annotated[
    float | Literal["manual"] | None,
    BeforeValidator(_hold),
    PlainSerializer(_show_hold, return_type=str | None),
]
Argv = Annotated[list[Template], Field(min_length=1)]
Retries = Annotated[int, in_range(0, 10)]
_UPSTREAM_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# An nginx server address: host:port, [v6]:port or unix:/path. No spaces, ';' or braces, so a
# value can never inject directives into the generated file.
_SERVER = re.compile(r"^[A-Za-z0-9_.:\[\]/-]+$")


def _server(text: str) -> str:
    if not _SERVER.match(text):
        raise ValueError(f"expected a server address like 10.0.0.1:8080 or unix:/run/app.sock, got {text!r}")
    return text


def _upstream_name(text: str) -> str:
    if not _UPSTREAM_NAME.match(text):
        raise ValueError(f"an upstream name is letters, digits, '_', '.' or '-', got {text!r}")
    return text


class Stage(Strict):
    weight: Annotated[int, in_range(1, 100)]
    hold: Hold = None  # a duration, "manual" (wait for the operator), or none on the last stage


def _stages_make_sense(stages: list[Stage]) -> list[Stage]:
    weights = [stage.weight for stage in stages]
    for before, after in zip(weights, weights[1:]):
        if after <= before:
            raise ValueError(f"stage weights must increase, got {before} then {after}")
    for index, stage in enumerate(stages[:-1]):
        if stage.hold is None:
            raise ValueError(f"stages[{index}] (weight {stage.weight}) needs a hold: a duration like 5m, or manual")
    return stages


class Rule(Strict):
    """An absolute threshold on a canary series, with Prometheus-`for` and Argo-`failureLimit`
    counters: `consecutive` breaches in a row, or `total` breaches in the rollout, roll back."""

    series: SeriesKey
    name: str | None = None  # shown; default: the series' metric
    baseline: SeriesKey | None = None  # drawn beside the canary on the panel; not judged
    max: float | None = None
    min: float | None = None
    aggregate: Literal["mean", "max", "last"] = "mean"  # of the samples in the window
    consecutive: Annotated[int, in_range(1, 1000)] = 1
    total: Annotated[int, in_range(1, 100_000)] | None = None
    # Counted rules (a source with request counts: error_rate, latency_pNN_ms): below min_requests
    # (default: canary.min_requests) or min_bad bad requests a check is inconclusive; with a
    # confidence, a breach needs the Wilson bound past the limit, so small n cannot trip it.
    min_requests: Annotated[int, in_range(1, 1_000_000)] | None = None
    min_bad: Annotated[int, in_range(1, 1_000_000)] = 5
    confidence: Annotated[float, in_range(0.5, 0.9999)] | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> "Rule":
        if (self.max is None) == (self.min is None):
            raise ValueError("give exactly one of max or min")
        return self

    @property
    def label(self) -> str:
        return self.name or split_series(self.series)[1]


class Comparison(Strict):
    """Canary against baseline with a Mann-Whitney U test, judged like Kayenta: a significant
    difference in the bad `direction` beyond the allowed effect (ratio of means) fails."""

    canary: SeriesKey
    baseline: SeriesKey
    name: str | None = None
    direction: Literal["increase", "decrease", "either"] = "increase"  # the change that is bad
    allowed_increase: Annotated[float, in_range(1, 1000)] = 1.0  # canary mean / baseline mean
    allowed_decrease: Annotated[float, in_range(0, 1)] = 1.0
    confidence: Annotated[float, in_range(0.5, 0.9999)] = 0.98
    critical: bool = False  # a failing critical metric fails the whole comparison
    min_samples: Annotated[int, in_range(3, 100_000)] = 5  # each side, for series without request counts
    min_requests: Annotated[int, in_range(1, 1_000_000)] | None = None  # each side; default canary.min_requests

    @property
    def label(self) -> str:
        return self.name or split_series(self.canary)[1]


class ScoreConfig(Strict):
    """The comparison's score (share of compared metrics that pass, 0..100): at or above
    `pass_at` passes; from `marginal_at` it is marginal (the rollout pauses for a human); below,
    it is a breach counted like a rule's."""

    pass_at: Annotated[float, in_range(0, 100)] = 95.0
    marginal_at: Annotated[float, in_range(0, 100)] = 75.0
    consecutive: Annotated[int, in_range(1, 1000)] = 2
    total: Annotated[int, in_range(1, 100_000)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "ScoreConfig":
        if self.marginal_at > self.pass_at:
            raise ValueError(f"marginal_at ({self.marginal_at:g}) must not be above pass_at ({self.pass_at:g})")
        return self


class ActuatorBase(Strict):
    timeout: PositiveDuration = 10.0
    retries: Retries = 2  # extra attempts per actuation, `retry_backoff` apart (doubling)
    retry_backoff: PositiveDuration = 0.5


class HttpRequest(Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: Template  # absolute, or relative to the actuator's base_url
    body: Annotated[dict[str, Any] | list[Any] | None, AfterValidator(_templates_in)] = None  # sent as JSON
    headers: dict[str, Template] = {}


class HttpActuatorConfig(ActuatorBase):
    kind: Literal["http"]
    base_url: str = ""
    headers: dict[str, Template] = {}
    set_weight: HttpRequest
    promote: HttpRequest | None = None  # default: set_weight with weight 100
    rollback: HttpRequest | None = None  # default: set_weight with weight 0


class CommandActuatorConfig(ActuatorBase):
    kind: Literal["command"]
    set_weight: Argv
    promote: Argv | None = None  # default: set_weight with weight 100
    rollback: Argv | None = None  # default: set_weight with weight 0
    cwd: Path | None = None  # relative paths are relative to the config file
    timeout: PositiveDuration = 30.0


class NginxActuatorConfig(ActuatorBase):
    kind: Literal["nginx"]
    upstream_file: Path  # the include file this actuator owns and rewrites
    upstream: Annotated[str, AfterValidator(_upstream_name)]
    stable: Annotated[list[Annotated[str, AfterValidator(_server)]], Field(min_length=1)]
    canary: Annotated[list[Annotated[str, AfterValidator(_server)]], Field(min_length=1)]
    nginx: str = "nginx"  # the binary
    args: list[str] = []  # given to both `nginx -t` and `nginx -s reload`, e.g. ["-c", "/etc/nginx/nginx.conf"]
    main_config: Path | None = None
    """The nginx main config that includes upstream_file, given as `-c` to `nginx -t` and `nginx -s reload`."""

    @field_validator("main_config")
    @classmethod
    def _main_config_serves(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """It exists, is not also given as `-c` in args, and includes upstream_file. Skipped for a
        config recorded in a history (context {"recorded": True}): review may run on another machine."""
        if value is None or (info.context or {}).get("recorded"):
            return value
        if any(arg.startswith("-c") for arg in info.data.get("args", [])):
            raise ValueError("give the main config either here or as -c in args, not both")
        if not value.exists():
            raise ValueError(f"{value} does not exist; the nginx main config this upstream file is included from")
        upstream_file, upstream = info.data.get("upstream_file"), info.data.get("upstream")
        if upstream_file is not None and upstream is not None:
            problem = nginxconf.include_problem(value, upstream_file, upstream)
            if problem:
                raise ValueError(problem)
        return value


class DemoActuatorConfig(ActuatorBase):
    kind: Literal["demo"]
    url: str | None = None  # the demo router; default http://127.0.0.1:{demo.port}
    timeout: PositiveDuration = 2.0


ActuatorConfig = Annotated[
    HttpActuatorConfig | CommandActuatorConfig | NginxActuatorConfig | DemoActuatorConfig,
    Field(discriminator="kind"),
]


class Gate(Strict):
    """A Flagger-style webhook: 2xx lets the rollout go on, anything else halts it with the reason."""

    url: str
    method: Literal["GET", "POST"] = "POST"
    timeout: PositiveDuration = 5.0
    headers: dict[str, str] = {}


class Gates(Strict):
    pre_rollout: Gate | None = None  # before the first weight is set; failing aborts the rollout
    confirm_promotion: Gate | None = None  # before each automatic promotion; failing holds the stage


class DownConfig(Strict):
    """When the canary is down rather than quiet: each check that finds it down is a breach of
    the "canary up" check, `consecutive` of them in a row roll back."""

    enabled: bool = True
    targets: list[str] | None = None  # collect targets of the canary; default: the collect:<name> sources of the rules
    health: list[str] = []  # health checks of the canary: FAIL means down
    consecutive: Annotated[int, in_range(1, 1000)] = 3
    min_unavailable: Annotated[int, in_range(1, 1_000_000)] = 3  # 502/503/504 answers, at least half of its requests


class CanaryConfig(Strict):
    service: Annotated[str, Field(min_length=1)]
    interval: Annotated[PositiveDuration, duration_range("50ms", "1h")] = 10.0
    window: Annotated[PositiveDuration, duration_range("100ms", "1d")] | None = None  # default: 3 intervals
    initial_delay: Duration = 0.0  # after each weight change, before checks count
    # Checked on the field, not the model, so the error points at `canary.stages:` and its line.
    stages: Annotated[list[Stage], Field(min_length=1), AfterValidator(_stages_make_sense)]
    rules: list[Rule] = []
    compare: list[Comparison] = []
    score: ScoreConfig = ScoreConfig()
    no_data: Literal["pause", "breach"] = "pause"
    error_limit: Annotated[int, in_range(1, 1000)] = 4  # provider errors in a row before no_data applies
    min_requests: Annotated[int, in_range(1, 1_000_000)] = 50  # per check and side: fewer is inconclusive
    inconclusive_limit: Annotated[int, in_range(1, 10_000)] = 12  # inconclusive checks in a row: pause for a human
    down: DownConfig = DownConfig()
    actuator: ActuatorConfig
    gates: Gates = Gates()
    auto_start: bool = False  # start a rollout when the engine starts and none is in progress

    @property
    def analysis_window(self) -> float:
        return self.window if self.window is not None else 3 * self.interval
