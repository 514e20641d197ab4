"""HistorySource: a SnapshotSource over a history file, in REVIEW mode.

The console treats it like the live engine: `snapshot()` is an attribute read of the last built
snapshot, `submit()` answers at once (refused: a review changes nothing). Moving the cursor
(`seek(t)`) builds the snapshot for t — SQLite reads, so the console calls it from a worker
thread, never on its own loop; builds are serialised by a lock.

A snapshot at t is what the live engine published at t (engine/history/parts.py, rollout.py):
the ring buffers hold the newest 120 points of the run live at t. With a `window` (say 24h) the
series show that span instead, downsampled to the same number of points, for a wider look.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any

from engine import statelog
from engine.commands import Command, CommandResult
from engine.history import parts
from engine.history.cursor import Range
from engine.history.opener import HistoryError, OpenedHistory
from engine.history.rollout import RolloutReplay
from engine.history.runs import Run, find_runs, run_at
from engine.series import DEFAULT_CAPACITY
from engine.snapshot import Snapshot, SourceMode

# Sources that say which part was configured, for files whose runs did not record their config.
_PART_OF_SOURCE = {"host": "monitor", "disk": "monitor", "proc": "monitor", "demo": "demo", "watch": "watch",
                   "log": "watch", "collect": "collect", "health": "health", "canary": "canary"}


class HistorySource:
    mode = SourceMode.REVIEW

    def __init__(
        self,
        opened: OpenedHistory,
        *,
        at: float | None = None,
        window: float | None = None,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.opened = opened
        self.db = opened.db
        found = self.db.time_range()
        if found is None:
            raise HistoryError(f"{opened.origin} holds no samples and no events: nothing to review")
        self.range = Range(*found)
        self.runs: list[Run] = find_runs(self.db, self.range.first)
        self.capacity = capacity
        self.window = window
        self.rollouts = RolloutReplay(self.db)
        self.slots = parts.SlotCache()
        self._lock = threading.Lock()
        self._state_runs: dict[float, bool] = {}
        self._decoded: dict[str, tuple[float, Any]] = {}  # part -> (record time, value): a step decodes only what changed
        self.cursor = self.range.clamp(self.range.last if at is None else at)
        self._snapshot = self.build(self.cursor)

    # ------------------------------------------------------------------ SnapshotSource
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def submit(self, command: Command) -> concurrent.futures.Future[CommandResult]:
        done: concurrent.futures.Future[CommandResult] = concurrent.futures.Future()
        done.set_result(CommandResult.refused(f"review mode: {command.name} is disabled"))
        return done

    def close(self) -> None:
        self.opened.close()

    # ------------------------------------------------------------------ the cursor
    def seek(self, t: float) -> Snapshot:
        """Move the cursor to t (clamped to the recorded range) and publish that snapshot.
        Blocking (SQLite): call it off the UI loop."""
        t = self.range.clamp(t)
        snapshot = self.build(t)
        self.cursor = t
        self._snapshot = snapshot
        return snapshot

    def run_at(self, t: float) -> Run:
        run = run_at(self.runs, t)
        assert run is not None, "find_runs always returns at least one run for a non-empty file"
        return run

    # ------------------------------------------------------------------ building
    def build(self, t: float) -> Snapshot:
        with self._lock:
            return self._build(t)

    def _build(self, t: float) -> Snapshot:
        db, run = self.db, self.run_at(t)
        t0 = run.started
        infos = db.series_info()
        if self.window:
            series = tuple(v for i in infos
                           if (v := parts.window_view(db, i, t - self.window, t, self.capacity, self.slots)))
            lookup = parts.RingLookup(db, t0, t, self.capacity)
        else:
            series = tuple(v for i in infos if (v := parts.ring_view(db, i, t0, t, self.capacity)))
            lookup = parts.RingLookup(db, t0, t, self.capacity, series)
        sources_seen = {s.source.split(":", 1)[0] for s in series}
        state = self._recorded(run, t) if self._records_state(run) else self._derived(run, t, infos, lookup)
        return Snapshot(
            taken_at=t,
            mode=SourceMode.REVIEW,
            state=parts.engine_state(db, run, t),
            config_name=run.config_name or self.opened.origin.name,
            profile=run.profile,
            read_only=True,
            started_at=run.started,
            configured=run.configured if run.recorded else self._inferred_parts(sources_seen),
            series=series,
            gaps=parts.gap_views(db, t0, t),
            errors=parts.error_groups(db, t0, t),
            events=parts.event_views(db, t0, t),
            notice=self._notice(run, t),
            **state,
        )

    def _records_state(self, run: Run) -> bool:
        if run.started not in self._state_runs:
            self._state_runs[run.started] = self.db.has_states(run.started, run.ended or run.next_start)
        return self._state_runs[run.started]

    def _recorded(self, run: Run, t: float) -> dict[str, Any]:
        """The state fields as the engine recorded them: the newest of each at or before t."""
        state: dict[str, Any] = {}
        for part in statelog.RECORDED:
            found = self.db.state_at(part, run.started, t)
            if found is None:
                continue
            at, body = found
            cached = self._decoded.get(part)
            if cached is None or cached[0] != at:
                cached = self._decoded[part] = (at, statelog.decode(part, body))
            state[part] = cached[1]
        return state

    def _derived(self, run: Run, t: float, infos: list, lookup: parts.RingLookup) -> dict[str, Any]:
        """A run of an engine before schema version 7 recorded no state: rebuilt from its events
        and samples by the parts' own code (engine/history/parts.py, rollout.py)."""
        db, t0 = self.db, run.started
        alert_t = parts.alert_eval_time(db, run, t)
        alerts, silences = (parts.alert_views(db, run, alert_t, parts.RingLookup(db, t0, alert_t, self.capacity))
                            if alert_t is not None else ((), ()))
        return {
            "components": parts.component_views(db, run, t),
            "health": parts.health_views(db, run, t),
            "alerts": alerts,
            "silences": silences,
            "targets": parts.target_views(db, run, t, lambda src: _has_source(lookup, infos, src)),
            "processes": parts.process_views(db, run, t, lookup),
            "rollout": self.rollouts.view_at(run, t),
        }

    def _inferred_parts(self, sources: set[str]) -> frozenset[str]:
        found = {_PART_OF_SOURCE[s] for s in sources if s in _PART_OF_SOURCE}
        if self.rollouts.has_rollouts():
            found.add("canary")
        return frozenset(found)

    def _notice(self, run: Run, t: float) -> str:
        if run.stopped_at(t):
            return f"the engine was not running at this moment (it stopped at {time.strftime('%H:%M:%S', time.localtime(run.ended or t))})"
        return ""


def _has_source(lookup: parts.RingLookup, infos: list, source: str) -> bool:
    return any(lookup(i.source, i.metric) is not None for i in infos if i.source == source)
