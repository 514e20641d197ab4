"""Helpers for the watch tests: a real engine on a config in tmp_path, polling with timeouts, the
ledger and log offsets read straight from the SQLite file, and a processor that remembers every
file content it was given (to prove "exactly once")."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from engine.config.loader import LoadedConfig, load_config
from engine.runtime import Engine
from engine.snapshot import HealthView
from engine.watch import processors

FAST = (
    "store: {path: history.db, flush_interval: 20ms}\n"
    "engine: {snapshot_interval: 50ms, supervisor: {backoff_initial: 50ms, backoff_max: 200ms}}\n"
    "monitor: {host: {enabled: false}}\n"
)


def write_config(tmp_path: Path, watch_yaml: str) -> LoadedConfig:
    """`watch_yaml`: the items of the watch: list, e.g. '  - {name: inbox, dir: inbox}\\n'."""
    path = tmp_path / "config.yaml"
    path.write_text(FAST + "watch:\n" + watch_yaml)
    return load_config(path)


@contextmanager
def running(loaded: LoadedConfig) -> Iterator[Engine]:
    engine = Engine(loaded)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop(timeout=10)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []


def ledger(db: Path) -> dict[str, dict[str, Any]]:
    """watched_files rows by file name."""
    rows = query(db, "SELECT path, size, mtime, digest, status, error, processed_at FROM watched_files")
    keys = ("path", "size", "mtime", "digest", "status", "error", "processed_at")
    return {Path(r[0]).name: dict(zip(keys, r, strict=True)) for r in rows}


def events(db: Path, source: str) -> list[tuple[str, str, str]]:
    """(severity, message, data) of one source's events, oldest first."""
    return query(db, "SELECT severity, message, data FROM events WHERE source = ? ORDER BY id", (source,))


def health(engine: Engine, name: str) -> HealthView | None:
    return next((h for h in engine.snapshot().health if h.name == name), None)


def last(engine: Engine, source: str, metric: str) -> float | None:
    series = engine.snapshot().get(source, metric)
    return series.last if series is not None else None


class Recorder:
    """A processor (registered by name) that counts every content it is given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: Counter[bytes] = Counter()
        self.delay = 0.0
        self._lock = threading.Lock()
        if name not in processors.PROCESSORS:
            processors.register(name, self._run)
        else:
            processors.PROCESSORS[name] = processors.Processor(name, self._run)

    def _run(self, chunks: processors.Chunks) -> int:
        data = b"".join(chunks)
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.seen[data] += 1
        return 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.seen.values())

    def duplicates(self) -> dict[bytes, int]:
        with self._lock:
            return {content: n for content, n in self.seen.items() if n > 1}
