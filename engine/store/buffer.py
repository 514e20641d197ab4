"""The writer's bounded in-memory queue: what callers have handed over and the disk has not taken.

Plain data structure, no thread and no lock of its own: the Writer guards it with its condition.

Three kinds of rows, kept apart because they are dropped differently when the disk stalls:

- series rows (new series ids): never dropped, tiny, and samples already refer to them;
- samples, in chunks as the callers handed them over (one list per add_samples call, so a
  million samples are ~1000 list appends, not a million): the OLDEST are dropped first once the
  buffer holds more than `max_rows`, and counted in `dropped_samples`;
- records (events, audit, rollout and watched-file upserts): kept in order, because order
  matters for upserts. Dropped only when records alone exceed `max_rows`, events first, and
  counted in `dropped_records` so the drop is reported, never silent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

SampleRow = tuple[int, float, float]  # (series_id, t, value)
SeriesRow = tuple[int, str, str, str]  # (id, source, metric, unit)


@dataclass(frozen=True, slots=True)
class Record:
    kind: str  # event / audit / rollout / watched_file / series_unit / state
    sql: str
    params: tuple[Any, ...]


# When records must be dropped, the first kind in this list with a queued row loses its oldest.
DROP_ORDER = ("state", "event", "watched_file", "audit", "rollout")


@dataclass
class Batch:
    """What one transaction writes. `seq` = the buffer's put counter when it was taken."""

    series: list[SeriesRow] = field(default_factory=list)
    samples: list[list[SampleRow]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    seq: int = 0

    @property
    def rows(self) -> int:
        return len(self.series) + sum(map(len, self.samples)) + len(self.records)


class Buffer:
    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self._series: list[SeriesRow] = []
        self._chunks: deque[list[SampleRow]] = deque()
        self._open_chunk: list[SampleRow] | None = None  # ours, for single add_sample calls
        self._records: deque[Record] = deque()
        self.samples = 0  # rows in _chunks
        self.seq = 0  # every put increments it; flush() waits until a batch with seq >= its own commits
        self.dropped_samples = 0
        self.dropped_records = 0
        self.dropped_by_kind: dict[str, int] = {}

    @property
    def rows(self) -> int:
        return len(self._series) + self.samples + len(self._records)

    def put_series(self, row: SeriesRow) -> None:
        self._series.append(row)
        self.seq += 1

    def put_samples(self, chunk: list[SampleRow]) -> None:
        """Queue a chunk the caller no longer touches."""
        if not chunk:
            return
        self._chunks.append(chunk)
        self._open_chunk = None
        self.samples += len(chunk)
        self.seq += 1
        self._trim_samples()

    def put_sample(self, row: SampleRow) -> None:
        # Appending to our own open chunk keeps one-at-a-time callers from making one list each.
        if self._open_chunk is None:
            self._open_chunk = [row]
            self._chunks.append(self._open_chunk)
        else:
            self._open_chunk.append(row)
        self.samples += 1
        self.seq += 1
        self._trim_samples()

    def put_record(self, record: Record) -> None:
        self._records.append(record)
        self.seq += 1
        self._trim()

    def _trim(self) -> None:
        self._trim_samples()
        while len(self._records) > self.max_rows and self._drop_record():
            pass

    def _trim_samples(self) -> int:
        excess = self.rows - self.max_rows
        if excess <= 0:
            return 0
        dropped = 0
        while excess > 0 and self._chunks:
            oldest = self._chunks[0]
            if len(oldest) <= excess:
                self._chunks.popleft()
                if oldest is self._open_chunk:
                    self._open_chunk = None
                n = len(oldest)
            else:
                n = excess
                del oldest[:n]
            excess -= n
            dropped += n
        self.samples -= dropped
        self.dropped_samples += dropped
        return dropped

    def _drop_record(self) -> int:
        for kind in DROP_ORDER:
            for i, record in enumerate(self._records):
                if record.kind == kind:
                    del self._records[i]
                    self.dropped_records += 1
                    self.dropped_by_kind[kind] = self.dropped_by_kind.get(kind, 0) + 1
                    return 1
        return 0  # only series-unit updates left: tiny, keep them

    def take(self) -> Batch:
        """Everything queued, in order, as one batch; the buffer is empty afterwards."""
        batch = Batch(self._series, list(self._chunks), list(self._records), self.seq)
        self._series = []
        self._chunks.clear()
        self._open_chunk = None
        self._records.clear()
        self.samples = 0
        return batch

    def requeue(self, batch: Batch) -> None:
        """Put a batch that failed to commit back in front (it is the oldest data), then trim."""
        self._series[:0] = batch.series
        self._chunks.extendleft(reversed(batch.samples))
        self.samples += sum(map(len, batch.samples))
        self._records.extendleft(reversed(batch.records))
        self._trim()
