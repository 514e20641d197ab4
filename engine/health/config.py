"""The `health:` section: a list of checks, each with a `kind`, an interval and thresholds.

    health:
      - {name: state-dir, kind: dir}                            # the history's directory
      - {name: root-disk, kind: disk_free, path: /, min: 1GB, min_pct: 5}
      - {name: memory, kind: memory, max_pct: 90, warn_pct: 80}
      - {name: app-log, kind: file_size, path: /var/log/app.log, max: 100MB}
      - {name: nginx, kind: process, match: nginx}
      - name: api
        kind: http
        url: http://127.0.0.1:8080/health
        max_response_time: 500ms
        conditions: ['status == "healthy"']
        components: components          # where the per-component results are in the document

A check's shown status changes to WARN/FAIL after `failure_threshold` consecutive bad results and
back to OK after `success_threshold` good ones (Gatus' failure-threshold / success-threshold).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from engine.config.schema import Percent, PositiveDuration, Size, Strict, duration_range, in_range, unique_names
from engine.health.conditions import validate_condition, validate_path
from engine.monitor.config import ProcessMatch, SeriesName
from engine.units import format_size

Threshold = Annotated[int, in_range(1, 100)]


class CheckBase(Strict):
    name: SeriesName
    """The check's name, unique; its series are `health:<name>/...`, e.g. `api`."""
    interval: Annotated[PositiveDuration, duration_range("1s", "1d")] = 10.0
    """How often the check runs."""
    timeout: Annotated[PositiveDuration, duration_range("100ms", "5m")] = 5.0
    """How long one run may take before it counts as FAIL."""
    failure_threshold: Threshold = 3
    """Bad results in a row before the shown status changes to WARN or FAIL."""
    success_threshold: Threshold = 2
    """Good results in a row before it goes back to OK."""


class DirCheck(CheckBase):
    """Exists, is a directory, and takes a real write (a temporary file, removed at once)."""

    kind: Literal["dir"]
    """`dir`: the directory exists and takes a real write (a temporary file, removed at once)."""
    path: Path | None = None
    """The directory; default: the history file's (`store.path`), e.g. `/var/spool/inbox`."""


class DiskFreeCheck(CheckBase):
    kind: Literal["disk_free"]
    """`disk_free`: free space on the filesystem holding `path`."""
    path: Path = Path("/")
    """A path on the filesystem checked."""
    min: Size | None = None
    """FAIL below this much free space, e.g. `1GB` (give `min`, `min_pct` or both)."""
    min_pct: Percent | None = None
    """FAIL below this share free, in percent, e.g. `5`."""
    warn_min: Size | None = None
    """WARN below this much free space, e.g. `5GB`."""
    warn_min_pct: Percent | None = None
    """WARN below this share free, in percent, e.g. `15`."""

    @model_validator(mode="after")
    def _has_a_limit(self) -> DiskFreeCheck:
        if self.min is None and self.min_pct is None:
            raise ValueError("give min (e.g. 1GB) and/or min_pct (e.g. 5)")
        if self.warn_min is not None and self.min is not None and self.warn_min <= self.min:
            raise ValueError(f"warn_min ({format_size(self.warn_min)}) must be above min ({format_size(self.min)})")
        if self.warn_min_pct is not None and self.min_pct is not None and self.warn_min_pct <= self.min_pct:
            raise ValueError(f"warn_min_pct ({self.warn_min_pct:g}) must be above min_pct ({self.min_pct:g})")
        return self


class MemoryCheck(CheckBase):
    kind: Literal["memory"]
    """`memory`: the host's memory in use."""
    max_pct: Percent = 90.0
    """FAIL above this share of memory in use, in percent."""
    warn_pct: Percent | None = None
    """WARN above this share, in percent (below `max_pct`), e.g. `80`."""

    @model_validator(mode="after")
    def _warn_below_max(self) -> MemoryCheck:
        if self.warn_pct is not None and self.warn_pct >= self.max_pct:
            raise ValueError(f"warn_pct ({self.warn_pct:g}) must be below max_pct ({self.max_pct:g})")
        return self


class FileSizeCheck(CheckBase):
    kind: Literal["file_size"]
    """`file_size`: a file that must not grow too large (a log, a queue file)."""
    path: Path
    """The file, e.g. `/var/log/app.log`."""
    max: Size
    """FAIL above this size, e.g. `100MB`."""
    warn: Size | None = None
    """WARN above this size (below `max`), e.g. `50MB`."""

    @model_validator(mode="after")
    def _warn_below_max(self) -> FileSizeCheck:
        if self.warn is not None and self.warn >= self.max:
            raise ValueError(f"warn ({format_size(self.warn)}) must be below max ({format_size(self.max)})")
        return self


class ProcessCheck(CheckBase, ProcessMatch):
    """OK while a process matches (match / cmdline / pid_file / self, as in monitor.processes)."""

    kind: Literal["process"]
    """`process`: OK while a process matches (`match`, `cmdline`, `pid_file` or `self`, as in `monitor.processes`)."""


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise ValueError(f"must be an http:// or https:// URL, got {url!r}")
    return url


def _status_codes(codes: list[int]) -> list[int]:
    for code in codes:
        if not 100 <= code <= 599:
            raise ValueError(f"HTTP status codes are 100..599, got {code}")
    return codes


class HttpCheck(CheckBase):
    kind: Literal["http"]
    """`http`: an HTTP endpoint answers with an expected status, in time, and its document says healthy."""
    url: Annotated[str, AfterValidator(_http_url)]
    """The URL, e.g. `http://127.0.0.1:8080/health`."""
    method: Literal["GET", "HEAD"] = "GET"
    """The HTTP method."""
    headers: dict[str, str] = {}
    """Extra headers (values may use `${SECRET}`s, masked everywhere), e.g. `{Authorization: "Bearer ${HEALTH_TOKEN}"}`."""
    expect_status: Annotated[list[int], AfterValidator(_status_codes), Field(min_length=1)] = [200]
    """The status codes that are OK; any other is FAIL."""
    max_response_time: PositiveDuration | None = None
    """WARN when the answer is slower than this, e.g. `500ms`."""
    conditions: list[Annotated[str, AfterValidator(validate_condition)]] = []
    """Conditions on the JSON answer, FAIL when one is false, e.g. `['status == "healthy"']`."""
    components: Annotated[str, AfterValidator(validate_path)] | None = None
    """Where per-component results are in the document, shown under the check, e.g. `components`."""
    ok_values: list[str] = ["healthy", "ok", "up", "pass", "passing", "true"]
    """Component values that are OK (case-insensitive)."""
    warn_values: list[str] = ["degraded", "warn", "warning"]
    """Component values that are WARN; any other value is FAIL."""


HealthCheck = Annotated[
    DirCheck | DiskFreeCheck | MemoryCheck | FileSizeCheck | ProcessCheck | HttpCheck,
    Field(discriminator="kind"),
]


HealthChecks = Annotated[list[HealthCheck], unique_names("health check")]
