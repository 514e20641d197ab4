"""Store: what the engine writes the history through. Every method returns without touching disk.

Series ids are interned here, in the caller's thread: a dict lookup turns (source, metric) into
the integer the samples table stores, so the writer's hot path is executemany over ready
tuples. A new series gets the next id from memory (we read max(id) at open) and its row is
queued ahead of its samples; nobody waits for the database to learn an id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.commands import Actor
from engine.config.schema import StoreConfig
from engine.eventcodes import EventCode
from engine.store import records, schema
from engine.store.errors import StoreError
from engine.store.writer import Writer, WriterStats

SampleInput = tuple[float, str, str, float]  # (t, source, metric, value)


class Store:
    def __init__(
        self,
        path: Path,
        config: StoreConfig,
        writer: Writer,
        series: dict[tuple[str, str], tuple[int, str]],
        next_rollout_id: int,
    ) -> None:
        """Use Store.open(); this only wires the parts together."""
        self.path = path
        self.config = config
        self._writer = writer
        self._ids: dict[tuple[str, str], int] = {key: sid for key, (sid, _unit) in series.items()}
        self._units: dict[int, str] = {sid: unit for sid, unit in series.values()}
        self._next_series_id = max(self._units, default=0) + 1
        self._next_rollout_id = next_rollout_id
        self._intern_lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, config: StoreConfig) -> Store:
        """Create or open and migrate the history at `path`, then start the writer thread.

        Raises StoreError (a sentence naming the file) if it cannot; in that case nothing changed.
        """
        path = Path(path).expanduser()
        conn = schema.open_for_writing(path, config)
        try:
            series = {
                (source, metric): (sid, unit)
                for sid, source, metric, unit in conn.execute("SELECT id, source, metric, unit FROM series")
            }
            (max_rollout,) = conn.execute("SELECT coalesce(max(id), 0) FROM rollouts").fetchone()
        except BaseException:
            conn.close()
            raise
        writer = Writer(conn, path, config)
        store = cls(path, config, writer, series, int(max_rollout) + 1)
        writer.start()
        return store

    # -- samples -------------------------------------------------------------------------------

    def add_sample(self, t: float, source: str, metric: str, value: float, *, unit: str = "") -> None:
        sid = self._ids.get((source, metric)) or self._intern(source, metric, unit)
        if unit and self._units.get(sid) != unit:
            self._set_unit(sid, unit)
        try:
            row = (sid, t + 0.0, value + 0.0)
        except TypeError:
            raise TypeError(
                f"add_sample({source!r}, {metric!r}): t and value must be numbers, got {t!r} and {value!r}"
            ) from None
        self._writer.put_sample(row)

    def add_samples(self, rows: Iterable[SampleInput]) -> None:
        """Queue many (t, source, metric, value) rows; the fast path, e.g. 1000 per call."""
        get = self._ids.get
        intern = self._intern
        try:
            # `+ 0.0` checks the numbers for the price of an addition (float() is a call), so a
            # bad row raises here, at the caller, and not in the writer. Ids start at 1, so `or`
            # only interns on a miss.
            chunk = [(get((s, m)) or intern(s, m), t + 0.0, v + 0.0) for t, s, m, v in rows]
        except (TypeError, ValueError) as exc:
            raise TypeError(f"add_samples: every row must be (t, source, metric, value) with numbers: {exc}") from None
        self._writer.put_samples(chunk)

    def _intern(self, source: str, metric: str, unit: str = "") -> int:
        if not isinstance(source, str) or not isinstance(metric, str) or not source or not metric:
            raise ValueError(f"a series needs a non-empty source and metric, got {source!r}, {metric!r}")
        with self._intern_lock:
            sid = self._ids.get((source, metric))
            if sid is None:
                sid = self._next_series_id
                self._next_series_id += 1
                # Queued before the caller's samples, so it is committed with or before them.
                self._writer.put_series((sid, source, metric, unit))
                self._units[sid] = unit
                self._ids[(source, metric)] = sid
            return sid

    def _set_unit(self, sid: int, unit: str) -> None:
        with self._intern_lock:
            self._units[sid] = unit
            self._writer.put_record(records.series_unit(sid, unit))

    # -- records -------------------------------------------------------------------------------

    def add_event(
        self,
        t: float,
        code: EventCode,
        severity: str,
        source: str,
        message: str,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Message and data are redacted (engine.secrets) before they are queued."""
        self._writer.put_record(records.event(t, code, severity, source, message, data))

    def add_state(self, t: float, part: str, body: bytes) -> None:
        """A Snapshot field that changed (engine/statelog.py)."""
        self._writer.put_record(records.state(t, part, body))

    def add_audit(self, t: float, actor: Actor, action: str, args: Mapping[str, Any], result: str, ok: bool) -> None:
        self._writer.put_record(records.audit(t, actor, action, args, result, ok))

    def upsert_rollout(self, row: Mapping[str, Any]) -> None:
        """Insert or update a rollouts row by its `id` (see next_rollout_id); only given columns change."""
        self._writer.put_record(records.rollout(row))

    def next_rollout_id(self) -> int:
        """A fresh rollouts.id, so a new rollout can be upserted without waiting for the disk."""
        with self._intern_lock:
            rid = self._next_rollout_id
            self._next_rollout_id += 1
            return rid

    def upsert_watched_file(self, row: Mapping[str, Any]) -> None:
        """Insert or update a watched_files row by its `path`; only given columns change."""
        row = dict(row)
        if "path" in row and row["path"] is not None:
            row["path"] = str(row["path"])  # a pathlib.Path is the natural thing to pass
        self._writer.put_record(records.watched_file(row))

    def upsert_watched_files(self, rows: Sequence[Sequence[Any]]) -> None:
        """Many complete watched_files rows at once, each (path, size, mtime, digest, status, error,
        processed_at): the directory watcher's batch path (few multi-row statements)."""
        for record in records.watched_files(rows):
            self._writer.put_record(record)

    def upsert_log_offset(self, row: Mapping[str, Any]) -> None:
        """Insert or update a log_offsets row by its `source`: where a tailed log was left."""
        self._writer.put_record(records.log_offset(row))

    # -- lifecycle -----------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> None:
        """Block until everything queued so far is committed; StoreError if not within timeout."""
        self._writer.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Flush everything and stop the writer. If the disk does not take the rows within
        `timeout`, they are lost: logged as an error and left in stats.last_error (not raised,
        because close() runs on shutdown paths that must finish). Safe to call twice."""
        self._writer.close(timeout)

    @property
    def stats(self) -> WriterStats:
        return self._writer.stats()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"


__all__ = ["Store", "StoreError", "WriterStats"]
