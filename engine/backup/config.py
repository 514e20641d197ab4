"""The `backup:` section of config.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from engine.config.schema import Duration, Strict, default_state_dir, in_range
from engine.units import format_duration

MIN_EVERY = 60.0


def _off_or_at_least_a_minute(seconds: float) -> float:
    if 0 < seconds < MIN_EVERY:
        raise ValueError(f"must be 0 (no schedule) or at least 1m, got {format_duration(seconds)}")
    return seconds


class BackupConfig(Strict):
    """dir: where backups go (created 0700); every: the schedule (0 = only when asked, by the
    `b` key or `opsconsole backup`); keep: the newest N verified backups are kept, plus the newest
    of each of the last `daily` days and `weekly` ISO weeks; compress: zstd (fast) or gzip."""

    dir: Path = Field(default_factory=lambda: default_state_dir() / "backups")
    """Where backups are written (created 0700), e.g. `/var/backups/opsconsole`."""
    every: Annotated[Duration, AfterValidator(_off_or_at_least_a_minute)] = 6 * 3600.0
    """The backup schedule; 0 means only when asked (the `b` key or `opsconsole backup`), else at least `1m`."""
    keep: Annotated[int, in_range(1, 1000)] = 7
    """The newest N verified backups kept."""
    daily: Annotated[int, in_range(0, 3650)] = 0
    """Also keep the newest backup of each of the last N days."""
    weekly: Annotated[int, in_range(0, 520)] = 0
    """Also keep the newest backup of each of the last N ISO weeks."""
    compress: Literal["zstd", "gzip"] = "zstd"
    """The compression: `zstd` (fast) or `gzip`."""
