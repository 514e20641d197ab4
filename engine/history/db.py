"""The queries a review needs, on one read-only connection: a Reader (engine/store/reader.py)
with a few more questions asked of the same file.

Every query is bounded by time and served by an index: samples by their primary key
(series_id, t), events by (kind, t) or (t). "The newest N at or before t" is a descending range
read that stops after N rows, so a cursor step costs the same on a day-old or a year-old file.
Queries run under the Reader's lock: one HistoryDB may be shared by the UI thread and a worker.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine import eventcodes as ev
from engine.eventcodes import EventCode
from engine.store.downsample import Bucket, read_buckets
from engine.store.errors import StoreError
from engine.store.reader import Reader
from engine.store.retention import HOUR_TABLE, MINUTE_TABLE

SERIES_TABLES = ("samples", MINUTE_TABLE, HOUR_TABLE)


@dataclass(frozen=True)
class SeriesInfo:
    id: int
    source: str
    metric: str
    unit: str

    @property
    def key(self) -> str:
        return f"{self.source}/{self.metric}"


@dataclass(frozen=True)
class EventFilter:
    """What the event log shows: every field optional; text and source match anywhere, any case."""

    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    source: str = ""
    text: str = ""
    codes: tuple[str, ...] = ()  # event codes or their beginnings: "rollout.rolled_back", "rollout."

    @classmethod
    def parse(cls, text: str) -> EventFilter:
        """`kind:alert,gap sev:critical src:canary code:rollout. words to find` — any order, every
        part optional."""
        kinds: list[str] = []
        severities: list[str] = []
        codes: list[str] = []
        source = ""
        words: list[str] = []
        for token in text.split():
            key, sep, value = token.partition(":")
            key = key.lower()
            if sep and value and key in ("kind", "k"):
                kinds += [v for v in value.lower().split(",") if v]
            elif sep and value and key in ("sev", "severity", "s"):
                severities += [v for v in value.lower().split(",") if v]
            elif sep and value and key in ("src", "source"):
                source = value
            elif sep and value and key == "code":
                codes += [v for v in value.lower().split(",") if v]
            else:
                words.append(token)
        return cls(tuple(kinds), tuple(severities), source, " ".join(words), tuple(codes))

    def sql(self) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if self.kinds:
            where.append(f"kind IN ({', '.join('?' * len(self.kinds))})")
            params += self.kinds
        if self.severities:
            where.append(f"severity IN ({', '.join('?' * len(self.severities))})")
            params += self.severities
        if self.source:
            where.append("instr(lower(source), ?) > 0")
            params.append(self.source.lower())
        if self.text:
            where.append("instr(lower(message), ?) > 0")
            params.append(self.text.lower())
        if self.codes:
            where.append(f"({' OR '.join(['instr(code, ?) = 1'] * len(self.codes))})")
            params += self.codes
        return " AND ".join(where), params


EVENT_COLUMNS = ("id", "t", "code", "kind", "severity", "source", "message", "data")


def codes_in(*codes: EventCode) -> str:
    """An SQL condition on events.code (codes are our own constants, never user text)."""
    return f"code IN ({', '.join(repr(c.code) for c in codes)})"


PAUSE_EVENTS = codes_in(ev.ENGINE_PAUSED, ev.ENGINE_RESUMED)


def event_dict(row: Sequence[Any]) -> dict[str, Any]:
    event = dict(zip(EVENT_COLUMNS, row, strict=True))
    event["data"] = parse_json(event["data"])
    return event


class HistoryDB(Reader):
    def __init__(self, conn: sqlite3.Connection, path: Any) -> None:
        super().__init__(conn, path)
        self._series: list[SeriesInfo] | None = None

    # -- catalogue -----------------------------------------------------------------------------

    def series_info(self) -> list[SeriesInfo]:
        """Every series ever recorded, sorted by (source, metric) like the live ring buffers."""
        if self._series is None:
            self._series = [
                SeriesInfo(*row)
                for row in self._query("SELECT id, source, metric, unit FROM series ORDER BY source, metric")
            ]
        return self._series

    def time_range(self) -> tuple[float, float] | None:
        """(first, last) time of any sample (raw or rolled up) or event; None for an empty file.
        Two primary-key seeks per series and table, however large the file."""
        parts = [
            f"SELECT (SELECT t FROM {table} WHERE series_id = k.id ORDER BY t LIMIT 1) AS a,"
            f" (SELECT t FROM {table} WHERE series_id = k.id ORDER BY t DESC LIMIT 1) AS b FROM series AS k"
            for table in SERIES_TABLES
        ]
        parts.append("SELECT min(t), max(t) FROM events")
        lo, hi = self._query(f"SELECT min(a), max(b) FROM ({' UNION ALL '.join(parts)})")[0]
        return None if lo is None or hi is None else (float(lo), float(hi))

    # -- samples -------------------------------------------------------------------------------

    def last_points(self, series_id: int, t0: float, t1: float, n: int) -> tuple[str, list[tuple[float, float]]]:
        """The newest `n` points of a series with t0 <= t <= t1, oldest first: raw samples, or
        where retention has rolled them up, minute (then hour) averages. Returns (table, points)."""
        for table, value in (("samples", "value"), (MINUTE_TABLE, "avg"), (HOUR_TABLE, "avg")):
            rows = self._query(
                f"SELECT t, {value} FROM {table} WHERE series_id = ? AND t >= ? AND t <= ? ORDER BY t DESC LIMIT ?",
                (series_id, t0, t1, n),
            )
            if rows:
                rows.reverse()
                return table, rows
        return "samples", []

    def slot_sums(self, series_id: int, t0: float, t1: float, slot: float) -> list[tuple[int, float, float, int]]:
        """One series over [t0, t1] summed into slots of `slot` seconds counted from the epoch,
        in one query over raw and rolled-up rows (minute rows for slots up to 4 h, hour rows
        beyond, so a slot never mixes both): (slot index, newest time, sum, count) per slot."""
        rolled = MINUTE_TABLE if slot < 4 * 3600 else HOUR_TABLE
        return self._query(
            f"""SELECT b, max(tl), sum(sv), sum(n) FROM (
                  SELECT CAST(t / ?3 AS INTEGER) AS b, sum(avg * count) AS sv, sum(count) AS n, max(t) AS tl
                  FROM {rolled} WHERE series_id = ?4 AND t >= ?1 AND t <= ?2 GROUP BY b
                  UNION ALL
                  SELECT CAST(t / ?3 AS INTEGER), sum(value), count(value), max(t)
                  FROM samples WHERE series_id = ?4 AND t >= ?1 AND t <= ?2 GROUP BY 1)
                GROUP BY b HAVING sum(n) > 0 ORDER BY b""",
            (t0, t1, slot, series_id),
        )

    def value_at(self, source: str, metric: str, t: float) -> tuple[float, float] | None:
        """(t, value) of the newest raw sample of a series at or before t, if any."""
        rows = self._query(
            "SELECT s.t, s.value FROM samples AS s JOIN series AS k ON k.id = s.series_id"
            " WHERE k.source = ? AND k.metric = ? AND s.t <= ? ORDER BY s.t DESC LIMIT 1",
            (source, metric, t),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def buckets(self, series_id: int, t0: float, t1: float, step: int) -> list[Bucket]:
        """Minute (60) or hour (3600) buckets of one series, stored and computed alike."""
        with self._lock:
            try:
                return read_buckets(self._conn, series_id, t0, t1, step)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read {self.path}: {exc}") from exc

    def samples(self, keys: Iterable[tuple[str, str]], t0: float, t1: float) -> Iterable[tuple[str, str, float, float]]:
        """(source, metric, t, value) raw samples of the given series, by series then time."""
        for source, metric in keys:
            for t, value in self.series(source, metric, t0, t1):
                yield source, metric, t, value

    # -- events --------------------------------------------------------------------------------

    def engine_events(self) -> list[dict[str, Any]]:
        """The engine's own start and stop events, oldest first: the runs of the file."""
        rows = self._query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events"
                           f" WHERE {codes_in(ev.ENGINE_STARTED, ev.ENGINE_STOPPED)} ORDER BY t, id")
        return [event_dict(row) for row in rows]

    def pauses(self, t0: float | None, t1: float | None, *, limit: int = 100_000, newest: bool = False
               ) -> list[dict[str, Any]]:
        """The engine's pause and resume events (an operator's `p`) in [t0, t1]."""
        return self.find_events(t0, t1, PAUSE_EVENTS, limit=limit, newest=newest)

    def latest_per(
        self, kind: str, key_sql: str, t0: float, t1: float, where: str = "", params: Sequence[Any] = ()
    ) -> list[dict[str, Any]]:
        """The newest event of `kind` in [t0, t1] for each distinct value of `key_sql` (an SQL
        expression over the events row), oldest first, each with `count` of its group."""
        extra = f" AND {where}" if where else ""
        rows = self._query(
            f"SELECT {', '.join(EVENT_COLUMNS)}, n FROM ("
            f" SELECT *, row_number() OVER (PARTITION BY {key_sql} ORDER BY t DESC, id DESC) AS rn,"
            f" count(*) OVER (PARTITION BY {key_sql}) AS n"
            f" FROM events WHERE kind = ? AND t >= ? AND t <= ?{extra}) WHERE rn = 1 ORDER BY t, id",
            (kind, t0, t1, *params),
        )
        out = []
        for row in rows:
            event = event_dict(row[:-1])
            event["count"] = row[-1]
            out.append(event)
        return out

    def find_events(
        self,
        t0: float | None,
        t1: float | None,
        where: str = "",
        params: Sequence[Any] = (),
        *,
        limit: int = 200,
        newest: bool = True,
    ) -> list[dict[str, Any]]:
        """Events in [t0, t1] matching `where`, oldest first: the newest `limit` (or the oldest)."""
        clauses, values = _range("t", t0, t1)
        if where:
            clauses.append(where)
            values += list(params)
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY t {'DESC' if newest else 'ASC'}, id {'DESC' if newest else 'ASC'} LIMIT ?"
        rows = self._query(sql, [*values, int(limit)])
        if newest:
            rows.reverse()
        return [event_dict(row) for row in rows]

    def filtered_events(
        self, flt: EventFilter, t0: float | None = None, t1: float | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        where, params = flt.sql()
        return self.find_events(t0, t1, where, params, limit=limit)

    def neighbour_event(self, t: float, forward: bool, kinds: Sequence[str] = ()) -> dict[str, Any] | None:
        """The first event strictly after (or before) t, of one of `kinds` if given."""
        where = f"kind IN ({', '.join('?' * len(kinds))})" if kinds else ""
        if forward:
            rows = self.find_events(None, None, f"t > ?{' AND ' + where if where else ''}", [t, *kinds],
                                    limit=1, newest=False)
        else:
            rows = self.find_events(None, None, f"t < ?{' AND ' + where if where else ''}", [t, *kinds], limit=1)
        return rows[0] if rows else None

    def error_groups(self, t0: float, t1: float, limit: int = 100) -> list[tuple[str, str, int, float, float, str, str | None]]:
        """Warning and critical events in [t0, t1] grouped by (source, message), newest first:
        (source, message, count, first_seen, last_seen, kind of the newest, its data as JSON)."""
        return self._query(
            "SELECT source, message, n, first, last, kind, data FROM ("
            " SELECT source, message, kind, data,"
            " count(*) OVER (PARTITION BY source, message) AS n,"
            " min(t) OVER (PARTITION BY source, message) AS first,"
            " max(t) OVER (PARTITION BY source, message) AS last,"
            " row_number() OVER (PARTITION BY source, message ORDER BY t DESC, id DESC) AS rn"
            " FROM events WHERE t >= ? AND t <= ? AND severity IN ('warning', 'critical'))"
            " WHERE rn = 1 ORDER BY last DESC LIMIT ?",
            (t0, t1, int(limit)),
        )

    def marks(self, kinds: Sequence[str], t0: float, t1: float, limit: int = 20_000
              ) -> list[tuple[float, str, str, str, str]]:
        """(t, code, severity, message, data's cause) of events of `kinds` in [t0, t1], oldest first."""
        rows = self._query(
            "SELECT t, code, severity, message, coalesce(json_extract(data, '$.cause'), '') FROM events"
            f" WHERE kind IN ({', '.join('?' * len(kinds))}) AND t >= ? AND t <= ? ORDER BY t LIMIT ?",
            (*kinds, t0, t1, int(limit)),
        )
        return [(t, code, severity, message, str(cause)) for t, code, severity, message, cause in rows]

    # -- audit and rollouts --------------------------------------------------------------------

    def audit_between(self, t0: float, t1: float, limit: int = 1000) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT id, t, user, address, origin, action, args, result, ok FROM audit"
            " WHERE t >= ? AND t <= ? ORDER BY t, id LIMIT ?",
            (t0, t1, int(limit)),
        )
        columns = ("id", "t", "user", "address", "origin", "action", "args", "result", "ok")
        out = []
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            record["args"] = parse_json(record["args"])
            record["ok"] = bool(record["ok"])
            out.append(record)
        return out

    def all_rollouts(self) -> list[dict[str, Any]]:
        """Every recorded rollout, oldest first."""
        return list(reversed(self.rollouts(limit=1_000_000)))

    def rollout_events(self, rollout_id: int, t1: float | None = None) -> list[dict[str, Any]]:
        """The transitions of one rollout (events kind "rollout" carrying its id), oldest first."""
        clauses = ["kind = 'rollout'", "json_extract(data, '$.rollout_id') = ?"]
        params: list[Any] = [rollout_id]
        if t1 is not None:
            clauses.append("t <= ?")
            params.append(t1)
        rows = self._query(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE {' AND '.join(clauses)} ORDER BY t, id", params
        )
        return [event_dict(row) for row in rows]

    def state_at(self, part: str, t0: float, t1: float) -> tuple[float, bytes] | None:
        """(its time, its body): the newest record of a Snapshot field in [t0, t1] (engine/statelog.py)."""
        rows = self._query("SELECT t, body FROM states WHERE part = ? AND t >= ? AND t <= ? ORDER BY t DESC LIMIT 1",
                           (part, t0, t1))
        return (float(rows[0][0]), bytes(rows[0][1])) if rows else None

    def has_states(self, t0: float, t1: float | None) -> bool:
        """Did the engine record its state between t0 and t1 (an engine of schema version 7 or later)?"""
        rows = self._query("SELECT 1 FROM states WHERE t >= ? AND t <= ? LIMIT 1",
                           (t0, t1 if t1 is not None else float("inf")))
        return bool(rows)

    def dict_rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A query of our own modules (views.py) as dicts by column name; the connection cannot write."""
        with self._lock:
            try:
                cursor = self._conn.execute(sql, tuple(params))
                columns = [c[0] for c in cursor.description]
                return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read {self.path}: {exc}") from exc


def _range(column: str, t0: float | None, t1: float | None) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if t0 is not None:
        clauses.append(f"{column} >= ?")
        params.append(t0)
    if t1 is not None:
        clauses.append(f"{column} <= ?")
        params.append(t1)
    return clauses, params


def parse_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:  # a row another tool wrote: show it as text rather than fail the review
        return {"text": text}
