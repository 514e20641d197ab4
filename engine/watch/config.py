"""The `watch:` section: a list of sources, each a directory (`dir:`) or a log file (`log:`).

    watch:
      - name: inbox
        dir: /srv/inbox            # new and changed files, processed once (ledger: watched_files)
        pattern: "*.json"          # or a list; `exclude:` drops temp files (".*", "*.tmp", ...)
        processor: json            # digest (record only) | json | lines
      - name: edge
        log: /var/log/nginx/access.json
        format: json_access        # json | regex | json_access | nginx_combined
        label: upstream            # metrics per upstream: log:edge:<upstream>/requests_per_s ...
        error_pattern: '"status": 5\\d\\d'

Keys that belong to the other kind of source are errors ("applies to log sources (log:) only"),
so a misplaced key is never silently ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from engine.config.schema import Duration, PositiveDuration, Size, Strict, duration_range, in_range
from engine.units import parse_size
from engine.watch import parsers, processors

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _label_name(name: str) -> str:
    """A label name becomes part of a series source: letters, digits, '_', '.', '-'."""
    if not _NAME.match(name):
        raise ValueError(f"a label name is letters, digits, '_', '.' or '-' (it names series), got {name!r}")
    return name


DIR_ONLY = (
    "pattern", "exclude", "recursive", "processor", "max_workers", "settle", "reconcile_every",
    "force_polling", "poll_interval", "retry", "max_file_size",
)
LOG_ONLY = (
    "format", "regex", "label", "status_field", "latency_field", "latency_unit", "start", "window",
    "error_pattern", "error_events", "poll", "names",
)


def _globs(value: Any) -> Any:
    """`pattern: "*.json"` or a list of globs: always a tuple."""
    return (value,) if isinstance(value, str) else value


def _nonempty_globs(globs: tuple[str, ...]) -> tuple[str, ...]:
    for glob in globs:
        if not glob or "/" in glob:
            raise ValueError(f"{glob!r} is not a file name pattern (like *.json; no '/')")
    return globs


Globs = Annotated[tuple[str, ...], BeforeValidator(_globs), AfterValidator(_nonempty_globs)]


class RetryConfig(Strict):
    """Reading a file that fails (permission, I/O error) is tried `attempts` times; the wait after
    the n-th failure is backoff × 2^n (2s, 4s with the defaults), then the failure is recorded."""

    attempts: Annotated[int, in_range(1, 20)] = 3
    backoff: Annotated[PositiveDuration, duration_range("1ms", "1h")] = 1.0


class ErrorEventLimit(Strict):
    """At most `max` error events per `per` from one source; the rest are counted and summed up."""

    max: Annotated[int, in_range(1, 10_000)] = 10
    per: Annotated[PositiveDuration, duration_range("1s", "1d")] = 60.0


class WatchSourceConfig(Strict):
    name: Annotated[str, Field(min_length=1, max_length=40, pattern=NAME_PATTERN)]
    dir: Path | None = None
    log: Path | None = None
    interval: Annotated[PositiveDuration, duration_range("100ms", "1m")] = 1.0  # rates are recorded this often

    # directory sources
    pattern: Globs = ("*",)
    exclude: Globs = (".*", "*.tmp", "*.part", "*.swp", "*~")
    recursive: bool = False
    processor: Annotated[str, AfterValidator(processors.check_name)] = "digest"
    max_workers: Annotated[int, in_range(1, 64)] = 2
    settle: Annotated[Duration, duration_range("0ms", "1h")] = 1.0  # unchanged this long = written
    reconcile_every: Annotated[PositiveDuration, duration_range("1s", "1d")] = 30.0
    force_polling: bool = False  # filesystems without inotify (NFS, some container mounts)
    poll_interval: Annotated[PositiveDuration, duration_range("50ms", "1m")] = 1.0
    retry: RetryConfig = RetryConfig()
    max_file_size: Size = parse_size("256MB")  # for whole-file processors (json)

    # log sources
    format: Annotated[str, AfterValidator(parsers.check_format)] = "json"
    regex: Annotated[str | None, AfterValidator(lambda v: v if v is None else parsers.check_regex(v))] = None
    label: str | None = None  # json field path or regex group whose value labels the metrics
    status_field: str | None = None
    latency_field: str | None = None
    latency_unit: Literal["s", "ms"] | None = None
    start: Literal["end", "start"] = Field("end", alias="from")  # where a never-seen file is read from
    window: Annotated[PositiveDuration, duration_range("1s", "1h")] = 30.0  # error_rate, percentiles
    error_pattern: str | None = None  # lines matching it become error events (rate-limited)
    error_events: ErrorEventLimit = ErrorEventLimit()
    poll: Annotated[PositiveDuration, duration_range("10ms", "10s")] = 0.25
    # Raw label values by name, e.g. {"127.0.0.1:8481": stable, "127.0.0.1:8482": canary}: the
    # series become log:<name>:stable/... and the panels show the names.
    names: dict[str, Annotated[str, AfterValidator(_label_name)]] = {}

    @property
    def kind(self) -> str:
        return "dir" if self.dir is not None else "log"

    @property
    def source(self) -> str:
        """The series source: watch:<name> for directories, log:<name> for logs."""
        return f"watch:{self.name}" if self.dir is not None else f"log:{self.name}"

    def parser_spec(self) -> parsers.ParserSpec:
        return parsers.resolve(
            self.format, regex=self.regex, label=self.label, status_field=self.status_field,
            latency_field=self.latency_field, latency_unit=self.latency_unit, names=self.names,
        )

    @field_validator(*DIR_ONLY)
    @classmethod
    def _dir_only(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("log") is not None and info.data.get("dir") is None:
            raise ValueError("applies to directory sources (dir:) only; this source has log:")
        return value

    @field_validator(*LOG_ONLY)
    @classmethod
    def _log_only(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("dir") is not None and info.data.get("log") is None:
            raise ValueError("applies to log sources (log:) only; this source has dir:")
        return value

    @field_validator("error_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value.encode())  # matched against the raw line, as bytes
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> "WatchSourceConfig":
        if (self.dir is None) == (self.log is None):
            raise ValueError("needs exactly one of dir: (a directory to watch) or log: (a log file to tail)")
        if self.log is not None:
            problems = parsers.check_groups(self.parser_spec())
            if problems:
                raise ValueError("; ".join(problems))
        return self


def _unique_names(sources: tuple[WatchSourceConfig, ...]) -> tuple[WatchSourceConfig, ...]:
    seen: dict[str, int] = {}
    for index, source in enumerate(sources):
        if source.name in seen:
            raise ValueError(f"source name {source.name!r} is used twice (items {seen[source.name]} and {index})")
        seen[source.name] = index
    return sources


WatchSources = Annotated[tuple[WatchSourceConfig, ...], AfterValidator(_unique_names)]
