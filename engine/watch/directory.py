"""A directory source: new and changed files processed exactly once, checkpointed in the ledger.

Files are found three ways, all feeding one queue (deduplicated by path):
- watchfiles reports changes as they happen (inotify, in its own thread; polling with
  `force_polling`);
- a reconcile (scan.py) compares the directory with the ledger at start and every
  `reconcile_every`: it finds what arrived while we were stopped and what inotify dropped;
- a file still being written, or failing to read, comes back after its wait.

A bounded pool of `max_workers` threads does the blocking work (worker.py: open, stat, read,
sha256, processor), a chunk of paths per call; the event loop only moves paths and results and
writes ledger rows in batches. A file that cannot be read is retried `retry.attempts` times with
backoff × 2^n between tries, then recorded as failed: never an endless loop. Bad content (invalid
JSON) is recorded as failed at once: reading the same bytes again cannot help.

A watched directory that is missing or unreadable puts the source in WAITING ("waiting for
<dir>: does not exist"); it looks again every second and carries on by itself once it can.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from watchfiles import Change, awatch

from engine import eventcodes as ev
from engine.component import EngineContext
from engine.store import StoreError
from engine.watch import worker
from engine.watch.config import WatchSourceConfig
from engine.watch.ledger import FAILED, Ledger
from engine.watch.patterns import NameFilter
from engine.watch.processors import PROCESSORS
from engine.watch.ratelimit import EventLimiter
from engine.watch.scan import BATCH, Handoff, scan
from engine.watch.status import SourceStatus
from engine.watch.worker import ChunkResult, FileResult, Job

log = logging.getLogger("opsconsole.watch")

CHUNK_FILES = 1024  # paths per worker call: amortises the hand-off (~10 ms of work for small files)
CHUNKS_PER_WORKER = 2  # queued ahead, so a worker never waits for the loop
DIR_RECHECK = 1.0  # how often a missing directory is looked for
LEDGER_FLUSH_ROWS = 2048  # ledger rows handed to the store before we ask it to commit them
LEDGER_AHEAD_ROWS = 4 * LEDGER_FLUSH_ROWS  # uncommitted rows at most: then no new chunks start
LEDGER_FLUSH_TIMEOUT = 30.0
FAILURE_EVENTS = (10, 60.0)  # at most 10 failure events a minute per source; the rest are counted
WATCH_DEBOUNCE_MS, WATCH_STEP_MS = 500, 50


class DirectoryGone(Exception):
    """The watched directory went away or became unreadable; str() says how."""


@dataclass
class _Counts:
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    records: int | None = None  # what the processor counted (json documents, lines), if it counts

    def take(self) -> _Counts:
        taken = _Counts(self.files, self.bytes, self.seconds, self.records)
        self.files, self.bytes, self.seconds, self.records = 0, 0, 0.0, None
        return taken


def directory_problem(directory: str) -> str | None:
    """Why `directory` cannot be watched, in a few words, or None if it can."""
    try:
        with os.scandir(directory):
            return None
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "is not a directory"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()


class DirectorySource:
    def __init__(self, config: WatchSourceConfig) -> None:
        assert config.dir is not None, "a directory source has dir:"
        self.config = config
        self.name = config.source
        self.directory = str(config.dir)
        self.status = SourceStatus(self.name)
        self.names = NameFilter(config.pattern, config.exclude)
        self.processor = PROCESSORS[config.processor]
        self.limiter = EventLimiter(*FAILURE_EVENTS)
        self.ledger = Ledger(self.directory)
        self.files_total = 0
        self.errors_total = 0
        self.records_total: int | None = None
        self._counts = _Counts()
        self._reset_queue()

    def _reset_queue(self) -> None:
        self._ready: deque[str] = deque()
        self._later: list[tuple[float, str]] = []  # heap of (due, path)
        self._queued: set[str] = set()  # in _ready or _later
        self._inflight: set[str] = set()
        self._again: set[str] = set()  # changed again while being processed
        self._attempts: dict[str, int] = {}
        self._futures: set[asyncio.Future[ChunkResult]] = set()
        self._wake = asyncio.Event()
        self._handoff: Handoff | None = None  # the running scan's, while one runs
        # Ledger rows handed to the store and not known to be committed. The store's writer
        # commits every flush_interval on its own; in a burst that is tens of thousands of rows
        # held in memory (the RSS stays after they go), so we ask for a commit every
        # LEDGER_FLUSH_ROWS and hold back new work while LEDGER_AHEAD_ROWS wait.
        self._unflushed = 0
        self._flushing: asyncio.Task[None] | None = None

    def snapshot_fields(self) -> dict[str, Any]:
        return {"health": (self.status.view,)}

    # ------------------------------------------------------------------ lifecycle
    async def run(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        self.ledger_loaded = False
        self._reset_queue()
        self._pool = ThreadPoolExecutor(self.config.max_workers, thread_name_prefix=f"{self.name}-worker")
        reporter: asyncio.Task[None] | None = None
        try:
            self.ledger = await asyncio.to_thread(Ledger.load, ctx.store, self.directory)
            self.ledger_loaded = True
            self._job = Job(self.processor, self.config.settle, self.config.max_file_size, self.ledger.has,
                            key=self.ledger.key)
            reporter = asyncio.create_task(self._report_forever(), name=f"{self.name}-report")
            while True:
                await self._wait_for_directory()
                try:
                    await self._watch()
                except* DirectoryGone as gone:
                    self._set_waiting(str(gone.exceptions[0]))
        finally:
            if reporter is not None:
                reporter.cancel()
            if self._flushing is not None:
                self._flushing.cancel()
            self._pool.shutdown(wait=False, cancel_futures=True)
            # Let chunks already being read finish and be recorded, so a restart does not
            # process them again (asyncio.wait does not raise if we are cancelled meanwhile).
            if self._futures:
                await asyncio.wait(self._futures, timeout=5.0)
            if self.ledger_loaded:
                self._add_totals(self._counts.take())
                self._record_totals()  # the last files before the stop count in the totals too

    async def _wait_for_directory(self) -> None:
        while True:
            problem = await asyncio.to_thread(directory_problem, self.directory)
            if problem is None:
                return
            self._set_waiting(problem)
            await asyncio.sleep(DIR_RECHECK)

    def _set_waiting(self, problem: str) -> None:
        if self.status.set("WARN", "waiting", f"waiting for {self.directory}: {problem}"):
            self._ctx.event(ev.DIR_WAITING, "info", self.name, f"waiting for {self.directory}: {problem}",
                            {"dir": self.directory})

    async def _watch(self) -> None:
        was_waiting = self.status.view.value == "waiting"
        self.status.set("OK", "watching", f"watching {self.directory}")
        if was_waiting:
            self._ctx.event(ev.DIR_WATCHING, "info", self.name, f"watching {self.directory}", {"dir": self.directory})
        stop = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._follow_events(stop))
                tasks.create_task(self._reconcile_forever())
                tasks.create_task(self._dispatch_forever())
        finally:
            stop.set()

    # ------------------------------------------------------------------ finding files
    async def _follow_events(self, stop: asyncio.Event) -> None:
        cfg = self.config
        try:
            async for changes in awatch(
                self.directory,
                watch_filter=self._wanted,
                recursive=cfg.recursive,
                force_polling=cfg.force_polling,
                poll_delay_ms=int(cfg.poll_interval * 1000),
                debounce=WATCH_DEBOUNCE_MS,
                step=WATCH_STEP_MS,
                stop_event=stop,
                ignore_permission_denied=True,
            ):
                for change, path in changes:
                    if path == self.directory:
                        if change == Change.deleted:
                            raise DirectoryGone("it was deleted")
                    elif change == Change.deleted:
                        self._deleted(path)
                    else:
                        self._schedule(path)
        except FileNotFoundError:
            raise DirectoryGone("does not exist") from None
        except (OSError, RuntimeError) as exc:
            # e.g. the inotify watch limit: keep going on the periodic reconcile alone, and say so.
            self._ctx.event(
                ev.DIR_POLLING, "warning", self.name,
                f"cannot watch {self.directory} for changes ({exc}); new files are found by the "
                f"rescan every {self.config.reconcile_every:g}s (force_polling: true avoids inotify)",
                {"dir": self.directory, "error": str(exc)},
            )

    def _wanted(self, change: Change, path: str) -> bool:
        return path == self.directory or self.names.wants_path(self.directory, path)

    async def _reconcile_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._ctx.wait_running()
            self.ledger.begin_rebuild()
            self._handoff = Handoff(loop, self._schedule_all)
            try:
                found = await asyncio.to_thread(
                    scan, self.directory, self.names, self.config.recursive, self.ledger, self._handoff.deliver
                )
            except OSError:
                self.ledger.end_rebuild_unfinished()
                problem = await asyncio.to_thread(directory_problem, self.directory)
                raise DirectoryGone(problem or "it could not be read") from None
            except BaseException:
                self.ledger.end_rebuild_unfinished()
                raise
            finally:
                self._handoff.close()
                self._handoff = None
            self.ledger.rebuild(found.handled)
            await asyncio.sleep(self.config.reconcile_every)

    def _schedule_all(self, paths: list[str]) -> None:
        """A scan's batch: `_schedule` for each, with set operations rather than per-path calls
        (a scan hands over every file of a directory; a batch holds distinct paths)."""
        if self._inflight:
            busy = self._inflight.intersection(paths)
            if busy:
                self._again.update(busy)
                paths = [p for p in paths if p not in busy]
        queued = self._queued
        fresh = [p for p in paths if p not in queued] if queued else paths
        if fresh:
            queued.update(fresh)
            self._ready.extend(fresh)
            self._wake.set()

    def _schedule(self, path: str, delay: float = 0.0) -> None:
        if path in self._inflight:
            self._again.add(path)
        elif path not in self._queued:
            self._queued.add(path)
            if delay > 0:
                heapq.heappush(self._later, (time.monotonic() + delay, path))
            else:
                self._ready.append(path)
            self._wake.set()

    def _deleted(self, path: str) -> None:
        """A file left the directory; its ledger entry goes at the next reconcile."""
        self._attempts.pop(path, None)

    # ------------------------------------------------------------------ processing
    async def _dispatch_forever(self) -> None:
        loop = asyncio.get_running_loop()
        workers = self.config.max_workers
        limit = workers * CHUNKS_PER_WORKER
        while True:
            await self._ctx.wait_running()
            self._promote_due()
            while self._ready and len(self._futures) < limit and self._unflushed < LEDGER_AHEAD_ROWS:
                size = min(CHUNK_FILES, len(self._ready), max(1, -(-len(self._ready) // workers)))
                chunk = [self._ready.popleft() for _ in range(size)]
                self._queued.difference_update(chunk)
                self._inflight.update(chunk)
                if not self._queued:
                    self._queued = set()  # a set never shrinks: after a burst, let its table go
                future = loop.run_in_executor(self._pool, worker.process_chunk, chunk, self._job)
                self._futures.add(future)
                future.add_done_callback(partial(self._chunk_done, chunk))
            if self._handoff is not None and len(self._ready) < BATCH:
                self._handoff.room()
            self._wake.clear()
            timeout = max(0.0, self._later[0][0] - time.monotonic()) if self._later else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def _promote_due(self) -> None:
        now = time.monotonic()
        while self._later and self._later[0][0] <= now:
            self._ready.append(heapq.heappop(self._later)[1])

    def _chunk_done(self, chunk: list[str], future: asyncio.Future[ChunkResult]) -> None:
        self._futures.discard(future)
        self._inflight.difference_update(chunk)
        self._wake.set()
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:  # a bug in the worker itself: counted as an I/O failure, so it ends
            log.error("%s: worker failed on %d files", self.name, len(chunk), exc_info=error)
            results = ChunkResult(others=[
                FileResult(worker.RETRY, p, error=f"worker failed: {type(error).__name__}: {error}") for p in chunk
            ])
        else:
            results = future.result()
        self._handle(results)
        self._maybe_commit()  # also when this chunk wrote nothing: the last chunk may be all SAME
        if self._again:
            for path in chunk:
                if path in self._again:
                    self._again.discard(path)
                    self._schedule(path)

    def _handle(self, results: ChunkResult) -> None:
        now = time.time()
        rows = results.rows  # the done files' ledger rows, made by the worker
        if rows:
            self.ledger.record_keys(results.keys)
            counts = self._counts
            counts.files += len(rows)
            counts.bytes += results.bytes
            counts.seconds += results.seconds
            if results.records is not None:
                counts.records = (counts.records or 0) + results.records
            if self._attempts:
                for row in rows:
                    self._attempts.pop(row[0], None)
        for r in results.others:
            kind = r.kind
            if kind == worker.WAIT:
                self._schedule(r.path, r.seconds)
            elif kind == worker.SAME or kind == worker.SKIP:
                self._attempts.pop(r.path, None)
            elif kind == worker.GONE:
                self._gone_before_read(r.path)
            elif kind == worker.RETRY:
                attempt = self._attempts.get(r.path, 0) + 1
                if attempt < self.config.retry.attempts:
                    self._attempts[r.path] = attempt
                    self._schedule(r.path, self.config.retry.backoff * 2**attempt)
                else:
                    self._attempts.pop(r.path, None)
                    rows.append(self._failed(r, f"{r.error} (after {attempt} attempts)", now, attempt))
            else:  # FAILED: bad content, not retried
                rows.append(self._failed(r, r.error, now, 1))
        if rows:
            self._write(rows)

    def _failed(self, r: FileResult, error: str, now: float, attempts: int) -> tuple[Any, ...]:
        self.ledger.record(r.path, r.size, r.mtime)  # this version is done with, until it changes
        self.errors_total += 1
        if self.limiter.allow():
            self._ctx.event(
                ev.DIR_FILE_FAILED, "warning", self.name, f"{self._relative(r.path)}: {error}",
                self.limiter.note({"path": r.path, "processor": self.processor.name, "size": r.size,
                                   "attempts": attempts}),
            )
        return (r.path, r.size, r.mtime, r.digest, FAILED, error, now)

    def _gone_before_read(self, path: str) -> None:
        self._attempts.pop(path, None)
        if self.limiter.allow():
            self._ctx.event(ev.DIR_FILE_VANISHED, "info", self.name, f"{self._relative(path)} was deleted before it could be read",
                            self.limiter.note({"path": path}))

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        try:
            self._ctx.store.upsert_watched_files(rows)
        except StoreError as exc:  # the store is closing: these files are read again next start
            log.warning("%s: %d ledger rows not recorded: %s", self.name, len(rows), exc)
            return
        self._unflushed += len(rows)
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        """Every LEDGER_FLUSH_ROWS, and at once when the work runs out (the end of a burst: the
        last files are on record now, not one writer interval later)."""
        if self._flushing is None and self._unflushed and (
            self._unflushed >= LEDGER_FLUSH_ROWS or not (self._futures or self._ready)
        ):
            self._flushing = asyncio.create_task(self._commit_ledger(), name=f"{self.name}-commit")

    async def _commit_ledger(self) -> None:
        """Ask the store to commit the rows handed over so far (in a thread: flush blocks)."""
        covered = self._unflushed
        try:
            await asyncio.to_thread(self._ctx.store.flush, LEDGER_FLUSH_TIMEOUT)
        except StoreError as exc:  # closing or stalled: the store reports that itself
            log.warning("%s: ledger rows not committed yet: %s", self.name, exc)
        finally:
            self._unflushed = max(0, self._unflushed - covered)
            self._flushing = None
            self._wake.set()
        self._maybe_commit()

    def _relative(self, path: str) -> str:
        return path[len(self.directory) + 1 :] if path.startswith(self.directory + "/") else path

    # ------------------------------------------------------------------ reporting
    def _add_totals(self, counts: _Counts) -> None:
        self.files_total += counts.files
        if counts.records is not None:
            self.records_total = (self.records_total or 0) + counts.records

    def _record_totals(self) -> None:
        self._ctx.record(self.name, "files_total", self.files_total)
        self._ctx.record(self.name, "errors_total", self.errors_total)
        if self.records_total is not None:
            self._ctx.record(self.name, "records_total", self.records_total)

    async def _report_forever(self) -> None:
        ctx, source, every = self._ctx, self.name, self.config.interval
        last = next_due = time.monotonic()
        while True:
            next_due += every
            await asyncio.sleep(max(0.0, next_due - time.monotonic()))
            if ctx.paused or not self.status.ok:
                # Paused or waiting for the directory: no rate is measured; a gap is honest.
                await ctx.wait_running()
                self._counts.take()
                last = next_due = time.monotonic()
                continue
            now = time.monotonic()
            elapsed, last = now - last, now
            counts = self._counts.take()
            self._add_totals(counts)
            ctx.record(source, "files_per_s", counts.files / elapsed, unit="/s")
            ctx.record(source, "bytes_per_s", counts.bytes / elapsed, unit="B/s")
            self._record_totals()
            if counts.files:
                ctx.record(source, "processing_ms", counts.seconds * 1000 / counts.files, unit="ms")
            if self.limiter.summary_due():
                held = self.limiter.take_held_back()
                ctx.event(ev.DIR_HELD_BACK, "warning", source,
                          f"{held} more failed or vanished files not shown (at most {FAILURE_EVENTS[0]} "
                          "events a minute); the watched_files ledger records every failure", {"held_back": held})
