"""The event log's rows: every recorded event and every audit row (who ran which verb, and what
came of it) in one list, newest first, under one filter.

Live and review read the same rows from the same file: live reads the running engine's history
alongside it (engine/history/opener.py), so the log holds this run's events and every earlier one,
not only the engine's short in-memory list.

Audit rows are kind "audit": source is `user@origin` (and the SSH address when there was one),
severity is info when the verb succeeded and warning when it was refused or failed, and the
message is the verb, its arguments and its result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.history.db import EventFilter, HistoryDB

AUDIT_KIND = "audit"


@dataclass(frozen=True)
class LogRow:
    t: float
    kind: str
    severity: str  # info / warning / critical
    source: str
    message: str
    data: Any = None  # the event's structured data, or the audit row's fields
    code: str = ""  # the event's code (engine/eventcodes.py); "" for an audit row

    @property
    def key(self) -> tuple[float, str, str, str]:
        return (self.t, self.kind, self.source, self.message)


def audit_row(record: dict[str, Any]) -> LogRow:
    who = f"{record['user']}@{record['origin'] or '?'}" + (f" ({record['address']})" if record["address"] else "")
    args = record["args"]
    shown_args = "" if not args else " " + json.dumps(args, sort_keys=True, ensure_ascii=False)
    outcome = "" if not record["result"] else f": {record['result']}"
    return LogRow(record["t"], AUDIT_KIND, "info" if record["ok"] else "warning", who,
                  f"{record['action']}{shown_args}{outcome}", record)


def _audit_sql(flt: EventFilter, t0: float | None, t1: float | None) -> tuple[str, list[Any]]:
    """The filter applied to the audit table, with its columns standing in for the event's."""
    where: list[str] = []
    params: list[Any] = []
    if t0 is not None:
        where.append("t >= ?")
        params.append(t0)
    if t1 is not None:
        where.append("t <= ?")
        params.append(t1)
    if flt.severities:
        wanted = [s for s in flt.severities if s in ("info", "warning")]
        if not wanted:
            return "", []  # audit rows are never critical
        where.append("ok = ?" if len(wanted) == 1 else "1")
        if len(wanted) == 1:
            params.append(1 if wanted[0] == "info" else 0)
    if flt.source:
        where.append("instr(lower(user || '@' || coalesce(origin, '') || ' ' || coalesce(address, '')), ?) > 0")
        params.append(flt.source.lower())
    if flt.text:
        where.append("instr(lower(action || ' ' || coalesce(args, '') || ' ' || coalesce(result, '')), ?) > 0")
        params.append(flt.text.lower())
    return " AND ".join(where) or "1", params


def _audit(db: HistoryDB, flt: EventFilter, t0: float | None, t1: float | None, *, limit: int,
           newest: bool) -> list[LogRow]:
    if (flt.kinds and AUDIT_KIND not in flt.kinds) or flt.codes:
        return []
    where, params = _audit_sql(flt, t0, t1)
    if not where:
        return []
    order = "DESC" if newest else "ASC"
    records = db.dict_rows(
        "SELECT id, t, user, address, origin, action, args, result, ok FROM audit"
        f" WHERE {where} ORDER BY t {order}, id {order} LIMIT ?", [*params, int(limit)])
    for record in records:
        try:
            record["args"] = json.loads(record["args"]) if record["args"] else None
        except ValueError:
            pass  # an args text that is not JSON is shown as it was stored
        record["ok"] = bool(record["ok"])
    return [audit_row(r) for r in records]


def _events(db: HistoryDB, flt: EventFilter, t0: float | None, t1: float | None, *, limit: int,
            newest: bool, after: float | None = None) -> list[LogRow]:
    kinds = tuple(k for k in flt.kinds if k != AUDIT_KIND)
    if flt.kinds and not kinds:
        return []
    where, params = EventFilter(kinds, flt.severities, flt.source, flt.text, flt.codes).sql()
    if after is not None:  # strictly after: the cursor's own row belongs to the rows before it
        where, params = " AND ".join(filter(None, ["t > ?", where])), [after, *params]
    rows = db.find_events(t0, t1, where, params, limit=limit, newest=newest)
    return [LogRow(e["t"], e["kind"], e["severity"], e["source"], e["message"], e["data"], e["code"]) for e in rows]


def newest_rows(db: HistoryDB, flt: EventFilter, t1: float | None = None, *, limit: int = 500) -> list[LogRow]:
    """The newest `limit` rows at or before t1 (None: up to the end), newest first."""
    rows = _events(db, flt, None, t1, limit=limit, newest=True) + _audit(db, flt, None, t1, limit=limit, newest=True)
    rows.sort(key=lambda r: r.t, reverse=True)
    return rows[:limit]


def rows_around(db: HistoryDB, flt: EventFilter, cursor: float, *, before: int = 300,
                after: int = 200) -> tuple[list[LogRow], int]:
    """Rows around a review cursor, newest first, and the index of the newest row at or before it
    (the row the cursor is on)."""
    later = _events(db, flt, None, None, limit=after, newest=False, after=cursor)
    later += [r for r in _audit(db, flt, cursor, None, limit=after + 1, newest=False) if r.t > cursor]
    later.sort(key=lambda r: r.t)
    later = list(reversed(later[:after]))
    earlier = newest_rows(db, flt, cursor, limit=before)
    return later + earlier, len(later) if earlier else max(0, len(later) - 1)
