"""The `watch:` section: a list of sources, each a directory (`dir:`) or a log file (`log:`).

    watch:
      - name: inbox
        dir: /srv/inbox            # new and changed files, processed once (ledger: watched_files)
        pattern: "*.json"          # or a list; `exclude:` drops temp files (".*", "*.tmp", ...)
        processor: json            # digest (record only) | json | lines
      - name: edge
        log: /var/log/nginx/access.json
        format: nginx_json         # json | regex | json_access | nginx_combined | nginx_json | nginx_combined_upstream
        names: {"127.0.0.1:8481": stable, "127.0.0.1:8482": canary}   # log:edge:canary/requests_per_s ...
        error_pattern: '"status": 5\\d\\d'

Keys that belong to the other kind of source are errors ("applies to log sources (log:) only"),
so a misplaced key is never silently ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from engine.config.schema import Duration, PositiveDuration, Size, Strict, WrittenAs, duration_range, in_range
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


Globs = Annotated[
    tuple[str, ...], BeforeValidator(_globs), AfterValidator(_nonempty_globs),
    WrittenAs("glob or list of globs", {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class RetryConfig(Strict):
    """Reading a file that fails (permission, I/O error) is tried `attempts` times; the wait after
    the n-th failure is backoff × 2^n (2s, 4s with the defaults), then the failure is recorded."""

    attempts: Annotated[int, in_range(1, 20)] = 3
    """Attempts to process a file before it is recorded as failed."""
    backoff: Annotated[PositiveDuration, duration_range("1ms", "1h")] = 1.0
    """The wait before the second attempt; it doubles for each further one."""


class ErrorEventLimit(Strict):
    """At most `max` error events per `per` from one source; the rest are counted and summed up."""

    max: Annotated[int, in_range(1, 10_000)] = 10
    """Error events recorded per `per` at most; the rest are counted."""
    per: Annotated[PositiveDuration, duration_range("1s", "1d")] = 60.0
    """The period of `max`."""


class WatchSourceConfig(Strict):
    name: Annotated[str, Field(min_length=1, max_length=40, pattern=NAME_PATTERN)]
    """The source's name, unique; series are `watch:<name>/...` for directories and `log:<name>/...` for logs, e.g. `inbox` or `access`."""
    dir: Path | None = None
    """A directory whose new and changed files are processed once each (give `dir` or `log`), e.g. `/srv/inbox`."""
    log: Path | None = None
    """A log file followed like `tail -F`, through rotation and truncation (give `dir` or `log`), e.g. `/var/log/nginx/access.json`."""
    interval: Annotated[PositiveDuration, duration_range("100ms", "1m")] = 1.0
    """How often the source's rates and counts are recorded."""

    # directory sources
    pattern: Globs = ("*",)
    """Directories: the file names processed, one glob or a list."""
    exclude: Globs = (".*", "*.tmp", "*.part", "*.swp", "*~")
    """Directories: file names never processed (temporary files by default)."""
    recursive: bool = False
    """Directories: also watch subdirectories."""
    processor: Annotated[str, AfterValidator(processors.check_name)] = "digest"
    """Directories: what is done with a file's content: `digest` (record only), `json` (count records) or `lines`."""
    max_workers: Annotated[int, in_range(1, 64)] = 2
    """Directories: files processed at once."""
    settle: Annotated[Duration, duration_range("0ms", "1h")] = 1.0
    """Directories: a file unchanged this long counts as written (0: at once)."""
    reconcile_every: Annotated[PositiveDuration, duration_range("1s", "1d")] = 30.0
    """Directories: how often the directory is rescanned, for what arrived while stopped or what inotify dropped."""
    force_polling: bool = False
    """Directories: poll instead of inotify, for NFS and some container mounts."""
    poll_interval: Annotated[PositiveDuration, duration_range("50ms", "1m")] = 1.0
    """Directories: the polling period with `force_polling`."""
    retry: RetryConfig = RetryConfig()
    """Directories: retries of a file that failed for a reason that may pass."""
    max_file_size: Size = parse_size("256MB")
    """Directories: files larger than this fail for whole-file processors (`json`) instead of filling the memory."""

    # log sources
    format: Annotated[str, AfterValidator(parsers.check_format)] = "json"
    """Logs: how lines are read: `json` or `regex` (with the field keys), or a preset: `json_access`, `nginx_combined`, `nginx_json`, `nginx_combined_upstream`."""
    regex: Annotated[str | None, AfterValidator(lambda v: v if v is None else parsers.check_regex(v))] = None
    r"""Logs with `format: regex`: a regular expression with named groups, e.g. `'(?P<status>\d{3}) (?P<request_time>[\d.]+)$'`."""
    label: str | None = None
    """Logs: the JSON field path or regex group whose value splits the metrics, one source per value (`log:<name>:<value>/...`), e.g. `upstream_addr`."""
    status_field: str | None = None
    """Logs: the field or group holding the HTTP status; default: the preset's, e.g. `status`."""
    latency_field: str | None = None
    """Logs: the field or group holding the request's duration; default: the preset's, e.g. `request_time`."""
    latency_unit: Literal["s", "ms"] | None = None
    """Logs: the unit of `latency_field`: `s` or `ms`; default: the preset's, e.g. `s`."""
    start: Literal["end", "start"] = Field("end", alias="from")
    """Logs: where a file never seen before is read from: its `end` (new lines only) or its `start`."""
    window: Annotated[PositiveDuration, duration_range("1s", "1h")] = 30.0
    """Logs: the window of the rolling error_rate and latency percentiles shown on the panels."""
    error_pattern: str | None = None
    r"""Logs: a regular expression; matching lines become error events (rate-limited by `error_events`), e.g. `'"status": 5\d\d'`."""
    error_events: ErrorEventLimit = ErrorEventLimit()
    """Logs: the limit on error events from `error_pattern`."""
    # 1 s, the report cadence and the panels': each check is a thread wake-up (~0.13% of a core at
    # 0.25 s with 10 lines/s, bench/tui_cost.py --real), and checking 4x a second showed nothing sooner.
    poll: Annotated[PositiveDuration, duration_range("10ms", "10s")] = 1.0
    """Logs: how often the file is checked for new lines, rotation and truncation; lower it to see error events sooner."""
    # Raw label values by name, e.g. {"127.0.0.1:8481": stable, "127.0.0.1:8482": canary}: the
    # series become log:<name>:stable/... and the panels show the names.
    names: dict[str, Annotated[str, AfterValidator(_label_name)]] = {}
    """Logs: names for raw label values, so series and panels say `log:<name>:stable/...`, e.g. `{"127.0.0.1:8481": stable, "127.0.0.1:8482": canary}`."""

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
    def _one_kind(self) -> WatchSourceConfig:
        if (self.dir is None) == (self.log is None):
            raise ValueError("needs exactly one of dir: (a directory to watch) or log: (a log file to tail)")
        if self.log is not None:
            spec = self.parser_spec()
            problems = parsers.check_groups(spec) + parsers.check_paths(spec)
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
