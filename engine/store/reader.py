"""Reading the history: review/replay, attach mode, and the engine's own look-backs.

A Reader has its own read-only connection (URI mode=ro), separate from the writer's, so reading
never takes the write lock; in WAL mode it sees every committed flush and never blocks the
writer. One Reader may be shared between threads: queries are serialised by its lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.store import schema
from engine.store.errors import StoreError


def open_reader(path: Path) -> Reader:
    """Open an existing history read-only. StoreError (naming the file) if it is missing, not
    SQLite, not an opsconsole history, or newer than this opsconsole understands."""
    path = Path(path).expanduser()
    if not path.exists():
        raise StoreError(f"{path} does not exist: no history has been written there yet")
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a history file")
    try:
        conn = schema.connect(path, read_only=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} for reading: {exc}") from exc
    try:
        version = schema.read_version(conn, path)
        if version == 0:
            raise StoreError(f"{path} is empty: no history has been written there yet")
        schema.check_not_newer(version, path)
    except BaseException:
        conn.close()
        raise
    return Reader(conn, path)


class Reader:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read {self.path}: {exc}") from exc

    def series(self, source: str, metric: str, t0: float, t1: float) -> list[tuple[float, float]]:
        """(t, value) of one series with t0 <= t <= t1, oldest first.

        One seek on the samples primary key (series_id, t), then a range read: fast however big
        the history is (see schema.py). A NaN value was stored as NULL and comes back as None.
        """
        return [
            (t, v)
            for t, v in self._query(
                "SELECT s.t, s.value FROM samples AS s JOIN series AS k ON k.id = s.series_id"
                " WHERE k.source = ? AND k.metric = ? AND s.t >= ? AND s.t <= ? ORDER BY s.t",
                (source, metric, t0, t1),
            )
        ]

    def series_keys(self) -> list[tuple[str, str]]:
        """Every (source, metric) ever recorded, sorted."""
        return [(s, m) for s, m in self._query("SELECT source, metric FROM series ORDER BY source, metric")]

    def events(
        self,
        t0: float | None = None,
        t1: float | None = None,
        kinds: Iterable[str] | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """The newest `limit` events with t0 <= t <= t1 (either bound optional) and kind in
        `kinds`, returned oldest first (a timeline reads downwards)."""
        where: list[str] = []
        params: list[Any] = []
        if t0 is not None:
            where.append("t >= ?")
            params.append(t0)
        if t1 is not None:
            where.append("t <= ?")
            params.append(t1)
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return []
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        sql = "SELECT id, t, kind, severity, source, message, data FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY t DESC, id DESC LIMIT ?"
        rows = self._query(sql, [*params, int(limit)])
        return [
            {
                "id": id_,
                "t": t,
                "kind": kind,
                "severity": severity,
                "source": source,
                "message": message,
                "data": _json(data),
            }
            for id_, t, kind, severity, source, message, data in reversed(rows)
        ]

    def audit(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest `limit` audit records, oldest first."""
        rows = self._query(
            "SELECT id, t, user, address, origin, action, args, result, ok FROM audit"
            " ORDER BY t DESC, id DESC LIMIT ?",
            (int(limit),),
        )
        return [
            {
                "id": id_,
                "t": t,
                "user": user,
                "address": address,
                "origin": origin,
                "action": action,
                "args": _json(args),
                "result": result,
                "ok": bool(ok),
            }
            for id_, t, user, address, origin, action, args, result, ok in reversed(rows)
        ]

    def watched_files(self, directory: str) -> list[tuple[str, int, float, str | None, str]]:
        """(path, size, mtime, digest, status) of every ledger row under `directory` (a prefix
        range on the primary key: one seek however many other directories the ledger holds)."""
        prefix = directory.rstrip("/") + "/"
        upper = prefix[:-1] + chr(ord("/") + 1)  # the first string after every "<dir>/..."
        return [
            (path, size, mtime, digest, status)
            for path, size, mtime, digest, status in self._query(
                "SELECT path, size, mtime, digest, status FROM watched_files WHERE path >= ? AND path < ?",
                (prefix, upper),
            )
        ]

    def log_offset(self, source: str) -> dict[str, Any] | None:
        """Where log source `source` stopped reading, or None if it never read."""
        rows = self._query(
            "SELECT source, path, inode, device, offset, head, updated_at FROM log_offsets WHERE source = ?", (source,)
        )
        if not rows:
            return None
        return dict(zip(("source", "path", "inode", "device", "offset", "head", "updated_at"), rows[0], strict=True))

    def rollouts(self, service: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The newest `limit` rollouts (of `service`, if given), newest first: the current one is [0]."""
        where, params = ("WHERE service = ? ", [service]) if service is not None else ("", [])
        present = {row[1] for row in self._query("PRAGMA table_info(rollouts)")}
        columns = [c for c in schema.ROLLOUT_COLUMNS if c in present]  # a review of a file before version 5
        rows = self._query(
            f"SELECT {', '.join(columns)} FROM rollouts {where}ORDER BY id DESC LIMIT ?",
            [*params, int(limit)],
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def time_range(self) -> tuple[float, float] | None:
        """(first, last) time of any sample or event; None for an empty history.

        Per series, the first and last sample are one primary-key seek each, so this stays fast
        on a large file (a plain min(t) over samples would scan it).
        """
        (lo, hi) = self._query(
            "SELECT min(t0), max(t1) FROM ("
            " SELECT (SELECT t FROM samples WHERE series_id = k.id ORDER BY t LIMIT 1) AS t0,"
            "        (SELECT t FROM samples WHERE series_id = k.id ORDER BY t DESC LIMIT 1) AS t1"
            " FROM series AS k"
            " UNION ALL SELECT min(t), max(t) FROM events)"
        )[0]
        if lo is None or hi is None:
            return None
        return (lo, hi)

    def last_sample_times(self, before: float) -> dict[tuple[str, str], float]:
        """Per series, the time of its last sample before `before` (gap detection across a
        restart). One primary-key seek per series, like time_range()."""
        rows = self._query(
            "SELECT k.source, k.metric,"
            " (SELECT t FROM samples WHERE series_id = k.id AND t < ? ORDER BY t DESC LIMIT 1)"
            " FROM series AS k",
            (before,),
        )
        return {(source, metric): t for source, metric, t in rows if t is not None}

    def last_event_time(self, before: float) -> float | None:
        """The time of the newest event before `before` (an engine's last sign of life)."""
        return self._query("SELECT max(t) FROM events WHERE t < ?", (before,))[0][0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
