"""Gap detection for every series with an expected cadence: "no data" is a fact with a cause, never 0.

Parts that produce samples on a schedule declare it:

    gaps.expect("collect:api", 1.0, cause=lambda: "target down: connection refused")
    gaps.expect("host", 2.0)                      # a whole source: any of its metrics counts
    gaps.expect("watch:inbox/files_per_s", 5.0)   # one series ("source/metric")

A source key also covers its sub-sources (`collect:fleet` covers `collect:fleet:host1`). The engine
feeds every recorded sample to `observe()` (a dict lookup or two: it is on the hot path). Every
`tick`, a key silent for more than `factor` x its interval opens a gap that starts at its last
sample; the next sample closes it. Each opening and closing is a `gap` event with series, start,
end, duration and cause. The cause is "paused by operator" while the engine is paused, else what
the producer says (`cause()`), else "no data"; "engine not running" is found in the history.

Across a restart: on start, the last sample of each expected key before this engine started is
read from the history (off the loop). If the silence from then to this start is longer than the
threshold, a gap with cause "engine not running" is recorded, from that sample to this start. If
the key was already in a gap when the previous engine stopped (its last sample is long before the
previous engine's last sign of life), that run recorded that gap, closed at its stop; the
"engine not running" one starts at the previous engine's last sign of life. Either way the key's
silence is then counted from this start: a target still down gets a gap of its own, with its cause.

Downstream logic asks `open_gap(source, metric)` to tell "no data" from a value.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import eventcodes as ev
from engine.cadence import seconds_to_tick
from engine.eventcodes import EventCode
from engine.snapshot import RECENT_CLOSED_GAPS, GapView
from engine.store import StoreError, open_reader
from engine.units import format_duration

if TYPE_CHECKING:
    from engine.component import EngineContext

log = logging.getLogger("opsconsole.gaps")

DEFAULT_FACTOR = 2.5
PAUSED = "paused by operator"
ENGINE_NOT_RUNNING = "engine not running"
_MISS = object()
DUE_MARGIN = 0.01  # s after a threshold passes: the check must see it passed (a strict >)


@dataclass
class _Expected:
    key: str
    interval: float
    cause: Callable[[], str] | None
    since: float  # wall time the silence is counted from when there is no sample yet


class GapTracker:
    name = "gaps"

    def __init__(self, started_at: float, factor: float = DEFAULT_FACTOR) -> None:
        self.started_at = started_at
        self.factor = factor
        self._expected: dict[str, _Expected] = {}
        self._last: dict[str, float] = {}  # key -> time of its newest sample
        self._source_key: dict[str, Any] = {}  # source -> its covering source key, or None (cache)
        self._series_key: dict[tuple[str, str], str] = {}  # (source, metric) -> "source/metric"
        self._open: dict[str, GapView] = {}
        self._resumed: dict[str, float] = {}  # key -> first sample after its gap opened
        self._closed: deque[GapView] = deque(maxlen=RECENT_CLOSED_GAPS)
        self._view: tuple[GapView, ...] = ()
        self._ctx: EngineContext | None = None

    # ------------------------------------------------------------------ the API
    def expect(self, key: str, interval: float, cause: Callable[[], str] | None = None) -> None:
        """Samples for `key` ("source" or "source/metric") should arrive every `interval` seconds."""
        if interval <= 0:
            raise ValueError(f"gaps.expect({key!r}): the interval must be positive, got {interval}")
        # Declared while the engine is being built: silence counts from the engine's start.
        since = self.started_at if self._ctx is None else time.time()
        self._expected[key] = _Expected(key, interval, cause, since=since)
        if "/" in key:
            source, metric = key.split("/", 1)
            self._series_key[(source, metric)] = key
        self._source_key.clear()  # the new key may cover sources already cached as uncovered

    def observe(self, source: str, metric: str, t: float) -> None:
        """A sample was recorded. Called for every sample, from any thread: two dict lookups."""
        key = self._source_key.get(source, _MISS)
        if key is _MISS:
            key = self._source_key[source] = self._covering(source)
        if key is not None:
            self._seen(key, t)
        if self._series_key:
            exact = self._series_key.get((source, metric))
            if exact is not None:
                self._seen(exact, t)

    def open_gap(self, source: str, metric: str | None = None) -> GapView | None:
        """The open gap covering this series (its own, or its source's), if any."""
        if metric is not None:
            gap = self._open.get(f"{source}/{metric}")
            if gap is not None:
                return gap
        key = self._covering(source)
        return self._open.get(key) if key is not None else None

    def snapshot_fields(self) -> dict[str, Any]:
        return {"gaps": self._view}

    # ------------------------------------------------------------------ the component
    async def run(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        await self._seed_from_history(ctx)
        try:
            while True:
                now = time.time()
                self.check(now)
                await asyncio.sleep(self._next_check(now))
        finally:
            self._close_all(time.time(), "engine stopping")

    def check(self, now: float) -> None:
        """Open gaps for keys silent too long; close those that got a sample."""
        changed = False
        for key, gap in list(self._open.items()):
            last = self._last.get(key)
            if last is not None and last > gap.start:
                self._close(key, self._resumed.pop(key, last))
                changed = True
        for key, expected in self._expected.items():
            if key in self._open:
                continue
            last = self._last.get(key, expected.since)
            if now - last > self.factor * expected.interval:
                self._open_gap(expected, last, now)
                changed = True
        if changed:
            self._rebuild()

    # ------------------------------------------------------------------ internals
    def _covering(self, source: str) -> str | None:
        if source in self._expected:
            return source
        while ":" in source:
            source = source.rsplit(":", 1)[0]
            if source in self._expected:
                return source
        return None

    def _seen(self, key: str, t: float) -> None:
        if t > self._last.get(key, 0.0):
            self._last[key] = t
        if key in self._open and key not in self._resumed and t > self._open[key].start:
            self._resumed[key] = t

    def _tick(self) -> float:
        """Check often enough that a gap opens within ~10 % of its threshold, at most 4 times a second."""
        shortest = min((e.interval for e in self._expected.values()), default=1.0)
        return min(1.0, max(0.25, shortest * self.factor / 10))

    def _next_check(self, now: float) -> float:
        """Seconds until the next check. While a gap is open: a tick, so its closing is seen within
        one. Otherwise nothing can happen before the first key's silence passes its threshold (a
        sample only moves that later, and then the check finds nothing and waits again): wake just
        after it, at most a second later (a key declared while running), so a gap opens as it did
        within a tick of its threshold (earlier now, not later), without 4 wake-ups a second in
        between (bench/loop_wakeups.py). The second's cap falls on the engine's shared grid
        (engine/cadence.py): that wake-up is the publisher's too."""
        if self._open or not self._expected:
            return self._tick()
        due = min(self._last.get(key, e.since) + self.factor * e.interval for key, e in self._expected.items())
        return min(seconds_to_tick(1.0), max(DUE_MARGIN, due - now + DUE_MARGIN))

    def _cause(self, expected: _Expected) -> str:
        ctx = self._ctx
        if ctx is not None and ctx.paused:
            return PAUSED
        if expected.cause is not None:
            try:
                return expected.cause() or "no data"
            except Exception as exc:  # a producer's bug must not stop gap detection: say so
                log.exception("cause for %s failed", expected.key)
                return f"no data (cause unknown: {type(exc).__name__})"
        return "no data"

    def _open_gap(self, expected: _Expected, last: float, now: float) -> None:
        cause = self._cause(expected)
        gap = GapView(series=expected.key, start=last, end=None, cause=cause)
        self._open[expected.key] = gap
        self._resumed.pop(expected.key, None)
        self._event(
            ev.GAP_OPENED, "warning", expected.key, f"gap opened: no data from {expected.key} ({cause})",
            {"series": expected.key, "start": last, "cause": cause, "interval_s": expected.interval, "silent_s": round(now - last, 3)},
        )

    def _close(self, key: str, end: float, note: str = "") -> None:
        gap = self._open.pop(key)
        closed = GapView(series=gap.series, start=gap.start, end=end, cause=gap.cause)
        self._closed.append(closed)
        duration = end - gap.start
        suffix = f"; {note}" if note else ""
        self._event(
            ev.GAP_CLOSED, "info", key, f"gap closed: {key} had no data for {format_duration(duration)} ({gap.cause}){suffix}",
            {"series": key, "start": gap.start, "end": end, "duration_s": round(duration, 3), "cause": gap.cause},
        )

    def _close_all(self, now: float, note: str) -> None:
        """At stop: the history should not hold gaps that never end; the next start takes over."""
        for key in list(self._open):
            self._close(key, now, note)
        self._rebuild()

    def _event(self, code: EventCode, severity: str, key: str, message: str, data: dict[str, Any]) -> None:
        if self._ctx is not None:
            self._ctx.event(code, severity, key.split("/", 1)[0], message, data)

    def _rebuild(self) -> None:
        opened = sorted(self._open.values(), key=lambda g: g.start)
        self._view = tuple(opened) + tuple(reversed(self._closed))

    async def _seed_from_history(self, ctx: EngineContext) -> None:
        if not self._expected:
            return
        path = ctx.store.path
        try:
            last_samples, previous_end = await asyncio.to_thread(_read_history, path, self.started_at)
        except StoreError as exc:
            ctx.event(ev.GAP_HISTORY_UNREAD, "warning", "gaps",
                      f"cannot read the history to find gaps across the restart: {exc}", {"error": str(exc)})
            return
        if previous_end is None:
            return  # a new history: nothing ran before us
        for key, expected in self._expected.items():
            last = _last_for_key(key, last_samples)
            # A sample of this run may already be in (a ticker's first slot is at its start): the
            # silence before this start is still the previous engine's, and still a gap.
            if last is None or key in self._open:
                continue
            if previous_end - last > self.factor * expected.interval:
                last = previous_end  # already in a gap when the last engine stopped: that run recorded it
            if self.started_at - last > self.factor * expected.interval:
                self._record_downtime(key, last)
        self._rebuild()

    def _record_downtime(self, key: str, last: float) -> None:
        """The gap while no engine ran: from the key's last sample to this start. From here on the
        key's silence is counted from the start, so a target still down now gets its own gap, with
        its own cause."""
        self._open[key] = GapView(series=key, start=last, end=None, cause=ENGINE_NOT_RUNNING)
        self._event(ev.GAP_OPENED, "warning", key, f"gap opened: no data from {key} ({ENGINE_NOT_RUNNING})",
                    {"series": key, "start": last, "cause": ENGINE_NOT_RUNNING})
        self._close(key, self.started_at)


def _last_for_key(key: str, last_samples: dict[tuple[str, str], float]) -> float | None:
    if "/" in key:
        source, metric = key.split("/", 1)
        return last_samples.get((source, metric))
    times = [t for (source, _), t in last_samples.items() if source == key or source.startswith(key + ":")]
    return max(times, default=None)


def _read_history(path: Any, before: float) -> tuple[dict[tuple[str, str], float], float | None]:
    """(last sample time per series, the previous engine's last sign of life), both before `before`."""
    try:
        reader = open_reader(path)
    except StoreError:
        return {}, None  # no history yet (a first start): no gap across a restart to find
    with reader:
        last_samples = reader.last_sample_times(before)
        last_event = reader.last_event_time(before)
    signs = list(last_samples.values()) + ([last_event] if last_event is not None else [])
    return last_samples, max(signs, default=None)
