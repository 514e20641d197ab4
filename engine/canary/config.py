"""`canary:` — a staged rollout: stages of weight and hold, analysis rules, a comparison against the
baseline, what moves traffic (the actuator) and optional gates. See README "Canary rollouts".

Series are named "source/metric", e.g. "log:access:canary/error_rate" (the source may contain ':',
the metric never contains '/'). Request and argv templates may use {weight}, {stable_weight},
{service}, {rollout_id} and {stage}; an unknown placeholder is a config error, not a runtime one.
"""

from __future__ import annotations

import re
import string
from itertools import pairwise
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
from engine.config.schema import (
    WRITTEN_DURATION,
    WRITTEN_SERIES,
    Duration,
    PositiveDuration,
    Strict,
    WrittenAs,
    duration_range,
    in_range,
)
from engine.snapshot import split_series
from engine.units import format_duration, parse_duration

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


SeriesKey = Annotated[str, AfterValidator(_series_key), WRITTEN_SERIES]
Template = Annotated[str, AfterValidator(_template)]
Hold = Annotated[
    float | Literal["manual"] | None,
    BeforeValidator(_hold),
    PlainSerializer(_show_hold, return_type=str | None),
    WrittenAs("duration or `manual`", {"anyOf": [*WRITTEN_DURATION.json_schema["anyOf"], {"const": MANUAL}, {"type": "null"}]}),
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
    """The canary's share of traffic in this stage, in percent, e.g. `10`."""
    hold: Hold = None
    """How long the stage runs before automatic promotion: a duration like `5m`, `manual` to wait for the operator, or unset on the last stage."""


def _stages_make_sense(stages: list[Stage]) -> list[Stage]:
    weights = [stage.weight for stage in stages]
    for before, after in pairwise(weights):
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
    """The canary's series this rule judges, as "source/metric", e.g. `log:access:canary/error_rate`."""
    name: str | None = None
    """The name shown on the Rollout panel and in decisions; default: the series' metric, e.g. `error_rate`."""
    baseline: SeriesKey | None = None
    """The baseline's series, drawn beside the canary's on the panel (not judged), e.g. `log:access:stable/error_rate`."""
    max: float | None = None
    """The breach limit from above: a check with the canary over it is a breach, e.g. `0.01` for an error rate of 1%."""
    min: float | None = None
    """The breach limit from below: a check with the canary under it is a breach, e.g. `0.99` for a success rate."""
    aggregate: Literal["mean", "max", "last"] = "mean"
    """How a plain series' samples in the window become one value (counted error-rate and latency rules use the counts instead)."""
    consecutive: Annotated[int, in_range(1, 1000)] = 1
    """Breaches in a row that roll the rollout back (Prometheus' `for`)."""
    total: Annotated[int, in_range(1, 100_000)] | None = None
    """Breaches in the whole rollout that roll it back, in a row or not (Argo's `failureLimit`); unset: no total limit, e.g. `5`."""
    # Counted rules (a source with request counts: error_rate, latency_pNN_ms): below min_requests
    # (default: canary.min_requests) or min_bad bad requests a check is inconclusive; with a
    # confidence, a breach needs the Wilson bound past the limit, so small n cannot trip it.
    min_requests: Annotated[int, in_range(1, 1_000_000)] | None = None
    """For counted rules, the canary's requests a check needs to conclude; fewer is inconclusive; default: `canary.min_requests`, e.g. `100`."""
    min_bad: Annotated[int, in_range(1, 1_000_000)] = 5
    """For counted rules, the bad requests (errors, or slower than the limit) a breach needs; fewer is inconclusive, so one error at low traffic cannot roll back."""
    confidence: Annotated[float, in_range(0.5, 0.9999)] | None = None
    """For counted rules, a breach also needs the Wilson lower bound at this confidence past the limit; unset: the observed rate decides, e.g. `0.95`."""

    @model_validator(mode="after")
    def _one_limit(self) -> Rule:
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
    """The canary's series, as "source/metric", e.g. `log:access:canary/error_rate`."""
    baseline: SeriesKey
    """The baseline's series it is compared with, e.g. `log:access:stable/error_rate`."""
    name: str | None = None
    """The name shown; default: the canary series' metric, e.g. `error_rate`."""
    direction: Literal["increase", "decrease", "either"] = "increase"
    """The change that is bad: `increase` for errors and latency, `decrease` for throughput."""
    allowed_increase: Annotated[float, in_range(1, 1000)] = 1.0
    """How much higher the canary may be (canary mean / baseline mean) before a significant difference fails, e.g. `1.2`."""
    allowed_decrease: Annotated[float, in_range(0, 1)] = 1.0
    """How much lower the canary may be (canary mean / baseline mean) before a significant difference fails, e.g. `0.8`."""
    confidence: Annotated[float, in_range(0.5, 0.9999)] = 0.98
    """The confidence a difference must reach to count (Fisher's exact test on counts, Mann-Whitney otherwise)."""
    critical: bool = False
    """A failing critical metric fails the whole comparison, whatever the score."""
    min_samples: Annotated[int, in_range(3, 100_000)] = 5
    """For series without request counts, samples each side needs in the window; fewer is inconclusive."""
    min_requests: Annotated[int, in_range(1, 1_000_000)] | None = None
    """For counted series, requests each side needs; fewer is inconclusive; default: `canary.min_requests`, e.g. `200`."""

    @property
    def label(self) -> str:
        return self.name or split_series(self.canary)[1]


class ScoreConfig(Strict):
    """The comparison's score (share of compared metrics that pass, 0..100): at or above
    `pass_at` passes; from `marginal_at` it is marginal (the rollout pauses for a human); below,
    it is a breach counted like a rule's."""

    pass_at: Annotated[float, in_range(0, 100)] = 95.0
    """A comparison score (share of compared metrics that pass, 0..100) at or above this passes."""
    marginal_at: Annotated[float, in_range(0, 100)] = 75.0
    """A score from this up to `pass_at` is marginal: the rollout pauses for a human; below it is a breach."""
    consecutive: Annotated[int, in_range(1, 1000)] = 2
    """Failing scores in a row that roll back."""
    total: Annotated[int, in_range(1, 100_000)] | None = None
    """Failing scores in the whole rollout that roll back; unset: no total limit, e.g. `4`."""

    @model_validator(mode="after")
    def _ordered(self) -> ScoreConfig:
        if self.marginal_at > self.pass_at:
            raise ValueError(f"marginal_at ({self.marginal_at:g}) must not be above pass_at ({self.pass_at:g})")
        return self


class ActuatorBase(Strict):
    timeout: PositiveDuration = 10.0
    """How long one actuation may take before it counts as failed."""
    retries: Retries = 2
    """Extra attempts per actuation after a failure, `retry_backoff` apart (doubling)."""
    retry_backoff: PositiveDuration = 0.5
    """The wait before the first retry of a failed actuation."""


class HttpRequest(Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    """The HTTP method."""
    url: Template
    """The URL, absolute or relative to the actuator's `base_url`; may use {weight}, {stable_weight}, {service}, {rollout_id}, {stage}, e.g. `/routes/checkout?canary={weight}`."""
    body: Annotated[dict[str, Any] | list[Any] | None, AfterValidator(_templates_in)] = None
    """A JSON body; strings inside may use the same placeholders as `url`, e.g. `{canary_weight: "{weight}"}`."""
    headers: dict[str, Template] = {}
    """Extra headers of this request (values may use placeholders and `${SECRET}`s), e.g. `{X-Change: "{rollout_id}"}`."""


class HttpActuatorConfig(ActuatorBase):
    kind: Literal["http"]
    """`http`: traffic is moved by HTTP requests to a router or load balancer API."""
    base_url: str = ""
    """Prefix of relative request URLs, e.g. `http://127.0.0.1:8080/api`."""
    headers: dict[str, Template] = {}
    """Headers sent with every request, e.g. `{Authorization: "Bearer ${ROUTER_TOKEN}"}`."""
    set_weight: HttpRequest
    """The request that sets the canary's weight."""
    promote: HttpRequest | None = None
    """The request that sends all traffic to the canary; default: `set_weight` with weight 100."""
    rollback: HttpRequest | None = None
    """The request that sends all traffic back to stable; default: `set_weight` with weight 0."""


class CommandActuatorConfig(ActuatorBase):
    kind: Literal["command"]
    """`command`: traffic is moved by running a program (an argument list, never a shell)."""
    set_weight: Argv
    """The argument list that sets the canary's weight; may use the placeholders, e.g. `[./set-weight, "{service}", "{weight}"]`."""
    promote: Argv | None = None
    """The argument list that sends all traffic to the canary; default: `set_weight` with weight 100, e.g. `[./promote, "{service}"]`."""
    rollback: Argv | None = None
    """The argument list that sends all traffic back to stable; default: `set_weight` with weight 0, e.g. `[./rollback, "{service}"]`."""
    cwd: Path | None = None
    """The directory commands run in; default: the config file's, e.g. `/srv/deploy`."""
    timeout: PositiveDuration = 30.0
    """How long one command may run before it is killed and the actuation fails."""


def _nginx_port(text: str) -> str:
    problem = nginxconf.port_problem(text)
    if problem:
        raise ValueError(problem)
    return text


class NginxActuatorConfig(ActuatorBase):
    kind: Literal["nginx"]
    """`nginx`: weights in an upstream include file that this actuator owns, then `nginx -t` and `nginx -s reload`; a failure puts the old file back."""
    upstream_file: Path
    """The include file holding the `upstream` block, which this actuator rewrites (include it from nginx's config, inside `http { }`), e.g. `/etc/nginx/conf.d/checkout-upstream.conf`."""
    upstream: Annotated[str, AfterValidator(_upstream_name)]
    """The name of the nginx upstream block, which the server's `proxy_pass http://NAME;` names, e.g. `checkout`."""
    stable: Annotated[list[Annotated[str, AfterValidator(_server), AfterValidator(_nginx_port)]], Field(min_length=1)]
    """The stable version's servers, as nginx writes them, e.g. `[127.0.0.1:8481]` or `[unix:/run/app-v1.sock]`."""
    canary: Annotated[list[Annotated[str, AfterValidator(_server), AfterValidator(_nginx_port)]], Field(min_length=1)]
    """The canary version's servers, e.g. `[127.0.0.1:8482]`."""
    nginx: str = "nginx"
    """The nginx binary, a name on $PATH or a path, e.g. `/usr/sbin/nginx`."""
    args: list[str] = []
    """More arguments given to both `nginx -t` and `nginx -s reload`, e.g. `["-p", "/srv/nginx", "-g", "pid /run/nginx-edge.pid;"]`."""
    main_config: Path | None = None
    """The nginx main config that includes `upstream_file`, given as `-c` to `nginx -t` and `nginx -s reload`; it must exist, include it and have a `proxy_pass` (or `grpc_pass`, ...) to `upstream`, e.g. `/etc/nginx/nginx.conf`."""

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
            problem = (nginxconf.include_problem(value, upstream_file, upstream)
                       or nginxconf.upstream_use_problem(value, upstream))
            if problem:
                raise ValueError(problem)
        return value

    prefix: Path | None = None
    """nginx's prefix directory, given as `-p`: the base of relative paths in its config (pid, logs); unset: the compiled-in one, e.g. `/srv/nginx`."""

    @field_validator("prefix")
    @classmethod
    def _one_prefix(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and any(arg.startswith("-p") for arg in info.data.get("args", [])):
            raise ValueError("give the prefix either here or as -p in args, not both")
        return value


class DemoActuatorConfig(ActuatorBase):
    kind: Literal["demo"]
    """`demo`: the built-in demo router's weight (for the demo config)."""
    url: str | None = None
    """The demo router's URL; default: `http://127.0.0.1:{demo.port}`, e.g. `http://127.0.0.1:18470`."""
    timeout: PositiveDuration = 2.0
    """How long one actuation may take before it counts as failed."""


ActuatorConfig = Annotated[
    HttpActuatorConfig | CommandActuatorConfig | NginxActuatorConfig | DemoActuatorConfig,
    Field(discriminator="kind"),
]


class Gate(Strict):
    """A Flagger-style webhook: 2xx lets the rollout go on, anything else halts it with the reason."""

    url: str
    """The webhook's URL, e.g. `https://ci.example.com/hooks/canary-ok`."""
    method: Literal["GET", "POST"] = "POST"
    """The HTTP method; POST sends the rollout (service, rollout_id, weight, and the next stage) as JSON, GET as query parameters."""
    timeout: PositiveDuration = 5.0
    """How long the webhook may take; a timeout halts like a refusal."""
    headers: dict[str, str] = {}
    """Extra headers (values may use `${SECRET}`s), e.g. `{Authorization: "Bearer ${GATE_TOKEN}"}`."""


class Gates(Strict):
    pre_rollout: Gate | None = None
    """A webhook asked before the first weight is set; a refusal aborts the rollout."""
    confirm_promotion: Gate | None = None
    """A webhook asked before each automatic promotion; a refusal holds the stage."""


class DownConfig(Strict):
    """When the canary is down rather than quiet: each check that finds it down is a breach of
    the "canary up" check, `consecutive` of them in a row roll back."""

    enabled: bool = True
    """Run the "canary up" check: a canary that is down (not just quiet) is a breach."""
    targets: list[str] | None = None
    """Collect targets of the canary whose refused connections or open circuit mean down; default: the `collect:<name>` sources the rules use, e.g. `[canary]`."""
    health: list[str] = []
    """Health checks of the canary whose FAIL means down, e.g. `[canary-health]`."""
    consecutive: Annotated[int, in_range(1, 1000)] = 3
    """Checks in a row that find the canary down before it rolls back."""
    min_unavailable: Annotated[int, in_range(1, 1_000_000)] = 3
    """502/503/504 answers (or no connection) in a check that mean down, when they are also at least half of its requests."""


class CanaryConfig(Strict):
    service: Annotated[str, Field(min_length=1)]
    """The service being rolled out, shown everywhere and given to actuators as {service}, e.g. `checkout`."""
    interval: Annotated[PositiveDuration, duration_range("50ms", "1h")] = 10.0
    """How often the rules and comparisons are checked."""
    window: Annotated[PositiveDuration, duration_range("100ms", "1d")] | None = None
    """How far back a plain series' check looks; default: 3 intervals, e.g. `1m` (counted rules gather evidence since their last conclusive check)."""
    initial_delay: Duration = 0.0
    """After each weight change, the time before checks count (traffic settles, caches warm)."""
    # Checked on the field, not the model, so the error points at `canary.stages:` and its line.
    stages: Annotated[list[Stage], Field(min_length=1), AfterValidator(_stages_make_sense)]
    """The steps of the rollout, in increasing weight; every stage but the last needs a hold."""
    rules: list[Rule] = []
    """Absolute thresholds on canary series (error rate, latency), each breach counted."""
    compare: list[Comparison] = []
    """Canary against baseline comparisons, combined into a score."""
    score: ScoreConfig = ScoreConfig()
    """How the comparisons' score decides."""
    no_data: Literal["pause", "breach"] = "pause"
    """What a check without data does: `pause` the rollout for a human, or count a `breach`."""
    error_limit: Annotated[int, in_range(1, 1000)] = 4
    """Errors in a row reading a series (not traffic errors) before `no_data` applies."""
    min_requests: Annotated[int, in_range(1, 1_000_000)] = 50
    """Requests each side needs in a check for counted rules and comparisons; fewer is inconclusive."""
    inconclusive_limit: Annotated[int, in_range(1, 10_000)] = 12
    """Inconclusive checks in a row before the rollout pauses for a human."""
    down: DownConfig = DownConfig()
    """When the canary counts as down rather than quiet."""
    actuator: ActuatorConfig
    """What moves traffic: `kind` is `http`, `command`, `nginx` or `demo`."""
    gates: Gates = Gates()
    """Optional webhooks that must agree before the rollout starts or promotes."""
    auto_start: bool = False
    """Start a rollout when the engine starts and none is in progress."""
    rollback_window: Annotated[Duration, duration_range("0s", "7d")] = 600.0
    """How long after a promotion to 100% a rollback still sends traffic back to the stable version; `0` makes a promotion final."""

    @property
    def analysis_window(self) -> float:
        return self.window if self.window is not None else 3 * self.interval
