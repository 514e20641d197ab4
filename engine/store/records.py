"""Turning events, audit entries and upserts into queued Records, in the caller's thread.

Everything a caller hands over is checked and converted HERE, so a bad value raises at the call
site (where the bug is) instead of failing a batch in the writer, where it would be retried
forever. Secrets are redacted here too, so they never even sit in the queue.

JSON (events.data, audit.args) is redacted value by value before it is dumped, rather than
redacting the dumped text: a secret containing a quote or a backslash looks different once
JSON-escaped and would slip through, and a masked number would leave invalid JSON behind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from engine import secrets
from engine.commands import Actor
from engine.eventcodes import EventCode
from engine.store.buffer import Record
from engine.store.schema import LOG_OFFSET_COLUMNS, ROLLOUT_COLUMNS, WATCHED_FILE_COLUMNS

INSERT_EVENT = "INSERT INTO events (t, code, kind, severity, source, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_AUDIT = (
    "INSERT INTO audit (t, user, address, origin, action, args, result, ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
UPDATE_SERIES_UNIT = "UPDATE series SET unit = ? WHERE id = ?"
INSERT_STATE = "INSERT OR REPLACE INTO states (part, t, body) VALUES (?, ?, ?)"

_SCALARS = (str, int, float, type(None))


def scrub(value: Any) -> Any:
    """A JSON-ready copy of `value` with every registered secret masked."""
    if isinstance(value, str):
        return secrets.redact(value)
    if isinstance(value, Mapping):
        return {secrets.redact(str(k)): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        text = repr(value)
        return value if secrets.redact(text) == text else secrets.MASK
    return secrets.redact(str(value))  # Path, datetime, enums...: as their text


def to_json(value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    # NaN and infinities are not JSON (json.loads elsewhere would choke): store them as text.
    return json.dumps(_finite(scrub(value)), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def event(t: float, code: EventCode, severity: str, source: str, message: str, data: Mapping[str, Any] | None) -> Record:
    return Record(
        "event",
        INSERT_EVENT,
        (float(t), code.code, code.kind, str(severity), str(source), secrets.redact(str(message)), to_json(data)),
    )


def state(t: float, part: str, body: bytes) -> Record:
    """A recorded Snapshot field (engine/statelog.py): already the engine's redacted views."""
    return Record("state", INSERT_STATE, (str(part), float(t), bytes(body)))


def audit(t: float, actor: Actor, action: str, args: Mapping[str, Any], result: str, ok: bool) -> Record:
    return Record(
        "audit",
        INSERT_AUDIT,
        (
            float(t),
            str(actor.user),
            actor.address,
            str(actor.origin),
            str(action),
            to_json(args or {}),
            secrets.redact(str(result)),
            1 if ok else 0,
        ),
    )


def upsert(
    kind: str, table: str, key: str, allowed: tuple[str, ...], free_text: str, row: Mapping[str, Any]
) -> Record:
    """INSERT ... ON CONFLICT(key) DO UPDATE for the given columns only (partial updates work).

    Only the `free_text` column (a reason or error message) is redacted: redacting a key such as
    a path could merge two rows into one "***".
    """
    unknown = sorted(set(row) - set(allowed))
    if unknown:
        raise ValueError(f"{table}: unknown column(s) {', '.join(unknown)}; known: {', '.join(allowed)}")
    if row.get(key) is None:
        raise ValueError(f"{table}: the row needs its key {key!r}")
    bad = [c for c, v in row.items() if not isinstance(v, _SCALARS)]
    if bad:
        raise ValueError(f"{table}: column(s) {', '.join(sorted(bad))} must be str, int, float or None")
    # Column names come from `allowed` (our schema), never from outside: safe to format in.
    columns = [c for c in allowed if c in row]
    values = tuple(
        secrets.redact(row[c]) if c == free_text and isinstance(row[c], str) else row[c] for c in columns
    )
    updates = [c for c in columns if c != key]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    sql += f" ON CONFLICT({key}) DO " + (
        "UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in updates) if updates else "NOTHING"
    )
    return Record(kind, sql, values)


def rollout(row: Mapping[str, Any]) -> Record:
    return upsert("rollout", "rollouts", "id", ROLLOUT_COLUMNS, "reason", row)


def watched_file(row: Mapping[str, Any]) -> Record:
    return upsert("watched_file", "watched_files", "path", WATCHED_FILE_COLUMNS, "error", row)


def log_offset(row: Mapping[str, Any]) -> Record:
    return upsert("log_offset", "log_offsets", "source", LOG_OFFSET_COLUMNS, "", row)


# Rows per multi-row upsert statement: 7 parameters a row stays far under SQLite's variable limit.
MAX_UPSERT_ROWS = 1024
_upsert_many_sql: dict[tuple[str, int], str] = {}


def watched_files(rows: Sequence[Sequence[Any]]) -> list[Record]:
    """Many complete watched_files rows, each in WATCHED_FILE_COLUMNS order, as a few multi-row
    upserts (sizes 1024, 512, ..., 1, so each statement text is prepared once).

    Why not one Record per row: the writer runs same-statement records through executemany, which
    releases and re-takes the GIL for every row (see writer.py); while the watcher's workers are
    hashing files, each row would wait for the GIL. One statement per 1024 rows waits once.
    """
    columns = WATCHED_FILE_COLUMNS
    width = len(columns)
    error_at = columns.index("error")
    flat: list[Any] = []
    for row in rows:
        if len(row) != width or not isinstance(row[0], str) or not row[0]:
            raise ValueError(f"watched_files: a row is ({', '.join(columns)}) with a path, got {row!r}")
        for value in row:
            if not isinstance(value, _SCALARS):
                raise ValueError(f"watched_files: values must be str, int, float or None, got {value!r}")
        flat.extend(row)
        if row[error_at] is not None:
            flat[-width + error_at] = secrets.redact(str(row[error_at]))
    out: list[Record] = []
    done, total, size = 0, len(flat) // width, MAX_UPSERT_ROWS
    while done < total:
        while size > total - done:
            size //= 2
        sql = _upsert_many_sql.get(("watched_files", size))
        if sql is None:
            one = f"({', '.join('?' * width)})"
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
            sql = (
                f"INSERT INTO watched_files ({', '.join(columns)}) VALUES {', '.join([one] * size)}"
                f" ON CONFLICT(path) DO UPDATE SET {updates}"
            )
            _upsert_many_sql[("watched_files", size)] = sql
        out.append(Record("watched_file", sql, tuple(flat[width * done : width * (done + size)])))
        done += size
    return out


def series_unit(series_id: int, unit: str) -> Record:
    return Record("series_unit", UPDATE_SERIES_UNIT, (str(unit), int(series_id)))
