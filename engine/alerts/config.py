"""The `alerts:` section: a list of rules over series.

    alerts:
      - name: HighErrorRate
        series: demo:loadgen/error_rate     # source/metric, as the panels and the history name it
        function: ratio                     # errors/requests of the source over the window
        over: 1m                            # the window (Prometheus' [1m])
        op: ">"
        value: 0.01
        for: 30s                            # true at every evaluation for 30s before it fires
        keep_firing_for: 1m                 # and keeps firing 1m after it stops being true
        severity: critical                  # critical / warning / info
        summary: error rate above 1%
        runbook: check the canary's errors; roll back with R
        no_data: ok                         # when the series has no recent sample: ok / alert / keep

`function` (default `last`: the newest sample, as before windows existed) says what is compared
with `value`; every other function reads the samples of the window `over` (see windows.py).

"No data" (the series is absent, or its last sample is older than `no_data_after`; for a window,
no sample in it, or fewer than `min_requests` requests for `ratio`) is never read as 0: `ok` treats
it as "not true" but shows the rule as NO DATA, `alert` as "true" (so a silent source pages),
`keep` leaves the rule as it was. `absent` has no "no data": the absence is its condition.

Which keys go with which function is checked per key, so an error names the key it is about
(`alerts[0].quantile: only with function quantile_over_time`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo, field_validator

from engine.alerts.ops import Op
from engine.config.schema import (
    WRITTEN_SERIES,
    Duration,
    Fraction,
    PositiveDuration,
    Strict,
    duration_range,
    in_range,
    unique_names,
)
from engine.snapshot import split_series

Function = Literal["last", "ratio", "rate", "increase", "avg_over_time", "max_over_time", "min_over_time",
                   "sum_over_time", "quantile_over_time", "absent"]
WINDOWED = frozenset(Function.__args__) - {"last"}  # type: ignore[attr-defined]
COUNTERS = frozenset({"rate", "increase"})  # of a cumulative counter series
DEFAULT_NUMERATOR, DEFAULT_DENOMINATOR = "errors", "requests"  # the request sources' count series
MIN_WINDOW, MAX_WINDOW = "1s", "1h"


def _series_key(key: str) -> str:
    source, metric = split_series(key)
    if not source or not metric:
        raise ValueError(f"expected source/metric, e.g. host/mem_pct, got {key!r}")
    return key


def _metric_or_key(text: str) -> str:
    """`errors` (a metric of the rule's source) or `collect:canary/errors` (any series)."""
    if "/" in text:
        return _series_key(text)
    if not text or text != text.strip():
        raise ValueError(f"expected a metric name such as errors, or source/metric, got {text!r}")
    return text


def _function_of(info: ValidationInfo) -> str | None:
    """The rule's function, or None when it failed validation itself (reported there)."""
    return info.data.get("function") if "function" in info.data else None


class AlertRule(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    name: Annotated[str, Field(min_length=1, max_length=60)]
    """The alert's name, unique, shown on the panels and sent as `alertname`, e.g. `HighErrorRate`."""
    series: Annotated[str, AfterValidator(_series_key), WRITTEN_SERIES]
    """The series the rule reads, as "source/metric", e.g. `log:access:canary/error_rate` or `host/mem_pct`."""
    function: Function = "last"
    """What is compared with `value`: `last` (newest sample), `ratio` (errors/requests of the series' source over `over`), `rate`/`increase` of a counter, `*_over_time`, `quantile_over_time`, or `absent`."""
    over: Annotated[Duration, duration_range(MIN_WINDOW, MAX_WINDOW)] | None = Field(None, validate_default=True)
    """The window of a windowed function (Prometheus' `[1m]`); required with every function but `last`, e.g. `1m`."""
    quantile: Fraction | None = Field(None, validate_default=True)
    """The quantile for `quantile_over_time`, 0..1, e.g. `0.95`."""
    numerator: Annotated[str, AfterValidator(_metric_or_key)] | None = None
    """For `ratio`, the count series on top: a metric of the rule's source or a whole "source/metric"; default `errors`, e.g. `unavailable`."""
    denominator: Annotated[str, AfterValidator(_metric_or_key)] | None = None
    """For `ratio`, the count series below; default `requests`, e.g. `collect:canary/requests`."""
    min_requests: Annotated[int, in_range(1, 1_000_000_000)] | None = None
    """For `ratio`, the requests the window needs; fewer is "no data", not a rate, e.g. `50`."""
    op: Op | None = Field(None, validate_default=True)
    """The comparison with `value`: one of `>`, `>=`, `<`, `<=`, `==`, `!=` (not used by `absent`), e.g. `">"`."""
    value: float | None = Field(None, validate_default=True)
    """The threshold the function's result is compared with, e.g. `0.01` (not used by `absent`)."""
    for_: Duration = Field(0.0, alias="for")
    """How long the condition must hold at every evaluation before the alert fires (pending until then)."""
    keep_firing_for: Duration = 0.0
    """How long a firing alert keeps firing after its condition stops being true, so a flapping series pages once."""
    severity: Literal["critical", "warning", "info"] = "warning"
    """How loud it is: `critical` rings the bell and sorts first."""
    summary: str = ""
    """One line shown with the alert and sent to Alertmanager, e.g. `error rate above 1%`."""
    runbook: str = ""
    """What to do, shown with the alert and sent as an annotation, e.g. `roll back with R; see wiki/checkout`."""
    no_data: Literal["ok", "alert", "keep"] = "ok"
    """When the series has no recent sample: `ok` shows NO DATA and does not fire, `alert` fires (a silent source pages), `keep` keeps the last state."""
    no_data_after: Annotated[PositiveDuration, duration_range("1s", "1d")] = 60.0
    """A series whose newest sample is older than this has no data."""

    @field_validator("over")
    @classmethod
    def _over_with_windows(cls, over: float | None, info: ValidationInfo) -> float | None:
        function = _function_of(info)
        if function is None:
            return over
        if function in WINDOWED and over is None:
            raise ValueError(f"required with function {function}: the window, e.g. 1m ({MIN_WINDOW}..{MAX_WINDOW})")
        if function == "last" and over is not None:
            raise ValueError("only with a windowed function (ratio, rate, avg_over_time, ...); "
                             "function last (the default) compares the newest sample")
        return over

    @field_validator("quantile")
    @classmethod
    def _quantile_with_its_function(cls, quantile: float | None, info: ValidationInfo) -> float | None:
        function = _function_of(info)
        if function == "quantile_over_time" and quantile is None:
            raise ValueError("required with function quantile_over_time: 0..1, e.g. 0.95 for p95")
        if function not in (None, "quantile_over_time") and quantile is not None:
            raise ValueError(f"only with function quantile_over_time, not {function}")
        return quantile

    @field_validator("numerator", "denominator", "min_requests")
    @classmethod
    def _only_for_ratio(cls, given: Any, info: ValidationInfo) -> Any:
        function = _function_of(info)
        if function not in (None, "ratio") and given is not None:
            raise ValueError(f"only with function ratio, not {function}")
        return given

    @field_validator("op", "value")
    @classmethod
    def _comparison(cls, given: Any, info: ValidationInfo) -> Any:
        function = _function_of(info)
        if function == "absent" and given is not None:
            raise ValueError("not with function absent: it is true when the series has no sample in `over`")
        if function not in (None, "absent") and given is None:
            raise ValueError("required" + (" (one of >, >=, <, <=, ==, !=)" if info.field_name == "op" else ""))
        return given

    @field_validator("no_data", "no_data_after")
    @classmethod
    def _no_data_is_absents_condition(cls, given: Any, info: ValidationInfo) -> Any:
        # Runs only when the key is given; its default value is let through, as model_dump() writes it.
        if _function_of(info) == "absent" and given != cls.model_fields[info.field_name or ""].default:
            raise ValueError("not with function absent: no sample in the window is its condition, not 'no data'")
        return given

    @property
    def source(self) -> str:
        return split_series(self.series)[0]

    @property
    def metric(self) -> str:
        return split_series(self.series)[1]

    @property
    def windowed(self) -> bool:
        return self.function in WINDOWED

    @property
    def threshold(self) -> float:
        """`value`; only an `absent` rule has none, and it compares nothing."""
        return 0.0 if self.value is None else self.value

    def _key(self, metric_or_key: str) -> str:
        return metric_or_key if "/" in metric_or_key else f"{self.source}/{metric_or_key}"

    @property
    def numerator_key(self) -> str:
        return self._key(self.numerator or DEFAULT_NUMERATOR)

    @property
    def denominator_key(self) -> str:
        return self._key(self.denominator or DEFAULT_DENOMINATOR)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The series keys the function reads: the count series for ratio, else the rule's series."""
        if self.function == "ratio":  # the requests first: "no requests sample" says the source is silent
            return self.denominator_key, self.numerator_key
        return (self.series,)


def window_spans(rules: list[AlertRule] | tuple[AlertRule, ...]) -> dict[tuple[str, str], float]:
    """(source, metric) -> the longest window a rule reads it over: what a lookup must hold."""
    spans: dict[tuple[str, str], float] = {}
    for rule in rules:
        if rule.windowed and rule.over is not None:
            for key in rule.inputs:
                split = split_series(key)
                spans[split] = max(spans.get(split, 0.0), rule.over)
    return spans


AlertRules = Annotated[list[AlertRule], unique_names("alert rule")]
