"""Export series from a history: `opsconsole export FILE --since --until --series ... --format csv|json`,
and the console's "export the current window".

Rows are read with the store's own queries (raw samples, or the same minute/hour buckets review
draws from: engine/store/downsample.py) and written so that they read back exactly:
times and values as Python's shortest round-trip repr, a NaN (stored as NULL) as an empty CSV
field / JSON null. `read_export()` parses either format back — the round trip is tested.

CSV columns: time (epoch seconds), iso_time (UTC, for people), source, metric, unit, then value
(raw) or avg, min, max, count, last (buckets). JSON: {"history", "since", "until", "resolution",
"series": [{"source", "metric", "unit", "points": [[t, value], ...]}]} (buckets: [t, avg, min,
max, count, last]).
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from engine.history.db import HistoryDB, SeriesInfo

RESOLUTIONS = {"raw": 0, "1m": 60, "1h": 3600}
RAW_COLUMNS = ("time", "iso_time", "source", "metric", "unit", "value")
BUCKET_COLUMNS = ("time", "iso_time", "source", "metric", "unit", "avg", "min", "max", "count", "last")


class ExportError(ValueError):
    """A request that cannot be exported; str() says why and what would work."""


@dataclass(frozen=True)
class ExportRequest:
    since: float
    until: float
    patterns: tuple[str, ...] = ()  # "host/mem_pct", "host/*", "demo:*/error_rate"; none: every series
    resolution: str = "raw"
    format: str = "csv"


@dataclass(frozen=True)
class SeriesRows:
    info: SeriesInfo
    rows: list[tuple[Any, ...]]  # (t, value) raw, or (t, avg, min, max, count, last)


def select(infos: Sequence[SeriesInfo], patterns: Sequence[str]) -> list[SeriesInfo]:
    """Series whose "source/metric" matches any pattern (shell-style); ExportError naming a
    pattern that matches nothing, with the series that exist."""
    if not patterns:
        return list(infos)
    chosen: dict[int, SeriesInfo] = {}
    for pattern in patterns:
        hits = [i for i in infos if fnmatch.fnmatchcase(i.key, pattern)]
        if not hits:
            known = ", ".join(i.key for i in infos[:12]) + (" …" if len(infos) > 12 else "")
            raise ExportError(f"--series {pattern!r} matches no series in this history (it has: {known})")
        chosen.update((i.id, i) for i in hits)
    return sorted(chosen.values(), key=lambda i: (i.source, i.metric))


def collect(db: HistoryDB, request: ExportRequest) -> list[SeriesRows]:
    if request.resolution not in RESOLUTIONS:
        raise ExportError(f"--resolution must be one of {', '.join(RESOLUTIONS)}, got {request.resolution!r}")
    if request.until < request.since:
        raise ExportError("--until is before --since")
    step = RESOLUTIONS[request.resolution]
    out = []
    for info in select(db.series_info(), request.patterns):
        if step == 0:
            rows: list[tuple[Any, ...]] = list(db.series(info.source, info.metric, request.since, request.until))
        else:
            buckets = db.buckets(info.id, request.since, request.until, step)
            rows = [(b.t, b.avg, b.min, b.max, b.count, b.last) for b in buckets if b.t >= request.since - step]
        out.append(SeriesRows(info, rows))
    return out


def write(series: Iterable[SeriesRows], request: ExportRequest, out: IO[str], history: str = "") -> int:
    """Write in the requested format; returns the number of data rows written."""
    if request.format == "csv":
        return _write_csv(series, request, out)
    if request.format == "json":
        return _write_json(series, request, out, history)
    raise ExportError(f"--format must be csv or json, got {request.format!r}")


def export_to_path(db: HistoryDB, request: ExportRequest, path: Path, history: str = "") -> int:
    """Write a private file (0600): exports hold what the history holds."""
    series = collect(db, request)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        return write(series, request, f, history)


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write_csv(series: Iterable[SeriesRows], request: ExportRequest, out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    raw = RESOLUTIONS[request.resolution] == 0
    writer.writerow(RAW_COLUMNS if raw else BUCKET_COLUMNS)
    count = 0
    for s in series:
        for row in s.rows:
            writer.writerow([_num(row[0]), _iso(row[0]), s.info.source, s.info.metric, s.info.unit,
                             *(_num(v) for v in row[1:])])
            count += 1
    return count


def _write_json(series: Iterable[SeriesRows], request: ExportRequest, out: IO[str], history: str) -> int:
    count = 0
    body = []
    for s in series:
        points = [[_json_num(v) for v in row] for row in s.rows]
        count += len(points)
        body.append({"source": s.info.source, "metric": s.info.metric, "unit": s.info.unit, "points": points})
    json.dump({"history": history, "since": request.since, "until": request.until,
               "resolution": request.resolution, "series": body}, out, allow_nan=False)
    out.write("\n")
    return count


def _json_num(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


# -- reading an export back ----------------------------------------------------------------------


def read_export(text: str) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """{(source, metric): rows} from an export's text (CSV or JSON, told apart by the first
    character); rows as written: (t, value) or (t, avg, min, max, count, last), None for no value."""
    if text.lstrip().startswith("{"):
        doc = json.loads(text)
        return {(s["source"], s["metric"]): [tuple(p) for p in s["points"]] for s in doc["series"]}
    out: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    rows = csv.reader(io.StringIO(text))
    header = next(rows)
    count_at = header.index("count") - 5 if "count" in header else -1
    for row in rows:
        values = tuple(_parse(v, integer=(i == count_at)) for i, v in enumerate(row[5:]))
        out.setdefault((row[2], row[3]), []).append((float(row[0]), *values))
    return out


def _parse(text: str, integer: bool = False) -> Any:
    if text == "":
        return None
    return int(text) if integer else float(text)


def lines(series: Sequence[SeriesRows]) -> Iterator[str]:
    """A one-line summary per series, for the console's toast and the CLI's stderr."""
    for s in series:
        yield f"{s.info.key}: {len(s.rows):,} rows"
