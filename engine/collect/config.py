"""The `collect:` section: tracks of HTTP targets sharing a schedule and limits.

    collect:
      tracks:
        - name: fast
          interval: 1s
          targets:
            - {name: api, url: http://127.0.0.1:8080/metrics, format: prometheus}
            - {name: api-health, url: http://127.0.0.1:8080/health, format: health}

A target's `format` says which keys it takes (a tagged union, so `fields` on a health target is
an "unknown key" error naming the target). Validators raise ValueError with the sentence an
operator reads; the loader puts `file:line: key.path:` in front.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ModelWrapValidatorHandler, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from engine import secrets
from engine.config.schema import PositiveDuration, Size, Strict, duration_range, in_range
from engine.jsonpath import parse_path
from engine.units import parse_duration, parse_size

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _name(text: str) -> str:
    if not _NAME.match(text):
        raise ValueError(f"use letters, digits, '.', '_' or '-' (starting with a letter or digit), got {text!r}")
    return text


def _metric_names(fields: dict[str, str]) -> dict[str, str]:
    for metric in fields:
        if not _METRIC.match(metric):
            raise ValueError(f"metric name {metric!r}: use letters, digits and '_' (like requests_per_s)")
    return fields


def _json_paths(fields: dict[str, str]) -> dict[str, str]:
    for metric, path in fields.items():
        try:
            parse_path(path)
        except ValueError as exc:
            raise ValueError(f"field {metric}: {exc} (write paths like data.requests.total or items[0].value)") from None
    return fields


def _http_url(text: str) -> str:
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL, got {text!r}")
    if not rest or rest.startswith(("/", ":", "?")):
        raise ValueError(f"the URL has no host, got {text!r}")
    return text


def _secret(text: str) -> str:
    """Registered at load, even when written literally rather than as ${ENV}: `config show`, the log
    and the screen mask it like any other secret."""
    if not text:
        raise ValueError("must not be empty")
    secrets.register(text)
    return text


Name = Annotated[str, AfterValidator(_name)]
Secret = Annotated[str, AfterValidator(_secret)]
Url = Annotated[str, AfterValidator(_http_url)]
MetricFields = Annotated[dict[str, str], AfterValidator(_metric_names)]


class RetryConfig(Strict):
    """Attempts per scrape for errors worth retrying (connect, timeout, 5xx, 429); waits of
    backoff·2^n with jitter, capped at max_backoff."""

    attempts: Annotated[int, in_range(1, 10)] = 3
    """Attempts per scrape (or push) for errors worth retrying: connect, timeout, 5xx, 429."""
    backoff: PositiveDuration = 1.0
    """The wait before the second attempt; it doubles (with jitter) for each further one."""
    max_backoff: PositiveDuration = 30.0
    """The longest wait between attempts."""


class BreakerConfig(Strict):
    """CLOSED -> OPEN after `failures` consecutive failed attempts; one HALF_OPEN probe after `open_for`."""

    failures: Annotated[int, in_range(1, 1000)] = 5
    """Failed attempts in a row that open the target's circuit (no requests until `open_for` has passed)."""
    open_for: PositiveDuration = 60.0
    """How long an open circuit stays open before one probe request is let through."""


class RateLimitConfig(Strict):
    """A token bucket per host: `rate` requests per second, bursts of up to `burst`."""

    rate: Annotated[float, in_range(0.001, 1_000_000)] = 100.0
    """Requests per second allowed to one host, over all its targets."""
    burst: Annotated[int, in_range(1, 1_000_000)] = 100
    """Requests to one host allowed at once above the rate."""


class BearerAuth(Strict):
    """A static bearer token, normally `${ENV}` so it stays out of the file."""

    kind: Literal["bearer"]
    """`bearer`: a static token sent as `Authorization: Bearer ...`."""
    token: Secret
    """The token, normally `${ENV}` so it stays out of the file; masked everywhere, e.g. `${API_TOKEN}`."""


class ClientCredentialsAuth(Strict):
    """OAuth2 client credentials: a token from `token_url`, refreshed `refresh_before` it expires."""

    kind: Literal["client_credentials"]
    """`client_credentials`: an OAuth2 token fetched from `token_url` and refreshed before it expires."""
    token_url: Url
    """The OAuth2 token endpoint, e.g. `https://auth.example.com/oauth/token`."""
    client_id: str
    """The OAuth2 client id, e.g. `opsconsole`."""
    client_secret: Secret
    """The OAuth2 client secret, normally `${ENV}`; masked everywhere, e.g. `${CLIENT_SECRET}`."""
    scope: str = ""
    """The scope asked for; empty: none."""
    refresh_before: PositiveDuration = 30.0
    """The token is refreshed this long before it expires, but never before half its lifetime has passed (5s tokens with `30s` are refreshed every 2.5s, with one warning)."""
    timeout: Annotated[PositiveDuration, duration_range("100ms", "1m")] = 5.0
    """How long the token request may take."""


Auth = Annotated[BearerAuth | ClientCredentialsAuth, Field(discriminator="kind")]


class _Target(Strict):
    name: Name
    """The target's name, unique over all tracks; its series are `collect:<name>/<metric>`, e.g. `canary`."""
    url: Url
    """The URL scraped (for `promql`: the Prometheus server's base URL), e.g. `http://127.0.0.1:8482/metrics`."""
    interval: Annotated[PositiveDuration, duration_range("50ms", "1d")] | None = None
    """How often this target is scraped; default: the track's `interval`, e.g. `5s`."""
    timeout: Annotated[PositiveDuration, duration_range("10ms", "10m")] | None = None
    """How long one scrape may take; default: the track's `timeout`, e.g. `2s`."""
    labels: dict[str, str] = {}
    """Descriptive labels carried on the target's events, e.g. `{version: canary, zone: eu-1}`."""
    auth: Auth | None = None
    """How requests authenticate: a bearer token or OAuth2 client credentials; unset: none."""
    enabled: bool = True
    """`false`: configured but not scraped until enabled from the console."""


class PrometheusTarget(_Target):
    """Text exposition format. `requests` (a counter) gives requests_per_s and, with a code label,
    error_rate; `latency` (a histogram) gives latency_p50_ms/p95_ms/p99_ms over each interval.
    Both are found by name when not given. `fields` maps more metrics: metric -> family name
    (a gauge as is, a counter as a per-second rate)."""

    format: Literal["prometheus"]
    """`prometheus`: the Prometheus text exposition format (/metrics)."""
    requests: str | None = None
    """The request counter family (with a `code` or `status` label for errors), giving requests, errors and error_rate; default: found by name, e.g. `http_requests_total`."""
    latency: str | None = None
    """The latency histogram family, giving latency buckets and p50/p95/p99 per interval; default: found by name, e.g. `http_request_duration_seconds`."""
    fields: MetricFields = {}
    """More metrics to record: metric name -> family (a gauge as is, a counter as a per-second rate), e.g. `{queue: jobs_queued}`."""


class JsonTarget(_Target):
    """A JSON document; `fields` maps metric -> path, like `data.requests.total` or `items[0].value`."""

    format: Literal["json"]
    """`json`: a JSON document with numbers at paths."""
    fields: Annotated[MetricFields, Field(min_length=1), AfterValidator(_json_paths)]
    """Metric name -> path in the document, e.g. `{requests: data.requests.total, first: items[0].value}`."""


class HealthTarget(_Target):
    """A health document: {"status": "healthy", "components": {"database": "healthy", ...}}."""

    format: Literal["health"]
    """`health`: a health document like `{"status": "healthy", "components": {...}}`."""


class PromqlTarget(_Target):
    """Instant queries against a Prometheus server (`url` is its base, e.g. http://prom:9090):
    `fields` maps metric -> PromQL. A query returning several series needs `split_by: <label>`,
    which records each under source `collect:<name>:<label value>`."""

    format: Literal["promql"]
    """`promql`: instant queries against a Prometheus server."""
    fields: Annotated[MetricFields, Field(min_length=1)]
    """Metric name -> PromQL query, e.g. `{error_rate: 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'}`."""
    split_by: str | None = None
    """For queries returning several series: the label whose value names each, recorded as `collect:<name>:<value>`, e.g. `version`."""


Target = Annotated[
    PrometheusTarget | JsonTarget | HealthTarget | PromqlTarget, Field(discriminator="format")
]


class TrackConfig(Strict):
    name: Name
    """The track's name, unique, e.g. `fast`."""
    interval: Annotated[PositiveDuration, duration_range("50ms", "1d")] = 10.0
    """How often the track's targets are scraped (a target may set its own)."""
    timeout: Annotated[PositiveDuration, duration_range("10ms", "10m")] | None = None
    """How long one scrape may take; default: the interval or 10s, whichever is less, e.g. `2s`."""
    max_concurrency: Annotated[int, in_range(1, 100_000)] | None = None
    """Requests of this track in flight at once; default: `collect.max_concurrency`, e.g. `20`."""
    max_body: Size = parse_size("10MB")
    """A response larger than this is refused (the target errors)."""
    retry: RetryConfig = RetryConfig()
    """Retries of a failed scrape."""
    breaker: BreakerConfig = BreakerConfig()
    """The circuit breaker of each target."""
    targets: Annotated[list[Target], Field(min_length=1)]
    """The HTTP targets, each with a `format`."""


class CollectConfig(Strict):
    tracks: Annotated[list[TrackConfig], Field(min_length=1)]
    """Groups of targets sharing an interval and limits."""
    max_concurrency: Annotated[int, in_range(1, 100_000)] = 200
    """Requests in flight at once over all targets."""
    rate_limit: RateLimitConfig = RateLimitConfig()
    """A token bucket per host, so many targets on one host do not flood it."""
    # A series with an expected cadence opens a gap after gap_factor x its interval without a sample.
    gap_factor: Annotated[float, in_range(1.1, 100)] = 2.5
    """A series with an expected cadence opens a data gap after this many intervals without a sample."""

    @model_validator(mode="wrap")
    @classmethod
    def _unique_names(cls, data: Any, handler: ModelWrapValidatorHandler[CollectConfig]) -> CollectConfig:
        """Names are checked on the data as written, so a duplicate is reported beside the section's
        other problems (not only once they are fixed) and at its own `name:` line."""
        duplicates = _duplicate_names(data)
        try:
            config = handler(data)
        except ValidationError as err:
            if not duplicates:
                raise
            others: list[Any] = [dict(type=e["type"], loc=e["loc"], input=e["input"], ctx=e.get("ctx") or {})
                                 for e in err.errors(include_url=False)]
            raise ValidationError.from_exception_data(cls.__name__, [*others, *duplicates]) from None
        if duplicates:
            raise ValidationError.from_exception_data(cls.__name__, duplicates)
        return config


def _duplicate_names(data: Any) -> list[Any]:
    """pydantic error details for each track or target name used before, at its `name` key."""
    tracks = data.get("tracks") if isinstance(data, dict) else None
    if not isinstance(tracks, list):
        return []
    problems: list[Any] = []
    track_seen: set[str] = set()
    target_seen: dict[str, str] = {}

    def twice(loc: tuple[Any, ...], name: str, text: str) -> None:
        problems.append(dict(type=PydanticCustomError("value_error", text), loc=loc, input=name))

    for t, track in enumerate(tracks):
        if not isinstance(track, dict):
            continue
        track_name = str(track.get("name"))
        if "name" in track and track_name in track_seen:
            twice(("tracks", t, "name"), track_name, f"track name {track_name!r} is used twice")
        track_seen.add(track_name)
        targets = track.get("targets")
        for i, target in enumerate(targets if isinstance(targets, list) else []):
            if not isinstance(target, dict) or "name" not in target:
                continue
            name = str(target["name"])
            if name in target_seen:
                twice(("tracks", t, "targets", i, "name"), name,
                      f"target name {name!r} is used twice (tracks {target_seen[name]!r} and {track_name!r})")
            else:
                target_seen[name] = track_name
    return problems


def effective_interval(track: TrackConfig, target: _Target) -> float:
    return target.interval if target.interval is not None else track.interval


def effective_timeout(track: TrackConfig, target: _Target) -> float:
    """The whole request (connect, headers, body) must finish within this."""
    if target.timeout is not None:
        return target.timeout
    if track.timeout is not None:
        return track.timeout
    return min(effective_interval(track, target), parse_duration("10s"))
