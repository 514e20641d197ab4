"""The engine's backup part: the schedule, the `backup` command (the console's `b` key), and the
Health panel's "backup" line, which doubles as the progress indicator while a backup runs.

One backup at a time: a `b` pressed while a scheduled backup runs joins it and reports its
result. The work runs in a worker thread (job.py); the engine's loop only starts it, reads its
progress and records the outcome: an event always, and an audit row for scheduled backups (a
command's audit row is written by Engine.execute). At start, leftovers of a backup killed
mid-way are removed (files.clean_interrupted) and said so.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from engine import eventcodes as ev
from engine.backup.config import BackupConfig
from engine.backup.errors import BackupError
from engine.backup.files import BackupFile, clean_interrupted, newest_verified
from engine.backup.job import BackupResult, run_backup
from engine.backup.status import LastError, LastOk, Progress, backup_health
from engine.commands import ENGINE_ACTOR, Actor, Command, CommandResult
from engine.component import ComponentError, EngineContext
from engine.snapshot import HealthView
from engine.store import StoreError

JOB_STOP_TIMEOUT = 1.5  # s: within the supervisor's 2 s stop budget

log = logging.getLogger("opsconsole.backup")

FIRST_DELAY = 300.0  # with no backup yet, the first scheduled one waits this long after start
RETRY_AFTER = 900.0  # after a failed scheduled backup (capped by backup.every)
FLUSH_TIMEOUT = 5.0  # the writer's queue goes to disk first, so the backup has what was seen


class BackupComponent:
    name = "backup"

    def __init__(self, config: BackupConfig, *, first_delay: float = FIRST_DELAY) -> None:
        self.config = config
        self.first_delay = first_delay
        self._ctx: EngineContext | None = None
        self._registered = False
        self._task: asyncio.Task[BackupResult | BackupError] | None = None
        self._cancel = threading.Event()
        # Written by the worker thread, read by snapshot_fields: whole tuples, swapped atomically.
        self._progress: Progress | None = None
        self._last_ok: LastOk | None = None
        self._last_error: LastError | None = None

    # -- component -----------------------------------------------------------------------------

    async def run(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        if not self._registered:  # run() is called again after a crash; the verb stays ours
            ctx.register_command("backup", self._on_command)
            self._registered = True
        started = time.time()
        try:
            await self._clean_and_read_state(ctx)
            if self.config.every <= 0:
                await asyncio.Event().wait()  # on demand only: the command stays available
            retry_at: float | None = None
            while True:
                try:
                    due = retry_at if retry_at is not None else await asyncio.to_thread(self._next_due, started)
                except BackupError as exc:  # the directory cannot be listed: shown, retried with backoff
                    raise ComponentError(f"backup schedule: {exc}") from exc
                await asyncio.sleep(max(0.0, due - time.time()))
                outcome, _joined = await self._backup(ENGINE_ACTOR, scheduled=True)
                failed = isinstance(outcome, BackupError)
                retry_at = time.time() + min(self.config.every, RETRY_AFTER) if failed else None
        finally:
            # The engine is stopping (or we crashed): a backup in flight is abandoned cleanly, and
            # its outcome (finished just now, or abandoned) is recorded before the store closes.
            if self._task is not None and not self._task.done():
                self._cancel.set()
                await asyncio.wait({self._task}, timeout=JOB_STOP_TIMEOUT)

    async def _clean_and_read_state(self, ctx: EngineContext) -> None:
        directory = self.config.dir
        try:
            removed = await asyncio.to_thread(clean_interrupted, directory)
            newest = await asyncio.to_thread(newest_verified, directory)
        except BackupError as exc:
            self._last_error = (time.time(), str(exc))
            ctx.event(ev.BACKUP_DIR_PROBLEM, "warning", "backup", f"backup directory problem: {exc}", {"error": str(exc)})
            return
        if removed:
            names = ", ".join(p.name for p in removed)
            ctx.event(
                ev.BACKUP_PARTIALS_REMOVED, "warning", "backup",
                f"removed {len(removed)} partial file(s) left by an interrupted backup in {directory}: {names}",
                {"removed": [str(p) for p in removed]},
            )
        if newest is not None:
            self._last_ok = (newest.created, newest.path.name, _size(newest))

    def _next_due(self, started: float) -> float:
        newest = newest_verified(self.config.dir)
        if newest is None:
            return started + min(self.first_delay, self.config.every)
        return newest.created + self.config.every

    # -- the command ---------------------------------------------------------------------------

    async def _on_command(self, command: Command) -> CommandResult:
        outcome, joined = await self._backup(command.actor, scheduled=False)
        if isinstance(outcome, BackupError):
            return CommandResult(False, f"backup failed: {outcome}")
        prefix = "(joined the backup already running) " if joined else ""
        return CommandResult(True, prefix + outcome.message(), {"path": str(outcome.path)})

    async def _backup(self, actor: Actor, *, scheduled: bool) -> tuple[BackupResult | BackupError, bool]:
        joined = self._task is not None and not self._task.done()
        if not joined:
            self._cancel = threading.Event()
            self._task = asyncio.create_task(self._run_job(actor, scheduled), name="backup-job")
        assert self._task is not None
        # shield: a command that times out in the console must not cancel the backup itself.
        return await asyncio.shield(self._task), joined

    async def _run_job(self, actor: Actor, scheduled: bool) -> BackupResult | BackupError:
        ctx = self._ctx
        assert ctx is not None, "run() sets the context before any backup can start"
        started = time.time()
        self._progress = ("writing queued rows", None, started)
        note = ""
        try:
            await asyncio.to_thread(ctx.store.flush, FLUSH_TIMEOUT)
        except StoreError as exc:
            note = f" (rows still queued in memory are not in it: {exc})"
        try:
            result = await asyncio.to_thread(
                run_backup, ctx.store.path, self.config, progress=self._on_progress, cancel=self._cancel
            )
        except BackupError as exc:
            self._last_error = (time.time(), str(exc))
            self._record(ctx, actor, scheduled, False, f"backup failed: {exc}{note}", {"error": str(exc)})
            return exc
        finally:
            self._progress = None
        self._last_ok = (result.manifest.created_at, result.path.name, result.manifest.bytes)
        self._last_error = None
        data: dict[str, Any] = {
            "path": str(result.path),
            "bytes": result.manifest.bytes,
            "db_bytes": result.manifest.db_bytes,
            "saved": round(result.manifest.saved, 4),
            "deleted": [str(p) for p in result.deleted],
        }
        self._record(ctx, actor, scheduled, True, result.message() + note, data)
        return result

    def _on_progress(self, phase: str, fraction: float | None) -> None:
        started = self._progress[2] if self._progress else time.time()
        self._progress = (phase, fraction, started)

    @staticmethod
    def _record(
        ctx: EngineContext, actor: Actor, scheduled: bool, ok: bool, message: str, data: dict[str, Any]
    ) -> None:
        try:
            ctx.event(ev.BACKUP_DONE if ok else ev.BACKUP_FAILED, "info" if ok else "critical", "backup", message,
                      {"scheduled": scheduled, **data})
            if scheduled:  # a command's audit row comes from Engine.execute
                ctx.store.add_audit(time.time(), actor, "backup", {"scheduled": True}, message, ok)
        except StoreError as exc:  # the engine stopped while a backup was being cancelled
            log.warning("%s (not recorded in the history: %s)", message, exc)

    # -- snapshot ------------------------------------------------------------------------------

    def snapshot_fields(self) -> dict[str, Any]:
        return {"health": (self._health(time.time()),)}

    def _health(self, now: float) -> HealthView:
        return backup_health(self.config, now, progress=self._progress, last_ok=self._last_ok,
                             last_error=self._last_error)


def _size(backup: BackupFile) -> int:
    try:
        return backup.path.stat().st_size
    except OSError:
        return 0
