"""A log source: tail a file (tail.py), parse its lines (parsers.py), record metrics per label
(logmetrics.py) and turn bad or alarming lines into events, rate-limited.

Reading and parsing run in this source's one worker thread, a bounded read at a time; the event
loop only closes a tick every `interval` (rates from the measured monotonic time since the last
one), records the samples, and saves the position (log_offsets) right after the samples it
covers, so a restart resumes exactly after the last line counted.

Series: log:<name>/lines_per_s, lines_total, parse_errors_total (and errors_per_s with an
error_pattern); per label log:<name>:<label>/requests_per_s, status_4xx_per_s, status_5xx_per_s,
error_rate, latency_p50_ms, latency_p95_ms, latency_p99_ms.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine import eventcodes as ev
from engine.cadence import next_tick
from engine.component import EngineContext
from engine.evidence.counts import STANDARD_BOUNDS_MS, record_counts
from engine.store import Store, StoreError, open_reader
from engine.watch import parsers
from engine.watch.config import WatchSourceConfig
from engine.watch.logmetrics import Labels, Tick, Window, consume, latency_cap, new_counts
from engine.watch.ratelimit import EventLimiter
from engine.watch.status import SourceStatus
from engine.watch.tail import Chunk, Tailer

log = logging.getLogger("opsconsole.watch")

SAMPLE_CHARS = 500  # of a line, in an event's data (the full text shown on enter)
MESSAGE_CHARS = 160


def load_offset(store: Store, source: str) -> dict[str, Any] | None:
    """Blocking: where `source` stopped last time (flushed first, for a restart within a run)."""
    store.flush(timeout=30.0)
    try:
        reader = open_reader(store.path)
    except StoreError:
        return None  # no history yet: nothing was read before
    try:
        return reader.log_offset(source)
    finally:
        reader.close()


def _text(line: bytes, limit: int) -> str:
    text = line.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def next_report_at(now: float, interval: float) -> float:
    """The next report's moment: the first multiple of `interval` on the monotonic clock at least
    half an interval away. On that grid (engine/cadence.py) the reader's hand-off lands while the
    loop is awake for the engine's other periodic work instead of waking it once more each report,
    and the first window is never a sliver (a rate from a handful of lines)."""
    return next_tick(interval, now + interval / 2)


class LogSource:
    def __init__(self, config: WatchSourceConfig) -> None:
        assert config.log is not None, "a log source has log:"
        self.config = config
        self.name = config.source
        self.path = str(config.log)
        self.status = SourceStatus(self.name)
        self.parse = parsers.build(config.parser_spec())
        pattern = config.error_pattern
        self.error_search = re.compile(pattern.encode()).search if pattern else None
        limit = config.error_events
        self.parse_limiter = EventLimiter(limit.max, limit.per)
        self.match_limiter = EventLimiter(limit.max, limit.per)
        self.labels = Labels()
        self.window = Window(config.window)
        self._counted: set[str] = set()  # labels whose every latency bucket was recorded once
        self.latency_cap = latency_cap(config.window, config.interval)
        self.tick = Tick(self.latency_cap)
        self.lines_total = 0
        self.parse_errors_total = 0
        self._saved_position: dict[str, Any] | None = None

    def snapshot_fields(self) -> dict[str, Any]:
        return {"health": (self.status.view,)}

    async def run(self, ctx: EngineContext) -> None:
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-reader")
        stop = threading.Event()
        tailer: Tailer | None = None
        try:
            saved = await asyncio.to_thread(load_offset, ctx.store, self.name)
            self._saved_position = saved
            tailer = Tailer(self.path, self.config.start, saved)
            interval, poll = self.config.interval, self.config.poll
            last = time.monotonic()
            next_report = next_report_at(last, interval)
            wait_first = False  # the last call read up to the report: the next one waits a poll first
            while True:
                if ctx.paused:  # report what was read before the pause, then read nothing until resume
                    self._report(ctx, time.monotonic() - last, tailer)
                    await ctx.wait_running()
                    last = time.monotonic()
                    next_report = next_report_at(last, interval)
                # The worker polls the file every `poll` until the report is due, and comes back
                # sooner only with news for the loop (a note, a status change, the pause, an error):
                # the loop wakes once per report instead of twice per poll (bench/loop_wakeups.py).
                chunk, error, due = await loop.run_in_executor(
                    executor, self._read_until, tailer, next_report, poll, stop, lambda: ctx.paused, wait_first)
                if error is not None:  # e.g. EIO: say it, keep the position, try again next poll
                    self._set_status(ctx, "WARN", "error",
                                     f"cannot read {self.path}: {(error.strerror or str(error)).lower()}")
                else:
                    self._after_read(ctx, chunk, tailer)
                now = time.monotonic()
                if now >= next_report:
                    self._report(ctx, now - last, tailer)
                    last = now
                    next_report = next_report_at(now, interval)  # the next tick; later when this one was late
                if not due and not chunk.more:  # back early: the next poll as before
                    await asyncio.sleep(max(0.0, min(poll, next_report - time.monotonic())))
                wait_first = due and not chunk.more
        finally:
            # The read in flight finishes first: its lines are counted and its position saved.
            stop.set()
            await asyncio.shield(asyncio.to_thread(executor.shutdown, wait=True))
            if tailer is not None:
                self._record_totals(ctx)
                self._save_position(ctx, tailer)
                tailer.close()

    # ------------------------------------------------------------------ worker thread
    def _read_until(self, tailer: Tailer, deadline: float, poll: float, stop: threading.Event,
                    paused: Callable[[], bool], wait_first: bool) -> tuple[Chunk, OSError | None, bool]:
        """Read every `poll` (at once again after a read that stopped at READ_BYTES) until the
        monotonic `deadline`. Returns what the loop needs (the notes, `more`), the error that ended
        it if one did, and whether it ran to the deadline. It returns sooner, after the read that
        has news for the loop: a note, a status the loop would change, an error, the pause, a stop.
        `wait_first`: the last call read just before the report, so this one waits a poll first
        (the reads keep their cadence, as when the loop slept between them)."""
        out = Chunk()
        if wait_first and stop.wait(max(0.0, min(poll, deadline - time.monotonic()))):
            return out, None, False
        while True:
            try:
                chunk = self._read(tailer)
            except OSError as exc:
                return out, exc, False
            out.notes.extend(chunk.notes)
            out.more = chunk.more
            if chunk.notes or paused() or stop.is_set() or self.status.view.value != (
                    "waiting" if tailer.problem else "tailing"):
                return out, None, False
            wait = deadline - time.monotonic()
            if wait <= 0:
                return out, None, True
            if not chunk.more and stop.wait(min(poll, wait)):
                return out, None, False

    def _read(self, tailer: Tailer) -> Chunk:
        chunk = tailer.read()
        consume(chunk.lines, self.parse, self.tick, self.labels, self.error_search)
        if chunk.fragments:
            self.tick.lines += len(chunk.fragments)
            self.tick.parse_errors += len(chunk.fragments)
            self.tick.error_samples.extend((f, "half a line lost to a copytruncate rotation") for f in chunk.fragments)
        return chunk

    # ------------------------------------------------------------------ event loop
    def _after_read(self, ctx: EngineContext, chunk: Chunk, tailer: Tailer) -> None:
        if tailer.problem:
            self._set_status(ctx, "WARN", "waiting", f"waiting for {self.path}: {tailer.problem}")
        else:
            self._set_status(ctx, "OK", "tailing", f"tailing {self.path}")
        for note in chunk.notes:
            ctx.event(ev.LOG_NOTE, "info", self.name, note, {"file": self.path})

    def _set_status(self, ctx: EngineContext, status: str, value: str, detail: str) -> None:
        previous = self.status.view.value
        if not self.status.set(status, value, detail) or (value == "tailing" and previous == "starting"):
            return  # unchanged, or the normal start: nothing to tell
        ctx.event(ev.LOG_STATUS, "warning" if value == "error" else "info", self.name, detail,
                  {"file": self.path, "status": value})

    def _report(self, ctx: EngineContext, elapsed: float, tailer: Tailer) -> None:
        tick, self.tick = self.tick, Tick(self.latency_cap)
        self.lines_total += tick.lines
        self.parse_errors_total += tick.parse_errors
        self._events(ctx, tick)
        if not self.status.ok or elapsed <= 0:
            self._save_position(ctx, tailer)
            return  # waiting for the file: no rate was measured
        source = self.name
        ctx.record(source, "lines_per_s", tick.lines / elapsed, unit="/s")
        self._record_totals(ctx)
        if self.error_search is not None:
            ctx.record(source, "errors_per_s", tick.matches / elapsed, unit="/s")
        self.window.push(elapsed, tick.labels)
        now = time.time()
        for label in self.labels.seen:
            counts = tick.labels.get(label) or new_counts()
            first = label not in self._counted
            self._counted.add(label)
            record_counts(ctx.record, f"{source}:{label}", counts[0], counts[2], counts[5],
                          zip(STANDARD_BOUNDS_MS, counts[6], strict=True), t=now, every_bucket=first)
        for s in self.window.summaries(list(self.labels.seen)):
            labelled = f"{source}:{s.label}"
            ctx.record(labelled, "requests_per_s", s.requests_per_s, unit="/s")
            ctx.record(labelled, "status_4xx_per_s", s.status_4xx_per_s, unit="/s")
            ctx.record(labelled, "status_5xx_per_s", s.status_5xx_per_s, unit="/s")
            if s.error_rate is not None:
                ctx.record(labelled, "error_rate", s.error_rate)
            if s.p50 is not None:
                ctx.record(labelled, "latency_p50_ms", s.p50, unit="ms")
                ctx.record(labelled, "latency_p95_ms", s.p95 or 0.0, unit="ms")
                ctx.record(labelled, "latency_p99_ms", s.p99 or 0.0, unit="ms")
        self._save_position(ctx, tailer)

    def _record_totals(self, ctx: EngineContext) -> None:
        ctx.record(self.name, "lines_total", self.lines_total)
        ctx.record(self.name, "parse_errors_total", self.parse_errors_total)

    def _events(self, ctx: EngineContext, tick: Tick) -> None:
        """Parse errors and error-pattern lines as events, within the limits; then what was held back."""
        kind = self.config.format
        for line, reason in tick.error_samples:
            if self.parse_limiter.allow():
                ctx.event(ev.LOG_UNPARSED, "warning", self.name, f"line does not parse as {kind}: {reason}",
                          self.parse_limiter.note({"file": self.path, "sample": _text(line, SAMPLE_CHARS)}))
        # Lines past the kept samples were counted, not kept: they count as held back too.
        self.parse_limiter.hold_back(tick.parse_errors - len(tick.error_samples))
        for line in tick.match_samples:
            if self.match_limiter.allow():
                ctx.event(ev.LOG_MATCHED, "warning", self.name, _text(line, MESSAGE_CHARS),
                          self.match_limiter.note({"file": self.path, "line": _text(line, SAMPLE_CHARS * 4)}))
        self.match_limiter.hold_back(tick.matches - len(tick.match_samples))
        per = self.config.error_events
        for limiter, what in ((self.parse_limiter, "lines that do not parse"),
                              (self.match_limiter, "lines matching error_pattern")):
            if limiter.summary_due():
                held = limiter.take_held_back()
                ctx.event(ev.LOG_HELD_BACK, "warning", self.name,
                          f"{held} more {what} not shown (at most {per.max} events per {per.per:g}s)",
                          {"file": self.path, "held_back": held})

    def _save_position(self, ctx: EngineContext, tailer: Tailer) -> None:
        position = tailer.position()
        if position is None or position == self._saved_position:
            return
        self._saved_position = position
        try:
            ctx.store.upsert_log_offset({"source": self.name, **position, "updated_at": time.time()})
        except StoreError as exc:  # the store is closing: the next start re-reads from the last saved offset
            log.warning("%s: position not saved: %s", self.name, exc)
