"""The Health panel's "backup" line from what is known of the backups: the live component's state, or
what review (engine/history/parts.py) finds in the history. One function, so both read the same."""

from __future__ import annotations

from engine.backup.config import BackupConfig
from engine.snapshot import HealthStatus, HealthView
from engine.units import format_duration, format_size

STALE_FACTOR = 2  # the line warns when the newest backup is older than this many periods

Progress = tuple[str, float | None, float]  # phase, fraction, started
LastOk = tuple[float, str, int]  # created, file name, bytes
LastError = tuple[float, str]  # when, why


def backup_health(
    config: BackupConfig,
    now: float,
    *,
    progress: Progress | None = None,
    last_ok: LastOk | None = None,
    last_error: LastError | None = None,
) -> HealthView:
    """One short line (a Health panel column is ~35 cells): `OK backup 2h 46.8KB` reads as
    "the newest backup is 2h old and 46.8KB"; the detail line shows when it is not OK."""
    every = f"every {format_duration(config.every)}" if config.every > 0 else "only on demand"
    if progress is not None:
        phase, fraction, started = progress
        value = f"{phase} {fraction:.0%}" if fraction is not None else f"{phase}…"
        return HealthView("backup", HealthStatus.RUNNING, started, value)
    if last_error is not None and (last_ok is None or last_error[0] > last_ok[0]):
        return HealthView("backup", HealthStatus.FAIL, last_error[0], "failed", detail=last_error[1])
    if last_ok is None:
        # since=now: review rebuilds this line from events alone.
        return HealthView("backup", HealthStatus.UNKNOWN, now, "none yet", detail=f"b backs up now; scheduled {every}")
    created, name, size = last_ok
    if config.every > 0 and now - created > STALE_FACTOR * config.every:
        return HealthView(
            "backup", HealthStatus.WARN, created, format_size(size),
            detail=f"the newest backup is older than {STALE_FACTOR} x {every} ({name})",
        )
    return HealthView("backup", HealthStatus.OK, created, format_size(size), detail=name)
