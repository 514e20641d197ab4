"""Where a chart's longer zooms read from: the history file behind whatever SnapshotSource the
console runs on, opened read-only on first use (in the chart's worker thread) and closed with
the chart.

- review: the HistorySource's own open HistoryDB (never closed here: review owns it);
- live: the running engine's store path, read alongside the writer (engine/history/opener.py
  opens a file in use with `mode=ro`, no byte written);
- attach: the path the console attached with (AttachSource.db_path). That file may not be
  readable by this user (an engine run by another account, a private state directory): then
  `problem` says why in words, and the chart says the longer zooms are unavailable.

No Textual here; the source is duck-typed so console/ need not import engine.runtime.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from engine.history.db import HistoryDB
from engine.snapshot import SourceMode


class ChartHistory:
    def __init__(self, db: HistoryDB | None = None, path: Path | None = None, problem: str = "") -> None:
        self._db = db
        self.path = path
        self.problem = problem  # why there is no history to read, once known
        self._opened: Any = None  # the OpenedHistory this opened (live, attach), closed by close()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, app: Any) -> ChartHistory:
        """The history of `app`'s source (see the module docstring)."""
        source = getattr(app, "source", None)
        history = getattr(source, "db", None)
        if isinstance(history, HistoryDB):  # review: HistorySource.db
            return cls(db=history)
        mode = getattr(source, "mode", None)
        if mode == SourceMode.ATTACH and getattr(source, "db_path", None) is not None:
            return cls(path=Path(source.db_path))
        config = getattr(source, "config", None)
        store = getattr(config, "store", None)
        if mode == SourceMode.LIVE and store is not None and getattr(store, "path", None) is not None:
            return cls(path=Path(store.path))
        return cls(problem="this console's source has no history file to read")

    @property
    def review(self) -> bool:
        return self._db is not None and self._opened is None and self.path is None

    def db(self) -> HistoryDB | None:
        """The open database, opening it on first use (call from a worker thread: it may copy
        or wait on the disk). None, with `problem` set, when it cannot be read."""
        with self._lock:
            if self._db is not None or self.problem:
                return self._db
            assert self.path is not None
            from engine.history.opener import open_history

            try:
                self._opened = open_history(self.path)
            except Exception as exc:  # HistoryError, PermissionError, sqlite3 errors: all said in words
                text = str(exc)
                self.problem = text if str(self.path) in text else f"cannot read the history {self.path}: {_words(exc)}"
                return None
            self._db = self._opened.db
            return self._db

    def close(self) -> None:
        with self._lock:
            if self._opened is not None:
                self._opened.close()
                self._opened = None
                self._db = None


def _words(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
